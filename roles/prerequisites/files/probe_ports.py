#!/usr/bin/env python3
"""Read-only network probe for checkpoint 01, run on each host by Ansible's script module.

argv[1] is JSON: {"listen": [ports], "self": host, "nodes": {host: ip}, "heads": [host],
"node_ports": [ports], "head_ports": [ports], "timeout": s}.
Prints JSON: which of our ports something already listens on (with its process and uid), and
which peers are reachable. A refused connection counts as reachable: the packet got there and
nothing listens yet, which is expected before Ray runs; a timeout means a firewall drops it.
"""
import json
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def listeners(ports):
    out = subprocess.run(["ss", "-Htlnpe"], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        port = int(fields[3].rsplit(":", 1)[1])
        if port in ports:
            proc = re.search(r'users:\(\("([^"]+)",pid=(\d+)', line)
            uid = re.search(r"uid:(\d+)", line)
            found[str(port)] = {
                "process": proc.group(1) if proc else "?",
                "pid": int(proc.group(2)) if proc else None,
                "uid": int(uid.group(1)) if uid else 0,
            }
    return found


def probe(peer, timeout):
    host, ip, port = peer
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            state = "open"
    except ConnectionRefusedError:
        state = "refused"
    except OSError as exc:
        state = "blocked: " + (str(exc) or exc.__class__.__name__)
    return {"host": host, "ip": ip, "port": port, "state": state,
            "reachable": state in ("open", "refused")}


def peers_of(spec):
    out = []
    for host, ip in sorted(spec["nodes"].items()):
        if host == spec["self"]:
            continue
        ports = spec["node_ports"] + (spec["head_ports"] if host in spec["heads"] else [])
        out.extend((host, ip, int(port)) for port in ports)
    return out


def main():
    spec = json.loads(sys.argv[1])
    spec["peers"] = peers_of(spec)
    spec["timeout"] = float(spec["timeout"])
    spec["listen"] = [int(p) for p in spec["listen"]]
    with ThreadPoolExecutor(max_workers=32) as pool:
        peers = list(pool.map(lambda p: probe(p, spec["timeout"]), spec["peers"]))
    print(json.dumps({"listeners": listeners(set(spec["listen"])), "peers": peers}))


main()
