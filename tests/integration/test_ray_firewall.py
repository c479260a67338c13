"""The optional host firewall (ufw) on a native 3-node sandbox cluster, over real SSH.

A fourth sandbox host stays outside the inventory: it stands for any machine on the network
that is not part of the cluster. The tests share one cluster and run in file order: a cold
01->04 with the firewall on and the controller as the admin source (the cluster forms, a job
runs on every host, the outsider is blocked), checkpoint 05's targets all up through the
firewall, then the controller taken out of the admin sources (its rule is removed and it is
blocked too), a re-run that changes nothing, and last the fourth host added to the inventory
(checkpoint 01 passes, 04 opens the others' firewalls to it and it joins).
"""

import re
import time

import pytest
import yaml

from tests.conftest import SandboxCluster, make_cluster, run_cli, run_playbook

pytestmark = pytest.mark.sandbox
NAME = "fw"
GCS = 6379

PROBE = ("python3 -c 'import socket,sys\n"
         "try:\n socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=4).close()\n"
         " print(\"open\")\n"
         "except ConnectionRefusedError: print(\"refused\")\n"
         "except OSError as e: print(\"blocked\", e)' {ip} {port}")


def connect(ip: str, port: int, timeout: float = 4) -> str:
    import socket

    try:
        socket.create_connection((ip, port), timeout=timeout).close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return f"blocked {exc}"


def write_inventory(cluster: SandboxCluster, path, **extra) -> None:
    inv = cluster.load()
    workers = inv["all"]["children"]["ray_cluster"]["children"]["worker_nodes"]["hosts"]
    workers.pop(f"{NAME}-4")
    inv["all"]["vars"].update(ray_firewall_enabled=True, **extra)
    path.write_text(yaml.safe_dump(inv))


@pytest.fixture(scope="module")
def fw(tmp_path_factory):
    sandbox = make_cluster(NAME, 4)
    outsider = sandbox.hosts()[f"{NAME}-4"]
    path = sandbox.inventory.parent / "inventory-firewall.yml"
    route = sandbox.ssh(f"{NAME}-1", "ip route show default").stdout.split()
    controller = route[route.index("via") + 1]  # the controller's address on the sandbox network
    write_inventory(sandbox, path, ray_firewall_admin_sources=[controller])
    cluster = SandboxCluster(NAME, path)
    started = time.monotonic()
    # 02 (no Docker in native mode) and 03 (fresh hosts) would change nothing here.
    for playbook in ("01-prerequisites-check", "04-ray-deployment"):
        run = run_playbook(path, f"playbooks/{playbook}.yml")
        assert run.rc == 0, f"{playbook}:\n{run.output()}"
    print(f"cold 01->04 with the firewall: {time.monotonic() - started:.0f} s")
    yield {"sandbox": sandbox, "cluster": cluster, "path": path, "outsider": outsider,
           "controller": controller}
    run_cli("sandbox", "down", "--name", NAME)


def head_api_alive(cluster: SandboxCluster) -> int:
    """ALIVE nodes as the head sees them (the controller is not allowed to ask yet)."""
    script = ("import sys, urllib.request; r = urllib.request.Request(sys.argv[1], "
              "headers={'Authorization': 'Bearer ' + open('/etc/ray/auth_token').read().strip()}); "
              "print(urllib.request.urlopen(r, timeout=10).read().decode())")
    out = cluster.ssh(f"{NAME}-1", (
        f"/opt/ray/venv/bin/python -c \"{script}\" 'http://{cluster.head}:8265/api/v0/nodes?limit=100'")).stdout
    return len(re.findall(r'"state":\s*"ALIVE"', out))


def test_cluster_forms_behind_the_firewall(fw):
    cluster = fw["cluster"]
    assert sorted(cluster.alive()) == sorted(cluster.hosts().values())
    status = cluster.ssh(f"{NAME}-2", "ufw status verbose").stdout
    assert "Status: active" in status and "deny (incoming)" in status
    assert re.search(r"^22/tcp\s+ALLOW IN\s+Anywhere", status, re.M), status


def test_job_from_the_admin_source_runs_on_every_host(fw):
    cluster = fw["cluster"]
    proc = cluster.submit("python", "hello_ray.py", "--tasks", "9", "--seconds", "1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    match = re.search(r"^RESULT (.*)$", proc.stdout, re.M)
    assert match, proc.stdout[-3000:]
    assert set(yaml.safe_load(match.group(1))["distribution"]) == set(cluster.hosts())


def test_gcs_is_closed_to_a_host_outside_the_inventory(fw):
    cluster, head = fw["cluster"], fw["cluster"].head
    assert cluster.ssh(f"{NAME}-2", PROBE.format(ip=head, port=GCS)).stdout.strip() == "open"
    assert connect(head, GCS) == "open"  # the controller, an admin source
    outsider = fw["sandbox"].ssh(f"{NAME}-4", PROBE.format(ip=head, port=GCS)).stdout.strip()
    assert outsider.startswith("blocked"), outsider


def test_monitoring_works_behind_the_firewall(fw):
    """Prometheus scrapes every exporter and Ray node through the firewall; operators (the
    admin source) reach Prometheus, the outsider does not."""
    import json
    import urllib.request

    head = fw["cluster"].head
    run = run_playbook(fw["path"], "playbooks/05-monitoring-deployment.yml")
    assert run.rc == 0, run.output()
    # The URL is the sandbox head's Prometheus, built from our own inventory.
    with urllib.request.urlopen(f"http://{head}:9090/api/v1/targets", timeout=10) as resp:  # noqa: S310
        targets = json.load(resp)["data"]["activeTargets"]
    down = [(t["labels"].get("job"), t["scrapeUrl"], t["health"]) for t in targets if t["health"] != "up"]
    assert targets and not down, down
    jobs = {t["labels"].get("job") for t in targets}
    assert {"node", "ray"} <= jobs, jobs
    outsider = fw["sandbox"].ssh(f"{NAME}-4", PROBE.format(ip=head, port=9090)).stdout.strip()
    assert outsider.startswith("blocked"), outsider


def test_controller_is_blocked_once_it_is_no_admin_source(fw):
    cluster, head = fw["cluster"], fw["cluster"].head
    write_inventory(fw["sandbox"], fw["path"])
    run = run_playbook(fw["path"], "playbooks/04-ray-deployment.yml")
    assert run.rc == 0, run.output()
    assert all(r["changed"] >= 1 for h, r in run.recap.items() if h != "localhost"), run.recap
    assert connect(head, GCS).startswith("blocked")
    assert connect(head, 8265).startswith("blocked")
    assert connect(head, 22) == "open"
    assert head_api_alive(cluster) == 3  # the cluster itself is untouched


def test_rerun_changes_nothing(fw):
    cluster = fw["cluster"]
    before = head_api_alive(cluster)
    run = run_playbook(fw["path"], "playbooks/04-ray-deployment.yml")
    assert run.rc == 0, run.output()
    changed = {h: r["changed"] for h, r in run.recap.items() if h != "localhost"}
    assert changed and all(v == 0 for v in changed.values()), changed
    assert head_api_alive(cluster) == before == 3


def test_a_new_host_passes_01_and_joins_through_the_firewall(fw):
    """Growing a firewalled cluster: the outsider joins the inventory. The others' firewalls do
    not let it in until checkpoint 04 adds it to their rules, which 01 notes instead of refusing."""
    cluster, sandbox, head = fw["cluster"], fw["sandbox"], fw["cluster"].head
    inv = sandbox.load()
    inv["all"]["vars"].update(ray_firewall_enabled=True)
    fw["path"].write_text(yaml.safe_dump(inv))
    assert sandbox.ssh(f"{NAME}-4", PROBE.format(ip=head, port=GCS)).stdout.strip().startswith("blocked")
    run = run_playbook(fw["path"], "playbooks/01-prerequisites-check.yml")
    assert run.rc == 0, run.output()
    peers = rf"({NAME}-1 \(ports [^)]*\)(, {NAME}-[23] \(ports [^)]*\))*)"
    note = re.search(rf"{NAME}-4 cannot reach {peers} yet: "
                     r"raydeploy's ufw rules there do not allow [\d.]+; checkpoint 04 adds it", run.output())
    assert note and f"{GCS}" in note.group(1) and f"{NAME}-2" in note.group(1), run.output()[-4000:]
    run = run_playbook(fw["path"], "playbooks/04-ray-deployment.yml")
    assert run.rc == 0, run.output()
    assert sandbox.ssh(f"{NAME}-4", PROBE.format(ip=head, port=GCS)).stdout.strip() == "open"
    assert head_api_alive(cluster) == 4
