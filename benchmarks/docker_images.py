"""What caching the docker-mode Ray image buys, on the controller and on the hosts.

Controller (`raydeploy image build-ray`, each under its own empty RAYDEPLOY_HOME):
- nothing cached: the image removed from the controller's engine, so it is built from the
  wheelhouse (seeded from the role's wheelhouse, so no package index is asked) and saved;
- the image in the engine but no archive: saved only;
- the archive cached: what every later run finds.
Hosts: N new fresh sandbox hosts, checkpoints 01 and 02 (Docker from Debian's packages), then
checkpoint 04 in docker mode twice, polled from the head's dashboard until N of N are ALIVE:
cold (the archive copied to and loaded on every host) and a re-run (the image is on every
host: no copy, no load, nothing restarted), with the CPU each took.

Run: .venv/bin/python benchmarks/docker_images.py [--hosts 3] [--keep]
Results: benchmarks/results/docker_images.{json,md}.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from unittest import mock

from common import BIN, PROJECT, CpuMeter, hosts_arguments, write_report
from launcher_vs_raydeploy import PLAYBOOK_04, RAY_VERSION, WHEELHOUSE, Hosts, log, playbook

from raydeploy.images.ray_image import wheelhouse_dir

NAME = "docker_images"
CAP_S = 600


def build_ray(home: Path) -> dict:
    """`raydeploy image build-ray` under RAYDEPLOY_HOME=home: seconds, tag and archive."""
    env = {**os.environ, "RAYDEPLOY_HOME": str(home)}
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "raydeploy"), "image", "build-ray", "--ray-version", RAY_VERSION],
                          capture_output=True, text=True, cwd=PROJECT, env=env, timeout=3600)
    seconds = round(time.monotonic() - started, 1)
    if proc.returncode != 0:
        raise SystemExit(f"build-ray failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    tag, archive = proc.stdout.split()[-2:]
    return {"s": seconds, "tag": tag, "archive": archive,
            "archive_mib": round(Path(archive).stat().st_size / 2**20)}


def seed_wheelhouse(home: Path) -> None:
    """The image's wheelhouse from the one the roles keep, so the build asks no package index."""
    with mock.patch.dict(os.environ, {"RAYDEPLOY_HOME": str(home)}):
        target = wheelhouse_dir(RAY_VERSION, [])
    if not any(WHEELHOUSE.glob("ray-*.whl")):
        raise SystemExit(f"{WHEELHOUSE} has no Ray wheel: run checkpoint 04 once (native mode) first")
    shutil.copytree(WHEELHOUSE, target)
    (target / ".complete").touch()


def controller(scratch: Path) -> dict:
    log("controller: image in the engine, no archive")
    saved = build_ray(scratch / "a")
    log(f"  {saved['s']} s ({saved['archive_mib']} MiB)")
    cached = build_ray(scratch / "a")
    log(f"controller: archive cached: {cached['s']} s")
    subprocess.run(["docker", "rmi", "-f", saved["tag"]], capture_output=True, check=True)
    seed_wheelhouse(scratch / "b")
    log("controller: nothing cached (build and save)")
    built = build_ray(scratch / "b")
    log(f"  {built['s']} s")
    if built["tag"] != saved["tag"]:
        raise SystemExit(f"the rebuilt image is {built['tag']}, not {saved['tag']}")
    return {"built_and_saved": built, "saved_only": saved, "archive_cached": cached}


def hosts_runs(n: int, image: dict, workdir: Path, keep: bool) -> dict:
    hosts = Hosts(f"bench-dk{n}", n)
    docker_vars = ["-e", json.dumps({"ray_install_mode": "docker", "ray_docker_image_source": "archive",
                                     "ray_docker_image": image["tag"],
                                     "ray_docker_image_archive": image["archive"],
                                     "raydeploy_cleanup_confirmed": True})]
    out: dict = {"settled": hosts.settled}
    try:
        for name, path in (("01", "playbooks/01-prerequisites-check.yml"),
                           ("02", "playbooks/02-docker-installation.yml")):
            run = playbook(path, hosts, docker_vars, workdir / f"{name}.log", CAP_S, False)
            if run["exit_code"] != 0:
                raise SystemExit(f"{name} failed: see {workdir / f'{name}.log'}")
            out[name] = {k: v for k, v in run.items() if k != "log"}
        for name in ("04 cold", "04 re-run"):
            with CpuMeter(hosts.sandbox, n) as cpu:
                run = playbook(PLAYBOOK_04, hosts, docker_vars, workdir / f"{name}.log", CAP_S, True)
            out[name] = {**{k: v for k, v in run.items() if k != "log"}, "cpu_s": cpu.result}
            log(f"  {name}: {run['command_s']} s, {run['all_alive_s']} s to N of N, changed {run['changed']}")
    finally:
        if not keep:
            hosts.down()
    return out


def markdown(doc: dict) -> str:
    m, c, h = doc["machine"], doc["controller"], doc["hosts_runs"]
    lines = [f"# Docker mode: caching the Ray image (N = {doc['hosts']}, Ray {doc['ray_version']})", "",
             f"Written by `benchmarks/{NAME}.py` on {doc['date']}. Machine: {m['cpus']} cores, "
             f"{m['memory_gib']} GiB, Python {m['python']}. One run each. Image "
             f"`{c['saved_only']['tag']}`, archive {c['saved_only']['archive_mib']} MiB.", "",
             "| controller: `raydeploy image build-ray` | seconds |", "|---|---|",
             f"| nothing cached: build and save | {c['built_and_saved']['s']} s |",
             f"| image in the engine, no archive: save | {c['saved_only']['s']} s |",
             f"| archive cached | {c['archive_cached']['s']} s |", "",
             "| hosts | 04 duration | N of N ALIVE | changed | machine CPU | sandbox hosts CPU |",
             "|---|---|---|---|---|---|"]
    for name in ("04 cold", "04 re-run"):
        r = h[name]
        lines.append(f"| {name} | {r['command_s']} s (exit {r['exit_code']}) | {r['all_alive_s']} s "
                     f"({r['alive_at_end']}/{r['of']}) | {r['changed']} | {r['cpu_s']['machine']} s | "
                     f"{r['cpu_s']['hosts']} s |")
    lines.append(f"\nBefore them: 01 {h['01']['command_s']} s, 02 (Docker from Debian's packages) "
                 f"{h['02']['command_s']} s.")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = hosts_arguments(__doc__.splitlines()[0], 6)
    workdir = Path(tempfile.mkdtemp(prefix="raydeploy-bench-docker-"))
    try:
        image = controller(workdir / "homes")
        runs = hosts_runs(args.hosts, image["saved_only"], workdir, args.keep)
        doc = {"date": dt.date.today().isoformat(), "hosts": args.hosts, "ray_version": RAY_VERSION,
               "controller": image, "hosts_runs": runs}
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(write_report(NAME, doc, markdown))


if __name__ == "__main__":
    main()
