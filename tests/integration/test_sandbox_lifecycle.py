"""A sandbox of 3 hosts, reached over real SSH by Ansible, and removed without a trace."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, PROJECT, power_cycle, run_cli

pytestmark = pytest.mark.sandbox
NAME = "lifecycle"


def _docker_objects(kind: str) -> list[str]:
    args = {"ps": ["ps", "-a"], "network": ["network", "ls"], "volume": ["volume", "ls"]}[kind]
    out = subprocess.run(["docker", *args, "--format", "{{.Names}}" if kind == "ps" else
                          "{{.Name}}"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.split() if f"raydeploy-{NAME}" in line]


def _ansible(inventory: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible"), "-i", inventory, *args], capture_output=True, text=True,
        cwd=PROJECT, timeout=300,
    )


@pytest.fixture(scope="module")
def lifecycle_sandbox():
    run_cli("sandbox", "up", "--hosts", "3", "--name", NAME, check=True)
    inventory = run_cli("sandbox", "inventory", "--name", NAME, check=True).stdout.strip()
    yield inventory
    run_cli("sandbox", "down", "--name", NAME, check=True)


def test_hosts_answer_ansible_over_real_ssh(lifecycle_sandbox):
    proc = _ansible(lifecycle_sandbox, "all", "-m", "ansible.builtin.ping")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('"ping": "pong"') == 3


def test_small_playbook_runs_with_become(lifecycle_sandbox, tmp_path):
    playbook = tmp_path / "probe.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "all", "gather_facts": False,
        "tasks": [
            {"name": "Write a file as root.", "ansible.builtin.copy":
                {"dest": "/etc/raydeploy-probe", "content": "ok\n", "mode": "0644"}},
            {"name": "Read what systemd says.", "ansible.builtin.command": "systemctl is-system-running",
             "register": "state", "changed_when": False},
            {"name": "Report.", "ansible.builtin.debug":
                {"msg": "{{ inventory_hostname }} {{ ansible_host }} {{ state.stdout }}"}},
        ],
    }]))
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", lifecycle_sandbox, str(playbook)],
        capture_output=True, text=True, cwd=PROJECT, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "changed=1" in proc.stdout


def test_hosts_are_distinct_and_systemd_runs(lifecycle_sandbox):
    proc = _ansible(
        lifecycle_sandbox, "all", "-m", "ansible.builtin.shell",
        "-a", "echo $(hostname) $(hostname -I | cut -d' ' -f1) $(systemctl is-system-running)",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith(f"{NAME}-")
            and len(line.split()) == 3]
    assert len(rows) == 3, proc.stdout
    assert len({r[0] for r in rows}) == 3 and len({r[1] for r in rows}) == 3
    assert all(r[2] == "running" for r in rows)


def test_second_up_keeps_the_same_hosts(lifecycle_sandbox):
    before = subprocess.run(["docker", "ps", "-q", "--filter", f"label=io.raydeploy.sandbox={NAME}"],
                            capture_output=True, text=True).stdout.split()
    inv_before = yaml.safe_load(Path(lifecycle_sandbox).read_text())
    run_cli("sandbox", "up", "--hosts", "3", "--name", NAME, check=True)
    after = subprocess.run(["docker", "ps", "-q", "--filter", f"label=io.raydeploy.sandbox={NAME}"],
                           capture_output=True, text=True).stdout.split()
    assert sorted(before) == sorted(after) and len(after) == 3
    assert yaml.safe_load(Path(lifecycle_sandbox).read_text()) == inv_before


def test_hosts_keep_their_addresses_when_they_start_again_in_another_order(lifecycle_sandbox):
    """What a machine's reboot does to the hosts (conftest.power_cycle)."""
    inv_before = yaml.safe_load(Path(lifecycle_sandbox).read_text())
    hosts = inv_before["all"]["children"]["ray_cluster"]["children"]
    address = {f"raydeploy-{host}": values["ansible_host"]
               for group in hosts.values() for host, values in group["hosts"].items()}
    assert len(address) == 3
    power_cycle(address)
    run_cli("sandbox", "up", "--hosts", "3", "--name", NAME, check=True)
    assert yaml.safe_load(Path(lifecycle_sandbox).read_text()) == inv_before
    proc = _ansible(lifecycle_sandbox, "all", "-m", "ansible.builtin.command", "-a", "hostname -I")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for group in hosts.values():
        for host, values in group["hosts"].items():
            assert re.search(rf"^{host} \| CHANGED \| rc=0 >>\n{re.escape(values['ansible_host'])}\b",
                             proc.stdout, re.M), proc.stdout


def test_status_reports_every_host_running(lifecycle_sandbox):
    proc = run_cli("sandbox", "status", "--name", NAME, check=True)
    assert proc.stdout.count("running") >= 6  # container state and systemd, per host


def test_down_leaves_nothing(lifecycle_sandbox):
    run_cli("sandbox", "down", "--name", NAME, check=True)
    assert _docker_objects("ps") == []
    assert _docker_objects("network") == []
    assert _docker_objects("volume") == []
    assert run_cli("sandbox", "inventory", "--name", NAME).returncode != 0
    # Bring it back so the fixture's own teardown has something to remove.
    run_cli("sandbox", "up", "--hosts", "1", "--name", NAME, check=True)
