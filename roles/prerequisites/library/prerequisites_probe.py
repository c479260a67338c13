#!/usr/bin/python
"""Checkpoint 01's read-only probe of a host, in one module call.

Everything the checks need from the host itself: what already listens on this host's Ray ports
(process, uid, and whether it runs in one of raydeploy's Ray containers), which peers answer on theirs, free disk on every path Ray writes to, the clock's sync state, the Ray
account's uid, the Ray version installed, if any, and which addresses raydeploy's own firewall
rules (the ray_firewall role's ufw rules) let in, if ufw is on. One pipelined call per host instead of a
command each, so a re-run of checkpoint 01 costs one round trip per host.

A refused connection counts as reachable: the packet got there and nothing listens yet, which
is expected before Ray runs; a timeout means a firewall drops it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: prerequisites_probe
short_description: Read-only probe of a host for checkpoint 01
description: Lists listeners on the given ports, connects to peers' ports, and reads disk, clock, account and Ray version.
options:
  listen: {description: Ports this host's Ray nodes will listen on., type: list, elements: int, default: []}
  peers: {description: "Other nodes: {host: {ip, ports}}.", type: dict, default: {}}
  timeout: {description: Seconds per peer connection., type: float, default: 3}
  disk_paths:
    description: >-
      Paths whose file systems' free space is reported; a path that does not exist yet is measured
      at its nearest existing parent, where it will be created.
    type: list
    elements: path
    default: [/]
  check_time_sync: {description: Read timedatectl's NTPSynchronized., type: bool, default: true}
  ray_user: {description: The Ray account whose uid is reported., type: str, default: ray}
  ray_venv_dir: {description: Where Ray's virtualenv is., type: path, default: /opt/ray/venv}
  ray_container_label:
    description: The label (KEY=VALUE) of raydeploy's Ray containers, whose listeners are this deployment's own.
    type: str
    default: io.raydeploy.service=ray
  firewall_tag: {description: "Comment prefix of raydeploy's ufw rules; its Ray port rules are TAG ray.", type: str, default: raydeploy}
  ufw_rules_files: {description: ufw's user rule files., type: list, elements: path, default: [/etc/ufw/user.rules, /etc/ufw/user6.rules]}
author: raydeploy
"""

import glob
import os
import pwd
import re
import socket
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

UFW_CONF = "/etc/ufw/ufw.conf"
_CONTAINER_ID = re.compile(r"\b[0-9a-f]{64}\b")


def container_ids(cgroup: str) -> set[str]:
    """Docker container ids in a /proc/PID/cgroup text (cgroupfs or the systemd driver's
    docker-ID.scope); nested containers show every level's."""
    return set(_CONTAINER_ID.findall(cgroup))


def _in_containers(module: AnsibleModule, found: dict, label: str) -> None:
    """Marks the listeners running in a container labelled `label`: docker mode's Ray runs as the
    image's user (root), not the Ray account, and is this deployment's own all the same."""
    ids = {}
    for port, owner in found.items():
        try:
            with open(f"/proc/{owner['pid']}/cgroup", encoding="utf-8") as f:
                ids[port] = container_ids(f.read())
        except (OSError, TypeError):
            ids[port] = set()
    ours: set[str] = set()
    docker = module.get_bin_path("docker") if any(ids.values()) else None
    if docker:
        rc, out, _ = module.run_command([docker, "ps", "-q", "--no-trunc", "--filter", f"label={label}"])
        ours = set(out.split()) if rc == 0 else set()
    for port, owner in found.items():
        owner["raydeploy_container"] = bool(ids[port] & ours)


def _listeners(module: AnsibleModule, ports: set[int], label: str) -> dict:
    _, out, _ = module.run_command(["ss", "-Htlnpe"])
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
    _in_containers(module, found, label)
    return found


def _connect(peer: tuple[str, str, int], timeout: float) -> dict:
    host, ip, port = peer
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            state = "open"
    except ConnectionRefusedError:
        state = "refused"
    except OSError as exc:
        state = "blocked: " + (str(exc) or exc.__class__.__name__)
    return {"host": host, "ip": ip, "port": port, "state": state, "reachable": state in ("open", "refused")}


def _installed_ray(venv: str) -> str | None:
    # Read the version file instead of importing Ray (seconds), like the validator's probe.
    for path in glob.glob(os.path.join(venv, "lib", "python3*", "site-packages", "ray", "_version.py")):
        with open(path, encoding="utf-8") as handle:
            match = re.search(r"^version\s*=\s*['\"]([^'\"]+)['\"]", handle.read(), re.M)
        if match:
            return match.group(1)
    return None


def firewall(conf: str, rules_files: list[str], tag: str) -> dict:
    """Whether ufw is on, and the sources raydeploy's rules for Ray's ports allow.

    ufw keeps each rule as '### tuple ### allow PROTO DPORT DST SPORT SRC DIRECTION comment=HEX';
    the ray_firewall role tags its Ray port rules 'TAG ray'.
    """
    try:
        with open(conf, encoding="utf-8") as handle:
            active = re.search(r"^ENABLED=yes\s*$", handle.read(), re.M) is not None
    except OSError:
        return {"active": False, "ray_sources": []}
    sources: list[str] = []
    for path in rules_files:
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 11 or fields[:4] != ["###", "tuple", "###", "allow"]:
                continue
            comment = fields[-1].partition("comment=")[2]
            try:
                text = bytes.fromhex(comment).decode()
            except ValueError:
                continue
            if text == f"{tag} ray" and fields[8] not in sources:
                sources.append(fields[8])
    return {"active": active, "ray_sources": sources}


def _disk(path: str) -> dict:
    """Free space for `path`, measured at its nearest existing directory, and its mount point."""
    measured = os.path.abspath(path)
    while not os.path.exists(measured) and measured != "/":
        measured = os.path.dirname(measured)
    stat = os.statvfs(measured)
    mount, dev = measured, os.stat(measured).st_dev
    while mount != "/" and os.stat(os.path.dirname(mount)).st_dev == dev:
        mount = os.path.dirname(mount)
    return {"path": path, "measured": measured, "mount": mount,
            "free_bytes": stat.f_bavail * stat.f_frsize, "size_bytes": stat.f_blocks * stat.f_frsize}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "listen": {"type": "list", "elements": "int", "default": []},
            "peers": {"type": "dict", "default": {}},
            "timeout": {"type": "float", "default": 3},
            "disk_paths": {"type": "list", "elements": "path", "default": ["/"]},
            "check_time_sync": {"type": "bool", "default": True},
            "ray_user": {"type": "str", "default": "ray"},
            "ray_venv_dir": {"type": "path", "default": "/opt/ray/venv"},
            "ray_container_label": {"type": "str", "default": "io.raydeploy.service=ray"},
            "firewall_tag": {"type": "str", "default": "raydeploy"},
            "ufw_rules_files": {"type": "list", "elements": "path",
                                "default": ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"]},
        },
        supports_check_mode=True,
    )
    p = module.params
    targets = [(host, peer["ip"], int(port))
               for host, peer in sorted(p["peers"].items()) for port in peer["ports"]]
    with ThreadPoolExecutor(max_workers=32) as pool:
        peers = list(pool.map(lambda t: _connect(t, p["timeout"]), targets))
    ntp = None
    if p["check_time_sync"]:
        rc, out, _ = module.run_command(["timedatectl", "show", "--property=NTPSynchronized", "--value"])
        ntp = out.strip() if rc == 0 else "unknown"
    try:
        uid = pwd.getpwnam(p["ray_user"]).pw_uid
    except KeyError:
        uid = None
    module.exit_json(
        changed=False,
        listeners=_listeners(module, set(p["listen"]), p["ray_container_label"]),
        peers=peers,
        disks=[_disk(path) for path in p["disk_paths"]],
        ntp_synchronized=ntp,
        ray_uid=uid,
        installed_ray=_installed_ray(p["ray_venv_dir"]),
        firewall=firewall(UFW_CONF, p["ufw_rules_files"], p["firewall_tag"]),
    )


if __name__ == "__main__":
    main()
