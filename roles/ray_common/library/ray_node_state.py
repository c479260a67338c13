#!/usr/bin/python
"""Whether a Ray node already runs exactly the deployment asked for, in one remote call.

Checkpoint 04 records a fingerprint of everything that decides a node (its variables, the
roles, the cluster's addresses) with the hashes of the files it wrote, once the node runs.
A re-run probes that record: when the fingerprint is the same, the files are unchanged and
the units are active, there is nothing to converge and the role skips its install and
service tasks instead of asking each one (Ray's launcher skips setup the same way, by a hash
of its setup commands).
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: ray_node_state
short_description: Probe or record whether a Ray node runs the deployment asked for
description:
  - Without O(record), compares the record at O(path) with O(fingerprint), the current hashes
    of the recorded files, the units' state and the executables, and returns RV(converged).
  - With O(record), writes the fingerprint and the current hashes of O(files) to O(path).
options:
  path: {description: The record file (JSON, 0600)., type: path, required: true}
  fingerprint: {description: The deployment fingerprint computed on the controller., type: str, required: true}
  files: {description: Files whose content must not have changed since the record., type: list, elements: path, default: []}
  units: {description: systemd units that must be active., type: list, elements: str, default: []}
  executables: {description: Files that must exist and be executable., type: list, elements: path, default: []}
  record: {description: Write the record instead of probing it., type: bool, default: false}
author: raydeploy
"""

RETURN = r"""
converged: {description: The node runs exactly this deployment (probe only)., type: bool, returned: always}
reasons: {description: Why it is not converged., type: list, elements: str, returned: always}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.ray_record import read_record, sha256, write_record


def _probe(module: AnsibleModule) -> dict:
    p = module.params
    reasons = []
    record = read_record(p["path"])
    if not record:
        reasons.append(f"no record at {p['path']}")
    elif record.get("fingerprint") != p["fingerprint"]:
        reasons.append("the deployment changed since the record (variables, roles or hosts)")
    for path in p["files"]:
        digest = sha256(path)
        if digest is None or digest != record.get("files", {}).get(path):
            reasons.append(f"{path} is missing or changed")
    for exe in p["executables"]:
        if not os.access(exe, os.X_OK):
            reasons.append(f"{exe} is missing")
    for unit in p["units"]:
        rc, _, _ = module.run_command(["systemctl", "is-active", "--quiet", unit])
        if rc != 0:
            reasons.append(f"{unit} is not active")
    return {"changed": False, "converged": not reasons, "reasons": reasons}


def _record(module: AnsibleModule) -> dict:
    p = module.params
    changed = write_record(p["path"], p["fingerprint"], p["files"], module.check_mode)
    return {"changed": changed, "converged": True, "reasons": []}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "fingerprint": {"type": "str", "required": True},
            "files": {"type": "list", "elements": "path", "default": []},
            "units": {"type": "list", "elements": "str", "default": []},
            "executables": {"type": "list", "elements": "path", "default": []},
            "record": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    module.exit_json(**(_record(module) if module.params["record"] else _probe(module)))


if __name__ == "__main__":
    main()
