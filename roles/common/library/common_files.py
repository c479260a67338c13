#!/usr/bin/python
"""Several small root-owned files the common role renders on the controller, written in one run.

A template task is two module runs on the host (a stat, then a copy after the transfer) and a
round trip every host waits for under the linear strategy; the open-files limits and the sysctl
file were four runs per host on a cold checkpoint 04. The role still renders them from its
templates (lookup('template')); this only compares and writes.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: common_files
short_description: Write root-owned files whose content was rendered on the controller
description:
  - Writes each of O(files), owned by root:root, when its content, mode or owner differs,
    replacing it whole (a temporary file renamed into place). The directory must exist.
  - Supports check mode and diff mode.
options:
  files:
    description: Files to write, each with C(path), C(content) and C(mode).
    type: list
    elements: dict
    required: true
author: raydeploy
"""

RETURN = r"""
files_changed: {description: Paths written (or that would be)., type: list, elements: str, returned: always}
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule


def _before(path: str, data: bytes, mode: int) -> tuple[bool, str]:
    """Whether path differs from what is wanted, and its text now ('' when absent)."""
    try:
        with open(path, "rb") as handle:
            before = handle.read()
        st = os.stat(path)
    except OSError:
        return True, ""
    same = before == data and (st.st_mode & 0o7777) == mode and (st.st_uid, st.st_gid) == (0, 0)
    return not same, before.decode("utf-8", "replace")


def _write(path: str, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chown(tmp, 0, 0)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main() -> None:
    module = AnsibleModule(argument_spec={"files": {"type": "list", "elements": "dict", "required": True}},
                           supports_check_mode=True)
    changed, diffs = [], []
    for spec in module.params["files"]:
        missing = {"path", "content", "mode"} - set(spec)
        if missing:
            module.fail_json(msg=f"files entry for {spec.get('path', '?')} lacks {', '.join(sorted(missing))}")
        path, data, mode = spec["path"], str(spec["content"]).encode("utf-8"), int(str(spec["mode"]), 8)
        differs, before = _before(path, data, mode)
        if not differs:
            continue
        if not os.path.isdir(os.path.dirname(path)):
            module.fail_json(msg=f"cannot write {path}: its directory does not exist", files_changed=changed)
        changed.append(path)
        diffs.append({"before_header": path, "after_header": path, "before": before, "after": spec["content"]})
        if not module.check_mode:
            _write(path, data, mode)
    module.exit_json(changed=bool(changed), files_changed=changed, diff=diffs if module._diff else [])


if __name__ == "__main__":
    main()
