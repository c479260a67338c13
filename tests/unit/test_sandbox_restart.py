"""`Sandbox.restart`, the sandbox's reboot, against a fake Docker client: it restarts exactly the
named host with time for a clean shutdown, waits for systemd, and refuses a changed address."""

from __future__ import annotations

import pytest

from raydeploy.errors import UserError
from raydeploy.sandbox.hosts import INDEX_LABEL, LABEL, Sandbox


class FakeContainer:
    def __init__(self, name: str, index: int, addresses: list[str]):
        self.name = name
        self.labels = {LABEL: "lab", INDEX_LABEL: str(index)}
        self._addresses = addresses
        self.restarts: list[int] = []

    @property
    def attrs(self) -> dict:
        return {"NetworkSettings": {"Networks": {"raydeploy-lab": {"IPAddress": self._addresses[0]}}}}

    def restart(self, timeout: int) -> None:
        self.restarts.append(timeout)

    def reload(self) -> None:
        if len(self._addresses) > 1 and self.restarts:
            self._addresses.pop(0)


class FakeClient:
    def __init__(self, containers):
        self.containers = self
        self._found = containers

    def list(self, all: bool, filters: dict):  # noqa: A002 (docker's keyword)
        assert all and filters == {"label": f"{LABEL}=lab"}
        return self._found


def sandbox(containers, monkeypatch) -> tuple[Sandbox, list]:
    waited = []
    box = Sandbox("lab", client=FakeClient(containers))
    monkeypatch.setattr(box, "_wait_running", lambda record: waited.append(record) or "running")
    return box, waited


def test_restart_reboots_only_that_host_and_waits_for_systemd(monkeypatch):
    one = FakeContainer("raydeploy-lab-1", 1, ["10.0.0.2"])
    two = FakeContainer("raydeploy-lab-2", 2, ["10.0.0.3"])
    box, waited = sandbox([one, two], monkeypatch)
    status = box.restart(2)
    assert two.restarts == [90] and one.restarts == []
    assert (status.name, status.address, status.systemd) == ("lab-2", "10.0.0.3", "running")
    assert [(r.name, r.address) for r in waited] == [("lab-2", "10.0.0.3")]


def test_restart_refuses_a_host_that_came_back_at_another_address(monkeypatch):
    moved = FakeContainer("raydeploy-lab-1", 1, ["10.0.0.2", "10.0.0.9"])
    box, waited = sandbox([moved], monkeypatch)
    with pytest.raises(UserError, match="came back at 10.0.0.9, not 10.0.0.2"):
        box.restart(1)
    assert waited == []


def test_restart_of_a_missing_host_names_the_sandbox(monkeypatch):
    box, _ = sandbox([], monkeypatch)
    with pytest.raises(UserError, match="sandbox 'lab' has no host 3"):
        box.restart(3)
