"""Issue 9's faults on a native-mode cluster (sandbox `flt`: head + 2 workers, 01->06 deployed),
in file order, each measured and recorded in the fault table (tests/faults/conftest.py):

- a worker's raylet killed (SIGKILL, as a crash or the OOM killer; SIGTERM, as a plain `kill`):
  systemd brings the node back ALIVE, same address, within 60 s;
- a worker host restarted: its node rejoins by itself;
- the head host restarted: the head comes back and both workers rejoin by themselves;
- the machine restarted (every host killed, started again in another order): each keeps its
  address and the cluster comes back by itself;
- the SSH connection to a worker dropped while checkpoint 04 installs Ray there: the run fails
  naming the host, and a re-run converges (every node ALIVE, a job runs);
- a job running during a no-change re-run of 01->06 finishes with the right result, and the
  re-run changes nothing and restarts nothing.

A host restart is `Sandbox.restart` (`docker restart` of the host's container: systemd stops
every unit, the container's /run is fresh, the address is kept). Every wait is bounded.
RAYDEPLOY_KEEP_SANDBOX keeps the hosts afterwards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from raydeploy.sandbox.hosts import Sandbox
from tests.conftest import BIN, PROJECT, kept_sandbox, power_cycle, run_playbook
from tests.integration.test_ray_cluster import job_result, submission_id, wait_job

pytestmark = [pytest.mark.sandbox, pytest.mark.faults]
NAME = "flt"
CONFIRM = ("-e", "raydeploy_cleanup_confirmed=true")
SCRAPE = ("-e", json.dumps({"prometheus_scrape_interval": "5s"}))
# Every sandbox host reports the whole machine's load (see test_validate.py).
MAX_SCORE = ("-e", "final_validation_max_score=1000000")
PLAYBOOKS = ["playbooks/01-prerequisites-check.yml", "playbooks/02-docker-installation.yml",
             "playbooks/03-cleanup-existing.yml", "playbooks/04-ray-deployment.yml",
             "playbooks/05-monitoring-deployment.yml", "playbooks/06-final-validation.yml"]
RAYLET_BACK_S = 60  # the bound for a killed raylet
REJOIN_S = 180  # the brief's bound for a restarted host's node to rejoin by itself

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float,
             interval: float = 1.0) -> tuple[float, T]:
    """Poll until probe() returns something truthy; (seconds taken, that value). Bounded."""
    started = time.monotonic()
    last = None
    for _ in range(int(timeout / interval) + 1):
        try:
            last = probe()
        except Exception as exc:  # noqa: BLE001 (a host or dashboard down is what we wait out)
            last = f"{type(exc).__name__}: {exc}"
        else:
            if last:
                return time.monotonic() - started, last
        if time.monotonic() - started > timeout:
            break
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f} s; last saw {last!r}")


def alive_or_empty(cluster) -> dict[str, str]:
    try:
        return cluster.alive()
    except Exception:  # noqa: BLE001 (the head's dashboard is down while the head restarts)
        return {}


def unit(cluster, host: str) -> str:
    return "ray-head.service" if cluster.hosts()[host] == cluster.head else "ray-worker.service"


def systemd(cluster, host: str, prop: str) -> str:
    return cluster.ssh(host, f"systemctl show -p {prop} --value {unit(cluster, host)}").stdout.strip()


def raylet_pid(cluster, host: str) -> str:
    return cluster.ssh(host, "pgrep -x raylet || true").stdout.strip()


def deploy(cluster, playbooks=PLAYBOOKS) -> dict:
    runs = {}
    for playbook in playbooks:
        extra = SCRAPE if "05-" in playbook else MAX_SCORE if "06-" in playbook else ()
        run = run_playbook(cluster.inventory, playbook, *CONFIRM, *extra)
        assert run.rc == 0, f"{playbook} failed:\n{run.output()}"
        runs[playbook] = run
    return runs


def changed(run) -> dict[str, int]:
    return {h: r["changed"] for h, r in run.recap.items()}


@pytest.fixture(scope="module")
def cluster():
    with kept_sandbox(NAME, 3) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def deployed(cluster):
    started = time.monotonic()
    deploy(cluster)
    print(f"01->06 on 3 hosts: {time.monotonic() - started:.0f} s")
    assert sorted(cluster.alive()) == sorted(cluster.hosts().values())
    return cluster


@pytest.fixture()
def healthy(deployed):
    """Each fault starts from (and leaves) every node ALIVE, so one failure does not cascade."""
    wait_for("every node ALIVE", lambda: len(alive_or_empty(deployed)) == 3 or None, REJOIN_S, 2)
    return deployed


def kill_raylet(cluster, host: str, signal: str, fault: str, fault_log, request) -> None:
    ip = cluster.hosts()[host]
    known = {n["node_id"] for n in cluster.nodes()}
    pid, restarts = raylet_pid(cluster, host), int(systemd(cluster, host, "NRestarts"))
    assert pid.isdigit(), pid
    started = time.monotonic()
    killed = cluster.ssh(host, f"kill -{signal} {pid}")
    assert killed.returncode == 0, killed.stderr

    def back() -> str | None:
        return next((n["node_id"] for n in cluster.nodes()
                     if n["node_ip"] == ip and n["state"] == "ALIVE" and n["node_id"] not in known),
                    None)

    _, node = wait_for(f"a new ALIVE node at {ip}", back, RAYLET_BACK_S + 30)
    took = time.monotonic() - started
    new_pid = raylet_pid(cluster, host)
    more = int(systemd(cluster, host, "NRestarts")) - restarts
    others = {a: n for a, n in cluster.alive().items() if a != ip}
    # Who ended the node: ray start --block itself (a crash) or the supervisor (files/).
    by_supervisor = cluster.ssh(host, f"journalctl -u {unit(cluster, host)} --no-pager "
                                "| grep -c 'the raylet exited' || true").stdout.strip()
    observed = (f"node ALIVE again at {ip} (new node id {node[:8]}), new raylet pid "
                f"{new_pid} (was {pid}), {more} restart(s) by systemd "
                f"({'raydeploy-ray-node' if by_supervisor != '0' else 'ray start --block'} "
                "ended the node); other nodes untouched")
    fault_log.record(request, fault, "systemd restarts the node; ALIVE again within 60 s, same "
                     "address", observed, took)
    assert took <= RAYLET_BACK_S, observed
    assert new_pid.isdigit() and new_pid != pid and more == 1, observed
    assert len(others) == 2


def test_raylet_killed_by_sigkill_comes_back_within_60_s(healthy, fault_log, request):
    kill_raylet(healthy, healthy.host(2), "KILL", "worker's raylet killed (SIGKILL: a crash, the "
                "OOM killer)", fault_log, request)


def test_raylet_killed_by_sigterm_comes_back_within_60_s(healthy, fault_log, request):
    # Before the supervisor (roles/ray_common/files/raydeploy-ray-node), `ray start --block`
    # took this for a clean exit: the unit stayed active and the node DEAD for good.
    kill_raylet(healthy, healthy.host(3), "TERM", "worker's raylet killed (SIGTERM: a plain "
                "`kill`)", fault_log, request)


def rejoin_after(cluster, action: Callable[[], object], hosts: list[str]) -> dict[str, float]:
    """Run action (a restart) and time, from its start, each host's node ALIVE with a new id;
    "action" in the answer is how long the action itself took."""
    ips = {cluster.hosts()[h]: h for h in hosts}
    known = {n["node_id"] for n in cluster.nodes()}
    started = time.monotonic()
    action()
    came: dict[str, float] = {}
    acted = time.monotonic() - started

    def all_back() -> bool:
        for n in cluster.nodes():
            if n["state"] == "ALIVE" and n["node_id"] not in known and n["node_ip"] in ips:
                came.setdefault(ips[n["node_ip"]], time.monotonic() - started)
        return len(came) == len(ips)

    wait_for(f"{sorted(ips.values())} ALIVE with new node ids", all_back,
             REJOIN_S + 30, 1)
    return {**came, "action": acted}


def boot_facts(cluster, host: str) -> str:
    return cluster.ssh(host, f"systemctl is-enabled {unit(cluster, host)}; "
                             f"systemctl is-active {unit(cluster, host)}").stdout.split()


def test_worker_host_restart_rejoins_by_itself(healthy, fault_log, request):
    host = healthy.host(2)
    ip = healthy.hosts()[host]
    came = rejoin_after(healthy, lambda: Sandbox(NAME).restart(2), [host])
    state = boot_facts(healthy, host)
    observed = (f"{host} rebooted in {came['action']:.0f} s (clean shutdown), same address {ip}, "
                f"ray-worker enabled and "
                f"started at boot ({'/'.join(state)}); node ALIVE again with a new id")
    fault_log.record(request, "worker host restarted", "its node rejoins by itself", observed,
                     came[host])
    assert state == ["enabled", "active"]
    assert came[host] <= REJOIN_S
    assert len(healthy.alive()) == 3


def test_head_host_restart_head_back_and_workers_rejoin(healthy, fault_log, request):
    hosts = [healthy.host(i) for i in (1, 2, 3)]
    came = rejoin_after(healthy, lambda: Sandbox(NAME).restart(1), hosts)
    head, workers = came[hosts[0]], max(came[h] for h in hosts[1:])
    observed = (f"reboot (clean shutdown, systemd running again) {came['action']:.0f} s, same "
                f"address; head ALIVE after {head:.0f} s; workers' raylets "
                f"exit on the new GCS's cluster id and systemd restarts them: ALIVE after "
                + ", ".join(f"{came[h]:.0f} s" for h in hosts[1:]))
    fault_log.record(request, "head host restarted", "head comes back, workers rejoin by "
                     "themselves (within 180 s)", observed, workers)
    assert boot_facts(healthy, hosts[0]) == ["enabled", "active"]
    assert workers <= REJOIN_S, observed
    proc = healthy.submit("python", "hello_ray.py", "--tasks", "6", "--seconds", "1")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert set(job_result(proc)["distribution"]) == set(hosts)


HEAD_DOWN_S = 90  # longer than Ray's gcs_rpc_server_reconnect_timeout_s (60 s)


def test_head_host_down_longer_than_the_gcs_timeout(healthy, fault_log, request):
    hosts = [healthy.host(i) for i in (1, 2, 3)]
    container = Sandbox(NAME).container_name(1)

    restarts = {h: int(systemd(healthy, h, "NRestarts")) for h in hosts[1:]}

    def outage() -> None:
        subprocess.run(["docker", "stop", "-t", "90", container], check=True, capture_output=True,
                       timeout=150)
        time.sleep(HEAD_DOWN_S)
        subprocess.run(["docker", "start", container], check=True, capture_output=True, timeout=60)

    # Times from power-on: the answer counts from the stop, and the outage ends with the start.
    came = rejoin_after(healthy, outage, hosts)
    on = {h: came[h] - came["action"] for h in hosts}
    workers = max(on[h] for h in hosts[1:])
    more = {h: int(systemd(healthy, h, "NRestarts")) - restarts[h] for h in hosts[1:]}
    observed = (f"head powered off {came['action'] - HEAD_DOWN_S:.0f} s + {HEAD_DOWN_S} s, then on; "
                f"after power-on head ALIVE in {on[hosts[0]]:.0f} s, workers in "
                f"{', '.join(f'{on[h]:.0f} s' for h in hosts[1:])} (systemd restarted them "
                f"{', '.join(str(v) for v in more.values())} times while the head was away)")
    fault_log.record(request, f"head host down {HEAD_DOWN_S} s (longer than Ray's 60 s GCS "
                     "reconnect timeout)", "workers rejoin by themselves once the head is back "
                     "(within 180 s of power-on)", observed, workers)
    assert workers <= REJOIN_S, observed


def test_machine_restart_hosts_keep_their_addresses_and_the_cluster_returns(healthy, fault_log,
                                                                            request):
    """The developer's machine restarts: every host loses power at once and the engine starts
    them in another order (conftest.power_cycle)."""
    hosts = [healthy.host(i) for i in (1, 2, 3)]
    sandbox = Sandbox(NAME)
    status = sandbox.status()
    before = {s.name: s.address for s in status}

    def restart() -> None:
        power_cycle({s.container: s.address for s in status})
        sandbox.up(3, log=lambda _: None)  # what the developer runs after a restart

    came = rejoin_after(healthy, restart, hosts)
    after = {s.name: s.address for s in sandbox.status()}
    slowest = max(came[h] for h in hosts)
    observed = (f"3 hosts killed and started again highest address first, `sandbox up` "
                f"{came['action']:.0f} s; addresses {'kept' if after == before else 'CHANGED'}; "
                "nodes ALIVE with new ids after " + ", ".join(f"{came[h]:.0f} s" for h in hosts))
    fault_log.record(request, "machine restarted (every host powered off, started in another "
                     "order)", "each host keeps its address; the cluster comes back by itself "
                     "(within 180 s) and a job runs on every host", observed, slowest)
    assert after == before, observed
    assert slowest <= REJOIN_S, observed
    proc = healthy.submit("python", "hello_ray.py", "--tasks", "6", "--seconds", "1")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert set(job_result(proc)["distribution"]) == set(hosts)


INSTALL = "TASK [ray_common : Install Ray into its virtualenv.]"


def test_ssh_drop_mid_install_fails_cleanly_and_a_rerun_converges(healthy, fault_log, request,
                                                                    tmp_path):
    host = healthy.host(3)
    container = Sandbox(NAME).container_name(3)
    # The worker is re-provisioned: no Ray on it, so checkpoint 04 installs Ray there (uv, the
    # longest task), and the SSH connection is cut while uv runs. 04 normally runs the install
    # detached (async), where a dropped connection does not touch it; here it runs in the
    # foreground, as outside 04, so the drop lands in the middle of a task; and with uv on the
    # host itself, not from the controller's cache of built venvs (ray_venv_artifact).
    gone = healthy.ssh(host, "systemctl stop ray-worker && rm -rf /opt/ray/venv && echo gone")
    assert "gone" in gone.stdout, gone.stderr
    log = tmp_path / "04.log"
    with log.open("w") as out:
        run = subprocess.Popen(
            [str(BIN / "ansible-playbook"), "-i", str(healthy.inventory),
             str(PROJECT / "playbooks/04-ray-deployment.yml"), "-e", "ray_wait_timeout_s=45",
             "-e", "_ray_common_install_async=false", "-e", "ray_venv_artifact=false"],
            stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT,
            env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
        try:
            wait_for("the install task", lambda: INSTALL in log.read_text(), 600, 1)
            wait_for(f"uv running on {host}", lambda: subprocess.run(
                ["docker", "exec", container, "pgrep", "-f", "pip.*install"],
                capture_output=True).returncode == 0, 120, 0.5)
            time.sleep(2)
            cut = subprocess.run(["docker", "exec", container, "pkill", "-f", "sshd: deploy"],
                                 capture_output=True, text=True, timeout=30)
            assert cut.returncode == 0, cut.stderr  # at least one session was killed
            rc = run.wait(timeout=900)
        finally:
            if run.poll() is None:
                run.kill()
    output = log.read_text()
    unreachable = [line for line in output.splitlines() if "UNREACHABLE!" in line]
    recap = re.search(rf"^{host}\s+:.*unreachable=(\d+)", output, re.M)
    pip_after = subprocess.run(["docker", "exec", container, "pgrep", "-f", "pip.*install"],
                               capture_output=True).returncode == 0
    importable = healthy.ssh(host, "/opt/ray/venv/bin/python3 -c 'import ray' 2>/dev/null "
                                   "&& echo yes || echo no").stdout.strip()
    assert rc != 0, output[-3000:]
    assert unreachable and all(f"[{host}]" in line for line in unreachable), unreachable
    assert recap and int(recap.group(1)) == 1, output[-3000:]
    # uv may still finish on the host on its own; give it a bounded while, then re-run.
    wait_for(f"uv gone on {host}", lambda: subprocess.run(
        ["docker", "exec", container, "pgrep", "-f", "pip.*install"],
        capture_output=True).returncode != 0, 300, 1)

    started = time.monotonic()
    again = run_playbook(healthy.inventory, "playbooks/04-ray-deployment.yml")
    rerun_s = time.monotonic() - started
    assert again.rc == 0, again.output()
    alive = healthy.alive()
    proc = healthy.submit("python", "hello_ray.py", "--tasks", "6", "--seconds", "1")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = job_result(proc)
    observed = (f"run exit {rc}, {len(unreachable)} UNREACHABLE line(s), all [{host}] (\"" +
                unreachable[0].split("=>")[0].strip()[:80] + f"\"); uv "
                f"{'still running' if pip_after else 'gone'} on the host after the run, Ray "
                f"{'importable' if importable == 'yes' else 'not importable'} from the venv; "
                f"re-run exit 0 in {rerun_s:.0f} s, {len(alive)}/3 ALIVE, a job ran on "
                f"{len(result['distribution'])} hosts")
    fault_log.record(request, "SSH connection dropped while 04 installs Ray on a worker (uv)",
                     "the run fails naming the host (unreachable); a re-run converges", observed,
                     rerun_s)
    assert sorted(alive) == sorted(healthy.hosts().values())
    assert set(result["distribution"]) == set(healthy.hosts())


def test_job_survives_a_no_change_rerun_of_01_to_06(healthy, fault_log, request):
    before = healthy.alive()
    job = healthy.submit("python", "hello_ray.py", "--tasks", "3", "--seconds", "240", wait=False)
    assert job.returncode == 0, job.stderr
    job_id = submission_id(job)
    started = time.monotonic()
    run = run_playbook(healthy.inventory, "site.yml", *CONFIRM, *SCRAPE, *MAX_SCORE)
    rerun_s = time.monotonic() - started
    assert run.rc == 0, run.output()
    status_during, _ = job_status(healthy, job_id)
    after = healthy.alive()
    status, logs = wait_job(healthy, job_id, timeout=400)
    host_changes = {h: c for h, c in changed(run).items() if h != "localhost"}
    result = job_result(subprocess.CompletedProcess([], 0, logs, ""))
    observed = (f"site.yml re-run exit 0 in {rerun_s:.0f} s, changed="
                f"{'/'.join(str(host_changes[h]) for h in sorted(host_changes))} on the hosts; job "
                f"{status_during} when it ended, then {status} with {result['tasks']} tasks on "
                f"{result['alive_nodes']} nodes; node ids unchanged: {after == before}")
    fault_log.record(request, "job running during a no-change re-run of 01->06 (site.yml)",
                     "the job finishes with the right result; changed=0, Ray not restarted",
                     observed, None)
    assert status_during == "RUNNING", observed  # the re-run overlapped the job
    assert set(host_changes.values()) == {0}, observed
    assert after == before, observed
    assert status == "SUCCEEDED", logs[-3000:]
    assert result["tasks"] == 3 and sum(result["distribution"].values()) == 3


def job_status(cluster, job_id: str) -> tuple[str, str]:
    proc = subprocess.run([str(BIN / "ray"), "job", "status", "--address", cluster.dashboard(),
                           job_id], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "RAY_AUTH_MODE": "token",
                               "RAY_AUTH_TOKEN_PATH": str(cluster.token_file)})
    found = re.search(r"\b(pending|running|succeeded|failed|stopped)\b", proc.stdout + proc.stderr,
                      re.I)
    return (found.group(1).upper() if found else "UNKNOWN"), proc.stdout
