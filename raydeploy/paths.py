"""Where things live: the project tree (roles, playbooks) and the per-user state home."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def raydeploy_home() -> Path:
    """State that outlives a command (sandboxes, caches). Overridable so tests stay isolated."""
    return Path(os.environ.get("RAYDEPLOY_HOME", Path.home() / ".raydeploy"))


def cache_dir() -> Path:
    return raydeploy_home() / "cache"
