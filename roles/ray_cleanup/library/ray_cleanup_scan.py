#!/usr/bin/python
"""Checkpoint 03's read-only scan of a host, in one module call.

Which of this deployment's units and containers run, which Ray containers and processes the
cleanup scope removes, whether Ray's temp dir exists and which of Ray's ports something listens
on. Our own processes are those in our systemd units' or containers' cgroups; with an empty
keep list everything Ray goes. One pipelined call per host instead of a command each.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: ray_cleanup_scan
short_description: Read-only scan of a host for Ray's cleanup
description: Reports units, containers, processes, the temp dir and listening ports for checkpoint 03.
options:
  scope: {description: "foreign: keep this deployment's Ray; all: remove it too.", type: str, choices: [foreign, all], required: true}
  units: {description: This deployment's systemd units., type: list, elements: str, required: true}
  container_label: {description: "label=value marking this deployment's containers.", type: str, required: true}
  names: {description: Exact process names of Ray's processes., type: list, elements: str, required: true}
  patterns: {description: Command-line substrings of Ray's processes., type: list, elements: str, required: true}
  temp_dir: {description: Ray's temp dir., type: path, required: true}
  ports: {description: Ray's fixed ports., type: list, elements: int, default: []}
author: raydeploy
"""

import os
import re
import shutil

from ansible.module_utils.basic import AnsibleModule

# A process inside a container: its cgroup ends in the container's id (cgroupfs or systemd
# driver). Containers are judged as a whole by the container tasks, not process by process.
CONTAINER_CGROUP = re.compile(r"(/docker/|docker-)[0-9a-f]{64}(\.scope)?$")
CONTAINER_NAMES = "^ray-(head|worker)"


def _ancestors() -> set[int]:
    # Ansible, sudo and the shell above this module may carry the patterns in their own
    # command lines, so they must never match.
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _processes(p: dict, keep_cgroups: list[str]) -> tuple[list[dict], int]:
    me, kill, kept = _ancestors(), [], 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmd = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry}/comm", encoding="utf-8") as handle:
                comm = handle.read().strip()
            with open(f"/proc/{entry}/cgroup", encoding="utf-8") as handle:
                cgroup = handle.read()
        except OSError:
            continue
        if not (comm in p["names"] or any(pattern in cmd for pattern in p["patterns"])):
            continue
        innermost = cgroup.strip().splitlines()[-1] if cgroup.strip() else ""
        in_container = bool(CONTAINER_CGROUP.search(innermost))
        if any(k in cgroup for k in keep_cgroups) or (p["scope"] == "foreign" and in_container):
            kept += 1
            continue
        kill.append({"pid": int(entry), "cmd": cmd[:200], "cgroup": innermost[:200]})
    return kill, kept


def _containers(module: AnsibleModule, p: dict) -> tuple[list[str], list[str]]:
    """(ours running, to remove)."""
    if not shutil.which("docker"):
        return [], []
    label_key = p["container_label"].split("=", 1)[0]
    _, running, _ = module.run_command(["docker", "ps", "-q", "--filter", "label=" + p["container_label"]])
    remove = set()
    if p["scope"] == "all":
        _, ours, _ = module.run_command(["docker", "ps", "-aq", "--filter", "label=" + p["container_label"]])
        remove.update(ours.split())
    _, named, _ = module.run_command(
        ["docker", "ps", "-a", "--filter", "name=" + CONTAINER_NAMES,
         "--format", '{{.ID}} {{.Label "' + label_key + '"}}'])
    for line in named.splitlines():
        cid, _, label = line.partition(" ")
        if p["scope"] == "all" or not label.strip():
            remove.add(cid)
    return running.split(), sorted(remove)


def _listening(module: AnsibleModule, ports: list[int]) -> list[int]:
    _, out, _ = module.run_command(["ss", "-Htln"])
    found = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].rsplit(":", 1)[-1].isdigit():
            found.add(int(fields[3].rsplit(":", 1)[1]))
    return sorted(found & set(ports))


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "scope": {"type": "str", "choices": ["foreign", "all"], "required": True},
            "units": {"type": "list", "elements": "str", "required": True},
            "container_label": {"type": "str", "required": True},
            "names": {"type": "list", "elements": "str", "required": True},
            "patterns": {"type": "list", "elements": "str", "required": True},
            "temp_dir": {"type": "path", "required": True},
            "ports": {"type": "list", "elements": "int", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    active = {u: module.run_command(["systemctl", "is-active", "--quiet", u])[0] == 0 for u in p["units"]}
    running, remove = _containers(module, p)
    keep = [] if p["scope"] == "all" else ["/system.slice/" + u for u in p["units"]]
    kill, kept = _processes(p, keep)
    module.exit_json(
        changed=False,
        units_active=active,
        ours_running=any(active.values()) or bool(running),
        containers=remove,
        kill=kill,
        kept=kept,
        temp_dir_exists=os.path.lexists(p["temp_dir"]),
        listening=_listening(module, p["ports"]),
    )


if __name__ == "__main__":
    main()
