"""Docker mode on sandbox hosts: Docker installed by checkpoint 02 inside the hosts, the Ray
image built on the controller and pushed as an archive, derived on each host with an extra pip
package whose wheel is downloaded on the controller and pushed (the hosts reach no package
index), two limited worker containers on one host (seed 004's multi-worker hosts)."""

import json
import subprocess
import sys

import pytest
import yaml

from tests.api_support import wait_for
from tests.conftest import PROJECT, make_cluster, run_cli, run_playbook
from tests.every_node import run_on_every_node

pytestmark = pytest.mark.sandbox
CONFIRM = ("-e", "raydeploy_cleanup_confirmed=true")
EXTRA = "tabulate==0.9.0"  # not in the Ray image: only the derived image has it
# run_on_every_node body: the extra package imports in every worker container (derived image).
IMPORT_EXTRA = """
import tabulate
return tabulate.__version__
"""


@pytest.fixture(scope="module")
def docker_cluster(tmp_path_factory):
    cluster = make_cluster("dock", 2)
    tag, archive = run_cli("image", "build-ray", check=True, timeout=1800).stdout.split()
    inv = cluster.load()
    inv["all"]["vars"].update(ray_install_mode="docker", ray_docker_image_source="archive",
                              ray_docker_image=tag, ray_docker_image_archive=archive,
                              ray_docker_extra_pip_packages=[EXTRA])
    worker = inv["all"]["children"]["ray_cluster"]["children"]["worker_nodes"]["hosts"]["dock-2"]
    worker.update(ray_worker_count=2, ray_worker_container_cpus=1, ray_worker_container_memory="2g")
    path = cluster.inventory.parent / "inventory-docker.yml"
    path.write_text(yaml.safe_dump(inv))
    for playbook in ("01-prerequisites-check", "02-docker-installation", "04-ray-deployment"):
        run = run_playbook(path, f"playbooks/{playbook}.yml", *CONFIRM)
        assert run.rc == 0, f"{playbook}:\n{run.output()}"
    yield cluster, path
    run_cli("sandbox", "down", "--name", "dock")


def test_two_limited_worker_containers_on_one_host(docker_cluster):
    cluster, _ = docker_cluster
    out = cluster.ssh("dock-2", "docker inspect ray-worker-1 ray-worker-2").stdout
    containers = json.loads(out)
    assert len(containers) == 2
    for c in containers:
        host = c["HostConfig"]
        assert host["NanoCpus"] == 1_000_000_000 and host["Memory"] == 2 * 2**30
        assert host["NetworkMode"] == "host" and host["RestartPolicy"]["Name"] == "unless-stopped"
        assert host["ShmSize"] == 2 * 2**30
        assert c["Config"]["Labels"]["io.raydeploy.service"] == "ray"


def test_ray_sees_the_container_limits(docker_cluster):
    cluster, _ = docker_cluster
    nodes = [n for n in cluster.nodes() if n["state"] == "ALIVE"]
    worker_ip = cluster.hosts()["dock-2"]
    on_worker = [n for n in nodes if n["node_ip"] == worker_ip]
    assert len(nodes) == 3 and len(on_worker) == 2
    for node in on_worker:
        total = node["resources_total"]
        assert total["CPU"] == 1.0
        assert total["memory"] + total["object_store_memory"] <= 2 * 2**30


def test_job_runs_in_the_containers(docker_cluster):
    cluster, _ = docker_cluster
    proc = cluster.submit("python", "hello_ray.py", "--tasks", "8", "--seconds", "1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "8 tasks completed" in proc.stdout and "on 3 alive nodes" in proc.stdout


def test_job_imports_the_extra_package_in_every_container(docker_cluster, tmp_path):
    cluster, _ = docker_cluster
    imported = run_on_every_node(cluster, tmp_path, IMPORT_EXTRA)
    worker_nodes = {n["node_id"] for n in cluster.nodes()
                    if n["state"] == "ALIVE" and n["node_ip"] == cluster.hosts()["dock-2"]}
    assert len(worker_nodes) == 2 and worker_nodes <= set(imported), imported
    assert set(imported.values()) == {"0.9.0"}
    image = cluster.ssh("dock-2", "docker inspect -f '{{.Config.Image}}' ray-worker-1").stdout.strip()
    assert image.startswith("raydeploy/ray-extra:"), image


def test_rerun_changes_nothing(docker_cluster):
    cluster, path = docker_cluster
    before = cluster.alive()
    # 01 too: the containers' Ray runs as root, and still holds this deployment's own ports.
    for playbook in ("01-prerequisites-check", "03-cleanup-existing", "04-ray-deployment"):
        run = run_playbook(path, f"playbooks/{playbook}.yml", *CONFIRM)
        assert run.rc == 0, run.output()
        assert all(r["changed"] == 0 for h, r in run.recap.items()), (playbook, run.recap)
    assert cluster.alive() == before


def test_lower_worker_counts_remove_the_containers_beyond_them(docker_cluster):
    cluster, path = docker_cluster
    worker_ip = cluster.hosts()["dock-2"]
    for count in (1, 0):
        inv = yaml.safe_load(path.read_text())
        workers = inv["all"]["children"]["ray_cluster"]["children"]["worker_nodes"]["hosts"]
        workers["dock-2"]["ray_worker_count"] = count
        path.write_text(yaml.safe_dump(inv))
        run = run_playbook(path, "playbooks/04-ray-deployment.yml")
        assert run.rc == 0, run.output()
        names = cluster.ssh("dock-2", "docker ps -a --filter label=io.raydeploy.kind=worker "
                                      "--format '{{.Names}}'").stdout.split()
        assert names == [f"ray-worker-{n}" for n in range(1, count + 1)], (count, names)
        # The GCS marks a node DEAD once its raylet is gone.
        # alive() is keyed by address, and dock-2's containers share one: count the nodes.
        wait_for(lambda want=count + 1: sum(n["state"] == "ALIVE" for n in cluster.nodes()) == want, 60,
                 f"{count + 1} ALIVE nodes", interval=1)
        alive = [n for n in cluster.nodes() if n["state"] == "ALIVE"]
        assert sum(n["node_ip"] == worker_ip for n in alive) == count and len(alive) == count + 1


def test_the_head_host_runs_worker_containers_beside_the_head(docker_cluster):
    """Seed 004's "Head + 3 Workers": the head host in worker_nodes too, its worker containers
    on the port slots after the head's."""
    cluster, path = docker_cluster
    inv = yaml.safe_load(path.read_text())
    groups = inv["all"]["children"]["ray_cluster"]["children"]
    groups["worker_nodes"]["hosts"]["dock-1"] = {
        "ray_worker_count": 2, "ray_worker_container_cpus": 1, "ray_worker_container_memory": "2g"}
    groups["worker_nodes"]["hosts"]["dock-2"]["ray_worker_count"] = 1
    path.write_text(yaml.safe_dump(inv))
    for playbook in ("01-prerequisites-check", "04-ray-deployment"):
        run = run_playbook(path, f"playbooks/{playbook}.yml")
        assert run.rc == 0, f"{playbook}:\n{run.output()}"
    fmt = "{{.Names}} {{.Label \"io.raydeploy.kind\"}} {{.Label \"io.raydeploy.slot\"}}"
    on_head = cluster.ssh("dock-1", f"docker ps --filter label=io.raydeploy.service=ray --format '{fmt}'")
    assert sorted(on_head.stdout.splitlines()) == [
        "ray-head head 1", "ray-worker-1 worker 2", "ray-worker-2 worker 3"]
    head_ip = cluster.hosts()["dock-1"]
    alive = [n for n in cluster.nodes() if n["state"] == "ALIVE"]
    assert len(alive) == 4 and sum(n["node_ip"] == head_ip for n in alive) == 3, alive
    proc = cluster.submit("python", "hello_ray.py", "--tasks", "8", "--seconds", "1")
    assert proc.returncode == 0 and "on 4 alive nodes" in proc.stdout, proc.stdout[-3000:]
    rerun = run_playbook(path, "playbooks/04-ray-deployment.yml")
    assert rerun.rc == 0 and all(r["changed"] == 0 for r in rerun.recap.values()), rerun.recap
    report = subprocess.run(
        [sys.executable, str(PROJECT / "validation" / "validate_checkpoint.py"), "--format", "json",
         "-i", str(path), "--checkpoint", "ray-deployment", "--max-score", "1000000"],
        capture_output=True, text=True, timeout=180)
    results = json.loads(report.stdout)["results"]
    nodes = {r["host"]: r for r in results if r["check"] == "ray.nodes_alive"}
    assert nodes["dock-1"]["status"] == "pass" and "3 of 3" in nodes["dock-1"]["message"], nodes
    assert nodes["dock-2"]["status"] == "pass" and "1 of 1" in nodes["dock-2"]["message"], nodes
    assert [r for r in results if r["check"] == "ray.resources" and r["status"] != "pass"] == [], results
    # The head's own settings (its metrics ports' environment) stay off its worker containers.
    env = cluster.ssh("dock-1", "docker inspect -f '{{json .Config.Env}}' ray-worker-1").stdout
    assert "DASHBOARD_METRIC_PORT" not in env, env

    # Out of worker_nodes again: 04 removes the worker containers beside the head.
    del groups["worker_nodes"]["hosts"]["dock-1"]
    path.write_text(yaml.safe_dump(inv))
    run = run_playbook(path, "playbooks/04-ray-deployment.yml")
    assert run.rc == 0, run.output()
    names = cluster.ssh("dock-1", "docker ps -a --filter label=io.raydeploy.service=ray "
                                  "--format '{{.Names}}'")
    assert names.stdout.split() == ["ray-head"], names.stdout
    wait_for(lambda: sum(n["state"] == "ALIVE" for n in cluster.nodes()) == 2, 60, "2 ALIVE nodes",
             interval=1)


def test_teardown_removes_the_containers(docker_cluster):
    cluster, path = docker_cluster
    run = run_playbook(path, "playbooks/03-cleanup-existing.yml", *CONFIRM,
                       "-e", "ray_cleanup_scope=all")
    assert run.rc == 0, run.output()
    for host in ("dock-1", "dock-2"):
        left = cluster.ssh(host, "docker ps -aq --filter label=io.raydeploy.service=ray; "
                                 "pgrep -af '[r]aylet|[g]cs_server' ; true").stdout
        assert left.strip() == "", f"{host}: {left}"
