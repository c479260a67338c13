"""Ray's cluster launcher (`ray up`, local provider) against raydeploy's checkpoint 04.

Both on fresh sandbox hosts (native mode, the same Ray wheelhouse), for each N:

- `ray up`: cold run (time of head ALIVE, first worker ALIVE, N of N ALIVE, capped), a second
  `ray up -y` with nothing changed, a third with `--no-restart`, then `ray down -y` and the
  Ray processes left on each host (right away, and once Ray's own timeouts have had a chance).
- raydeploy: checkpoint 04 alone on fresh hosts (the same three times, polled the same way),
  04 again with nothing changed, then checkpoint 03 with ray_cleanup_scope=all and the same
  process count.

Run: .venv/bin/python benchmarks/launcher_vs_raydeploy.py --hosts 3 [--hosts 6] [--cap 300] [--keep]
Results (merged per N): benchmarks/results/launcher_vs_raydeploy.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import common
import yaml
from common import BIN, PROJECT, RESULTS, settle, write_report
from ray._common.utils import get_default_ray_temp_dir

from raydeploy.sandbox.hosts import Sandbox
from raydeploy.settings import ray_version, role_defaults

NAME = "launcher_vs_raydeploy"
TEMPLATE = PROJECT / "benchmarks" / "launcher" / "local-cluster.yaml"
RAY_VERSION = ray_version()
# The wheels checkpoint 04 keeps on the controller for the sandbox hosts' Python (Debian 12: 3.11).
WHEELHOUSE = (Path(role_defaults("ray_common")["ray_wheelhouse_controller_dir"]).expanduser()
              / f"ray-{RAY_VERSION}-cp311")
PLAYBOOK_04 = "playbooks/04-ray-deployment.yml"
PLAYBOOK_03 = "playbooks/03-cleanup-existing.yml"
EARLIER = ["playbooks/01-prerequisites-check.yml", "playbooks/02-docker-installation.yml", PLAYBOOK_03]
# Every Ray process kind (GCS, raylet, dashboard and its modules, agents, log monitor,
# autoscaler, workers, `ray start --block`); each word bracketed so the remote shell running
# pgrep, whose command line holds the pattern, does not match it.
RAY_PROCS = (r"[r]aylet|[g]cs_server|[r]ay/dashboard|[r]ay-dashboard-|[r]ay::|[r]ay/_private/"
             r"|[r]ay/autoscaler|[d]efault_worker|bin/[r]ay start")
POLL_S = 1.0
# Sandboxes measured and stopped, removed together at the end: removing one just before the next
# measurement would slow that measurement's file creation (common.RECENT_DELETE_WINDOW_S).
RETIRED: list[str] = []


def load() -> float:
    return round(os.getloadavg()[0], 2)


def log(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S} load {load():.1f}] {msg}", flush=True)


class Hosts:
    """A fresh sandbox and what its inventory says."""

    def __init__(self, name: str, n: int):
        self.name, self.n = name, n
        raydeploy = str(BIN / "raydeploy")
        # A leftover of an interrupted run under this name; removing it also forgets its hosts'
        # cached facts, so new hosts start cold.
        common.remove_sandboxes([name], wait_if_removed=True)
        started = time.monotonic()
        proc = subprocess.run([raydeploy, "sandbox", "up", "--hosts", str(n), "--name", name],
                              capture_output=True, text=True, timeout=900, cwd=PROJECT)
        if proc.returncode != 0:
            raise SystemExit(f"sandbox up {name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        self.up_s = round(time.monotonic() - started, 1)
        # Each measurement starts on a quiet machine, whatever ran before it.
        self.settled = settle()
        log(f"  settled after {self.settled['waited_s']} s (CPUs {self.settled['cpu_busy']:.0%} busy)")
        self.sandbox = Sandbox(name)
        self.inventory = self.sandbox.inventory_path
        inv = yaml.safe_load(self.inventory.read_text())
        groups = inv["all"]["children"]["ray_cluster"]["children"]
        self.head = next(iter(groups["head_nodes"]["hosts"].values()))["ansible_host"]
        self.workers = [h["ansible_host"] for h in (groups["worker_nodes"]["hosts"] or {}).values()]
        self.ips = [self.head, *self.workers]
        self.ssh_user = inv["all"]["vars"]["ansible_user"]
        self.key = inv["all"]["vars"]["ansible_ssh_private_key_file"]
        self.token_path = self.inventory.parent / ".secrets" / "ray_auth_token"

    def ssh(self, ip: str, command: str) -> str:
        proc = subprocess.run(self.sandbox.ssh_command(ip, command), capture_output=True,
                              text=True, timeout=30)
        return proc.stdout.strip()

    def ray_processes(self) -> dict[str, int]:
        counts = {}
        for ip in self.ips:
            out = self.ssh(ip, f"pgrep -fc '{RAY_PROCS}'; true")
            counts[ip] = int(out) if out.isdigit() else -1
        return counts

    def raylet_pids(self) -> dict[str, str]:
        return {ip: self.ssh(ip, "pgrep -f '[r]aylet/raylet ' | tr '\\n' ' '").strip() for ip in self.ips}

    def down(self) -> None:
        """Stops the hosts; main() removes them with the others at the end."""
        common.stop_sandbox(self.name)
        RETIRED.append(self.name)


def dashboard_nodes(hosts: Hosts, token: str | None) -> list[dict] | None:
    """ALIVE nodes from the head's dashboard, or None if it does not answer."""
    request = urllib.request.Request(f"http://{hosts.head}:8265/nodes?view=summary")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 - http to the head
            summary = json.load(response)["data"]["summary"]
    except Exception:
        return None
    return [s["raylet"] for s in summary if s.get("raylet", {}).get("state") == "ALIVE"]


def token_of(hosts: Hosts, use_token: bool) -> str | None:
    if use_token and hosts.token_path.exists():
        return hosts.token_path.read_text().strip() or None
    return None


def node_ids(hosts: Hosts, use_token: bool) -> dict[str, str]:
    nodes = dashboard_nodes(hosts, token_of(hosts, use_token)) or []
    return {n["nodeManagerAddress"]: n["nodeId"] for n in nodes}


class Poller(threading.Thread):
    """Polls the head's dashboard once a second from `started` until N of N are ALIVE or cap."""

    def __init__(self, hosts: Hosts, started: float, cap: float, use_token: bool):
        super().__init__(daemon=True)
        self.hosts, self.started, self.cap, self.use_token = hosts, started, cap, use_token
        self.head_s = self.first_worker_s = self.all_s = None
        self.max_alive = 0
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = self.started + self.cap
        while time.monotonic() < deadline and not self.stop.is_set():
            nodes = dashboard_nodes(self.hosts, token_of(self.hosts, self.use_token))
            now = round(time.monotonic() - self.started, 1)
            if nodes is not None:
                ips = {n["nodeManagerAddress"] for n in nodes} & set(self.hosts.ips)
                self.max_alive = max(self.max_alive, len(ips))
                if self.head_s is None and self.hosts.head in ips:
                    self.head_s = now
                    log(f"  head ALIVE at {now} s")
                if self.first_worker_s is None and ips - {self.hosts.head}:
                    self.first_worker_s = now
                    log(f"  first worker ALIVE at {now} s")
                if len(ips) == self.hosts.n:
                    self.all_s = now
                    log(f"  {self.hosts.n} of {self.hosts.n} ALIVE at {now} s")
                    return
            self.stop.wait(POLL_S)

    def result(self) -> dict:
        return {"head_alive_s": self.head_s, "first_worker_alive_s": self.first_worker_s,
                "all_alive_s": self.all_s, "alive_at_end": self.max_alive, "of": self.hosts.n}


def run_polled(argv: list[str], hosts: Hosts, cap: float, use_token: bool, env: dict, logfile: Path,
               after_exit: bool = False) -> dict:
    """Runs argv and polls the dashboard (times from the command's start, at most cap).

    A cold run is polled while the command runs, and until N of N or the cap. A re-run starts
    with every node ALIVE, so it is polled only once the command is done (a restarted head
    has a new GCS, in which only the nodes that joined it again are ALIVE).
    """
    load_start = load()
    started = time.monotonic()
    poller = Poller(hosts, started, cap, use_token)
    if not after_exit:
        poller.start()
    with logfile.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT, env=env)
        try:
            rc = proc.wait(timeout=cap + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait(timeout=30)
    duration = round(time.monotonic() - started, 1)
    log(f"  {Path(argv[0]).name} exited {rc} after {duration} s")
    if after_exit:
        poller.start()
    poller.join(timeout=cap + 10)
    poller.stop.set()
    return {"command_s": duration, "exit_code": rc, **poller.result(),
            "load_start": load_start, "load_end": load(), "log": str(logfile)}


def restart_check(before_ids: dict, before_pids: dict, hosts: Hosts, use_token: bool) -> dict:
    ids, pids = node_ids(hosts, use_token), hosts.raylet_pids()
    return {"node_ids_changed": sorted(ip for ip in hosts.ips if before_ids.get(ip) != ids.get(ip)),
            "raylet_pids_changed": sorted(ip for ip in hosts.ips if before_pids.get(ip) != pids.get(ip)),
            "alive_after": len(ids)}


def leftovers(hosts: Hosts, settle_s: float) -> dict:
    """Ray processes per host right after teardown, and when they are gone (or settle_s)."""
    now = hosts.ray_processes()
    started, later = time.monotonic(), now
    while any(later.values()) and time.monotonic() - started < settle_s:
        time.sleep(5)
        later = hosts.ray_processes()
    return {"ray_processes_right_after": now, "ray_processes_later": later,
            "later_after_s": round(time.monotonic() - started, 1)}


def bench_ray_up(n: int, cap: float, settle_s: float, autoscaler: str, workdir: Path) -> dict:
    hosts = Hosts(f"bench-rl{n}", n)
    log(f"ray up: sandbox bench-rl{n} up in {hosts.up_s} s: head {hosts.head}, workers {hosts.workers}")
    config = yaml.safe_load(TEMPLATE.read_text().replace("RAY_VERSION", RAY_VERSION))
    config["cluster_name"] = hosts.name
    config["provider"].update(head_ip=hosts.head, worker_ips=hosts.workers)
    config["auth"].update(ssh_user=hosts.ssh_user, ssh_private_key=hosts.key)
    config["min_workers"] = config["max_workers"] = len(hosts.workers)
    config["file_mounts"] = {f"/home/{hosts.ssh_user}/wheelhouse": f"{WHEELHOUSE}/"}
    cfg = workdir / "cluster.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    # The local provider keeps which IPs run on the controller: a fresh cluster starts from none.
    for stale in Path(get_default_ray_temp_dir()).glob(f"cluster-{hosts.name}.*"):
        stale.unlink()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_UP_enable_autoscaler_v2": "1" if autoscaler == "v2" else "0"}
    ray = str(BIN / "ray")
    out: dict = {"sandbox": hosts.name, "sandbox_up_s": hosts.up_s, "autoscaler": autoscaler,
                 "config": str(cfg), "settled": hosts.settled}
    try:
        log("ray up, cold")
        out["cold"] = run_polled([ray, "up", "-y", "--no-config-cache", str(cfg)], hosts, cap, False,
                                 env, workdir / "ray-up-cold.log")
        if out["cold"]["all_alive_s"] is None:
            out["cold"]["monitor_log_tail"] = hosts.ssh(
                hosts.head, "tail -n 40 /tmp/ray/session_latest/logs/monitor.log")
        for label, extra in (("again", []), ("again_no_restart", ["--no-restart"])):
            ids, pids = node_ids(hosts, False), hosts.raylet_pids()
            log(f"ray up {' '.join(extra)} with nothing changed")
            run = run_polled([ray, "up", "-y", "--no-config-cache", *extra, str(cfg)], hosts, cap, False,
                             env, workdir / f"ray-up-{label}.log", after_exit=True)
            out[label] = {**run, **restart_check(ids, pids, hosts, False)}
        log("ray down")
        load_start, started = load(), time.monotonic()
        proc = subprocess.run([ray, "down", "-y", str(cfg)], capture_output=True,
                              text=True, timeout=600, env=env, cwd=PROJECT)
        (workdir / "ray-down.log").write_text(proc.stdout + proc.stderr)
        out["down"] = {"command_s": round(time.monotonic() - started, 1), "exit_code": proc.returncode,
                       "load_start": load_start, **leftovers(hosts, settle_s), "load_end": load()}
        log(f"  left: {out['down']['ray_processes_right_after']} -> {out['down']['ray_processes_later']}")
    finally:
        out["hosts"] = hosts.ips
        if not ARGS.keep:
            hosts.down()
    return out


def recap_changed(logfile: Path) -> int | None:
    counts = [int(c) for c in re.findall(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)", logfile.read_text(), re.M)]
    return sum(counts) if counts else None


def playbook(path: str, hosts: Hosts, extra: list[str], logfile: Path, cap: float, poll: bool,
             after_exit: bool = False, env: dict[str, str] | None = None) -> dict:
    argv = [str(BIN / "ansible-playbook"), "-i", str(hosts.inventory), path, *extra]
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}
    if poll:
        run = run_polled(argv, hosts, cap, True, env, logfile, after_exit=after_exit)
    else:
        load_start, started = load(), time.monotonic()
        with logfile.open("w") as f:
            rc = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, cwd=PROJECT, env=env,
                                timeout=cap + 600).returncode
        run = {"command_s": round(time.monotonic() - started, 1), "exit_code": rc,
               "load_start": load_start, "load_end": load(), "log": str(logfile)}
        log(f"  {Path(path).name} exited {rc} after {run['command_s']} s")
    run["changed"] = recap_changed(logfile)
    return run


def bench_raydeploy(n: int, cap: float, settle_s: float, workdir: Path) -> dict:
    hosts = Hosts(f"bench-rd{n}", n)
    log(f"raydeploy: sandbox bench-rd{n} up in {hosts.up_s} s: head {hosts.head}, workers {hosts.workers}")
    out: dict = {"sandbox": hosts.name, "sandbox_up_s": hosts.up_s, "before_04": [], "settled": hosts.settled}
    confirm = ["-e", "raydeploy_cleanup_confirmed=true"]
    # The first cluster of its platform: no venv in the controller's cache (ray_venv_artifact),
    # so one host installs Ray with uv and the others unpack what it built.
    venvs = workdir / "venvs"
    shutil.rmtree(venvs, ignore_errors=True)
    cold = ["-e", f"ray_venv_artifact_controller_dir={venvs}"]
    try:
        log("checkpoint 04 alone on fresh hosts, nothing in the controller's venv cache")
        out["cold"] = playbook(PLAYBOOK_04, hosts, cold, workdir / "04-cold.log", cap, True)
        if out["cold"]["exit_code"] != 0:
            # 04 alone did not work: fresh hosts again, 01-03 first, then the cold 04.
            log("04 alone failed; fresh hosts, 01-03, then 04")
            out["cold_04_alone_failed"] = out.pop("cold")
            hosts.down()
            hosts = Hosts(f"bench-rd{n}b", n)
            for path in EARLIER:
                run = playbook(path, hosts, confirm, workdir / f"{Path(path).stem}.log", cap, False)
                out["before_04"].append({"playbook": path, **run})
            shutil.rmtree(venvs, ignore_errors=True)
            out["cold"] = playbook(PLAYBOOK_04, hosts, cold, workdir / "04-cold.log", cap, True)
        ids, pids = node_ids(hosts, True), hosts.raylet_pids()
        log("checkpoint 04 again with nothing changed")
        again = playbook(PLAYBOOK_04, hosts, cold, workdir / "04-again.log", cap, True, after_exit=True)
        out["again"] = {**again, **restart_check(ids, pids, hosts, True)}
        log("checkpoint 03, ray_cleanup_scope=all")
        down = playbook(PLAYBOOK_03, hosts, [*confirm, "-e", "ray_cleanup_scope=all"],
                        workdir / "03-all.log", cap, False)
        out["down"] = {**down, **leftovers(hosts, settle_s), "load_end": load()}
        log(f"  left: {out['down']['ray_processes_right_after']} -> {out['down']['ray_processes_later']}")
        # The next cluster of the same platform: fresh hosts unpack the cached venv. 03 has just
        # deleted every host's venv, so first wait out the file system's recently-deleted window.
        hosts.down()
        log(f"waiting {common.RECENT_DELETE_WINDOW_S} s after 03's deletions (common.RECENT_DELETE_WINDOW_S)")
        common.wait_out_recent_deletes()
        hosts = Hosts(f"bench-rd{n}c", n)
        log("checkpoint 04 alone on fresh hosts, the venv cached on the controller")
        out["cold_cached"] = {**playbook(PLAYBOOK_04, hosts, cold, workdir / "04-cold-cached.log", cap, True),
                              "settled": hosts.settled}
    finally:
        out["hosts"] = hosts.ips
        if not ARGS.keep:
            hosts.down()
    return out


# ---- report ---------------------------------------------------------------------------------

def _s(value) -> str:
    return "–" if value is None else f"{value} s"


def _load(run: dict) -> str:
    return f" (load {run['load_start']:.1f}→{run['load_end']:.1f})"


def rows(rl: dict, rd: dict) -> list[tuple[str, str, str]]:
    n = rl["cold"]["of"]

    def joined(run: dict) -> str:
        if run["all_alive_s"] is not None:
            return f"{run['all_alive_s']} s"
        return f"not all: {run['alive_at_end']} of {run['of']} after the cap"

    def restarted(run: dict) -> str:
        ids, pids = run["node_ids_changed"], run["raylet_pids_changed"]
        if not ids and not pids:
            return "no"
        return f"yes: node ids changed on {len(ids)}, raylets on {len(pids)} of {n} hosts"

    def left(down: dict) -> str:
        now, later = down["ray_processes_right_after"], down["ray_processes_later"]
        text = ", ".join(str(now[ip]) for ip in now)
        if later != now:
            text += f" → {', '.join(str(later[ip]) for ip in later)} after {down['later_after_s']} s more"
        return text

    rl_c, rd_c = rl["cold"], rd["cold"]
    before = ", ".join(Path(b["playbook"]).stem for b in rd.get("before_04", [])) or "nothing"
    return [
        ("cold: command duration", f"`ray up` returned after {_s(rl_c['command_s'])}" + _load(rl_c),
         f"04 ({before} before it) in {_s(rd_c['command_s'])}, exit {rd_c['exit_code']}" + _load(rd_c)),
        ("cold: head ALIVE", _s(rl_c["head_alive_s"]), _s(rd_c["head_alive_s"])),
        ("cold: first worker ALIVE", _s(rl_c["first_worker_alive_s"]), _s(rd_c["first_worker_alive_s"])),
        (f"cold: {n} of {n} ALIVE", joined(rl_c), joined(rd_c)),
    ] + ([
        ("cold, next cluster (raydeploy: venv cached on the controller): first worker ALIVE",
         _s(rl_c["first_worker_alive_s"]), _s(rd["cold_cached"]["first_worker_alive_s"])
         + _load(rd["cold_cached"])),
        (f"cold, next cluster: {n} of {n} ALIVE", joined(rl_c), joined(rd["cold_cached"])),
    ] if "cold_cached" in rd else []) + [
        ("re-run, nothing changed: duration",
         f"`ray up -y` {_s(rl['again']['command_s'])}, {n}/{n} ALIVE again at "
         f"{_s(rl['again']['all_alive_s'])}" + _load(rl["again"]),
         f"{_s(rd['again']['command_s'])}, changed={rd['again']['changed']}" + _load(rd["again"])),
        ("re-run: Ray restarted?", restarted(rl["again"]), restarted(rd["again"])),
        ("re-run with `--no-restart` (ray up only)",
         f"{_s(rl['again_no_restart']['command_s'])}, restarted: {restarted(rl['again_no_restart'])}"
         + _load(rl["again_no_restart"]), "–"),
        ("teardown: duration", f"`ray down -y` {_s(rl['down']['command_s'])}" + _load(rl["down"]),
         f"03 scope=all {_s(rd['down']['command_s'])}" + _load(rd["down"])),
        ("teardown: Ray processes left per host (head first)", left(rl["down"]), left(rd["down"])),
    ]


def machine_line(m: dict) -> str:
    line = f"{m['cpus']} cores, {m['memory_gib']} GiB, kernel {m['kernel']}, Python {m['python']}"
    if "cpu_model" in m:
        line += f", {m['cpu_model']}, one core hashes 256 MiB (sha256) in {m['sha256_256mib_s']} s"
    return line


def markdown(doc: dict) -> str:
    lines = [f"# `ray up` (local provider) vs raydeploy checkpoint 04, Ray {doc['ray_version']}",
             "", f"Written by `benchmarks/{NAME}.py`. Fresh sandbox hosts (Docker), native mode, "
             f"the same wheelhouse. Each fresh sandbox waits for a quiet machine (CPUs under 15% busy "
             f"over 3 s, at most 180 s) before its first measurement; load = 1-min load average at the "
             f"start and end of each measurement (it lags: a high start means the last run just ended).", ""]
    for n, run in sorted(doc["runs"].items(), key=lambda kv: int(kv[0])):
        rl, rd = run["ray_up"], run["raydeploy"]
        lines += [f"## N = {n} ({run['date']}, cap {run['cap_s']} s, `ray up` autoscaler {rl['autoscaler']})",
                  "", f"`ray up` side started {rl.get('started', '?')}, raydeploy side started "
                  f"{rd.get('started', '?')} (each on its own fresh sandbox). Machine: "
                  f"{machine_line(run.get('machine') or doc['machine'])}.", "",
                  f"| measure | `ray up` (N={n}) | raydeploy (N={n}) |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in rows(rl, rd)]
        lines.append("")
    lines.append(f"Ray processes are counted with `pgrep -fc '{RAY_PROCS}'`.")
    return "\n".join(lines) + "\n"


def main() -> None:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, action="append", help="N (repeatable); default 3")
    parser.add_argument("--cap", type=float, default=300, help="seconds to wait for N of N ALIVE")
    parser.add_argument("--settle", type=float, default=90,
                        help="seconds to wait for Ray processes to go after a teardown")
    parser.add_argument("--autoscaler", choices=["v1", "v2"], default="v1",
                        help="ray up's autoscaler (v2 is Ray's default since 2.50 but does not "
                             "support the local provider: it never launches the last worker)")
    parser.add_argument("--only", choices=["ray-up", "raydeploy"],
                        help="run one side only and replace that side of N's earlier result")
    parser.add_argument("--keep", action="store_true", help="leave the sandboxes up")
    ARGS = parser.parse_args()
    if not shutil.which("rsync"):
        raise SystemExit("ray up needs rsync on the controller: apt-get install -y rsync")
    path = RESULTS / f"{NAME}.json"
    doc = json.loads(path.read_text()) if path.exists() else {}
    runs = doc.get("runs", {})
    # Each N keeps the machine it was measured on: the file's own machine is the newest run's.
    for run in runs.values():
        run.setdefault("machine", doc.get("machine"))
    try:
        for n in ARGS.hosts or [3]:
            bench(n, runs)
    finally:
        if not ARGS.keep:
            common.remove_sandboxes(RETIRED, wait_if_removed=False)


def bench(n: int, runs: dict) -> None:
    """Both sides for N hosts; merges N's result into runs and rewrites the report."""
    if not 2 <= n <= 32:
        raise SystemExit("--hosts must be 2..32")
    workdir = Path(tempfile.gettempdir()) / "raydeploy-bench-launcher" / str(n)
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"N = {n}, cap {ARGS.cap} s; logs in {workdir}")
    run = {"date": dt.date.today().isoformat(), "cap_s": ARGS.cap, "node": platform.node(),
           "machine": common.machine()}
    if ARGS.only:
        run = {**runs.get(str(n), {}), **run}
    if ARGS.only in (None, "ray-up"):
        started = dt.datetime.now().isoformat(timespec="seconds")
        result = bench_ray_up(n, ARGS.cap, ARGS.settle, ARGS.autoscaler, workdir)
        run["ray_up"] = {"started": started, **result}
    if ARGS.only in (None, "raydeploy"):
        started = dt.datetime.now().isoformat(timespec="seconds")
        run["raydeploy"] = {"started": started, **bench_raydeploy(n, ARGS.cap, ARGS.settle, workdir)}
    print(json.dumps(run, indent=2))
    if {"ray_up", "raydeploy"} <= run.keys():
        runs[str(n)] = run
        print(write_report(NAME, {"ray_version": RAY_VERSION, "runs": runs}, markdown))


ARGS: argparse.Namespace

if __name__ == "__main__":
    sys.exit(main())
