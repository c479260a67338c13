"""Move a packed Ray virtualenv between a host and the controller's cache in one task.

`pull` brings the archive the building host packed into the controller's cache; `push` sends a
cached archive to a host and unpacks it there. Both go through the connection's own file
transfer (sftp or scp on SSH) and nothing else: the fetch and copy modules they replace hashed
the 357 MB archive on both ends (about 0.5 s of a core each time) and took a module run per
step, and on a cold checkpoint 04 that work competed with the head's Ray booting on the same
cores, on the path to the workers' start.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

DOCUMENTATION = r"""
name: ray_venv_transfer
short_description: Pull a packed Ray virtualenv into the controller's cache, or push and unpack one
options:
  direction: {description: "C(pull) from the host or C(push) to it.", required: true, choices: [pull, push]}
  src: {description: "pull: the archive on the host; push: the archive on the controller.", required: true}
  dest: {description: "pull (required): the archive's place in the controller's cache."}
  venv: {description: "push (required): the virtualenv directory the archive replaces."}
  key: {description: "push (required): the name the archive must record (.raydeploy-venv), else it is refused."}
"""

# The role's own copy, also what install-artifact.yml runs: found beside this plugin so that it
# is the same file however the task was loaded.
_UNPACK_SCRIPT = Path(__file__).resolve().parent.parent / "files" / "venv-unpack.sh"


class ActionModule(ActionBase):
    _supports_check_mode = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={"direction": {"type": "str", "required": True, "choices": ["pull", "push"]},
                           "src": {"type": "str", "required": True}, "dest": {"type": "str"},
                           "venv": {"type": "str"}, "key": {"type": "str"}},
            required_if=[("direction", "pull", ("dest",)), ("direction", "push", ("venv", "key"))])
        self._host = (task_vars or {}).get("inventory_hostname", "host")
        if args["direction"] == "pull":
            result.update(self._pull(args["src"], os.path.expanduser(args["dest"])))
        else:
            result.update(self._push(os.path.expanduser(args["src"]), args["venv"], args["key"]))
        return result

    def _pull(self, src, dest):
        # Only a whole archive carries the cache's name; the part file is per host so two
        # builders of one platform (two plays, two runs) never write into each other's.
        part = f"{dest}.{self._host}.part"
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        # The SSH account reads the 0644 archive itself, as the fetch module did without become.
        try:
            self._connection.fetch_file(src, part)
            os.replace(part, dest)
        finally:
            if os.path.exists(part):
                os.remove(part)
        self._run_checked(f"rm -f {shlex.quote(src)}", "remove the packed virtualenv")
        return {"changed": True, "dest": dest}

    def _push(self, src, venv, key):
        if not os.path.isfile(src):
            raise AnsibleActionFail(f"the packed virtualenv {src} is not on the controller")
        tmp = self._make_tmp_path()
        try:
            pack = self._connection._shell.join_path(tmp, "venv.tar")
            self._transfer_file(src, pack)
            self._fixup_perms2((tmp, pack), execute=False)
            script = _UNPACK_SCRIPT.read_text(encoding="utf-8")
            # Not niced: in checkpoint 04 the host waits for this before it starts Ray.
            argv = ["/bin/sh", "-ec", script, "sh", pack, venv, "0", key, src]
            self._run_checked(" ".join(shlex.quote(a) for a in argv), f"unpack {src} into {venv}")
        finally:
            self._remove_tmp_path(tmp, force=True)
        return {"changed": True, "venv": venv}

    def _run_checked(self, cmd, what):
        res = self._low_level_execute_command(cmd, sudoable=True)
        if res["rc"] != 0:
            raise AnsibleActionFail(f"could not {what} on {self._host} (rc {res['rc']}): "
                                    f"{(res.get('stderr') or res.get('stdout') or '').strip()}")

