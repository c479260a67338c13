"""Roles common and docker on 2 fresh sandbox hosts over real SSH: check mode on bare hosts,
a converging run, a second run that changes nothing, and what the hosts then look like."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import BIN, PROJECT, run_cli

pytestmark = pytest.mark.sandbox
NAME = "roles"
HOSTS = {f"{NAME}-1", f"{NAME}-2"}
PLAYBOOKS = [str(PROJECT / "roles" / "common" / "tests" / "test.yml"),
             str(PROJECT / "playbooks" / "02-docker-installation.yml")]
DAEMON_OPTIONS = {
    "log-driver": "json-file",
    "log-opts": {"max-size": "20m", "max-file": "2"},
    "live-restore": True,
}
_RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)"
)


def parse_recap(stdout: str) -> dict[str, dict[str, int]]:
    """Per-host counts from the last PLAY RECAP (with several playbooks, the last is the total)."""
    tail = stdout[stdout.rindex("PLAY RECAP"):]
    rows = {}
    for line in tail.splitlines()[1:]:
        match = _RECAP_LINE.match(line)
        if match:
            rows[match["host"]] = {k: int(v) for k, v in match.groupdict().items() if k != "host"}
        elif rows and not line.strip():
            break
    return rows


class Runner:
    """ansible and ansible-playbook against the sandbox, with their own SSH masters and fact
    cache, so hosts recreated under the same names never meet stale connections or facts."""

    def __init__(self, inventory: str, state_dir: Path):
        self.inventory = inventory
        self.env = {
            **os.environ,
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(state_dir / "cp"),
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(state_dir / "facts"),
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
        }

    def playbook(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", self.inventory, *args],
            capture_output=True, text=True, cwd=PROJECT, timeout=timeout, env=self.env,
        )

    def adhoc(self, pattern: str, module: str, args: str = "", *extra: str) -> dict[str, dict]:
        """One module on the hosts; returns each host's result as JSON (json stdout callback)."""
        env = {**self.env, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
               "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
        proc = subprocess.run(
            [str(BIN / "ansible"), "-i", self.inventory, pattern, "-m", module,
             *(["-a", args] if args else []), *extra],
            capture_output=True, text=True, cwd=PROJECT, timeout=120, env=env,
        )
        try:
            # The JSON document comes first; ansible.cfg's timer callbacks may print after it.
            doc, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])
        except (ValueError, json.JSONDecodeError) as exc:
            raise AssertionError(
                f"ansible {module} gave no JSON:\n{proc.stdout}\n{proc.stderr}"
            ) from exc
        return doc["plays"][0]["tasks"][0]["hosts"]


@pytest.fixture(scope="module")
def state_dir():
    path = Path(tempfile.mkdtemp(prefix="rd-roles-"))  # short: SSH control sockets live here
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def runner(state_dir):
    # Fresh hosts every time, so the first run really installs: remove leftovers of this name.
    run_cli("sandbox", "down", "--name", NAME)
    run_cli("sandbox", "up", "--hosts", "2", "--name", NAME, check=True)
    inventory = run_cli("sandbox", "inventory", "--name", NAME, check=True).stdout.strip()
    yield Runner(inventory, state_dir)
    run_cli("sandbox", "down", "--name", NAME, check=True)


@pytest.fixture(scope="module")
def extra_vars(state_dir) -> Path:
    ca_key, ca_pem = state_dir / "ca.key", state_dir / "roles-test-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=raydeploy roles test CA", "-keyout", str(ca_key), "-out", str(ca_pem)],
        check=True, capture_output=True,
    )
    path = state_dir / "vars.json"
    path.write_text(json.dumps({
        "docker_install_enabled": True,
        "docker_daemon_options": DAEMON_OPTIONS,
        "docker_users": ["deploy"],
        "common_extra_ca_certificates": [str(ca_pem)],
    }))
    return path


@pytest.fixture(scope="module")
def runs(runner, extra_vars):
    """Check mode on bare hosts, then two real runs; later tests read what they printed."""
    check = runner.playbook(*PLAYBOOKS, "-e", f"@{extra_vars}", "--check", "--diff")
    untouched = runner.adhoc("all", "ansible.builtin.shell",
                             "getent passwd ray || test -e /etc/docker/daemon.json")
    first = runner.playbook(*PLAYBOOKS, "-e", f"@{extra_vars}")
    second = runner.playbook(*PLAYBOOKS, "-e", f"@{extra_vars}")
    return {"check": check, "untouched": untouched, "first": first, "second": second}


def _ok(proc: subprocess.CompletedProcess) -> str:
    return f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"


def test_check_mode_on_bare_hosts_passes_and_changes_nothing(runs):
    check = runs["check"]
    assert check.returncode == 0, _ok(check)
    recap = parse_recap(check.stdout)
    assert set(recap) >= HOSTS, recap
    assert all(recap[h]["failed"] == 0 and recap[h]["unreachable"] == 0 for h in HOSTS), recap
    # What check mode cannot simulate on a bare host is said, not silently skipped.
    assert "cannot be previewed" in check.stdout, _ok(check)
    # Nothing was really done: no Ray user, no daemon.json.
    assert all(r.get("rc") != 0 for r in runs["untouched"].values()), runs["untouched"]


def test_first_run_converges(runs):
    first = runs["first"]
    assert first.returncode == 0, _ok(first)
    recap = parse_recap(first.stdout)
    assert all(recap[h]["changed"] > 0 and recap[h]["failed"] == 0 for h in HOSTS), recap


def test_second_run_changes_nothing(runs):
    second = runs["second"]
    assert second.returncode == 0, _ok(second)
    recap = parse_recap(second.stdout)
    assert set(recap) >= HOSTS, recap
    for host, counts in recap.items():
        assert counts["changed"] == 0, f"{host} changed on the second run:\n{_ok(second)}"
        assert counts["failed"] == 0 and counts["unreachable"] == 0, recap


def test_container_limits_are_reported_not_failed(runs):
    out = runs["first"].stdout
    assert "shares its host's kernel: not setting vm.max_map_count=262144" in out
    assert "Time sync skipped on" in out


def test_docker_info_answers_over_ssh(runs, runner):
    as_root = runner.adhoc("all", "ansible.builtin.command", "docker info")
    assert set(as_root) == HOSTS
    for host, result in as_root.items():
        assert result.get("rc") == 0, (host, result)
        assert "Storage Driver: overlay2" in result["stdout"], (host, result["stdout"])
    # docker_users: deploy reaches the engine without sudo.
    as_deploy = runner.adhoc("all", "ansible.builtin.command", "docker version", "-e",
                             "ansible_become=false")
    assert all(r.get("rc") == 0 for r in as_deploy.values()), as_deploy


def test_daemon_json_holds_the_options_given(runs, runner):
    results = runner.adhoc("all", "ansible.builtin.slurp", "src=/etc/docker/daemon.json")
    assert set(results) == HOSTS
    for host, result in results.items():
        assert json.loads(base64.b64decode(result["content"])) == DAEMON_OPTIONS, host


def test_ray_user_exists_as_a_system_account(runs, runner):
    results = runner.adhoc("all", "ansible.builtin.command", "getent passwd ray")
    for host, result in results.items():
        assert result.get("rc") == 0, (host, result)
        name, _, uid, _, _, home, shell = result["stdout"].split(":")
        assert (name, home, shell) == ("ray", "/var/lib/ray", "/usr/sbin/nologin"), host
        assert int(uid) < 1000, f"{host}: ray is uid {uid}, not a system account"


def test_extra_ca_certificate_is_trusted(runs, runner):
    results = runner.adhoc("all", "ansible.builtin.stat", "path=/etc/ssl/certs/roles-test-ca.pem")
    assert all(r["stat"]["exists"] for r in results.values()), results


def test_checkpoint_02_skips_native_hosts_with_a_reason(runs, runner):
    proc = runner.playbook(PLAYBOOKS[1])  # group_vars default: ray_install_mode native
    assert proc.returncode == 0, _ok(proc)
    for host in HOSTS:
        assert f"Docker not installed on {host}: docker_install_enabled is false" in proc.stdout
    assert all(c["changed"] == 0 for c in parse_recap(proc.stdout).values())
