#!/usr/bin/env python3
"""List Ray processes to kill, for checkpoint 03 (run on each host by Ansible's script module).

argv[1] is JSON: {"names": [exact process names], "patterns": [command-line substrings],
"keep_cgroups": [cgroup path fragments whose processes belong to this deployment],
"keep_containers": bool}.
Prints JSON {"kill": [{"pid", "cmd", "cgroup"}], "kept": N}. Our own processes are those in
our systemd units' or containers' cgroups; with an empty keep list everything Ray goes.
"""
import json
import os
import re
import sys

# A process inside a container: its cgroup ends in the container's id (cgroupfs or systemd
# driver). Containers are judged as a whole by the container tasks, not process by process.
CONTAINER_CGROUP = re.compile(r"(/docker/|docker-)[0-9a-f]{64}(\.scope)?$")



def ancestors() -> set[int]:
    """This script and the Ansible/sudo/shell processes above it carry the patterns in
    their own command lines, so they must never match."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


spec = json.loads(sys.argv[1])
me = ancestors()
kill, kept = [], 0
for entry in os.listdir("/proc"):
    if not entry.isdigit() or int(entry) in me:
        continue
    try:
        with open(f"/proc/{entry}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        with open(f"/proc/{entry}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{entry}/cgroup") as f:
            cgroup = f.read()
    except OSError:
        continue
    if "find_ray.py" in cmd or not (comm in spec["names"] or any(p in cmd for p in spec["patterns"])):
        continue
    innermost = cgroup.strip().splitlines()[-1] if cgroup.strip() else ""
    in_container = bool(CONTAINER_CGROUP.search(innermost))
    if any(k in cgroup for k in spec["keep_cgroups"]) or (spec.get("keep_containers") and in_container):
        kept += 1
        continue
    kill.append({"pid": int(entry), "cmd": cmd[:200], "cgroup": cgroup.splitlines()[-1][:200]})
print(json.dumps({"kill": kill, "kept": kept}))
