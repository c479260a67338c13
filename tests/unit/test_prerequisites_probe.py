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
