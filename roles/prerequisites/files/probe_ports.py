#!/usr/bin/env python3
"""Read-only network probe for checkpoint 01, run on each host by Ansible's script module.

argv[1] is JSON: {"listen": [ports], "peers": {host: {"ip": ip, "ports": [ports]}}, "timeout": s}:
the ports this host's Ray nodes will listen on, and each other node's ports (every container
slot's in docker mode).
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
    return [(host, peer["ip"], int(port))
            for host, peer in sorted(spec["peers"].items()) for port in peer["ports"]]


def main():
    spec = json.loads(sys.argv[1])
    spec["peers"] = peers_of(spec)
    spec["timeout"] = float(spec["timeout"])
    spec["listen"] = [int(p) for p in spec["listen"]]
    with ThreadPoolExecutor(max_workers=32) as pool:
        peers = list(pool.map(lambda p: probe(p, spec["timeout"]), spec["peers"]))
    print(json.dumps({"listeners": listeners(set(spec["listen"])), "peers": peers}))


main()
