"""One module or action plugin of a role run through Ansible on this machine (connection local),
the way the role's own tasks run it on a host: for unit tests of roles/*/library and
roles/*/action_plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT

ANSIBLE = Path(sys.executable).parent / "ansible"


def run_module(role: str, module: str, args: dict, *, env: dict | None = None,
               flags: tuple[str, ...] = ()) -> tuple[int, dict, str]:
    """Returns ansible's exit code, localhost's result and the output (for failure messages)."""
    role_dir = PROJECT / "roles" / role
    full_env = {**os.environ, "ANSIBLE_LIBRARY": str(role_dir / "library"),
                "ANSIBLE_MODULE_UTILS": str(role_dir / "module_utils"),
                "ANSIBLE_ACTION_PLUGINS": str(role_dir / "action_plugins"),
                "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
                "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg"), **(env or {})}
    proc = subprocess.run(
        [str(ANSIBLE), "localhost", "-c", "local", "-i", "localhost,", "-m", module,
         "-a", json.dumps(args), "-e", f"ansible_python_interpreter={sys.executable}", *flags],
        capture_output=True, text=True, env=full_env, cwd=PROJECT, timeout=120, check=False)
    output = proc.stdout[-3000:] + proc.stderr[-3000:]
    # ansible.cfg's profile_tasks and timer callbacks print lines around the JSON document.
    doc, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])
    return proc.returncode, doc["plays"][0]["tasks"][0]["hosts"]["localhost"], output
