"""Seed 004's distributed check: spread tasks over the cluster and print where they ran.

Submit it from the controller with the cluster token:
    RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=PATH ray job submit --address http://HEAD:8265 \
        --working-dir examples -- python hello_ray.py --tasks 12
"""

from __future__ import annotations

import argparse
import collections
import json
import socket
import time

import ray


@ray.remote(num_cpus=1)
def where_am_i(seconds: float) -> tuple[str, str]:
    time.sleep(seconds)
    return socket.gethostname(), ray.util.get_node_ip_address()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--spread", action="store_true", default=True,
                        help="Use the SPREAD strategy so every node gets tasks.")
    args = parser.parse_args()
    ray.init()
    nodes = [n for n in ray.nodes() if n["Alive"]]
    options = {"scheduling_strategy": "SPREAD"} if args.spread else {}
    started = time.monotonic()
    places = ray.get([where_am_i.options(**options).remote(args.seconds) for _ in range(args.tasks)])
    distribution = dict(sorted(collections.Counter(host for host, _ in places).items()))
    by_ip = dict(sorted(collections.Counter(ip for _, ip in places).items()))
    print(f"{args.tasks} tasks completed in {time.monotonic() - started:.2f}s "
          f"on {len(nodes)} alive nodes")
    for host, count in distribution.items():
        print(f"  {host}: {count} tasks")
    print("RESULT " + json.dumps({"tasks": args.tasks, "alive_nodes": len(nodes),
                                  "distribution": distribution, "by_ip": by_ip}))


if __name__ == "__main__":
    main()
