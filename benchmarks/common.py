"""Helpers shared by the benchmarks: timing, the machine's description, result files."""

from __future__ import annotations

import datetime as dt
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
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


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
