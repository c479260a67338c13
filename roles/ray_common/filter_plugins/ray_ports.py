"""Which ports a Ray node uses, in one place for ray_start arguments, checkpoint 01's probe and
the host firewall.

Docker mode runs several nodes on one host network, so node N (1-based slot) shifts its pinned
per-node ports by (N-1) x stride, its dashboard agent HTTP port by N-1, and takes the next block
of worker ports. The head-only ports (GCS, dashboard, client, metrics of dashboard and
autoscaler) exist once, on slot 1 of the head host; worker containers beside the head take
the slots after it.
"""

from __future__ import annotations

HEAD_KEYS = ("gcs", "dashboard", "client", "dashboard_metrics", "autoscaler_metrics")
NODE_KEYS = ("node_manager", "object_manager", "runtime_env_agent", "dashboard_agent_grpc",
             "metrics_export")
# ufw (iptables multiport) takes at most 15 ports in one rule; a range counts as two.
UFW_MULTIPORT_LIMIT = 15


def ray_slot_ports(ray_ports: dict, slot: int = 1, stride: int = 100) -> dict:
    """The ports node `slot` on a host uses: ray_ports with the per-node ones shifted."""
    i = int(slot) - 1
    span = int(ray_ports["max_worker"]) - int(ray_ports["min_worker"]) + 1
    out = {key: int(value) for key, value in ray_ports.items()}
    for key in NODE_KEYS:
        out[key] = int(ray_ports[key]) + i * int(stride)
    out["dashboard_agent_http"] = int(ray_ports["dashboard_agent_http"]) + i
    out["min_worker"] = int(ray_ports["min_worker"]) + i * span
    out["max_worker"] = int(ray_ports["max_worker"]) + i * span
    return out


def ray_slots(head: bool, install_mode: str = "native", worker_count: int = 1, worker: bool = False) -> int:
    """How many Ray nodes a host runs: a worker host one natively (none with ray_worker_count
    0) or ray_worker_count containers in docker mode; the head host its head, plus, when it is
    in worker_nodes too in docker mode (seed 004's "Head + 3 Workers"), ray_worker_count
    worker containers on the slots after the head's."""
    count = max(int(worker_count), 0)
    if head:
        return 1 + (count if worker and install_mode == "docker" else 0)
    return count if install_mode == "docker" else min(count, 1)


def ray_host_ports(ray_ports: dict, slots: int, stride: int = 100, head: bool = False,
                   keys: list | None = None, ranges: bool = True) -> list:
    """Every port the `slots` nodes of one host use: ints, and 'min:max' for worker ranges.

    keys limits the ports to those keys (min_worker/max_worker then count as single ports);
    head adds the head-only ports, which exist once, on slot 1. ranges=False leaves the
    worker port ranges out when keys is not given.
    """
    per_node = NODE_KEYS + ("dashboard_agent_http", "min_worker", "max_worker")
    wanted = set(per_node[:-2] if keys is None else keys)
    out: list = []
    if head and int(slots) > 0:
        out.extend(int(ray_ports[k]) for k in HEAD_KEYS if keys is None or k in wanted)
    for slot in range(1, int(slots) + 1):
        ports = ray_slot_ports(ray_ports, slot, stride)
        out.extend(ports[k] for k in per_node if k in wanted)
        if ranges and keys is None:
            out.append(f"{ports['min_worker']}:{ports['max_worker']}")
    seen: list = []
    for port in out:
        if port not in seen:
            seen.append(port)
    return seen


def ray_port_clashes(ray_ports: dict, slots: int, stride: int = 100, head: bool = False) -> list:
    """Ports that two of a host's `slots` nodes would both use, or that fall in a node's worker
    port range: a small stride, or ray_ports close together, make later slots run into earlier
    ones (or, on the head host, into the head-only ports)."""
    singles = ray_host_ports(ray_ports, slots, stride, head, ranges=False)
    every = [int(ray_ports[k]) for k in HEAD_KEYS] if head and int(slots) > 0 else []
    ranges = []
    for slot in range(1, int(slots) + 1):
        ports = ray_slot_ports(ray_ports, slot, stride)
        every += [ports[k] for k in NODE_KEYS + ("dashboard_agent_http",)]
        ranges.append((ports["min_worker"], ports["max_worker"]))
    clashes = {p for p in every if every.count(p) > 1}
    clashes |= {p for p in singles if any(lo <= p <= hi for lo, hi in ranges)}
    return sorted(clashes)


def ufw_port_lists(ports: list, limit: int = UFW_MULTIPORT_LIMIT) -> list:
    """Pack ports (ints or 'a:b' ranges) into comma-separated lists one ufw rule can take,
    sorted as ufw stores them (by first port), so a rule read back compares equal."""
    ports = sorted(ports, key=lambda p: int(str(p).split(":")[0]))
    chunks: list = []
    current: list = []
    used = 0
    for port in ports:
        cost = 2 if ":" in str(port) else 1
        if current and used + cost > limit:
            chunks.append(current)
            current, used = [], 0
        current.append(str(port))
        used += cost
    if current:
        chunks.append(current)
    return [",".join(chunk) for chunk in chunks]


class FilterModule:
    def filters(self):
        return {
            "ray_slot_ports": ray_slot_ports,
            "ray_slots": ray_slots,
            "ray_host_ports": ray_host_ports,
            "ray_port_clashes": ray_port_clashes,
            "ufw_port_lists": ufw_port_lists,
        }
