"""Inventory values with shell metacharacters, spaces and quotes, on sandbox hosts (native mode).

Either checkpoint 01 refuses a value before any host is touched, naming the variable and the
fix, or 01 and 04 pass it literally: the value Ray sees is the inventory's, and no marker file
appears on any host or on the controller. Runs after test_preflight_disk_full.py (same `inj`
hosts), which needs them bare."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_playbook
from tests.every_node import run_on_every_node

pytestmark = pytest.mark.sandbox
CONFIRM = ("-e", "raydeploy_cleanup_confirmed=true")
MARKERS = "pwned"
# Taken literally: systemd's Environment= and ExecStart= (shell-quoted) run no shell.
ENVIRONMENT = {"RD_SEMI": "x; touch /tmp/pwned", "RD_SUBST": "$(touch /tmp/pwned2)",
               "RD_TICK": "`touch /tmp/pwned3`", "RD_SPACE": "a b", "RD_SQ": "it's; touch /tmp/pwned4 &"}
NODE_NAME = "w a b; touch /tmp/pwned5 `touch /tmp/pwned6` 'quote\" | touch /tmp/pwned7"
RESOURCE = "a b; `touch /tmp/pwned8`"
# Refused in 01, each with the variable it must name.
REFUSED_HEAD = {
    "ray_environment": {"RD_QUOTE": "'quote\"", "RD_NL": "x\nExecStartPre=/bin/touch /tmp/pwned9"},
    "ray_extra_start_args": ["--node-name=$(touch /tmp/pwned10)"],
}
REFUSED_WORKER = {
    "ray_venv_dir": "/opt/ray venv;touch /tmp/pwned11",
    "ray_user": "ray;touch /tmp/pwned12",
    "ray_pip_extra_packages": ["x; touch /tmp/pwned13"],
    "ray_resources": {'q"': 1},
}
# run_on_every_node body: the RD_ variables a Ray worker process sees on its node.
READ_ENV = """
import os
return {k: v for k, v in os.environ.items() if k.startswith("RD_")}
"""
SNAPSHOT = ("dpkg-query -W -f '${Package} ${Version}\\n' | md5sum; "
            "ls -la /etc/ray /opt/ray /var/lib/ray 2>&1; ls /etc/systemd/system; id ray 2>&1; true")


def ray_hosts(inv: dict) -> dict:
    groups = inv["all"]["children"]["ray_cluster"]["children"]
    return {n: v for g in groups.values() for n, v in (g["hosts"] or {}).items()}


def markers(cluster) -> dict[str, list[str]]:
    """Marker files anywhere on each host's root file system and in the controller's /tmp."""
    found = {h: cluster.ssh(h, f"find / -xdev -name '{MARKERS}*' 2>/dev/null; true", timeout=120)
             .stdout.split() for h in cluster.hosts()}
    found["controller"] = [str(p) for p in Path("/tmp").glob(f"{MARKERS}*")]
    return {h: f for h, f in found.items() if f}


@pytest.fixture(scope="module")
def cluster(inj_cluster):
    stale = markers(inj_cluster)
    assert not stale, f"marker files exist before the test: {stale}"
    return inj_cluster


def write(cluster, tmp_path: Path, edit) -> Path:
    inv = copy.deepcopy(cluster.load())
    edit(inv)
    # Next to the sandbox's inventory, so the Ray token is the sandbox's (inventory_dir/.secrets).
    path = cluster.inventory.parent / "inventory-hostile.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


def test_values_systemd_or_pip_would_change_are_refused_before_any_change(cluster, tmp_path):
    head, worker = cluster.host(1), cluster.host(2)

    def edit(inv):
        ray_hosts(inv)[head].update(REFUSED_HEAD)
        ray_hosts(inv)[worker].update(REFUSED_WORKER)

    before = {h: cluster.ssh(h, SNAPSHOT).stdout for h in cluster.hosts()}
    run = run_playbook(write(cluster, tmp_path, edit), "playbooks/01-prerequisites-check.yml")
    out = run.stdout + run.stderr
    assert run.rc != 0, run.output()
    for needle in (
        f"{head}: ray_environment[",
        "ray_environment['RD_QUOTE'] is '\\'quote\"': it contains \"; systemd would not pass them "
        "literally in the Ray node's unit; remove them",
        "ray_environment['RD_NL'] is 'x\\nExecStartPre=/bin/touch /tmp/pwned9': it contains control "
        "characters (newline, tab, ...); systemd would not pass them literally in the Ray node's unit "
        "(a newline would start a new directive); remove them",
        "ray_extra_start_args[0] is '--node-name=$(touch /tmp/pwned10)': it contains $;",
        f"{worker}: ray_resources key",
        "ray_venv_dir is '/opt/ray venv;touch /tmp/pwned11': use an absolute path",
        "ray_user is 'ray;touch /tmp/pwned12': use a POSIX account name",
        "ray_pip_extra_packages has 'x; touch /tmp/pwned13': write a requirement as name",
        "ray_resources key 'q\"' is 'q\"': it contains \";",
    ):
        # The fail message reaches the output JSON-encoded: compare both forms.
        assert needle in out or json.dumps(needle)[1:-1] in out, f"{needle!r} not in:\n{run.output()}"
    assert run.recap[head]["failed"] == 1 and run.recap[worker]["failed"] == 1, run.recap
    assert all(r["changed"] == 0 for r in run.recap.values()), run.recap
    assert {h: cluster.ssh(h, SNAPSHOT).stdout for h in cluster.hosts()} == before
    assert markers(cluster) == {}


def test_shell_characters_reach_ray_literally(cluster, tmp_path):
    head, worker = cluster.host(1), cluster.host(2)

    def edit(inv):
        inv["all"]["vars"]["ray_environment"] = ENVIRONMENT
        ray_hosts(inv)[worker].update(ray_extra_start_args=[f"--node-name={NODE_NAME}"],
                                      ray_resources={RESOURCE: 1})

    path = write(cluster, tmp_path, edit)
    for playbook in ("01-prerequisites-check", "04-ray-deployment"):
        run = run_playbook(path, f"playbooks/{playbook}.yml", *CONFIRM, timeout=1800)
        assert run.rc == 0, f"{playbook}:\n{run.output()}"
    assert markers(cluster) == {}

    nodes = {n["node_ip"]: n for n in cluster.nodes() if n["state"] == "ALIVE"}
    assert set(nodes) == set(cluster.hosts().values()), nodes
    on_worker = nodes[cluster.hosts()[worker]]
    assert on_worker["node_name"] == NODE_NAME, on_worker
    assert on_worker["resources_total"].get(RESOURCE) == 1.0, on_worker["resources_total"]

    seen = run_on_every_node(cluster, tmp_path, READ_ENV)
    assert len(seen) == 2 and all(v == ENVIRONMENT for v in seen.values()), seen
    # And in the unit file as written.
    unit = cluster.ssh(head, "cat /etc/systemd/system/ray-head.service").stdout
    assert 'Environment="RD_SUBST=$(touch /tmp/pwned2)"' in unit, unit
    assert markers(cluster) == {}
    # A re-run with the same values changes nothing (the values are stable, not re-quoted).
    run = run_playbook(path, "playbooks/04-ray-deployment.yml", *CONFIRM)
    assert run.rc == 0 and all(r["changed"] == 0 for r in run.recap.values()), run.recap
