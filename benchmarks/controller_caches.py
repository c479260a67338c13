"""What the controller's caches and the small fact subset buy a cold checkpoint 04.

Each scenario runs checkpoint 04 alone on new fresh sandbox hosts (native mode) and polls the
head's dashboard until N of N are ALIVE, as launcher_vs_raydeploy.py does:

- shipped: the wheelhouse, uv and the built venv are in the controller's cache;
- no venv cache: the first cluster of a platform (one host builds the venv, the rest unpack it);
- no venv built once: ray_venv_artifact=false, uv on every host (wheelhouse still cached);
- empty controller: no wheelhouse, no uv, no venv cached, so the controller downloads Ray's
  wheels and uv from the package index first (what a first run on a new laptop pays);
- every fact: ANSIBLE_GATHER_SUBSET=all instead of ansible.cfg's small subset (caches warm).

Run: .venv/bin/python benchmarks/controller_caches.py [--hosts 3] [--keep]
Results: benchmarks/results/controller_caches.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

from common import hosts_arguments, write_report
from launcher_vs_raydeploy import PLAYBOOK_04, RAY_VERSION, Hosts, load, log, playbook

NAME = "controller_caches"
CAP_S = 300


def scenarios(scratch: Path) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, extra playbook arguments, extra environment); the scratch dirs start empty."""
    empty_venvs = ["-e", f"ray_venv_artifact_controller_dir={scratch / 'venvs'}"]
    # uv is kept beside the wheelhouse directory (roles/ray_common/vars/main.yml), so an empty
    # wheelhouse directory means uv is downloaded again too.
    empty_wheels = ["-e", f"ray_wheelhouse_controller_dir={scratch / 'cache' / 'wheelhouse'}"]
    return [
        ("shipped (wheelhouse, uv and venv cached)", [], {}),
        ("no venv cache (first cluster of a platform)", empty_venvs, {}),
        ("venv not built once (ray_venv_artifact=false)", ["-e", "ray_venv_artifact=false"], {}),
        ("empty controller (downloads wheels and uv, builds the venv)", empty_venvs + empty_wheels, {}),
        ("every fact (ANSIBLE_GATHER_SUBSET=all)", [], {"ANSIBLE_GATHER_SUBSET": "all"}),
    ]


def run_scenario(n: int, extra: list[str], env: dict[str, str], logfile: Path) -> dict:
    hosts = Hosts(f"bench-cc{n}", n)
    try:
        run = playbook(PLAYBOOK_04, hosts, extra, logfile, CAP_S, True, env=env)
    finally:
        if not ARGS.keep:
            hosts.down()
    return {**{k: v for k, v in run.items() if k != "log"}, "settled": hosts.settled}


def markdown(doc: dict) -> str:
    m = doc["machine"]
    title = (f"What the controller's caches buy a cold checkpoint 04 "
             f"(N = {doc['hosts']}, Ray {doc['ray_version']})")
    lines = [f"# {title}",
             "", f"Written by `benchmarks/{NAME}.py` on {doc['date']}. Machine: {m['cpus']} cores, "
             f"{m['memory_gib']} GiB, Python {m['python']}. Each row: checkpoint 04 alone on new fresh "
             "sandbox hosts, native mode, polled from the head's dashboard every second; one run each, "
             "so differences of a few seconds are within the spread between runs. Each starts once "
             "the machine is quiet (the CPUs under 15% busy over 3 s, at most 180 s of waiting); "
             "load = 1-minute load average at the start and end.", "",
             "| scenario | 04 duration | first worker ALIVE | N of N ALIVE | changed | load |",
             "|---|---|---|---|---|---|"]
    for row in doc["scenarios"]:
        r = row["result"]
        ok = "" if r["exit_code"] == 0 else f" (exit {r['exit_code']})"
        lines.append(f"| {row['name']} | {r['command_s']} s{ok} | {r['first_worker_alive_s']} s | "
                     f"{r['all_alive_s']} s ({r['alive_at_end']}/{r['of']}) | {r['changed']} | "
                     f"{r['load_start']} → {r['load_end']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    global ARGS
    ARGS = hosts_arguments(__doc__.splitlines()[0], 12)
    workdir = Path(tempfile.gettempdir()) / "raydeploy-bench-caches"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    doc = {"date": dt.date.today().isoformat(), "hosts": ARGS.hosts, "ray_version": RAY_VERSION,
           "scenarios": []}
    # A warm-up so "shipped" finds the wheelhouse, uv and this platform's venv in the cache.
    log("warm-up: fill the controller's caches")
    warm = run_scenario(ARGS.hosts, [], {}, workdir / "warmup.log")
    if warm["exit_code"] != 0:
        raise SystemExit(f"warm-up 04 failed: see {workdir / 'warmup.log'}")
    for i, (name, extra, env) in enumerate(scenarios(workdir / "scratch")):
        shutil.rmtree(workdir / "scratch", ignore_errors=True)
        (workdir / "scratch").mkdir()
        log(f"{name}: load {load()}")
        result = run_scenario(ARGS.hosts, extra, env, workdir / f"{i}.log")
        log(f"  {result['command_s']} s, {result['all_alive_s']} s to N of N")
        doc["scenarios"].append({"name": name, "result": result})
    print(write_report(NAME, doc, markdown))


ARGS: argparse.Namespace

if __name__ == "__main__":
    sys.exit(main())
