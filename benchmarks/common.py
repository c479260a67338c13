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
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2) + "\n")
    return path
