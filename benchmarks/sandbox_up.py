"""Cold and warm `raydeploy sandbox up --hosts 3` (median of 3 each).

cold: no sandbox images cached (debootstrap + host image build + hosts boot);
fresh: images cached, new hosts; warm: hosts already running (the idempotent re-run).
Run: .venv/bin/python benchmarks/sandbox_up.py
"""

from __future__ import annotations

import os
import subprocess

from common import BIN, summary, timed, write

from raydeploy.sandbox import images

NAME = "bench-up"
UP = [str(BIN / "raydeploy"), "sandbox", "up", "--hosts", "3", "--name", NAME]
DOWN = [str(BIN / "raydeploy"), "sandbox", "down", "--name", NAME]


# A cold run must not delete images other sandboxes use, so it builds under a recipe of
# its own: the same mirror spelled with a trailing slash is a different recipe key.
COLD_ENV = {**os.environ, "RAYDEPLOY_DEBIAN_MIRROR": "http://deb.debian.org/debian/"}


def drop_cold_images() -> None:
    base = images.BaseRecipe(mirror=COLD_ENV["RAYDEPLOY_DEBIAN_MIRROR"]).tag()
    host = images.host_tag(base, images.host_dockerfile())
    subprocess.run(["docker", "rmi", host, base], capture_output=True)


def main() -> None:
    cold, fresh, warm = [], [], []
    for _ in range(3):
        timed(DOWN)
        drop_cold_images()
        cold.append(timed(UP, env=COLD_ENV))
        timed(DOWN)
        fresh.append(timed(UP))
        warm.append(timed(UP))
    timed(DOWN)
    path = write("sandbox_up", {"hosts": 3, "cold": summary(cold), "fresh": summary(fresh),
                                "warm": summary(warm)})
    print(path.read_text())


if __name__ == "__main__":
    main()
