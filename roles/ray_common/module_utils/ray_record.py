"""The record checkpoint 04 keeps on each node for the next run's fast path: the deployment's
fingerprint and the hashes of the files it wrote. ray_node_state probes it; ray_node_state and
ray_node_service write it."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile


def sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def read_record(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def write_record(path: str, fingerprint: str, files: list[str], check_mode: bool) -> bool:
    """Writes the record (0600) unless it already says the same; returns whether it differed."""
    content = json.dumps(
        {"fingerprint": fingerprint, "files": {f: sha256(f) for f in files}},
        indent=1, sort_keys=True,
    ) + "\n"
    try:
        with open(path, encoding="utf-8") as handle:
            changed = handle.read() != content
    except OSError:
        changed = True
    if changed and not check_mode:
        directory = os.path.dirname(path) or "."
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ray_node_state.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    return changed
