"""Fixed addresses for sandbox hosts, so they survive a restart like a server's.

Docker hands out a container's address when it starts. After the engine restarts (the machine
rebooted) the hosts start in any order and trade addresses, while the inventory, every Ray
unit, the firewall rules and Prometheus's targets still name the old ones. A network with a
subnet given at creation lets each host keep a fixed address: host N is the subnet's N+1th
(the gateway is the first), which is also what Docker would have given it on a first start.
"""

from __future__ import annotations

import ipaddress

import docker
from docker.errors import APIError
from docker.models.networks import Network
from docker.types import IPAMConfig, IPAMPool

# Networks created with their own subnet carry this label; older sandboxes' networks do not,
# and their hosts keep Docker's dynamic addresses.
PINNED_LABEL = "io.raydeploy.fixed-addresses"
_CREATE_TRIES = 3


def host_address(subnet: str, index: int) -> str:
    net = ipaddress.ip_network(subnet)
    address = net.network_address + 1 + index
    if address not in net or address == net.broadcast_address:
        raise ValueError(f"host {index} does not fit in {subnet}")
    return str(address)


def is_pinned(network: Network) -> bool:
    return (network.attrs.get("Labels") or {}).get(PINNED_LABEL) == "1"


def subnet_of(network: Network) -> str:
    return network.attrs["IPAM"]["Config"][0]["Subnet"]


def create_network(client: docker.DockerClient, name: str, labels: dict[str, str]) -> Network:
    """A bridge network on a subnet Docker picks (free of the machine's routes and of other
    networks), recreated with that subnet given explicitly, which fixed addresses need."""
    error: APIError | None = None
    for _ in range(_CREATE_TRIES):
        probe = client.networks.create(name, driver="bridge", labels=labels)  # inspected
        subnet = subnet_of(probe)
        probe.remove()
        gateway = host_address(subnet, 0)
        try:
            return client.networks.create(
                name, driver="bridge", labels={**labels, PINNED_LABEL: "1"},
                ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=gateway)]),
            )
        except APIError as exc:  # another network took the subnet in between: pick again
            error = exc
    raise RuntimeError(f"could not create network {name} on a free subnet: {error}")
