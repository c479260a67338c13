"""Cold 01->04 on fresh sandbox hosts and the no-change re-run (median of 3 each).

Run: .venv/bin/python benchmarks/deploy_01_04.py [--hosts 3]
"""

from __future__ import annotations

import argparse

from common import BIN, summary, timed, write

from raydeploy.sandbox.hosts import Sandbox

PLAYBOOKS = ["playbooks/01-prerequisites-check.yml", "playbooks/02-docker-installation.yml",
             "playbooks/03-cleanup-existing.yml", "playbooks/04-ray-deployment.yml"]


def deploy(inventory: str) -> float:
    return sum(timed([str(BIN / "ansible-playbook"), "-i", inventory, p,
                      "-e", "raydeploy_cleanup_confirmed=true"]) for p in PLAYBOOKS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=3)
    args = parser.parse_args()
    name = f"bench-deploy{args.hosts}"
    raydeploy = str(BIN / "raydeploy")
    cold, warm = [], []
    for _ in range(3):
        timed([raydeploy, "sandbox", "down", "--name", name])
        timed([raydeploy, "sandbox", "up", "--hosts", str(args.hosts), "--name", name])
        inventory = str(Sandbox(name).inventory_path)
        cold.append(deploy(inventory))
        warm.append(deploy(inventory))
    timed([raydeploy, "sandbox", "down", "--name", name])
    path = write(f"deploy_01_04_{args.hosts}hosts", {
        "hosts": args.hosts, "mode": "native, wheelhouse",
        "cold_01_04": summary(cold), "warm_rerun_01_04": summary(warm)})
    print(path.read_text())


if __name__ == "__main__":
    main()
