"""Cold and warm `raydeploy sandbox up --hosts 3` (median of 3 each).

cold: no sandbox images cached (debootstrap + host image build + hosts boot);
fresh: images cached, new hosts; warm: hosts already running (the idempotent re-run).
Run: .venv/bin/python benchmarks/sandbox_up.py
"""

from __future__ import annotations

import subprocess

from common import BIN, summary, timed, write

NAME = "bench-up"
UP = [str(BIN / "raydeploy"), "sandbox", "up", "--hosts", "3", "--name", NAME]
DOWN = [str(BIN / "raydeploy"), "sandbox", "down", "--name", NAME]


def drop_images() -> None:
    out = subprocess.run(["docker", "images", "-q", "--filter", "reference=raydeploy/*"],
                         capture_output=True, text=True, check=True).stdout.split()
    if out:
        subprocess.run(["docker", "rmi", "-f", *out], capture_output=True, check=True)


def main() -> None:
    cold, fresh, warm = [], [], []
    for _ in range(3):
        timed(DOWN)
        drop_images()
        cold.append(timed(UP))
        timed(DOWN)
        fresh.append(timed(UP))
        warm.append(timed(UP))
    timed(DOWN)
    path = write("sandbox_up", {"hosts": 3, "cold": summary(cold), "fresh": summary(fresh),
                                "warm": summary(warm)})
    print(path.read_text())


if __name__ == "__main__":
    main()
