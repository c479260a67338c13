"""Shared fixtures. Sandbox hosts are expensive, so end-to-end tests share them per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Keep tests away from the user's own sandboxes and caches, for the whole session.
_HOME = Path(os.environ.get("RAYDEPLOY_TEST_HOME") or tempfile.mkdtemp(prefix="raydeploy-test-"))
os.environ["RAYDEPLOY_HOME"] = str(_HOME)


def run_cli(*args: str, check: bool = False, timeout: int = 900, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(BIN / "raydeploy"), *args], capture_output=True, text=True, timeout=timeout, **kw
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"raydeploy {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def docker_available() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, timeout=30
    ).returncode == 0


@pytest.fixture(scope="session")
def raydeploy_home() -> Path:
    return _HOME
