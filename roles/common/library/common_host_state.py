#!/usr/bin/python
"""What the common role needs to know about a host before changing it, in one remote call.

Each module run costs a sandbox host about a quarter of a CPU second (Python compiling Ansible's
module_utils from the payload's zip), and under the linear strategy every host waits for the
slowest one at each task: the read-only probes this replaces (installed packages, the container's
open-files limit, one per sysctl key, the CA certificates installed earlier) were four module
runs per container host on a cold checkpoint 04 with the default two sysctls, five on a re-run.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: common_host_state
short_description: Read the package, limit, sysctl and CA certificate state the common role decides on
description:
  - Read-only. Reports which of O(packages) dpkg does not have installed, the hard open-files
    limit of PID 1, the current value of each O(sysctl) key and whether /proc/sys takes a write
    to it, and the names of the files in O(ca_dir).
options:
  packages: {description: Debian packages to look up., type: list, elements: str, default: []}
  sysctl: {description: Kernel settings (dotted names) to read., type: list, elements: str, default: []}
  ca_dir: {description: The directory of CA certificates the role owns., type: path, required: true}
author: raydeploy
"""

RETURN = r"""
missing_packages: {description: Those of O(packages) that are not installed., type: list, elements: str, returned: always}
nofile_hard: {description: "PID 1's hard open-files limit: a number, 'unlimited', or '' when unreadable.", type: str, returned: always}
sysctl: {description: "Per key: value (null when unreadable) and writable.", type: dict, returned: always}
ca_files: {description: File names in O(ca_dir); empty when it does not exist., type: list, elements: str, returned: always}
"""

import os

from ansible.module_utils.basic import AnsibleModule


def _missing_packages(module: AnsibleModule, packages: list[str]) -> list[str]:
    if not packages:
        return []
    # Unknown packages make dpkg-query exit 1 and print nothing for them: absent is the answer.
    _rc, out, _err = module.run_command(
        ["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\\n", *packages])
    installed = {line.split()[0] for line in out.splitlines() if line.endswith(" installed")}
    # ${Package} has no architecture: "libc6:amd64" is there when libc6 is.
    return [name for name in packages if name.split(":")[0] not in installed]


def _nofile_hard() -> str:
    try:
        with open("/proc/1/limits", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Max open files"):
                    return line.split()[4]
    except OSError:
        pass
    return ""


def _sysctl(keys: list[str]) -> dict:
    out = {}
    for key in keys:
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, encoding="ascii") as handle:
                value = handle.read().strip()
        except OSError:
            value = None
        out[key] = {"value": value, "writable": value is not None and os.access(path, os.W_OK)}
    return out


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "default": []},
            "sysctl": {"type": "list", "elements": "str", "default": []},
            "ca_dir": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        ca_files = sorted(name for name in os.listdir(p["ca_dir"]) if not name.startswith("."))
    except OSError:
        ca_files = []
    module.exit_json(changed=False, missing_packages=_missing_packages(module, p["packages"]),
                     nofile_hard=_nofile_hard(), sysctl=_sysctl(p["sysctl"]), ca_files=ca_files)


if __name__ == "__main__":
    main()
