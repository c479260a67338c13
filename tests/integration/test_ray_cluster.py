"""Checkpoints 01-04 on bare sandbox hosts: a real 3-node Ray cluster, over real SSH.

The tests share one cluster and run in file order: cold deploy, jobs, idempotent re-run,
scale-out, remove-node, cleanup.
"""

import json
import os
import re
import secrets
import subprocess
import time

import pytest
import yaml

from tests.api_support import wait_for
from tests.conftest import BIN, run_cli, run_playbook

pytestmark = pytest.mark.sandbox
CONFIRM = ("-e", "raydeploy_cleanup_confirmed=true")
CHECKPOINTS = ["playbooks/01-prerequisites-check.yml", "playbooks/02-docker-installation.yml",
               "playbooks/03-cleanup-existing.yml", "playbooks/04-ray-deployment.yml"]


def deploy(cluster, playbooks=CHECKPOINTS):
    runs = {}
    for playbook in playbooks:
        run = run_playbook(cluster.inventory, playbook, *CONFIRM)
        assert run.rc == 0, f"{playbook} failed:\n{run.output()}"
        runs[playbook] = run
    return runs


def job_result(proc: subprocess.CompletedProcess) -> dict:
    match = re.search(r"^RESULT (.*)$", proc.stdout, re.M)
    assert match, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(match.group(1))


def job_env(cluster):
    return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(cluster.token_file)}


def submission_id(proc: subprocess.CompletedProcess) -> str:
    match = re.search(r"(raysubmit_\w+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    return match.group(1)


def wait_job(cluster, job_id: str, timeout: float = 300) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    status = "UNKNOWN"
    while time.monotonic() < deadline:
        proc = subprocess.run([str(BIN / "ray"), "job", "status", "--address", cluster.dashboard(),
                               job_id], capture_output=True, text=True, env=job_env(cluster))
        found = re.search(r"\b(pending|running|succeeded|failed|stopped)\b",
                          proc.stdout + proc.stderr, re.I)
        status = found.group(1).upper() if found else "UNKNOWN"
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            break
        time.sleep(2)
    logs = subprocess.run([str(BIN / "ray"), "job", "logs", "--address", cluster.dashboard(),
                           job_id], capture_output=True, text=True, env=job_env(cluster)).stdout
    return status, logs


@pytest.fixture(scope="module")
def cold(e2e_cluster):
    started = time.monotonic()
    runs = deploy(e2e_cluster)
    return {"runs": runs, "seconds": time.monotonic() - started}


def test_cold_deploy_brings_every_node_alive(e2e_cluster, cold):
    alive = e2e_cluster.alive()
    assert sorted(alive) == sorted(e2e_cluster.hosts().values())
    print(f"cold 01->04 on 3 hosts: {cold['seconds']:.0f} s")


def test_dashboard_binds_cluster_address_and_requires_token(e2e_cluster, cold):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as err:
        e2e_cluster.nodes(token=False)
    assert err.value.code == 401
    listen = e2e_cluster.ssh(e2e_cluster.host(1), "ss -Htln 'sport = :8265'").stdout
    assert f"{e2e_cluster.head}:8265" in listen and "0.0.0.0:8265" not in listen


def test_job_with_token_runs_on_every_host(e2e_cluster, cold):
    proc = e2e_cluster.submit("python", "hello_ray.py", "--tasks", "12", "--seconds", "1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = job_result(proc)
    assert set(result["distribution"]) == set(e2e_cluster.hosts()), result
    assert sum(result["distribution"].values()) == 12


def test_job_without_token_is_refused(e2e_cluster, cold):
    proc = e2e_cluster.submit("python", "hello_ray.py", token=False, timeout=120)
    assert proc.returncode != 0
    assert "RESULT" not in proc.stdout
    assert "authentication" in (proc.stdout + proc.stderr).lower()


def test_token_file_is_private(e2e_cluster, cold):
    assert oct(e2e_cluster.token_file.stat().st_mode & 0o777) == "0o600"
    mode = e2e_cluster.ssh(e2e_cluster.host(2), "stat -c '%a %U' /etc/ray/auth_token").stdout.split()
    assert mode == ["600", "ray"]


def test_rerun_changes_nothing_and_a_running_job_survives(e2e_cluster, cold):
    before = e2e_cluster.alive()
    job = e2e_cluster.submit("python", "hello_ray.py", "--tasks", "6", "--seconds", "20",
                             wait=False)
    assert job.returncode == 0, job.stderr
    job_id = submission_id(job)
    runs = deploy(e2e_cluster)
    for playbook, run in runs.items():
        changed = {h: r["changed"] for h, r in run.recap.items() if h != "localhost"}
        assert changed and all(v == 0 for v in changed.values()), (playbook, changed)
    assert e2e_cluster.alive() == before  # same node IDs: Ray was not restarted
    status, logs = wait_job(e2e_cluster, job_id)
    assert status == "SUCCEEDED", logs[-3000:]
    assert '"tasks": 6' in logs


# The first task of the install, which the fast path skips and the full path always runs.
INSTALL_TASK = (
    "Find out which packages a Ray virtualenv needs are missing and which virtualenv this host has.")


def recap_changed(run) -> dict:
    return {h: r["changed"] for h, r in run.recap.items() if h != "localhost"}


def test_rerun_takes_the_fast_path_and_still_repairs_drift(e2e_cluster, cold):
    before = e2e_cluster.alive()
    fast = run_playbook(e2e_cluster.inventory, "playbooks/04-ray-deployment.yml")
    assert fast.rc == 0, fast.output()
    assert INSTALL_TASK not in fast.stdout  # every node skipped its install and service tasks
    assert set(recap_changed(fast).values()) == {0}

    # A stopped worker is not "converged": only that host goes through every task again.
    worker = e2e_cluster.host(2)
    stop = e2e_cluster.ssh(worker, "systemctl stop ray-worker; systemctl is-active ray-worker")
    assert stop.stdout.strip() == "inactive", (stop.returncode, stop.stdout, stop.stderr)
    repair = run_playbook(e2e_cluster.inventory, "playbooks/04-ray-deployment.yml", "-v")
    assert repair.rc == 0, repair.output()
    why = [line.strip() for line in repair.stdout.splitlines() if "converges fully" in line]
    assert why == [f'"msg": "{worker} converges fully: ray-worker.service is not active"'], why
    assert [h for h, c in recap_changed(repair).items() if c] == [worker]
    after = e2e_cluster.alive()
    assert len(after) == len(before)
    worker_ip = e2e_cluster.hosts()[worker]
    assert {ip: n for ip, n in after.items() if ip != worker_ip} == {
        ip: n for ip, n in before.items() if ip != worker_ip}

    # ray_fast_path=false checks every task, and still finds nothing to change.
    full = run_playbook(e2e_cluster.inventory, "playbooks/04-ray-deployment.yml", "-e", "ray_fast_path=false")
    assert full.rc == 0, full.output()
    assert INSTALL_TASK in full.stdout
    assert set(recap_changed(full).values()) == {0}
    assert e2e_cluster.alive() == after


def test_a_new_token_reaches_every_node_and_restarts_it(e2e_cluster, cold):
    before = e2e_cluster.alive()
    old = e2e_cluster.token_file.read_text()
    new = secrets.token_hex(32)
    e2e_cluster.token_file.write_text(new)  # keeps the file's 0600
    run = run_playbook(e2e_cluster.inventory, "playbooks/04-ray-deployment.yml")
    assert run.rc == 0, run.output()
    assert new not in run.stdout and old not in run.stdout
    assert all(recap_changed(run).values()), recap_changed(run)
    after = e2e_cluster.alive()
    assert set(after) == set(before)
    assert not set(after.values()) & set(before.values()), "a node kept running with the old token"
    for host in e2e_cluster.hosts():
        assert e2e_cluster.ssh(host, "cat /etc/ray/auth_token").stdout == new, host
    proc = e2e_cluster.submit("python", "hello_ray.py", "--tasks", "3", "--seconds", "1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_scale_out_while_a_job_runs(e2e_cluster, cold):
    before = e2e_cluster.alive()
    job = e2e_cluster.submit("python", "hello_ray.py", "--tasks", "6", "--seconds", "30",
                             wait=False)
    job_id = submission_id(job)
    run_cli("sandbox", "up", "--hosts", "4", "--name", e2e_cluster.name, check=True)
    run = run_playbook(e2e_cluster.inventory, "playbooks/04-ray-deployment.yml")
    assert run.rc == 0, run.output()
    after = e2e_cluster.alive()
    assert len(after) == 4
    assert {ip: after[ip] for ip in before} == before  # the first three kept their node IDs
    status, logs = wait_job(e2e_cluster, job_id)
    assert status == "SUCCEEDED", logs[-3000:]


def test_remove_node_takes_a_worker_out_cleanly(e2e_cluster, cold):
    refused = run_playbook(e2e_cluster.inventory, "playbooks/remove-node.yml", *CONFIRM)
    assert refused.rc != 0 and "remove-node needs -e node=" in refused.stdout
    ip4 = e2e_cluster.hosts()[e2e_cluster.host(4)]
    run = run_playbook(e2e_cluster.inventory, "playbooks/remove-node.yml",
                       "-e", f"node={e2e_cluster.host(4)}", *CONFIRM)
    assert run.rc == 0, run.output()
    assert ip4 not in e2e_cluster.alive() and len(e2e_cluster.alive()) == 3
    left = e2e_cluster.ssh(e2e_cluster.host(4), "pgrep -af '[r]aylet|[g]cs_server|[r]ay::' || true").stdout
    assert left.strip() == ""
    run_cli("sandbox", "up", "--hosts", "3", "--name", e2e_cluster.name, check=True)


def test_worker_count_zero_stops_that_worker_and_one_brings_it_back(e2e_cluster, cold):
    host3 = e2e_cluster.host(3)
    ip3 = e2e_cluster.hosts()[host3]
    inv = e2e_cluster.load()
    inv["all"]["children"]["ray_cluster"]["children"]["worker_nodes"]["hosts"][host3]["ray_worker_count"] = 0
    # Beside the sandbox's own inventory: the cluster token is found relative to it.
    zero = e2e_cluster.inventory.with_name("inventory-zero-workers.yml")
    zero.write_text(yaml.safe_dump(inv))
    try:
        run = run_playbook(zero, "playbooks/04-ray-deployment.yml")
        assert run.rc == 0, run.output()
        assert run.recap[host3]["changed"] >= 1
        # The GCS marks a node DEAD once its raylet is gone.
        wait_for(lambda: ip3 not in e2e_cluster.alive(), 60, "host 3's node to leave", interval=1)
        assert ip3 not in e2e_cluster.alive() and len(e2e_cluster.alive()) == 2
        unit = e2e_cluster.ssh(host3, "systemctl is-active ray-worker; systemctl is-enabled ray-worker")
        unit = unit.stdout
        assert unit.split() == ["inactive", "disabled"], unit
        left = e2e_cluster.ssh(host3, "pgrep -af '[r]aylet|[r]ay::' || true").stdout
        assert left.strip() == ""
        again = run_playbook(zero, "playbooks/04-ray-deployment.yml")
        assert again.rc == 0 and again.recap[host3]["changed"] == 0, again.output()
        # The health report expects no node there: nothing about host 3 warns or fails.
        proc = run_cli("validate", "-i", str(zero), "--checkpoint", "ray-deployment", "--format", "json",
                       "--max-score", "1000000")
        report = json.loads(proc.stdout)
        bad = [r for r in report["results"] if r["host"] == host3 and r["status"] in ("warn", "fail")]
        assert report["results"] and not bad, bad
    finally:
        zero.unlink()
    back = run_playbook(e2e_cluster.inventory, "playbooks/04-ray-deployment.yml")
    assert back.rc == 0, back.output()
    assert ip3 in e2e_cluster.alive() and len(e2e_cluster.alive()) == 3


def test_cleanup_removes_foreign_ray_and_keeps_ours(e2e_cluster, cold):
    before = e2e_cluster.alive()
    # A stray raylet from a hand-made `ray start`, as on a host with an old install.
    stray = e2e_cluster.ssh(e2e_cluster.host(2), "cp /bin/sleep /tmp/raylet && "
                            "setsid nohup /tmp/raylet 600 >/dev/null 2>&1 < /dev/null & echo started")
    assert "started" in stray.stdout
    run = run_playbook(e2e_cluster.inventory, "playbooks/03-cleanup-existing.yml", *CONFIRM)
    assert run.rc == 0, run.output()
    assert run.recap[e2e_cluster.host(2)]["changed"] >= 1 and run.recap[e2e_cluster.host(1)]["changed"] == 0
    assert e2e_cluster.ssh(e2e_cluster.host(2), "pgrep -x raylet -a | grep /tmp/raylet").stdout == ""
    assert e2e_cluster.alive() == before


def test_cleanup_leaves_no_ray_behind(e2e_cluster, cold):
    refused = run_playbook(e2e_cluster.inventory, "playbooks/03-cleanup-existing.yml",
                           "-e", "ray_cleanup_scope=all")
    assert refused.rc != 0 and "raydeploy_cleanup_confirmed=true" in refused.stdout
    assert len(e2e_cluster.alive()) == 3  # the refusal touched nothing
    run = run_playbook(e2e_cluster.inventory, "playbooks/03-cleanup-existing.yml", *CONFIRM,
                       "-e", "ray_cleanup_scope=all")
    assert run.rc == 0, run.output()
    ports = "|".join(str(p) for p in (6379, 8265, 10001, 8076, 8077, 8078, 8079, 8080, 52365))
    for host in e2e_cluster.hosts():
        check = e2e_cluster.ssh(host, (
            "pgrep -af '[r]aylet|[g]cs_server|[r]ay::|[r]ay start' ; "
            "ls /etc/systemd/system | grep '^ray-' ; "
            f"ss -Htln | grep -E ':({ports})\\b' ; "
            "ls -d /tmp/ray 2>/dev/null ; "
            "command -v docker >/dev/null && docker ps -aq --filter label=io.raydeploy.service=ray ; true"
        ))
        assert check.stdout.strip() == "", f"{host} still has: {check.stdout}"
