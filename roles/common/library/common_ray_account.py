#!/usr/bin/python
"""The Ray service account (group, user, private home) and the directories Ray needs, in one run.

It replaces the group, user and file modules (one run each, and one per directory): on a cold
checkpoint 04 those were five module runs per host in a row before Ray could start, each about
a quarter of a CPU second on the host plus the controller's share, and each a round trip every
host waits for under the linear strategy. It changes only what differs, as those modules did.
It also writes the account's private files (the cluster token), which took the copy module two
more runs.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: common_ray_account
short_description: Ensure the Ray system group and user, the user's private home, and Ray's directories
description:
  - Creates the group and the system user (useradd copies /etc/skel into a new home) when
    missing, corrects an existing user's group, home, shell and comment, and gives the home and
    each of O(dirs) their owner, group and mode (creating them, with parents, when missing).
  - Supports check mode and diff mode.
options:
  user: {description: The account's name., type: str, required: true}
  group: {description: Its primary group (created as a system group)., type: str, required: true}
  home: {description: Its home directory., type: path, required: true}
  home_mode: {description: The home directory's mode., type: str, default: "0750"}
  shell: {description: Its login shell., type: path, required: true}
  comment: {description: Its GECOS comment., type: str, default: ""}
  dirs:
    description: Directories to ensure, each with path, owner, group and mode.
    type: list
    elements: dict
    default: []
  secret_files:
    description:
      - Files to write after the directories, each with path, owner, group and mode; the
        content of the Nth is the Nth of O(secret_contents).
    type: list
    elements: dict
    default: []
  secret_contents:
    description:
      - The contents of O(secret_files), in order. Never logged or shown in a diff (the
        paths, owners and modes are kept apart so that only the secrets are masked).
    type: list
    elements: str
    default: []
author: raydeploy
"""

RETURN = r"""
changes: {description: "What was (or, in check mode, would be) changed, one line each.", type: list, elements: str, returned: always}
secret_files_changed: {description: Paths of O(secret_files) written (or that would be)., type: list, elements: str, returned: always}
"""

import grp
import os
import pwd
import tempfile

from ansible.module_utils.basic import AnsibleModule


class Account:
    def __init__(self, module: AnsibleModule):
        self.module = module
        self.changes: list[str] = []

    def run(self, argv: list[str], why: str) -> None:
        self.changes.append(why)
        if not self.module.check_mode:
            rc, out, err = self.module.run_command(argv)
            if rc != 0:
                self.module.fail_json(msg=f"could not {why}: {' '.join(argv)} exited {rc}: "
                                          f"{(err or out).strip()}", changes=self.changes)

    def group(self, name: str) -> None:
        try:
            grp.getgrnam(name)
        except KeyError:
            self.run(["groupadd", "--system", name], f"create the system group {name}")

    def user(self, p: dict) -> None:
        name = p["user"]
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            self.run(["useradd", "--system", "--gid", p["group"], "--home-dir", p["home"], "--create-home",
                      "--shell", p["shell"], "--comment", p["comment"], name],
                     f"create the system user {name}")
            return
        gid = self._gid(p["group"])
        wanted = [("--gid", p["group"], entry.pw_gid != gid, "group"),
                  ("--home", p["home"], entry.pw_dir != p["home"], "home"),
                  ("--shell", p["shell"], entry.pw_shell != p["shell"], "shell"),
                  ("--comment", p["comment"], entry.pw_gecos != p["comment"], "comment")]
        argv = [arg for flag, value, differs, _ in wanted if differs for arg in (flag, value)]
        if argv:
            what = ", ".join(label for _, _, differs, label in wanted if differs)
            self.run(["usermod", *argv, name], f"change the {what} of user {name}")

    def _gid(self, group: str) -> int | None:
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:  # only in check mode, where the group is not created
            return None

    def directory(self, path: str, owner: str, group: str, mode: str) -> None:
        want_mode = int(mode, 8)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self.changes.append(f"create {path} ({owner}:{group} {mode})")
            if not self.module.check_mode:
                os.makedirs(path, mode=0o755, exist_ok=True)
                self._apply(path, owner, group, want_mode)
            return
        if not os.path.isdir(path):
            self.module.fail_json(msg=f"{path} exists and is not a directory: move it away and run again",
                                  changes=self.changes)
        uid, gid = self._ids(owner, group)
        if (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (uid, gid, want_mode):
            self.changes.append(f"set {path} to {owner}:{group} {mode}")
            if not self.module.check_mode:
                self._apply(path, owner, group, want_mode)

    def secret_file(self, spec: dict, content: str) -> bool:
        path, data, mode = spec["path"], content.encode("utf-8"), int(str(spec["mode"]), 8)
        uid, gid = self._ids(spec["owner"], spec["group"])
        try:
            with open(path, "rb") as handle:
                same = handle.read() == data
            st = os.stat(path)
            same = same and (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (uid, gid, mode)
        except OSError:
            same = False
        if same:
            return False
        self.changes.append(f"write {path} ({spec['owner']}:{spec['group']} {spec['mode']})")
        if self.module.check_mode:
            return True
        if uid is None or gid is None:
            self.module.fail_json(changes=self.changes, msg=f"cannot give {path} to "
                                  f"{spec['owner']}:{spec['group']}: no such user or group")
        # Owner and mode are set before the rename: the content is never readable by others.
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchown(handle.fileno(), uid, gid)
                os.fchmod(handle.fileno(), mode)
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return True

    def _ids(self, owner: str, group: str) -> tuple[int | None, int | None]:
        try:
            uid = pwd.getpwnam(owner).pw_uid
        except KeyError:
            uid = None
        return uid, self._gid(group)

    def _apply(self, path: str, owner: str, group: str, mode: int) -> None:
        uid, gid = self._ids(owner, group)
        if uid is None or gid is None:
            self.module.fail_json(msg=f"cannot give {path} to {owner}:{group}: no such user or group",
                                  changes=self.changes)
        os.chown(path, uid, gid)
        os.chmod(path, mode)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "home": {"type": "path", "required": True},
            "home_mode": {"type": "str", "default": "0750"},
            "shell": {"type": "path", "required": True},
            "comment": {"type": "str", "default": ""},
            "dirs": {"type": "list", "elements": "dict", "default": []},
            "secret_files": {"type": "list", "elements": "dict", "default": []},
            "secret_contents": {"type": "list", "elements": "str", "default": [], "no_log": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    for spec in p["dirs"]:
        missing = {"path", "owner", "group", "mode"} - set(spec)
        if missing:
            module.fail_json(msg=f"dirs entry {spec} lacks {', '.join(sorted(missing))}")
    if len(p["secret_files"]) != len(p["secret_contents"]):
        module.fail_json(msg=f"{len(p['secret_files'])} secret_files but {len(p['secret_contents'])} "
                             "secret_contents: give one content per file")
    for spec in p["secret_files"]:
        missing = {"path", "owner", "group", "mode"} - set(spec)
        if missing:
            module.fail_json(msg=f"secret_files entry for {spec.get('path', '?')} lacks "
                                 f"{', '.join(sorted(missing))}")
    account = Account(module)
    account.group(p["group"])
    account.user(p)
    account.directory(p["home"], p["user"], p["group"], p["home_mode"])
    for spec in p["dirs"]:
        account.directory(spec["path"], spec["owner"], spec["group"], str(spec["mode"]))
    secrets = [spec["path"] for spec, content in zip(p["secret_files"], p["secret_contents"])
               if account.secret_file(spec, content)]
    result = {"changed": bool(account.changes), "changes": account.changes, "secret_files_changed": secrets}
    if module._diff and account.changes:
        result["diff"] = {"before": "", "after": "".join(f"{line}\n" for line in account.changes)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
