"""Helpers shared by the benchmarks: timing, the machine's description, result files."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT / "benchmarks" / "results"
BIN = Path(sys.executable).parent


def timed(argv: list[str], **kw) -> float:
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT, **kw)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def machine() -> dict:
    return {
        "date": dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "sha256_256mib_s": _core_speed_s(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# Figures from different machines (or one machine's vCPUs on a busier day) differ by up to 2x
# here, and the CPU model alone does not say it: one core's time for a fixed hash does.
def _core_speed_s() -> float:
    block = b"\0" * 2**20
    digest = hashlib.sha256()
    start = time.perf_counter()
    for _ in range(256):
        digest.update(block)
    return round(time.perf_counter() - start, 3)


def summary(samples: list[float]) -> dict:
    return {"median_s": round(statistics.median(samples), 1), "samples_s": [round(s, 1) for s in samples]}


def write(name: str, result: dict) -> Path:
    return _write_json(name, {"machine": machine(), **result})


def write_report(name: str, result: dict, render) -> str:
    """Writes RESULTS/name.json (the result and the machine) and RESULTS/name.md, which
    render(doc) makes from that same doc; returns the markdown."""
    doc = {"machine": machine(), **result}
    _write_json(name, doc)
    md = render(doc)
    (RESULTS / f"{name}.md").write_text(md)
    return md


def _write_json(name: str, doc: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def cpu_busy(window_s: float = 3.0) -> float:
    """The share of all CPUs that was busy (not idle, not waiting on I/O) over window_s."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]
    total0, idle0 = sample()
    time.sleep(window_s)
    total1, idle1 = sample()
    return round(1 - (idle1 - idle0) / max(total1 - total0, 1), 3)


def settle(max_busy: float = 0.15, max_s: float = 180.0) -> dict:
    """Waits until the machine is quiet before a measurement: sandbox hosts share its cores, and
    the last run's Ray processes and containers take a while to go. The 1-minute load average
    lags by about a minute, so this samples the CPUs themselves. Bounded by max_s."""
    started = time.monotonic()
    busy = cpu_busy()
    while busy > max_busy and time.monotonic() - started < max_s:
        busy = cpu_busy()
    return {"waited_s": round(time.monotonic() - started, 1), "cpu_busy": busy, "quiet": busy <= max_busy}


def _cgroup2_root() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup (v2 only) or .../unified (hybrid)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[:1] == ["cgroup2"]:
            return Path(left.split()[4])
    return None


def machine_cpu_s() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]  # user nice system irq softirq
    return busy / os.sysconf("SC_CLK_TCK")


def _host_cgroup(root: Path, container: str) -> Path:
    """A sandbox host's cgroup v2 directory, from its init process."""
    pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container],
                         capture_output=True, text=True, check=True).stdout.strip()
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    base = root / next(line[3:] for line in lines if line.startswith("0::")).lstrip("/")
    return base.parent if base.name == "init.scope" else base  # systemd in the container moved itself


def _host_cpu_s(base: Path) -> dict[str, float]:
    """One sandbox host's CPU seconds so far from its cgroup v2 usage_usec (the core reports it
    without the cpu controller): whole host, Ray's units, and sshd (every module, copy and unpack
    Ansible runs there goes through it)."""
    def usage(path: Path) -> float:
        stat = path / "cpu.stat"
        return int(stat.read_text().split()[1]) / 1e6 if stat.exists() else 0.0
    units = base / "system.slice"
    ray = sum(usage(p) for p in units.glob("ray-*.service")) if units.is_dir() else 0.0
    sshd = usage(units / "ssh.service") + usage(base / "user.slice")
    return {"host": usage(base), "ray": ray, "sshd": sshd}


class CpuMeter:
    """CPU seconds spent while it runs: the whole machine, the controller (this process and the
    ansible-playbook runs it waited for) and the sandbox hosts (all, Ray's units, sshd's sessions).
    Sandbox hosts share the machine's cores, so a deploy that keeps them all busy cannot finish
    sooner than machine CPU seconds / cores."""

    def __init__(self, sandbox, hosts: int):
        # Resolved once, here: a docker CLI call inside _sample would be counted as the run's.
        root = _cgroup2_root()
        self.cgroups = [_host_cgroup(root, sandbox.container_name(i)) for i in range(1, hosts + 1)]

    def _sample(self) -> dict[str, float]:
        t = os.times()
        controller = t.user + t.system + t.children_user + t.children_system
        out = {"machine": machine_cpu_s(), "controller": controller, "hosts": 0.0, "ray": 0.0, "sshd": 0.0}
        for cgroup in self.cgroups:
            for key, value in _host_cpu_s(cgroup).items():
                out[key if key != "host" else "hosts"] += value
        return out

    def __enter__(self) -> CpuMeter:
        self.result: dict[str, float] = {}
        self._start, self._t0 = self._sample(), time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        end, wall = self._sample(), time.monotonic() - self._t0
        self.result = {k: round(end[k] - self._start[k], 1) for k in end}
        self.result["busy_share"] = round(self.result["machine"] / (wall * (os.cpu_count() or 1)), 2)


def hosts_arguments(description: str, max_hosts: int) -> argparse.Namespace:
    """--hosts N (2..max_hosts, default 3) and --keep, for a benchmark on one fresh sandbox."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--hosts", type=int, default=3, help=f"N, 2..{max_hosts} (default 3)")
    parser.add_argument("--keep", action="store_true", help="leave the last sandbox up")
    args = parser.parse_args()
    if not 2 <= args.hosts <= max_hosts:
        raise SystemExit(f"--hosts must be 2..{max_hosts}")
    return args


# Why measured sandboxes are stopped and removed only at the end. On ext4 without a journal (this
# machine's /dev/vda: /sys/fs/ext4/vda/journal_task reads <none>), each new file skips every free
# inode deleted in the last 60 s, or 360 s while its inode table block is still dirty
# (find_inode_bit() and recently_deleted() in fs/ext4/ialloc.c). Removing the last run's hosts just
# before the next run made every host's venv unpack cost several times the kernel CPU
# (fs_recent_deletes.py: 0.95 s clean, 2.93 s right after one venv's files were deleted), on every
# host at once: a cost of the benchmark's own teardown, which servers with a journaled file
# system never pay.
RECENT_DELETE_WINDOW_S = 370


def wait_out_recent_deletes(window_s: float = RECENT_DELETE_WINDOW_S) -> None:
    """Writes dirty inode tables back and waits until files deleted so far no longer count as
    recently deleted."""
    os.sync()
    time.sleep(window_s)


def stop_sandbox(name: str) -> None:
    """Stops a measured sandbox's hosts, so their Ray takes no CPU from later runs, without
    deleting their files (see RECENT_DELETE_WINDOW_S)."""
    from raydeploy.sandbox.hosts import LABEL

    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label={LABEL}={name}"],
                         capture_output=True, text=True, check=True).stdout.split()
    if ids:
        subprocess.run(["docker", "stop", "-t", "10", *ids], capture_output=True, check=True, timeout=300)


def remove_sandboxes(names: list[str], wait_if_removed: bool) -> int:
    """Removes these sandboxes (and forgets their hosts' cached facts); with wait_if_removed, when
    any existed, syncs and waits out ext4's recently-deleted window before anything is measured."""
    from raydeploy.sandbox.hosts import Sandbox

    removed = sum(Sandbox(name).down() for name in names)
    if removed and wait_if_removed:
        print(f"removed {removed} leftover sandbox host(s); waiting {RECENT_DELETE_WINDOW_S} s so their "
              "deleted files do not slow the first measurement", flush=True)
        wait_out_recent_deletes()
    return removed
