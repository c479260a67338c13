"""ray_common's port filters: the one place that says which ports each Ray node on a host uses
(ray start arguments, checkpoint 01's probe, the host firewall)."""

from __future__ import annotations

import importlib.util

import yaml

from tests.conftest import PROJECT

_spec = importlib.util.spec_from_file_location(
    "ray_ports", PROJECT / "roles/ray_common/filter_plugins/ray_ports.py")
ray_ports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ray_ports)

PORTS = yaml.safe_load((PROJECT / "roles/ray_common/defaults/main.yml").read_text())["ray_ports"]


def test_slot_one_is_the_pinned_ports():
    assert ray_ports.ray_slot_ports(PORTS, 1, 100) == PORTS


def test_later_slots_shift_node_ports_and_take_the_next_worker_block():
    p = ray_ports.ray_slot_ports(PORTS, 3, 100)
    assert p["node_manager"] == PORTS["node_manager"] + 200
    assert p["metrics_export"] == PORTS["metrics_export"] + 200
    assert p["dashboard_agent_http"] == PORTS["dashboard_agent_http"] + 2
    span = PORTS["max_worker"] - PORTS["min_worker"] + 1
    assert p["min_worker"] == PORTS["min_worker"] + 2 * span
    assert p["max_worker"] == PORTS["max_worker"] + 2 * span
    assert p["gcs"] == PORTS["gcs"]  # head-only ports do not move


def test_slots_per_host():
    assert ray_ports.ray_slots(True, "docker", 4) == 1
    assert ray_ports.ray_slots(False, "docker", 3) == 3
    assert ray_ports.ray_slots(False, "native", 3) == 1
    assert ray_ports.ray_slots(False, "native", 0) == 0


def test_every_slot_of_a_docker_worker_host_is_covered_without_overlap():
    ports = ray_ports.ray_host_ports(PORTS, 3, 100)
    singles = [p for p in ports if isinstance(p, int)]
    ranges = [tuple(map(int, p.split(":"))) for p in ports if isinstance(p, str)]
    assert len(ranges) == 3 and len(singles) == 3 * 6 and len(set(singles)) == len(singles)
    assert PORTS["gcs"] not in singles  # not a head
    for lo, hi in ranges:
        assert not any(lo <= s <= hi for s in singles)
    for a, b in zip(ranges, ranges[1:], strict=False):
        assert a[1] < b[0]


def test_head_gets_its_ports_once_and_keys_select():
    head = ray_ports.ray_host_ports(PORTS, 1, 100, True)
    assert set(PORTS[k] for k in ray_ports.HEAD_KEYS) <= set(head)
    metrics = ray_ports.ray_host_ports(PORTS, 2, 100, True, keys=["metrics_export", "dashboard_metrics"])
    assert metrics == [PORTS["dashboard_metrics"], PORTS["metrics_export"], PORTS["metrics_export"] + 100]
    probe = ray_ports.ray_host_ports(PORTS, 2, 100, False, keys=["node_manager", "min_worker"])
    span = PORTS["max_worker"] - PORTS["min_worker"] + 1
    assert probe == [PORTS["node_manager"], PORTS["min_worker"], PORTS["node_manager"] + 100,
                     PORTS["min_worker"] + span]


def test_ufw_lists_respect_the_multiport_limit():
    ports = ray_ports.ray_host_ports(PORTS, 4, 100)
    lists = ray_ports.ufw_port_lists(ports)
    for item in lists:
        cost = sum(2 if ":" in p else 1 for p in item.split(","))
        assert cost <= 15
    flat = [p for item in lists for p in item.split(",")]
    assert sorted(flat) == sorted(str(p) for p in ports)
    assert flat == sorted(flat, key=lambda p: int(p.split(":")[0]))  # ufw's own order


def test_a_docker_head_host_in_worker_nodes_runs_its_workers_after_the_head():
    assert ray_ports.ray_slots(True, "docker", 3, True) == 4
    assert ray_ports.ray_slots(True, "docker", 0, True) == 1
    assert ray_ports.ray_slots(True, "docker", 3) == 1  # not in worker_nodes
    assert ray_ports.ray_slots(True, "native", 3, True) == 1  # refused by the boilerplate anyway
    ports = ray_ports.ray_host_ports(PORTS, 4, 100, head=True, ranges=False)
    assert len(ports) == len(set(ports)) == 5 + 4 * 6
    ranges = [ray_ports.ray_slot_ports(PORTS, s, 100) for s in range(1, 5)]
    singles = set(ports)
    for r in ranges:  # no worker port range holds another node's pinned port
        assert not any(r["min_worker"] <= p <= r["max_worker"] for p in singles)


def test_port_clashes_between_a_hosts_nodes_are_named():
    assert ray_ports.ray_port_clashes(PORTS, 4, 100, head=True) == []
    assert ray_ports.ray_port_clashes(PORTS, 3, 100) == []
    # A stride of 1 moves node 2's node manager onto node 1's object manager, and so on.
    assert ray_ports.ray_port_clashes(PORTS, 2, 1) == [8077, 8078, 8079, 8080]
    # The head's dashboard (8265) lies where node 3's ports land with a stride of 94.
    assert 8265 in ray_ports.ray_port_clashes(PORTS, 3, 94, head=True)
    assert 8265 not in ray_ports.ray_port_clashes(PORTS, 3, 94)
