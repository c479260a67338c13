"""What one Ansible task costs per host on 1 sandbox host and on 6, by kind of task.

deploy_growth.py's 6 : 1 ratio is the sum of many tasks; this measures its parts on one fresh
6-host sandbox, with the project's ansible.cfg (pipelining, ControlPersist, 25 forks, linear
plays) and the sandbox inventory's become: a playbook of K tasks of one kind, limited to the
head and then run on all 6, against the same playbook with no such tasks. Kinds: a `set_fact`
(work on the controller only), a task skipped by its `when`, and a module run on the host
(`command: /bin/true`). A warm-up run opens the shared SSH connections (ControlPersist) before
anything is measured, and every playbook starts with a ping, so opening connections is in none
of the per-task figures. Runs alternate between 1 and 6 hosts, each on a quiet machine.

    python benchmarks/task_scaling.py [--repeat 2]

Writes benchmarks/results/task_scaling.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import common
from ansible.release import __version__ as ansible_core_version
from common import BIN, PROJECT, CpuMeter, settle, write_report
from launcher_vs_raydeploy import Hosts

NAME = "task_scaling"
SANDBOX = "bench-ts"
HOSTS = 6
# Task count per kind: the baseline playbook's runs spread by about 0.3 s on 1 host and 0.6 s
# on 6, so K tasks carry an error of about that ÷ K per task.
KINDS = {
    "set_fact": (100, "ansible.builtin.set_fact:\n        x{i}: \"{{{{ {i} + 1 }}}}\""),
    "skipped": (200, "ansible.builtin.debug:\n        msg: never\n      when: false"),
    "module": (20, "ansible.builtin.command: /bin/true\n      changed_when: false"),
}
WHAT = {"set_fact": "`set_fact` (controller only)", "skipped": "skipped by `when`",
        "module": "module run on the host (`command`)"}


def playbook(workdir: Path, kind: str | None) -> Path:
    count, body = KINDS[kind] if kind else (0, "")
    tasks = ["    - name: Open the connections.\n      ansible.builtin.ping:"]
    tasks += [f"    - name: t{i}\n      {body.format(i=i)}" for i in range(count)]
    path = workdir / f"{kind or 'baseline'}.yml"
    path.write_text("- hosts: ray_cluster\n  gather_facts: false\n  tasks:\n" + "\n".join(tasks) + "\n")
    return path


def run(hosts: Hosts, path: Path, limit: str) -> dict:
    argv = [str(BIN / "ansible-playbook"), "-i", str(hosts.inventory), str(path), "--limit", limit]
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0"}
    quiet = settle()
    with CpuMeter(hosts.sandbox, HOSTS) as cpu:
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT, env=env, timeout=600)
        wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{path.name} on {limit} exited {proc.returncode}:\n{proc.stdout[-2000:]}")
    return {"wall_s": round(wall, 2), "cpu_s": cpu.result, "settle": quiet}


def per_task(runs: list[dict], base: list[dict], count: int) -> dict:
    """Median per-task wall and machine CPU, in ms, over the playbook without such tasks."""
    def over_base(key) -> float:
        return (statistics.median(key(r) for r in runs) - statistics.median(key(r) for r in base)) / count
    wall = over_base(lambda r: r["wall_s"])
    cpu = over_base(lambda r: r["cpu_s"]["machine"])
    ctl = over_base(lambda r: r["cpu_s"]["controller"])
    # Wall times are kept to 0.01 s, a tenth of a millisecond per task at K = 100; CpuMeter rounds
    # each run's CPU to 0.1 s, so whole milliseconds are all a per-task CPU figure carries.
    return {"wall_ms": round(wall * 1000, 1), "machine_cpu_ms": round(cpu * 1000),
            "controller_cpu_ms": round(ctl * 1000)}


def markdown(doc: dict) -> str:
    m = doc["machine"]
    lines = [f"# What one task costs on 1 host and on {HOSTS} ({doc['measured_at'][:10]})", "",
             f"Written by `benchmarks/task_scaling.py`: {m['cpus']} cores ({m['cpu_model']}), one fresh "
             f"{HOSTS}-host sandbox, ansible-core {doc['ansible_core']}, raydeploy {doc['commit']}, "
             f"{doc['repeat']} runs per playbook and host count, medians. Per task: the playbook's time "
             "and CPU over the same playbook without those tasks, divided by their number. Machine CPU "
             "is all hosts' together; the controller's is ansible-playbook's own and its children's, "
             "without the SSH connections it shares (ControlPersist), whose CPU is only in the machine's.",
             "",
             f"| task | count | 1 host: wall per task | machine CPU | {HOSTS} hosts: wall per task "
             f"| machine CPU | of it ansible-playbook | wall {HOSTS} : 1 |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, row in doc["kinds"].items():
        one, six = row["1"], row[str(HOSTS)]
        ratio = six["wall_ms"] / one["wall_ms"] if one["wall_ms"] > 0 else float("nan")
        lines.append(f"| {WHAT[kind]} | {row['count']} | {one['wall_ms']} ms | {one['machine_cpu_ms']} ms "
                     f"| {six['wall_ms']} ms | {six['machine_cpu_ms']} ms | {six['controller_cpu_ms']} ms "
                     f"| {ratio:.2f}× |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per playbook and host count (default 2)")
    args = parser.parse_args()
    started = dt.datetime.now().isoformat(timespec="seconds")
    workdir = Path(tempfile.mkdtemp(prefix="task-scaling-"))
    books = {kind: playbook(workdir, kind) for kind in [None, *KINDS]}
    try:
        hosts = Hosts(SANDBOX, HOSTS)
        head = "head_nodes"
        run(hosts, books[None], "ray_cluster")  # warm-up: opens the shared connections
        results: dict = {kind or "baseline": {"1": [], str(HOSTS): []} for kind in books}
        for _ in range(args.repeat):
            for kind, path in books.items():
                for limit, key in ((head, "1"), ("ray_cluster", str(HOSTS))):
                    r = run(hosts, path, limit)
                    results[kind or "baseline"][key].append(r)
                    print(f"{kind or 'baseline'} on {key}: {r['wall_s']} s, cpu {r['cpu_s']}", flush=True)
    finally:
        common.remove_sandboxes([SANDBOX], wait_if_removed=False)
        shutil.rmtree(workdir, ignore_errors=True)
    base = results.pop("baseline")
    kinds = {kind: {"count": KINDS[kind][0],
                    **{k: per_task(results[kind][k], base[k], KINDS[kind][0]) for k in ("1", str(HOSTS))}}
             for kind in KINDS}
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                            cwd=PROJECT).stdout.strip()
    doc = {"measured_at": dt.datetime.now().isoformat(timespec="seconds"), "started_at": started,
           "commit": commit, "ansible_core": ansible_core_version, "repeat": args.repeat,
           "sandbox_up_s": hosts.up_s, "settled": hosts.settled, "baseline": base, "runs": results,
           "kinds": kinds}
    print(write_report(NAME, doc, markdown))


if __name__ == "__main__":
    main()
