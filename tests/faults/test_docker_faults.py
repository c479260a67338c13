"""Docker mode, worker containers killed on a sandbox host: does the container's restart policy
bring the Ray node back, and how fast?

Three ways a worker container dies, on the host's own dockerd (reached over SSH):
- its main process (`ray start --block`, PID 1 of the container) is killed with SIGKILL from
  the host, as a crash or the kernel's OOM killer would: the restart policy applies;
- its raylet is killed inside the container: `ray start --block` exits 1, the policy applies;
- `docker kill`: Docker records an operator's stop and ignores every restart policy (always
  and unless-stopped alike, Docker 20.10 as on the hosts); a re-run of checkpoint 04 starts it.
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.conftest import SandboxCluster, kept_sandbox, run_cli, run_playbook

pytestmark = [pytest.mark.sandbox, pytest.mark.faults]
NAME = "dkf"
WORKER = f"{NAME}-2"
CONTAINER = "ray-worker-1"
CONFIRM = ("-e", "raydeploy_cleanup_confirmed=true")
BACK_WITHIN_S = 60
OBSERVE_S = 150  # how long a test keeps watching past the target, to report what it saw


@pytest.fixture(scope="module")
def dkf():
    # A failed image build or deploy takes the hosts down too (kept_sandbox's default).
    with kept_sandbox(NAME, 2) as cluster:
        tag, archive = run_cli("image", "build-ray", check=True, timeout=1800).stdout.split()
        inv = cluster.load()
        inv["all"]["vars"].update(ray_install_mode="docker", ray_docker_image_source="archive",
                                  ray_docker_image=tag, ray_docker_image_archive=archive)
        path = cluster.inventory.parent / "inventory-docker.yml"
        path.write_text(yaml.safe_dump(inv))
        for playbook in ("01-prerequisites-check", "02-docker-installation", "04-ray-deployment"):
            run = run_playbook(path, f"playbooks/{playbook}.yml", *CONFIRM, timeout=1800)
            assert run.rc == 0, f"{playbook}:\n{run.output()}"
        yield cluster, path


def state(cluster: SandboxCluster) -> dict:
    out = cluster.ssh(WORKER, f"docker inspect {CONTAINER}").stdout
    return json.loads(out)[0]["State"] | {"RestartCount": json.loads(out)[0]["RestartCount"]}


def worker_node(cluster: SandboxCluster) -> str | None:
    try:
        return cluster.alive().get(cluster.hosts()[WORKER])
    except OSError:
        return None


def wait_for_new_node(cluster: SandboxCluster, old: str, started: float, limit: float) -> float | None:
    """Seconds from `started` until the worker host has an ALIVE node other than `old`."""
    while time.monotonic() - started < limit:
        node = worker_node(cluster)
        if node and node != old:
            return time.monotonic() - started
        time.sleep(1)
    return None


def healthy(cluster: SandboxCluster) -> str:
    node = worker_node(cluster)
    assert node, f"the worker on {WORKER} is not ALIVE before the fault: {cluster.alive()}"
    assert state(cluster)["Running"]
    return node


def kill_and_expect_restart(cluster: SandboxCluster, fault_log, request, kill_command: str,
                            fault: str, restarted: str) -> None:
    """Run kill_command on the worker host, then record and assert what the restart policy did:
    the container restarted and a new node ALIVE within BACK_WITHIN_S (watched to OBSERVE_S).
    `fault` and `restarted` word the fault table's row."""
    old = healthy(cluster)
    before = state(cluster)
    kill = cluster.ssh(WORKER, kill_command)
    assert kill.returncode == 0, kill.stderr
    started = time.monotonic()
    took = wait_for_new_node(cluster, old, started, OBSERVE_S)
    after = state(cluster)
    observed = (f"{restarted} (restarts {before['RestartCount']}→{after['RestartCount']}); "
                + (f"new node ALIVE after {took:.1f} s" if took else f"no new node within {OBSERVE_S} s"))
    fault_log.record(request, fault, f"container restarted, node ALIVE within {BACK_WITHIN_S} s",
                     observed, took)
    assert after["RestartCount"] > before["RestartCount"], after
    assert took is not None and took <= BACK_WITHIN_S, observed


def test_crashed_worker_container_comes_back(dkf, fault_log, request):
    cluster, _ = dkf
    kill_and_expect_restart(
        cluster, fault_log, request,
        f"kill -9 $(docker inspect -f '{{{{.State.Pid}}}}' {CONTAINER})",
        "docker mode: worker container's main process (ray start) killed with SIGKILL on the host",
        "restart policy restarted it")


# SIGTERM is the case `ray start --block` alone takes for a graceful exit and blocks on; the
# supervisor the container runs it under (roles/ray_common/files/raydeploy-ray-node) ends it.
@pytest.mark.parametrize("signal", ["KILL", "TERM"])
def test_raylet_killed_inside_worker_container_comes_back(dkf, fault_log, request, signal):
    cluster, _ = dkf
    # From the host, which sees the container's processes (one container on this host).
    kill_and_expect_restart(
        cluster, fault_log, request, f"pkill -{signal} -x raylet",
        f"docker mode: raylet killed (SIG{signal}) inside a worker container",
        "ray start exited and the restart policy restarted the container")


def test_docker_kill_is_an_operator_stop_and_checkpoint_04_restarts_it(dkf, fault_log, request):
    cluster, path = dkf
    old = healthy(cluster)
    kill = cluster.ssh(WORKER, f"docker kill {CONTAINER}")
    assert kill.returncode == 0, kill.stderr
    time.sleep(20)  # long enough for a restart policy that applied to have acted
    down = state(cluster)
    started = time.monotonic()
    run = run_playbook(path, "playbooks/04-ray-deployment.yml", *CONFIRM)
    took = wait_for_new_node(cluster, old, started, OBSERVE_S)
    observed = (f"Docker left it {down['Status']} (exit {down['ExitCode']}) for 20 s: no restart, by "
                f"Docker's design; re-running 04 (rc {run.rc}) "
                + (f"had a new node ALIVE {took:.1f} s after it started" if took
                   else f"had no new node within {OBSERVE_S} s"))
    fault_log.record(request, "docker mode: `docker kill` of a worker container",
                     "stays stopped (Docker ignores restart policies after docker kill/stop); "
                     "re-running checkpoint 04 starts it", observed, took)
    assert not down["Running"], down
    assert run.rc == 0, run.output()
    assert took is not None, observed
