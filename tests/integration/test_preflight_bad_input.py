"""Bad input stops in checkpoint 01, before any change, naming the host and the variable."""

import copy
import subprocess

import pytest
import yaml

from tests.conftest import PROJECT, run_playbook

pytestmark = pytest.mark.sandbox
PREREQ = "playbooks/01-prerequisites-check.yml"


def ray_groups(inv: dict) -> dict:
    return inv["all"]["children"]["ray_cluster"]["children"]


def with_inventory(cluster, tmp_path, edit) -> str:
    inv = copy.deepcopy(cluster.load())
    edit(inv)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    return str(path)


def assert_refused(run, *needles):
    full = run.stdout + run.stderr
    assert run.rc != 0, run.output()
    for needle in needles:
        assert needle in full, f"{needle!r} not in output:\n{run.output()}"
    assert all(r["changed"] == 0 for r in run.recap.values()), run.recap


def set_hostvar(host, **values):
    def edit(inv):
        for group in ray_groups(inv).values():
            if host in (group.get("hosts") or {}):
                group["hosts"][host].update(values)
    return edit


def test_no_head(e2e_cluster, tmp_path):
    def edit(inv):
        groups = ray_groups(inv)
        groups["worker_nodes"]["hosts"].update(groups["head_nodes"]["hosts"])
        groups["head_nodes"]["hosts"] = {}
    run = run_playbook(with_inventory(e2e_cluster, tmp_path, edit), PREREQ)
    assert_refused(run, "head_nodes must hold exactly one host, it holds 0")


def test_two_heads(e2e_cluster, tmp_path):
    def edit(inv):
        groups = ray_groups(inv)
        second = e2e_cluster.host(2)
        groups["head_nodes"]["hosts"][second] = groups["worker_nodes"]["hosts"].pop(second)
    run = run_playbook(with_inventory(e2e_cluster, tmp_path, edit), PREREQ)
    assert_refused(run, "it holds 2", e2e_cluster.host(1), e2e_cluster.host(2))


def test_head_host_in_worker_nodes_needs_docker_mode(e2e_cluster, tmp_path):
    head = e2e_cluster.host(1)

    def edit(inv):
        ray_groups(inv)["worker_nodes"]["hosts"][head] = {"ray_worker_count": 2}
    run = run_playbook(with_inventory(e2e_cluster, tmp_path, edit), PREREQ)
    assert_refused(run, f"{head} is in both head_nodes and worker_nodes, which needs ray_install_mode=docker",
                   "take it out of worker_nodes")


def test_negative_worker_count(e2e_cluster, tmp_path):
    edit = set_hostvar(e2e_cluster.host(2), ray_worker_count=-1)
    run = run_playbook(with_inventory(e2e_cluster, tmp_path, edit), PREREQ)
    assert_refused(run, f"{e2e_cluster.host(2)}: ray_worker_count is -1")


def test_memory_limit_below_ray_minimum(e2e_cluster, tmp_path):
    edit = set_hostvar(e2e_cluster.host(3), ray_worker_container_memory="512m")
    inv = with_inventory(e2e_cluster, tmp_path, edit)
    run = run_playbook(inv, PREREQ)
    assert_refused(run, f"{e2e_cluster.host(3)}: ray_worker_container_memory is 512m")


def test_ray_version_mismatch_between_hosts(e2e_cluster, tmp_path):
    inv = with_inventory(e2e_cluster, tmp_path, set_hostvar(e2e_cluster.host(3), ray_version="2.59.0"))
    run = run_playbook(inv, PREREQ)
    assert_refused(run, f"{e2e_cluster.host(3)}: ray_version is 2.59.0 here but 2.60.0 on the head "
                        f"{e2e_cluster.host(1)}")


def test_pinned_port_already_in_use(e2e_cluster, tmp_path):
    # Something that is not Ray holds the metrics export port on one host.
    busy = e2e_cluster.ssh(e2e_cluster.host(2), "setsid nohup python3 -m http.server 18080 >/dev/null 2>&1 "
                           "< /dev/null & sleep 1; ss -Htln 'sport = :18080' | wc -l")
    assert busy.stdout.strip() == "1", busy
    try:
        defaults = yaml.safe_load((PROJECT / "roles/ray_common/defaults/main.yml").read_text())
        ports = dict(defaults["ray_ports"], metrics_export=18080)
        run = run_playbook(e2e_cluster.inventory, PREREQ, "-e", yaml.safe_dump({"ray_ports": ports},
                           default_flow_style=True).strip())
        assert_refused(run, f"{e2e_cluster.host(2)}: port 18080 is already in use by python3")
    finally:
        e2e_cluster.ssh(e2e_cluster.host(2), "pkill -f 'http.server 18080'")


def test_unreachable_host(e2e_cluster):
    container = f"raydeploy-{e2e_cluster.name}-3"
    subprocess.run(["docker", "pause", container], check=True)
    try:
        # A fresh connection, not a persisted one that would hang on the paused host.
        run = run_playbook(e2e_cluster.inventory, PREREQ, timeout=300,
                           env={"ANSIBLE_SSH_ARGS": "-o ControlMaster=no"})
    finally:
        subprocess.run(["docker", "unpause", container], check=True)
    assert run.rc != 0
    assert run.recap[e2e_cluster.host(3)]["unreachable"] == 1, run.recap
    assert e2e_cluster.host(3) in run.stdout and "UNREACHABLE" in run.stdout


def test_python_and_os_that_ray_cannot_run_on(e2e_cluster, tmp_path):
    # The sandbox's Debian 12 with Python 3.11 stands in for an older host: the supported lists
    # are narrowed past it.
    edit = set_hostvar(e2e_cluster.host(2), prerequisites_python_versions=["3.10"],
                       prerequisites_supported_distributions={"Debian": "13"})
    run = run_playbook(with_inventory(e2e_cluster, tmp_path, edit), PREREQ)
    assert_refused(run, f"{e2e_cluster.host(2)}: OS Debian 12", "is not supported: use Debian 13 or later",
                   "Python 3.11 is not one Ray 2.60.0 supports (3.10)",
                   "use an OS whose python3 is one of them")
