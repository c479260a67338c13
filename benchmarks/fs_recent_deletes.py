"""What unpacking Ray's packed venv costs in kernel CPU right after as many files were deleted,
against the same on a quiet file system: why deploy_growth.py removes its sandboxes only at the end.

Run: .venv/bin/python benchmarks/fs_recent_deletes.py [--archive VENV.tar] [--window 370] [--dir DIR]

ext4 without a journal skips, for each new inode, every free inode deleted in the last 60 s (360 s
while its inode table block is dirty): find_inode_bit() and recently_deleted() in fs/ext4/ialloc.c.
A journaled ext4 or XFS never does this. Three unpacks with `tar -xf`, as a host unpacks the venv
in checkpoint 04, each timed by its CPU:
1. after sync and --window seconds with nothing deleted here (clean);
2. right after deleting the files of 1 (as `sandbox down`, then `sandbox up` and a deploy, do);
3. after deleting those too, sync and --window seconds.
The archive is the newest packed venv in the controller's cache unless --archive names one.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import RECENT_DELETE_WINDOW_S, wait_out_recent_deletes, write

from raydeploy.settings import role_defaults

VENV_CACHE = Path(role_defaults("ray_common")["ray_venv_artifact_controller_dir"]).expanduser()


def journal_task(path: Path) -> str:
    """ext4's journal thread for the device holding path: <none> when it has no journal."""
    dev = os.stat(path).st_dev
    for block in Path("/sys/fs/ext4").glob("*"):
        dev_file = Path("/sys/class/block") / block.name / "dev"
        if dev_file.exists() and dev_file.read_text().strip() == f"{os.major(dev)}:{os.minor(dev)}":
            task = block / "journal_task"
            return task.read_text().strip() if task.exists() else "unknown"
    return "not ext4"


def unpack(archive: Path, into: Path) -> dict:
    into.mkdir()
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(into)], check=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": round(time.monotonic() - started, 2),
            "kernel_cpu_s": round(after.ru_stime - before.ru_stime, 2),
            "user_cpu_s": round(after.ru_utime - before.ru_utime, 2),
            "files": sum(len(files) for _, _, files in os.walk(into))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, help="a packed venv (default: the newest in the cache)")
    parser.add_argument("--window", type=float, default=RECENT_DELETE_WINDOW_S,
                        help="seconds to wait after sync before a clean unpack")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()), help="where to unpack")
    args = parser.parse_args()
    archive = args.archive or max(VENV_CACHE.glob("*.tar"), key=lambda p: p.stat().st_mtime, default=None)
    if archive is None or not archive.is_file():
        raise SystemExit(f"no packed venv in {VENV_CACHE}: run a deploy first, or pass --archive")
    if not 0 <= args.window <= 900:
        raise SystemExit("--window must be 0..900")
    work = Path(tempfile.mkdtemp(prefix="fs_recent_deletes-", dir=args.dir))
    try:
        wait_out_recent_deletes(args.window)
        clean = unpack(archive, work / "a")
        shutil.rmtree(work / "a")
        after_delete = unpack(archive, work / "b")
        shutil.rmtree(work / "b")
        wait_out_recent_deletes(args.window)
        after_wait = unpack(archive, work / "c")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"archive": archive.name, "window_s": args.window, "dir": str(args.dir),
              "journal_task": journal_task(args.dir), "clean": clean, "right_after_delete": after_delete,
              "after_delete_and_window": after_wait}
    write("fs_recent_deletes", result)
    print(result)


if __name__ == "__main__":
    main()
