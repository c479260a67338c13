"""One read-only probe per host over SSH, only for what HTTP cannot show (versions on disk,
Docker, stray Ray processes). Connections are shared (OpenSSH ControlMaster): the first run
opens one master per host that stays for CONTROL_PERSIST_S, later runs reuse it."""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from raydeploy.paths import PROJECT_ROOT, raydeploy_home
from raydeploy.validate.spec import ClusterSpec, HostSpec

PROBE = Path(__file__).with_name("host_probe.py")
CONTROL_PERSIST_S = 120
CONNECT_TIMEOUT_S = 3
RAY_UNITS = ("ray-head.service", "ray-worker.service")


@dataclass
class Probe:
    host: str
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    unreachable: bool = False
    elapsed: float = 0.0


def control_dir() -> Path:
    path = raydeploy_home() / "cp"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def probe_args(host: HostSpec) -> dict[str, Any]:
    cleanup = yaml.safe_load((PROJECT_ROOT / "roles" / "ray_cleanup" / "vars" / "main.yml").read_text())
    return {
        "venv": host.venv_dir,
        "mode": host.install_mode,
        "units": [*RAY_UNITS, "docker.service", "prometheus-node-exporter.service", "prometheus.service"],
        "names": cleanup["_ray_cleanup_process_names"],
        "patterns": cleanup["_ray_cleanup_process_patterns"],
        "keep_cgroups": [f"/system.slice/{u}" for u in RAY_UNITS],
        "label": cleanup["_ray_cleanup_container_label"].split("=")[0],
        "disk": host.disk_path,
    }


def ssh_argv(host: HostSpec, remote: str) -> list[str]:
    argv = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={CONNECT_TIMEOUT_S}",
        "-o",
        "ControlMaster=auto",
        "-o",
        f"ControlPath={control_dir()}/%C",
        "-o",
        f"ControlPersist={CONTROL_PERSIST_S}",
    ]
    argv += list(host.ssh_args)
    if host.ssh_key:
        argv += ["-i", host.ssh_key]
    if host.ssh_port:
        argv += ["-p", str(host.ssh_port)]
    if host.ssh_user:
        argv += ["-l", host.ssh_user]
    # "--": an address from the inventory is never read as an ssh option (-oProxyCommand=...).
    return [*argv, "--", host.address, remote]


def remote_command(host: HostSpec) -> str:
    python = "python3 - " + shlex.quote(json.dumps(probe_args(host)))
    return f"sudo -n {python}" if host.become else python


Runner = Callable[[list[str], bytes, float], tuple[int, str, str]]


def _run(argv: list[str], stdin: bytes, timeout: float) -> tuple[int, str, str]:
    # stderr goes to a file, not a pipe: the ControlPersist master ssh forks keeps the stderr
    # it inherited open for CONTROL_PERSIST_S, so reading a pipe to its end would wait that long.
    with tempfile.TemporaryFile() as err:
        try:
            p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=err, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 255, "", f"ssh timed out after {timeout:.0f} s"
        except OSError as exc:
            return 255, "", str(exc)
        err.seek(0)
        return p.returncode, p.stdout.decode(errors="replace"), err.read().decode(errors="replace")


def probe_host(host: HostSpec, timeout: float = 15.0, runner: Runner = _run) -> Probe:
    started = time.monotonic()
    rc, out, err = runner(ssh_argv(host, remote_command(host)), PROBE.read_bytes(), timeout)
    elapsed = time.monotonic() - started
    if rc == 255:  # ssh's own failure: the host could not be reached or logged into
        return Probe(
            host.name,
            False,
            error=(err.strip().splitlines() or ["ssh failed"])[-1][:300],
            unreachable=True,
            elapsed=elapsed,
        )
    try:
        return Probe(host.name, rc == 0, json.loads(out.strip().splitlines()[-1]), None, elapsed=elapsed)
    except (ValueError, IndexError):
        return Probe(
            host.name, False, error=f"probe exit {rc}: {(err or out).strip()[-300:]}", elapsed=elapsed
        )


def probe_all(spec: ClusterSpec, pool: ThreadPoolExecutor, runner: Runner = _run) -> dict[str, Any]:
    """host -> Future[Probe], started at once so they overlap the HTTP requests."""
    return {h.name: pool.submit(probe_host, h, 15.0, runner) for h in spec.hosts}
