"""What K more controller-only tasks per host cost a real cold 01->04, on 1 host and on 6.

Run: .venv/bin/python benchmarks/extra_tasks.py [--tasks 100] [--repeat 2] [--hosts 1 --hosts 6]

task_scaling.py measures a task's cost in made-up playbooks, where every task is on the path.
This measures it where 04's host preparation runs: K `set_fact` tasks per host are inserted in
checkpoint 04 just before "Wait for Ray's install." (on one host that is while the head builds
its venv in the background), and deploy_growth.py runs the same sizes on the committed project
(`git archive HEAD`) with and without them. The differences say how much wall time and CPU a
task taken off every host would save at each size (lambda, the wall seconds per machine CPU
second, at 1 host), and whether the 6:1 ratio moves.
Takes about 25 minutes with the defaults (two deploy_growth runs and a quiet disk before each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from common import BIN, PROJECT, wait_out_recent_deletes, write_report

ANCHOR = "    - name: Wait for Ray's install.\n"
PLAYBOOK = "playbooks/04-ray-deployment.yml"


def checkout(*dests: Path) -> str:
    """The committed project (HEAD) in each of dests; returns the commit."""
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=PROJECT, capture_output=True, check=True).stdout
    for dest in dests:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True,
                          text=True, check=True).stdout.strip()


def add_tasks(root: Path, count: int) -> None:
    lines = ["---", "# Inserted by benchmarks/extra_tasks.py: controller-only tasks, one per host each."]
    for i in range(count):
        lines += [f"- name: Extra task {i}.", "  ansible.builtin.set_fact:", f"    __extra_task_{i % 5}: {i}"]
    (root / "playbooks" / "_extra_tasks.yml").write_text("\n".join(lines) + "\n")
    path = root / PLAYBOOK
    text = path.read_text()
    if text.count(ANCHOR) != 1:
        raise SystemExit(f"{PLAYBOOK} no longer has exactly one {ANCHOR.strip()!r}: update ANCHOR")
    path.write_text(text.replace(ANCHOR, "    - name: Extra tasks (benchmark).\n"
                                         "      ansible.builtin.import_tasks: _extra_tasks.yml\n\n" + ANCHOR))


def growth(root: Path, hosts: list[int], repeat: int) -> dict:
    wait_out_recent_deletes()
    argv = [str(BIN / "python"), "benchmarks/deploy_growth.py", "--repeat", str(repeat)]
    for n in hosts:
        argv += ["--hosts", str(n)]
    subprocess.run(argv, cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    sizes = json.loads((root / "benchmarks/results/deploy_growth.json").read_text())["sizes"]
    out = {}
    for n in hosts:
        size = sizes[str(n)]
        colds = [r["cold"] for r in size["runs"]]
        out[str(n)] = {
            "measured_at": size["measured_at"],
            "cold_s": size["cold_01_04"],
            "machine_cpu_s": [c["cpu_s"]["machine"] for c in colds],
            "controller_cpu_s": [c["cpu_s"]["controller"] for c in colds],
            "tasks_run_04": colds[0]["checkpoints"]["ray-deployment"]["tasks_run"],
        }
    return out


def compare(base: dict, extra: dict, count: int) -> dict:
    out = {}
    for n, b in base.items():
        e = extra[n]
        med = statistics.median
        wall = e["cold_s"]["median_s"] - b["cold_s"]["median_s"]
        machine = med(e["machine_cpu_s"]) - med(b["machine_cpu_s"])
        controller = med(e["controller_cpu_s"]) - med(b["controller_cpu_s"])
        out[n] = {"wall_s": round(wall, 1), "machine_cpu_s": round(machine, 1),
                  "controller_cpu_s": round(controller, 1),
                  "controller_ms_per_task_and_host": round(1000 * controller / (count * int(n)), 1),
                  "wall_s_per_machine_cpu_s": round(wall / machine, 2) if machine > 0 else None}
    return out


def render(doc: dict) -> str:
    sizes = sorted(doc["base"], key=int)
    rows = ["| hosts | cold 01→04 | with the extra tasks | added wall | added machine CPU "
            "| added controller CPU (per task and host) |", "|---|---|---|---|---|---|"]
    for n in sizes:
        b, e, d = doc["base"][n], doc["extra"][n], doc["added"][n]
        per = d["controller_ms_per_task_and_host"]
        rows.append(f"| {n} | {b['cold_s']['median_s']} s {tuple(b['cold_s']['samples_s'])} | "
                    f"{e['cold_s']['median_s']} s {tuple(e['cold_s']['samples_s'])} | {d['wall_s']} s | "
                    f"{d['machine_cpu_s']} s | {d['controller_cpu_s']} s ({per} ms) |")
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        ratio = [round(doc[v][hi]["cold_s"]["median_s"] / doc[v][lo]["cold_s"]["median_s"], 2)
                 for v in ("base", "extra")]
        rows.append(f"\n{hi} : {lo} hosts: {ratio[0]}× without, {ratio[1]}× with {doc['tasks']} "
                    "extra tasks per host.")
    head = (f"Extra controller-only tasks in 04 ({doc['tasks']} `set_fact` per host, before the wait "
            f"for Ray's install), at {doc['commit']}, {doc['repeat']} runs per size:\n\n")
    return head + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100, choices=range(1, 501), metavar="1..500")
    parser.add_argument("--repeat", type=int, default=2, choices=range(1, 6))
    parser.add_argument("--hosts", type=int, action="append", choices=range(1, 13))
    args = parser.parse_args()
    hosts = sorted(set(args.hosts or [1, 6]))
    with tempfile.TemporaryDirectory(prefix="extra-tasks-") as tmp:
        base_root, extra_root = Path(tmp, "base"), Path(tmp, "extra")
        commit = checkout(base_root, extra_root)
        add_tasks(extra_root, args.tasks)
        base = growth(base_root, hosts, args.repeat)
        extra = growth(extra_root, hosts, args.repeat)
    doc = {"commit": commit, "tasks": args.tasks, "repeat": args.repeat, "base": base, "extra": extra,
           "added": compare(base, extra, args.tasks)}
    print(write_report("extra_tasks", doc, render))


if __name__ == "__main__":
    main()
