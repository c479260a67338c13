"""Where things live: the project tree (roles, playbooks) and the per-user state home."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def raydeploy_home() -> Path:
    """State that outlives a command (sandboxes, caches). Overridable so tests stay isolated."""
    return Path(os.environ.get("RAYDEPLOY_HOME", Path.home() / ".raydeploy"))


def cache_dir() -> Path:
    return raydeploy_home() / "cache"


def ansible_fact_cache_dir() -> Path:
    """Where Ansible caches host facts: ansible.cfg's fact_caching_connection, read from there."""
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(PROJECT_ROOT / "ansible.cfg")
    return Path(os.path.expanduser(cfg.get("defaults", "fact_caching_connection")))
