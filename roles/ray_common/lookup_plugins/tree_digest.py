"""sha256 over the names and contents of every file under the given directories.

Part of checkpoint 04's deployment fingerprint: a change to any role or playbook makes every
node converge again task by task instead of taking the fast path.
"""

from __future__ import annotations

import hashlib
import os

from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: tree_digest
short_description: sha256 of the files under directories
description: One hex digest per call over every file's relative path and content, in sorted order.
options:
  _terms: {description: Directories., required: true}
"""

_SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache"}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        digest = hashlib.sha256()
        for top in terms:
            top = os.path.realpath(os.path.expanduser(top))
            for root, dirs, files in os.walk(top):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                for name in sorted(files):
                    path = os.path.join(root, name)
                    digest.update(os.path.relpath(path, top).encode() + b"\0")
                    with open(path, "rb") as handle:
                        digest.update(handle.read())
        return [digest.hexdigest()]
