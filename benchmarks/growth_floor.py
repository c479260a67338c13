"""Checkpoint 04's way of putting Ray on N sandbox hosts with nothing else, and without
Ansible: the floor under deploy_growth.py's growth from 1 host to 6.

Done by hand over the same ssh, with 04's uv command and ports: copy the wheelhouse and uv to
the head and build the venv there; for N > 1 pack it, bring it to the controller and stream it
into every worker, which unpacks it; start Ray on the head once its venv is built and on the
workers once all have unpacked (04's linear plays do the same); wait until N nodes are ALIVE.
No checks, accounts, units, supervisor, token or cache. The sandbox hosts share the
controller's cores, so what the workers add here is work a deploy that copies the whole venv to
each host cannot avoid on this machine.

    python benchmarks/growth_floor.py [--hosts 1 --hosts 6] [--repeat 1]

Writes benchmarks/results/growth_floor.json and .md.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import datetime as dt
import platform
import shlex
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import common
import yaml
from common import PROJECT, CpuMeter, write_report
from launcher_vs_raydeploy import WHEELHOUSE, Hosts, dashboard_nodes

from raydeploy.settings import ray_ports, ray_version, role_defaults

NAME = "growth_floor"
DEFAULTS = role_defaults("ray_common")
ROLE_VARS = yaml.safe_load((PROJECT / "roles" / "ray_common" / "vars" / "main.yml").read_text())
VENV = DEFAULTS["ray_venv_dir"]
WHEELS_HOST, UV_HOST = ROLE_VARS["_ray_wheelhouse_host_dir"], ROLE_VARS["_ray_uv_host_path"]
# The controller keeps uv for the hosts' architecture; the sandbox hosts share the controller's.
UV = (Path(DEFAULTS["ray_wheelhouse_controller_dir"]).expanduser().parent
      / f"uv-{DEFAULTS['ray_uv_version']}-{platform.machine()}" / "uv")
WHEEL_TAR = Path(f"{WHEELHOUSE}.tar")
ALIVE_CAP_S = 180.0
RETIRED: list[str] = []


def start_args(head: str, ip: str) -> str:
    """The ports checkpoint 04 gives `ray start` (roles/ray_common/tasks/common-args.yml)."""
    p = ray_ports()
    shared = (f"--node-ip-address={ip} --node-manager-port={p['node_manager']} "
              f"--object-manager-port={p['object_manager']} "
              f"--runtime-env-agent-port={p['runtime_env_agent']} "
              f"--dashboard-agent-grpc-port={p['dashboard_agent_grpc']} "
              f"--dashboard-agent-listen-port={p['dashboard_agent_http']} "
              f"--metrics-export-port={p['metrics_export']} "
              f"--min-worker-port={p['min_worker']} --max-worker-port={p['max_worker']} "
              f"--temp-dir={DEFAULTS['ray_temp_dir']} --disable-usage-stats")
    if ip == head:
        return (f"--head --port={p['gcs']} --dashboard-host={ip} --dashboard-port={p['dashboard']} "
                f"--ray-client-server-port={p['client']} {shared}")
    return f"--address={head}:{p['gcs']} {shared}"


class Run:
    def __init__(self, hosts: Hosts):
        self.hosts, self.sandbox, self.ips, self.head = hosts, hosts.sandbox, hosts.ips, hosts.head
        # Shared connections, as Ansible's ControlPersist gives each host.
        self.control = tempfile.mkdtemp(prefix="floor-ssh-")
        self.marks: dict[str, list[float]] = {}

    def ssh(self, ip: str, script: str, stdin: Path | None = None, stdout: Path | None = None) -> None:
        argv = self._ssh(ip, "sudo", "-n", "sh", "-ec", shlex.quote(script))
        with contextlib.ExitStack() as files:
            fin = files.enter_context(stdin.open("rb")) if stdin else subprocess.DEVNULL
            fout = files.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
            proc = subprocess.run(argv, stdin=fin, stdout=fout, stderr=subprocess.PIPE, timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"{ip}: {script[:80]}... exited {proc.returncode}: "
                             f"{proc.stderr.decode()[-800:]}")

    def _ssh(self, ip: str, *remote: str, options: tuple[str, ...] = ()) -> list[str]:
        argv = self.sandbox.ssh_command(ip, *remote)
        argv[1:1] = ["-o", "ControlMaster=auto", "-o", f"ControlPath={self.control}/%C",
                     "-o", "ControlPersist=60", *options]
        return argv

    def mark(self, name: str, t0: float) -> None:
        """Seconds since t0 and the machine's CPU seconds since then, at the end of a phase."""
        self.marks[name] = [round(time.monotonic() - t0, 1), round(common.machine_cpu_s() - self.cpu0, 1)]

    def ray_start(self, ip: str) -> None:
        self.ssh(ip, f"RAY_USAGE_STATS_ENABLED=0 {VENV}/bin/ray start {start_args(self.head, ip)} >/dev/null")

    def unpack(self, ip: str, pack: Path) -> None:
        self.ssh(ip, f"mkdir -p {VENV} && tar -xf - -C {VENV}", stdin=pack)

    def go(self) -> dict:
        try:
            return self._go()
        finally:
            for ip in self.ips:  # the shared connections, before their sockets' directory goes
                subprocess.run(self._ssh(ip, options=("-O", "exit")), capture_output=True, timeout=30,
                               check=False)
            shutil.rmtree(self.control, ignore_errors=True)  # and the venv archive in it

    def _go(self) -> dict:
        t0, n, self.cpu0 = time.monotonic(), len(self.ips), common.machine_cpu_s()
        head, pack = self.head, Path(self.control) / "venv.tar"
        self.ssh(head, f"mkdir -p {WHEELS_HOST} && cat > {WHEELS_HOST}.tar", stdin=WHEEL_TAR)
        self.ssh(head, f"cat > {UV_HOST} && chmod 0755 {UV_HOST}", stdin=UV)
        self.mark("copied", t0)
        packs = f" && tar -cf {VENV}.tar -C {VENV} ." if n > 1 else ""
        self.ssh(head, f"tar -xf {WHEELS_HOST}.tar -C {WHEELS_HOST}"
                       f" && python3 -m venv --without-pip {VENV}"
                       f" && {UV_HOST} pip install --python {VENV}/bin/python --no-cache --compile-bytecode"
                       f" --no-progress --no-index --find-links {WHEELS_HOST}"
                       f" {shlex.quote(f'ray[default]=={ray_version()}')} >/dev/null{packs}")
        self.mark("built", t0)
        with cf.ThreadPoolExecutor(max_workers=n) as pool:
            head_started = pool.submit(self.ray_start, head)
            if n > 1:
                self.ssh(head, f"cat {VENV}.tar", stdout=pack)
                self.mark("fetched", t0)
                # As checkpoint 04's linear plays do: every worker unpacks, then every worker starts.
                list(pool.map(lambda ip: self.unpack(ip, pack), self.ips[1:]))
                self.mark("unpacked", t0)
                list(pool.map(self.ray_start, self.ips[1:]))
                self.mark("workers_started", t0)
            head_started.result()
        deadline = time.monotonic() + ALIVE_CAP_S
        alive = 0
        while time.monotonic() < deadline:
            nodes = dashboard_nodes(self.hosts, None) or []
            alive = len({x["nodeManagerAddress"] for x in nodes} & set(self.ips))
            if alive == n:
                break
            time.sleep(0.25)
        self.mark("all_alive", t0)
        return {"alive": alive, "of": n, "marks": dict(self.marks)}


def measure(hosts: int, run: int) -> dict:
    name = f"floor-{hosts}r{run}"
    RETIRED.append(name)  # removed at the end, even if it fails to come up
    cluster = Hosts(name, hosts)  # a fresh sandbox, on a quiet machine
    try:
        with CpuMeter(cluster.sandbox, hosts) as cpu:
            result = Run(cluster).go()
    finally:
        common.stop_sandbox(name)
    if result["alive"] != hosts:
        raise SystemExit(f"{name}: only {result['alive']} of {hosts} nodes ALIVE after {ALIVE_CAP_S} s")
    print(f"{hosts} host(s), run {run}: {result['marks']}  cpu {cpu.result}", flush=True)
    return {"wall_s": result["marks"]["all_alive"][0], "marks": result["marks"], "cpu_s": cpu.result,
            "settle": cluster.settled}


def markdown(doc: dict) -> str:
    sizes = doc["sizes"]
    one = sizes[min(sizes, key=int)]["wall_s"]
    cores = doc["machine"]["cpus"]
    title = f"# The floor under deploy time growth ({doc['measured_at'][:10]}, Ray {doc['ray_version']})"
    lines = [title, "",
             "Written by `benchmarks/growth_floor.py`: only the copies, the venv build, its unpacks and "
             "`ray start` over ssh, on fresh sandbox hosts; no Ansible. Phases: seconds from the start "
             "and the machine's CPU seconds so far, at the end of each.", "",
             "| hosts | until all ALIVE (runs) | ratio to 1 host | machine CPU | of it sandbox hosts "
             "| floor (CPU ÷ cores) | phases of the first run |", "|---|---|---|---|---|---|---|"]
    for n, size in sorted(sizes.items(), key=lambda kv: int(kv[0])):
        first = size["runs"][0]
        runs = ", ".join(str(r["wall_s"]) for r in size["runs"])
        phases = "; ".join(f"{k} {s} s ({cpu})" for k, (s, cpu) in first["marks"].items())
        cpu = first["cpu_s"]
        ratio = size["wall_s"] / one
        lines.append(f"| {n} | {size['wall_s']} s ({runs}) | {ratio:.2f}× | {cpu['machine']} s "
                     f"| {cpu['hosts']} s | {cpu['machine'] / cores:.1f} s | {phases} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, action="append", help="host counts (default 1 and 6)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per host count (default 1)")
    args = parser.parse_args()
    if not WHEEL_TAR.exists() or not UV.exists():
        raise SystemExit(f"no wheelhouse at {WHEEL_TAR} or uv at {UV}: run ./quickstart.sh once, "
                         "which downloads both")
    sizes = {}
    try:
        for n in args.hosts or [1, 6]:
            runs = [measure(n, r) for r in range(args.repeat)]
            sizes[str(n)] = {"wall_s": round(statistics.median(r["wall_s"] for r in runs), 1), "runs": runs}
    finally:
        common.remove_sandboxes(RETIRED, wait_if_removed=False)
    doc = {"measured_at": dt.datetime.now().isoformat(timespec="seconds"), "ray_version": ray_version(),
           "sizes": sizes}
    print(write_report(NAME, doc, markdown))


if __name__ == "__main__":
    main()
