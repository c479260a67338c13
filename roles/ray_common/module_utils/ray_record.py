"""The record checkpoint 04 keeps on each node for the next run's fast path: the deployment's
fingerprint and the hashes of the files it wrote. ray_node_state probes it; ray_node_state and
ray_node_service write it, and ray_node_service writes the node's files the same way."""

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


def atomic_write(path: str, data: bytes, mode: int) -> None:
    """Replaces path whole, so a reader (systemd, the next probe) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
        atomic_write(path, content.encode("utf-8"), 0o600)
    return changed
