"""Checkpoint 01's peer probe: open and refused both mean the packet got there (reachable)."""

from __future__ import annotations

import importlib.util
import socket

from tests.conftest import PROJECT

_spec = importlib.util.spec_from_file_location(
    "prerequisites_probe", PROJECT / "roles/prerequisites/library/prerequisites_probe.py")
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)


def test_a_listening_port_is_open_and_reachable():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        result = probe._connect(("a", "127.0.0.1", listener.getsockname()[1]), 2)
    assert (result["state"], result["reachable"]) == ("open", True)


def test_a_port_nothing_listens_on_is_refused_and_still_reachable():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: the kernel refuses connections
        port = unused.getsockname()[1]
        result = probe._connect(("b", "127.0.0.1", port), 2)
    assert result == {"host": "b", "ip": "127.0.0.1", "port": port,
                      "state": "refused", "reachable": True}


def test_a_timeout_is_blocked_and_not_reachable(monkeypatch):
    def silent(address, timeout):
        raise TimeoutError("timed out")

    monkeypatch.setattr(probe.socket, "create_connection", silent)
    result = probe._connect(("c", "10.0.0.1", 6379), 1)
    assert (result["state"], result["reachable"]) == ("blocked: timed out", False)


# Lines as ufw 0.36 wrote them on a sandbox host behind raydeploy's firewall.
RULES = """\
### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=7261796465706c6f7920737368
-A ufw-user-input -p tcp --dport 22 -j ACCEPT
### tuple ### allow tcp 6379,8076,10002:10100 0.0.0.0/0 any 192.168.16.3 in comment=7261796465706c6f7920726179
### tuple ### allow tcp 6379,8076,10002:10100 0.0.0.0/0 any 192.168.16.2 in comment=7261796465706c6f7920726179
### tuple ### allow tcp 8080,9100 0.0.0.0/0 any 192.168.16.9 in comment=7261796465706c6f79206d657472696373
### tuple ### allow tcp 8888 0.0.0.0/0 any 10.0.0.0/24 in comment=6e6f7465626f6f6b73
### tuple ### allow tcp 6379 0.0.0.0/0 any 10.1.1.1 in
"""


def test_the_firewall_lists_the_sources_of_raydeploys_ray_port_rules(tmp_path):
    conf, rules = tmp_path / "ufw.conf", tmp_path / "user.rules"
    conf.write_text("# /etc/ufw/ufw.conf\nENABLED=yes\nLOGLEVEL=low\n")
    rules.write_text(RULES)
    found = probe.firewall(str(conf), [str(rules), str(tmp_path / "user6.rules")], "raydeploy")
    assert found == {"active": True, "ray_sources": ["192.168.16.3", "192.168.16.2"]}


def test_ufw_that_is_off_or_absent_is_not_active(tmp_path):
    conf, rules = tmp_path / "ufw.conf", tmp_path / "user.rules"
    conf.write_text("ENABLED=no\n")
    rules.write_text(RULES)
    assert probe.firewall(str(conf), [str(rules)], "raydeploy")["active"] is False
    assert probe.firewall(str(tmp_path / "missing.conf"), [str(rules)], "raydeploy") == {
        "active": False, "ray_sources": []}


def test_container_ids_come_from_either_cgroup_driver_and_every_nesting_level():
    a, b = "a" * 64, "0123456789abcdef" * 4
    assert probe.container_ids(f"0::/system.slice/docker-{a}.scope\n") == {a}
    assert probe.container_ids(f"0::/docker/{b}\n") == {b}
    assert probe.container_ids(f"12:cpu:/docker/{a}/docker/{b}\n") == {a, b}
    assert probe.container_ids("0::/system.slice/ray-head.service\n") == set()
