"""The health report on 3, 6 and 12 sandbox hosts (native mode, 01->05 deployed): median of 5.

Measures, per cluster size:
- health_only: `validate_checkpoint.py --health-only --format json` as a user runs it (process
  start, inventory from cache, every HTTP request), wall time;
- health_only_in_process: the same report from the library (what the REST API pays);
- full: the default report (every checkpoint's checks, SSH probe over warm shared connections).

Run: .venv/bin/python benchmarks/health_report.py [--hosts 3 6 12] [--keep] [--no-deploy]
Sandboxes are named val (3), val6, val12; --keep leaves them up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from common import BIN, PROJECT, RESULTS, write

from raydeploy.sandbox.hosts import Sandbox
from raydeploy.validate.collect import Options
from raydeploy.validate.runner import validate

PLAYBOOKS = [
    f"playbooks/0{i}-{n}.yml"
    for i, n in enumerate(
        [
            "prerequisites-check",
            "docker-installation",
            "cleanup-existing",
            "ray-deployment",
            "monitoring-deployment",
        ],
        start=1,
    )
]
SCRIPT = str(PROJECT / "validation" / "validate_checkpoint.py")
RUNS = 5


def name_for(hosts: int) -> str:
    return "val" if hosts == 3 else f"val{hosts}"


def sh(argv: list[str], timeout: int = 3600) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return proc


def wall(argv: list[str]) -> tuple[float, dict]:
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT, timeout=120)
    elapsed = time.monotonic() - started
    report = json.loads(proc.stdout)
    return elapsed, report


def stats(samples: list[float]) -> dict:
    return {"median_s": round(statistics.median(samples), 3), "samples_s": [round(s, 3) for s in samples]}


def measure(hosts: int, deploy: bool) -> dict:
    name = name_for(hosts)
    raydeploy = str(BIN / "raydeploy")
    started = time.monotonic()
    sh([raydeploy, "sandbox", "up", "--hosts", str(hosts), "--name", name])
    inventory = str(Sandbox(name).inventory_path)
    if deploy:
        sh(
            [
                str(BIN / "ansible-playbook"),
                "-i",
                inventory,
                *PLAYBOOKS,
                "-e",
                "raydeploy_cleanup_confirmed=true",
            ]
        )
    setup_s = time.monotonic() - started
    base = [sys.executable, SCRIPT, "--format", "json", "-i", inventory]
    wall(base)  # warm: inventory cache and SSH master connections, as on any second run
    health, health_lib, full, statuses, other = [], [], [], set(), set()
    for _ in range(RUNS):
        elapsed, report = wall([*base, "--health-only"])
        health.append(elapsed)
        statuses.add(report["status"])
        t0 = time.monotonic()
        validate(inventory, health_only=True, options=Options(health_only=True))
        health_lib.append(time.monotonic() - t0)
        elapsed, report = wall(base)
        full.append(elapsed)
        statuses.add(report["status"])
        # On one machine every sandbox host reports the machine's load: name anything else.
        other.update(p for p in report["problems"] if not p.startswith("health.host@"))
    return {
        "hosts": hosts,
        "sandbox": name,
        "setup_s": round(setup_s),
        "statuses": sorted(statuses),
        "problems_other_than_load_score": sorted(other),
        "health_only": stats(health),
        "health_only_in_process": stats(health_lib),
        "full": stats(full),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, nargs="+", default=[3, 6, 12])
    parser.add_argument("--keep", action="store_true", help="leave the sandboxes up")
    parser.add_argument("--no-deploy", action="store_true", help="the sandboxes are deployed already")
    args = parser.parse_args()
    results = []
    for hosts in args.hosts:
        result = measure(hosts, not args.no_deploy)
        print(json.dumps(result), flush=True)
        results.append(result)
        if not args.keep:
            sh([str(BIN / "raydeploy"), "sandbox", "down", "--name", name_for(hosts)])
    previous = RESULTS / "health_report.json"
    if previous.exists():  # sizes measured in separate runs are kept, the same size is replaced
        measured = {r["hosts"] for r in results}
        results += [
            r for r in json.loads(previous.read_text()).get("results", []) if r["hosts"] not in measured
        ]
    results.sort(key=lambda r: r["hosts"])
    path = write("health_report", {"runs": RUNS, "mode": "native, 01->05 deployed", "results": results})
    print(path.read_text())


if __name__ == "__main__":
    main()
