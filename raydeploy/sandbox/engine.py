"""Find a running Docker engine, or start Debian's on a machine where we may."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import docker
from docker.errors import DockerException

from raydeploy.errors import UserError

DOCKERD_LOG = Path("/var/log/raydeploy-dockerd.log")
_START_TIMEOUT_S = 60


def _is_debian() -> bool:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return False
    return "ID=debian" in text or "ID_LIKE=debian" in text or "ID=ubuntu" in text


def _socket_path() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return host.removeprefix("unix://")


def _connect() -> docker.DockerClient:
    client = docker.from_env(timeout=120)
    client.ping()
    return client


def _permission_denied(exc: Exception) -> bool:
    return "Permission denied" in str(exc) or isinstance(exc.__cause__, PermissionError)


def apt_install(*packages: str) -> None:
    """Install Debian packages; raises UserError with apt's last words when it cannot."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        try:
            proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UserError(f"could not run {' '.join(args)}: {exc}") from exc
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"{' '.join(args)} failed: {last[0]}")


def ensure_engine() -> docker.DockerClient:
    """Return a client for a working engine, starting Debian's dockerd if we are allowed to."""
    try:
        return _connect()
    except DockerException as exc:
        if _permission_denied(exc):
            raise UserError(
                f"no access to the Docker socket {_socket_path()}: permission denied; "
                "run as root or add your user to the 'docker' group"
            ) from exc
    if os.geteuid() != 0 or not _is_debian():
        raise UserError(
            "no Docker engine is running: start one (for example 'sudo systemctl start docker'), "
            "or run as root on Debian/Ubuntu and raydeploy installs docker.io and starts it"
        )
    if shutil.which("dockerd") is None:
        apt_install("docker.io")
    _start_dockerd()
    return _connect()


def _start_dockerd() -> None:
    # No systemd as PID 1 on a CI machine or in a container, so run the daemon directly.
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(  # noqa: S603 - fixed argv
            ["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            _connect()
            return
        except DockerException:
            time.sleep(0.5)
    raise UserError(f"dockerd did not answer within {_START_TIMEOUT_S} s; see {DOCKERD_LOG}")
