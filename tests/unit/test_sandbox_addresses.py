"""Sandbox host N's fixed address: the subnet's N+1th, after the gateway, and always inside it."""

from __future__ import annotations

import pytest

from raydeploy.sandbox.addresses import PINNED_LABEL, host_address, is_pinned


def test_the_gateway_is_first_and_host_n_follows_it():
    assert host_address("192.168.16.0/20", 0) == "192.168.16.1"
    assert [host_address("192.168.16.0/20", i) for i in (1, 2, 3)] == [
        "192.168.16.2", "192.168.16.3", "192.168.16.4"]
    assert host_address("172.23.0.0/16", 300) == "172.23.1.45"


@pytest.mark.parametrize("index", [254, 300])
def test_a_host_beyond_the_subnet_is_refused(index):
    assert host_address("10.0.0.0/24", 253) == "10.0.0.254"
    with pytest.raises(ValueError, match="does not fit in 10.0.0.0/24"):
        host_address("10.0.0.0/24", index)


class FakeNetwork:
    def __init__(self, labels):
        self.attrs = {"Labels": labels}


def test_only_networks_created_with_their_own_subnet_are_pinned():
    assert is_pinned(FakeNetwork({PINNED_LABEL: "1", "io.raydeploy.sandbox": "a"}))
    assert not is_pinned(FakeNetwork({"io.raydeploy.sandbox": "a"}))
    assert not is_pinned(FakeNetwork(None))
