"""Shared fixtures. Sandbox hosts are expensive, so end-to-end tests share them per session."""

from __future__ import annotations

import ipaddress
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
_GIVEN_HOME = os.environ.get("RAYDEPLOY_TEST_HOME")
_HOME = Path(_GIVEN_HOME or tempfile.mkdtemp(prefix="raydeploy-test-"))
os.environ["RAYDEPLOY_HOME"] = str(_HOME)


def pytest_sessionfinish(session, exitstatus) -> None:
    """A passing session removes the home it made (its image and wheel caches are several hundred
    MB, and every session makes a new one); a failing one keeps it, with its runs' logs, and says
    where. RAYDEPLOY_TEST_HOME, the caller's own, is always kept."""
    if _GIVEN_HOME or not _HOME.exists():
        return
    if exitstatus == 0:
        shutil.rmtree(_HOME, ignore_errors=True)
    else:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"raydeploy test home kept for its logs: {_HOME}")


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


# -- sandbox clusters shared by the end-to-end tests ------------------------------------------
import json  # noqa: E402
import re  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import yaml  # noqa: E402

RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)", re.M)


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return {m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
                for m in RECAP_RE.finditer(self.stdout)}

    def output(self) -> str:
        return self.stdout[-6000:] + self.stderr[-3000:]


def run_playbook(inventory, playbook: str, *args: str, timeout: int = 1200,
                 env: dict[str, str] | None = None) -> PlaybookRun:
    path = PROJECT / playbook if not playbook.startswith("/") else playbook
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(path), *args],
        capture_output=True, text=True, cwd=PROJECT, timeout=timeout,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", **(env or {})},
    )
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class SandboxCluster:
    name: str
    inventory: Path

    def host(self, index: int) -> str:
        return f"{self.name}-{index}"

    def load(self) -> dict:
        return yaml.safe_load(self.inventory.read_text())

    def hosts(self) -> dict[str, str]:
        ray = self.load()["all"]["children"]["ray_cluster"]["children"]
        return {n: v["ansible_host"] for g in ray.values() for n, v in (g["hosts"] or {}).items()}

    @property
    def head(self) -> str:
        ray = self.load()["all"]["children"]["ray_cluster"]["children"]
        return next(iter(ray["head_nodes"]["hosts"].values()))["ansible_host"]

    @property
    def token_file(self) -> Path:
        return self.inventory.parent / ".secrets" / "ray_auth_token"

    def dashboard(self) -> str:
        return f"http://{self.head}:8265"

    def ssh(self, host: str, command: str, timeout: int = 60) -> subprocess.CompletedProcess:
        import shlex

        from raydeploy.sandbox.hosts import Sandbox

        # ssh joins its arguments into one remote command line, so quote it as one word.
        argv = Sandbox(self.name).ssh_command(self.hosts()[host], "sudo sh -c " + shlex.quote(command))
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def nodes(self, token: bool = True) -> list[dict]:
        import urllib.request

        req = urllib.request.Request(f"{self.dashboard()}/api/v0/nodes?limit=1000")  # noqa: S310
        if token:
            req.add_header("Authorization", f"Bearer {self.token_file.read_text().strip()}")
        # The URL is the sandbox head's dashboard, built from our own inventory.
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return json.load(resp)["data"]["result"]["result"]

    def alive(self) -> dict[str, str]:
        """node_ip -> node_id of ALIVE nodes."""
        return {n["node_ip"]: n["node_id"] for n in self.nodes() if n["state"] == "ALIVE"}

    def submit(self, *entrypoint: str, token: bool = True, wait: bool = True, timeout: int = 300,
               working_dir: Path = PROJECT / "examples") -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
        if token:
            env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(self.token_file))
        args = [str(BIN / "ray"), "job", "submit", "--address", self.dashboard(),
                "--working-dir", str(working_dir)]
        if not wait:
            args.append("--no-wait")
        return subprocess.run([*args, "--", *entrypoint], capture_output=True, text=True,
                              env=env, timeout=timeout)


def make_cluster(name: str, hosts: int, *, fresh: bool | None = None) -> SandboxCluster:
    """Sandbox hosts `name-1..hosts`, new ones unless RAYDEPLOY_KEEP_SANDBOX asks to reuse them.

    `sandbox up` restarts hosts an earlier run left behind (a killed test session, a machine
    stopped mid-test) with that run's Ray, firewall rules and files on them, which a test that
    starts from bare hosts must not inherit. fresh=True/False overrides the default.
    """
    if (not keep_sandbox()) if fresh is None else fresh:
        run_cli("sandbox", "down", "--name", name, check=True)
    run_cli("sandbox", "up", "--hosts", str(hosts), "--name", name, check=True)
    inventory = Path(run_cli("sandbox", "inventory", "--name", name, check=True).stdout.strip())
    return SandboxCluster(name, inventory)


def power_cycle(addresses: dict[str, str]) -> None:
    """What a machine's restart does to sandbox hosts ({container: address}): all killed at
    once, then started highest address first. Each start on Docker's dynamic addresses takes
    the lowest free one, so there the first and the last host would trade theirs."""
    subprocess.run(["docker", "kill", *addresses], capture_output=True, check=True, timeout=60)
    for name in sorted(addresses, key=lambda n: ipaddress.ip_address(addresses[n]), reverse=True):
        subprocess.run(["docker", "start", name], capture_output=True, check=True, timeout=60)


def keep_sandbox() -> bool:
    """RAYDEPLOY_KEEP_SANDBOX set: leave sandbox hosts up after the tests, to look at them."""
    return bool(os.environ.get("RAYDEPLOY_KEEP_SANDBOX"))


@contextmanager
def kept_sandbox(name: str, hosts: int, *, fresh: bool | None = None,
                 down_on_error: bool = True) -> Iterator[SandboxCluster]:
    """Sandbox hosts for a fixture: `with kept_sandbox(...) as cluster: ...; yield cluster`.

    Leaving the block runs `raydeploy sandbox down` unless keep_sandbox(). fresh is
    make_cluster's. down_on_error=False leaves the hosts up when the block raises (a fixture's
    own setup failing), for fixtures that always did.
    """
    cluster = make_cluster(name, hosts, fresh=fresh)
    ok = False
    try:
        yield cluster
        ok = True
    finally:
        if (ok or down_on_error) and not keep_sandbox():
            run_cli("sandbox", "down", "--name", name)


@pytest.fixture(scope="session")
def e2e_cluster():
    """Three bare sandbox hosts shared by every end-to-end test of the session.

    RAYDEPLOY_E2E_NAME renames it, so two test sessions on one machine do not share hosts.
    """
    with kept_sandbox(os.environ.get("RAYDEPLOY_E2E_NAME", "e2e"), 3) as cluster:
        yield cluster
