"""Runs on a host (sent over SSH to python3's stdin): what only the host itself can tell.

argv[1] is JSON: {"venv": Ray's virtualenv, "units": [systemd units], "names": [Ray process
names], "patterns": [Ray command-line fragments], "keep_cgroups": [our units' cgroups],
"label": our containers' label key, "disk": path}. Prints one JSON object. Read-only; stdlib only.
"""

import json
import os
import re
import shutil
import subprocess
import sys

VERSION = (
    "import importlib.util as u, sys\n"
    "s = u.find_spec('ray')\n"
    "ns = {}\n"
    "exec(open(s.submodule_search_locations[0] + '/_version.py').read(), ns)\n"
    "print(ns['version'], '.'.join(map(str, sys.version_info[:3])))\n"
)
CONTAINER_CGROUP = re.compile(r"(/docker/|docker-)([0-9a-f]{64})(\.scope)?$")


def run(argv, timeout=5.0):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout.strip(), p.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)


def ray_version(argv):
    """Ray's own answer (ray.__version__, from ray/_version.py) without importing ray."""
    rc, out, err = run([*argv, "-c", VERSION])
    if rc != 0 or len(out.split()) != 2:
        return {"error": (err or out or f"exit {rc}").splitlines()[-1][:300]}
    ray, python = out.split()
    return {"ray": ray, "python": python}


def os_release():
    try:
        with open("/etc/os-release") as f:
            rows = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        return f"{rows.get('ID', '?').strip(chr(34))} {rows.get('VERSION_ID', '?').strip(chr(34))}"
    except OSError:
        return "unknown"


def ancestors():
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def stray(spec, ours_containers):
    me, found = ancestors(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{entry}/cgroup") as f:
                cgroup = f.read().strip()
        except OSError:
            continue
        if not (comm in spec["names"] or any(p in cmd for p in spec["patterns"])):
            continue
        innermost = cgroup.splitlines()[-1] if cgroup else ""
        m = CONTAINER_CGROUP.search(innermost)
        if any(k in cgroup for k in spec["keep_cgroups"]) or (m and m.group(2) in ours_containers):
            continue
        found.append({"pid": int(entry), "cmd": cmd[:160]})
    return found


def main():
    spec = json.loads(sys.argv[1])
    out = {"hostname": os.uname().nodename, "os": os_release(), "cpus": os.cpu_count()}
    rc, states, _ = run(["systemctl", "is-active", *spec["units"]])
    out["units"] = dict(zip(spec["units"], states.splitlines(), strict=False))
    docker = {"installed": shutil.which("docker") is not None, "containers": []}
    ours = set()
    if docker["installed"]:
        rc, text, err = run(
            [
                "docker",
                "ps",
                "-a",
                "--no-trunc",
                "--format",
                '{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Label "' + spec["label"] + '"}}',
            ]
        )
        docker["answered"] = rc == 0
        docker["error"] = err[-300:] if rc else None
        for line in text.splitlines():
            cid, name, state, label = (line.split("\t") + ["", "", "", ""])[:4]
            if not re.match(r"^ray-(head|worker)", name):
                continue
            docker["containers"].append({"id": cid[:12], "name": name, "state": state, "ours": bool(label)})
            if label:
                ours.add(cid)
    out["docker"] = docker
    if spec.get("mode") == "docker":
        out["ray_nodes"] = {
            c["name"]: ray_version(["docker", "exec", c["name"], "python"])
            for c in docker["containers"]
            if c["ours"] and c["state"] == "running"
        }
    else:
        python = os.path.join(spec["venv"], "bin", "python")
        out["ray_nodes"] = {
            "venv": ray_version([python]) if os.path.exists(python) else {"error": f"{python} does not exist"}
        }
    out["stray"] = stray(spec, ours)
    try:
        st = os.statvfs(spec.get("disk", "/"))
        out["disk"] = {
            "path": spec.get("disk", "/"),
            "free_bytes": st.f_bavail * st.f_frsize,
            "size_bytes": st.f_blocks * st.f_frsize,
        }
    except OSError as exc:
        out["disk"] = {"error": str(exc)}
    print(json.dumps(out))


main()
