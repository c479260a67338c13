#!/usr/bin/python
"""A native Ray node's unit files and service, converged in one remote call.

Writing the supervisor and the unit, then restarting, starting and recording the node took five
module runs per node (a template or copy is itself two, plus a file transfer), each a round trip
the play waits for, on the path from an installed venv to a node that is ALIVE. Restart rules
are the ones the tasks had: a running node restarts only when one of its files changed or the
caller says its token did, so a re-run with nothing changed leaves Ray and its jobs alone.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: ray_node_service
short_description: Write a Ray node's unit files, then restart, start and enable it
description:
  - Writes each of O(files) (owned by root) when its content or mode differs.
  - Restarts a running O(unit) when a file changed or O(restart) is set; starts and enables it
    otherwise. In check mode it says what it would do and changes nothing.
  - With O(record), then writes the fast path's record (not counted as a change).
options:
  unit: {description: The systemd unit., type: str, required: true}
  files:
    description: Files to write, each with C(path), C(content) and C(mode).
    type: list
    elements: dict
    required: true
  restart: {description: Restart a running unit even if no file changed., type: bool, default: false}
  record:
    description: C(path), C(fingerprint) and C(files) of the record ray_node_state probes.
    type: dict
author: raydeploy
"""

RETURN = r"""
files_changed: {description: Paths written (or that would be)., type: list, elements: str, returned: always}
restarted: {description: The unit was (or would be) restarted., type: bool, returned: always}
started: {description: The unit was (or would be) started., type: bool, returned: always}
enabled: {description: The unit was (or would be) enabled at boot., type: bool, returned: always}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.ray_record import atomic_write, write_record


def _differs(path: str, data: bytes, mode: int) -> tuple[bool, str]:
    try:
        with open(path, "rb") as handle:
            before = handle.read()
        st = os.stat(path)
    except OSError:
        return True, ""
    same = before == data and (st.st_mode & 0o7777) == mode and st.st_uid == 0 and st.st_gid == 0
    return not same, before.decode("utf-8", "replace")


def _systemctl(module: AnsibleModule, *args: str, check: bool = True) -> tuple[int, str]:
    rc, out, err = module.run_command(["systemctl", *args])
    if check and rc != 0:
        module.fail_json(msg=f"systemctl {' '.join(args)} failed ({rc}): {(err or out).strip()}")
    return rc, out.strip()


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "unit": {"type": "str", "required": True},
            "files": {"type": "list", "elements": "dict", "required": True},
            "restart": {"type": "bool", "default": False},
            "record": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    p, check = module.params, module.check_mode
    unit = p["unit"]
    changed_files, diffs = [], []
    for spec in p["files"]:
        path, data, mode = spec["path"], spec["content"].encode("utf-8"), int(str(spec["mode"]), 8)
        differs, before = _differs(path, data, mode)
        if not differs:
            continue
        changed_files.append(path)
        diffs.append({"before_header": path, "after_header": path, "before": before,
                      "after": spec["content"]})
        if not check:
            if not os.path.isdir(os.path.dirname(path)):
                module.fail_json(msg=f"cannot write {path}: its directory does not exist")
            atomic_write(path, data, mode)

    state = _systemctl(module, "is-active", unit, check=False)[1]
    # A unit between restarts (activating) is already on its way up: starting it is no change.
    running = state in ("active", "activating", "reloading")
    enabled = _systemctl(module, "is-enabled", unit, check=False)[1] == "enabled"
    restart = state == "active" and bool(changed_files or p["restart"])
    result = {"files_changed": changed_files, "restarted": restart, "started": not running,
              "enabled": not enabled}
    if not check:
        if changed_files:
            _systemctl(module, "daemon-reload")
        if not enabled:
            _systemctl(module, "enable", unit)
        if restart:
            _systemctl(module, "restart", unit)
        elif not running:
            _systemctl(module, "start", unit)
        if p["record"]:
            rec = p["record"]
            write_record(rec["path"], rec["fingerprint"], rec.get("files") or [], check_mode=False)
    changed = bool(changed_files) or restart or not running or not enabled
    module.exit_json(changed=changed, diff=diffs if module._diff else [], **result)


if __name__ == "__main__":
    main()
