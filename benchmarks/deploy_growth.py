"""How 01->04 deploy time grows with hosts: cold time, slowest tasks, Ansible's own overhead,
and the no-change re-run (changed count, whether Ray restarted).

Run: .venv/bin/python benchmarks/deploy_growth.py --hosts 1 --hosts 3 --hosts 6 [--repeat 1] [--keep]

Each checkpoint runs through raydeploy's own runner (ansible-runner, JSON events), as
deploy-master.py runs it. From the events:
- module time of a task on a host: the event's `duration` (the host's task start, including
  connecting and shipping the module, to its result), for ok/failed/unreachable results;
- module time of a playbook ("path" in the results): the seconds during which some host ran a
  module, the union of every (host, task) interval; under the linear strategy that is each
  task's slowest host, one task after another, and 04's start play (strategy free) overlaps;
- Ansible's own overhead: a playbook's wall time minus its module time (starting
  ansible-playbook, parsing, inventory, templating, skipped tasks, includes, scheduling).
Around each checkpoint, common.CpuMeter counts CPU seconds: the machine's, the controller's
and each sandbox host's (Ray's units, sshd's sessions). At 6 hosts the run keeps the shared
cores busy, so it cannot be faster than machine CPU seconds / cores ("floor" in the results).
Sizes measured in earlier runs stay in the results, keyed by hosts, so sizes can run separately.
Each run gets its own new sandbox (bench-g<hosts>r<run>), stopped after it and removed with the
others at the end: see common.RECENT_DELETE_WINDOW_S for why nothing is deleted in between.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

from common import BIN, RESULTS, CpuMeter, remove_sandboxes, settle, stop_sandbox, summary, timed, write

from raydeploy import checkpoints
from raydeploy.deploy.runner import run_checkpoint
from raydeploy.sandbox.hosts import Sandbox
from raydeploy.validate.spec import load_spec

CHECKPOINTS = ("prerequisites-check", "docker-installation", "cleanup-existing", "ray-deployment")
EXTRAVARS = {"cleanup-existing": {"raydeploy_cleanup_confirmed": True}}
EXECUTED = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable")
SLOWEST = 5


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def task_times(events: list[dict]) -> list[dict]:
    """One row per (task, host) that ran a module: task uuid, name, role, host, seconds."""
    rows = []
    for event in events:
        data = event.get("event_data") or {}
        if event.get("event") in EXECUTED and data.get("duration") is not None:
            end = dt.datetime.fromisoformat(data["end"]).timestamp() if data.get("end") else None
            rows.append({"uuid": data.get("task_uuid"), "task": data.get("task", ""),
                         "role": data.get("role") or "", "host": data.get("host", ""),
                         "s": float(data["duration"]), "end": end})
    return rows


def critical_path(rows: list[dict]) -> float:
    """Seconds during which some host ran a module: the union of every (host, task) interval.

    Under the linear strategy that is each task's slowest host, one task after another; under
    strategy free (04's start play) hosts' tasks overlap, and a sum per task would count the
    overlap twice."""
    spans = sorted((r["end"] - r["s"], r["end"]) for r in rows if r["end"] is not None)
    total, reach = 0.0, float("-inf")
    for start, end in spans:
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def run_01_04(inventory: Path, state_root: Path, label: str, cpu_meter) -> dict:
    """01->04 once: per checkpoint wall time, critical path, changed tasks; per host slowest tasks.

    Every measurement starts with an empty cache of built venvs (ray_venv_artifact), so each
    host count pays for one uv install, as the first cluster of a platform does."""
    venvs = {"ray_venv_artifact_controller_dir": str(state_root / "venvs")}
    out: dict = {"load_start": load(), "checkpoints": {}, "changed_tasks": []}
    per_host: dict[str, list[dict]] = defaultdict(list)
    for name in CHECKPOINTS:
        events: list[dict] = []
        started = time.monotonic()
        with cpu_meter as cpu:
            result = run_checkpoint(checkpoints.get(name), inventory=inventory, state_root=state_root,
                                    ident=f"{label}-{name}", limit=None,
                                    extravars={**EXTRAVARS.get(name, {}), **venvs},
                                    check=False, on_event=lambda _r, e, ev=events: ev.append(e))
        wall = time.monotonic() - started
        if not result.ok:
            raise SystemExit(f"{label} {name} failed ({result.status}): {result.failures[:3]}")
        rows = task_times(events)
        crit = critical_path(rows)
        out["checkpoints"][name] = {"wall_s": round(wall, 1), "critical_path_s": round(crit, 1),
                                    "overhead_s": round(wall - crit, 1),
                                    "tasks_run": len({r["uuid"] for r in rows}), "cpu_s": cpu.result}
        out["changed_tasks"] += [f"{name}: {c.task} @ {c.host}" for c in result.changes]
        for row in rows:
            per_host[row["host"]].append({**row, "checkpoint": name})
    out["load_end"] = load()
    cps = out["checkpoints"].values()
    out["total_s"] = round(sum(c["wall_s"] for c in cps), 1)
    out["critical_path_s"] = round(sum(c["critical_path_s"] for c in cps), 1)
    out["overhead_s"] = round(out["total_s"] - out["critical_path_s"], 1)
    out["overhead_share"] = round(out["overhead_s"] / out["total_s"], 3)
    out["changed"] = len(out["changed_tasks"])
    out["cpu_s"] = {k: round(sum(c["cpu_s"][k] for c in cps), 1)
                    for k in ("machine", "controller", "hosts", "ray", "sshd")}
    out["cpu_floor_s"] = round(out["cpu_s"]["machine"] / (os.cpu_count() or 1), 1)
    out["slowest"] = {
        host: [{"task": r["task"], "role": r["role"], "checkpoint": r["checkpoint"], "s": round(r["s"], 1)}
               for r in sorted(rows, key=lambda r: -r["s"])[:SLOWEST]]
        for host, rows in sorted(per_host.items())}
    return out


def ray_node_ids(inventory: Path) -> list[str]:
    """ALIVE node ids from the head's dashboard API, with the cluster's token."""
    spec = load_spec(inventory)
    url = f"{spec.dashboard_url}/api/v0/nodes?limit=1000"  # http to our own head
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {spec.token()}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        rows = json.load(resp)["data"]["result"]["result"]
    return sorted(r["node_id"] for r in rows if r.get("state") == "ALIVE")


def sandbox_name(hosts: int, run: int) -> str:
    return f"bench-g{hosts}r{run}"


def measure(hosts: int, run: int, keep: bool, state_roots: list[Path]) -> dict:
    """One cold and one no-change 01->04 on a new sandbox, which is stopped afterwards, not
    removed: removing it would slow the next run's file creation (common.RECENT_DELETE_WINDOW_S)."""
    name = sandbox_name(hosts, run)
    sandbox_up_s = timed([str(BIN / "raydeploy"), "sandbox", "up", "--hosts", str(hosts), "--name", name])
    sandbox = Sandbox(name)
    inventory = sandbox.inventory_path
    meter = CpuMeter(sandbox, hosts)
    quiet = settle()
    state_root = Path(tempfile.mkdtemp(prefix=f"deploy_growth-{name}-"))
    state_roots.append(state_root)
    try:
        cold = run_01_04(inventory, state_root, f"r{run}-cold", meter)
        before = ray_node_ids(inventory)
        rerun = run_01_04(inventory, state_root, f"r{run}-rerun", meter)
        after = ray_node_ids(inventory)
    finally:
        if not keep:
            stop_sandbox(name)
    rerun["ray_nodes_before"], rerun["ray_nodes_after"] = before, after
    rerun["ray_restarted"] = before != after
    return {"sandbox": name, "sandbox_up_s": round(sandbox_up_s, 1), "settle": quiet, "cold": cold,
            "rerun": rerun, "artifacts": str(state_root) if keep else None}


def aggregate(hosts: int, runs: list[dict]) -> dict:
    return {
        "hosts": hosts, "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
        "cold_01_04": summary([r["cold"]["total_s"] for r in runs]),
        "critical_path": summary([r["cold"]["critical_path_s"] for r in runs]),
        "overhead_share": round(statistics.median(r["cold"]["overhead_share"] for r in runs), 3),
        "rerun_01_04": summary([r["rerun"]["total_s"] for r in runs]),
        "rerun_changed": max(r["rerun"]["changed"] for r in runs),
        "ray_restarted": any(r["rerun"]["ray_restarted"] for r in runs),
        "runs": runs,
    }


def markdown(sizes: dict) -> str:
    base = sizes.get("1", {}).get("cold_01_04", {}).get("median_s")
    lines = ["| hosts | cold 01→04 | ratio to 1 host | module time | overhead | "
             "no-change re-run | re-run changed | Ray restarted |", "|---|---|---|---|---|---|---|---|"]
    for key in sorted(sizes, key=int):
        s = sizes[key]
        cold = s["cold_01_04"]["median_s"]
        ratio = f"{cold / base:.2f}×" if base else "n/a"
        lines.append(f"| {key} | {cold} s | {ratio} | {s['critical_path']['median_s']} s | "
                     f"{s['overhead_share']:.0%} | {s['rerun_01_04']['median_s']} s | {s['rerun_changed']} | "
                     f"{'yes' if s['ray_restarted'] else 'no'} |")
    lines.append("\nCold and re-run are medians over runs; module time = seconds during which some host "
                 "ran a module; overhead = wall time − module time.")
    lines += ["\nWhere the cold run's CPU went (first run of each size; sandbox hosts share the machine's "
              f"{os.cpu_count()} cores, so a run cannot finish sooner than machine CPU ÷ cores):\n",
              "| hosts | cold 01→04 | machine CPU | controller | sandbox hosts | of which Ray's units | "
              "of which sshd (modules, copies, unpacks) | cores busy | floor (CPU ÷ cores) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(sizes, key=int):
        cold = sizes[key]["runs"][0]["cold"]
        cpu, cores = cold.get("cpu_s"), os.cpu_count() or 1
        if cpu:
            lines.append(f"| {key} | {cold['total_s']} s | {cpu['machine']} s | {cpu['controller']} s | "
                         f"{cpu['hosts']} s | {cpu['ray']} s | {cpu['sshd']} s | "
                         f"{cpu['machine'] / cold['total_s'] / cores:.0%} | {cold['cpu_floor_s']} s |")
    for key in sorted(sizes, key=int):
        first = sizes[key]["runs"][0]
        lines.append(f"\n### {key} host(s), measured {sizes[key]['measured_at']}\n")
        for phase in ("cold", "rerun"):
            r = first[phase]
            per_cp = ", ".join(f"{n} {c['wall_s']} s (path {c['critical_path_s']} s)"
                               for n, c in r["checkpoints"].items())
            lines.append(f"- {phase}: {per_cp}; load {r['load_start']} → {r['load_end']}")
        for change in first["rerun"]["changed_tasks"]:
            lines.append(f"- re-run changed: {change}")
        for phase in ("cold", "rerun"):
            for host, tasks in first[phase]["slowest"].items():
                top = "; ".join(f"{t['task']} ({t['role'] or '-'}) {t['s']} s" for t in tasks)
                lines.append(f"- slowest on {host} ({phase}): {top}")
    return "\n".join(lines) + "\n"


def print_run(run: dict) -> None:
    cold, rerun = run["cold"], run["rerun"]
    print(json.dumps({"slowest": cold["slowest"], "rerun_slowest": rerun["slowest"],
                      "cold": cold["checkpoints"], "rerun": rerun["checkpoints"],
                      "changed": rerun["changed_tasks"],
                      "load": [cold["load_start"], cold["load_end"], rerun["load_start"], rerun["load_end"]]},
                     indent=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, action="append", required=True, choices=range(1, 33))
    parser.add_argument("--repeat", type=int, default=1, choices=range(1, 11))
    parser.add_argument("--keep", action="store_true", help="keep the sandboxes and runner artifacts")
    args = parser.parse_args()
    path = RESULTS / "deploy_growth.json"
    sizes = json.loads(path.read_text()).get("sizes", {}) if path.exists() else {}
    names = [sandbox_name(h, run) for h in dict.fromkeys(args.hosts) for run in range(args.repeat)]
    # Leftovers of an interrupted run, and the one-sandbox-per-size names of earlier versions.
    remove_sandboxes(names + [f"bench-g{h}" for h in args.hosts], wait_if_removed=True)
    state_roots: list[Path] = []
    try:
        for hosts in dict.fromkeys(args.hosts):
            runs = [measure(hosts, run, args.keep, state_roots) for run in range(args.repeat)]
            sizes[str(hosts)] = aggregate(hosts, runs)
            write("deploy_growth", {"sizes": sizes})  # after each size, so a later failure keeps it
            (RESULTS / "deploy_growth.md").write_text(markdown(sizes))
            print(json.dumps({k: v for k, v in sizes[str(hosts)].items() if k != "runs"}, indent=1))
            for run in runs:
                print_run(run)
    finally:
        if not args.keep:
            remove_sandboxes(names, wait_if_removed=False)
            for root in state_roots:
                shutil.rmtree(root, ignore_errors=True)
    print(RESULTS / "deploy_growth.md")
    print((RESULTS / "deploy_growth.md").read_text())


if __name__ == "__main__":
    main()
