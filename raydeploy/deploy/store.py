"""The deployment's state directory: atomic JSON files, one lock per cluster, an audit log.

Layout (mode 0700)::

    STATE_DIR/
      state.json          checkpoint states and the last run
      failure.json        the last failure (checkpoint, hosts, task, message)
      approvals/NAME.json the current approval record of each gated checkpoint
      approvals/history/  records that were superseded, refused or used
      approvals/consumed  ids of approvals a run has used (one a line, append-only)
      audit.jsonl         append-only: every run, preview, approval, denial and refusal
      lock, lock.json     the run lock (flock) and who holds it
      runner/, artifacts/ ansible-runner's private data dir and per-run event artifacts
      .seal-key           the key that seals approval records (0600)
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from raydeploy.errors import UserError
from raydeploy.paths import PROJECT_ROOT, raydeploy_home


def now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat(timespec="seconds") if ts else None


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def whoami() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def default_state_dir(inventory: Path) -> Path:
    """One state directory per project checkout and inventory (cluster)."""
    key = hashlib.sha256(f"{PROJECT_ROOT}\0{inventory.resolve()}".encode()).hexdigest()[:12]
    cluster = inventory.resolve().parent.name or "cluster"
    return raydeploy_home() / "deployments" / f"{cluster}-{key}"


def atomic_write(path: Path, data: str, mode: int = 0o600) -> None:
    """Write a whole file or nothing: temp file in the same directory, fsync, rename, fsync dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); restore it or remove it") from exc


def append_line(path: Path, line: str) -> None:
    """Append one line with a single write on an O_APPEND descriptor, then fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class StateDir:
    """Everything one cluster's deployment remembers between runs."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def ensure(self) -> StateDir:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        for sub in ("approvals", "approvals/history", "runner", "artifacts"):
            (self.root / sub).mkdir(exist_ok=True, mode=0o700)
        return self

    # -- files -----------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def failure_path(self) -> Path:
        return self.root / "failure.json"

    @property
    def audit_path(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def approvals_dir(self) -> Path:
        return self.root / "approvals"

    @property
    def lock_path(self) -> Path:
        return self.root / "lock"

    @property
    def holder_path(self) -> Path:
        return self.root / "lock.json"

    def load_state(self) -> dict:
        return read_json(self.state_path, {"checkpoints": {}, "last_run": None})

    def save_state(self, state: dict) -> None:
        write_json(self.state_path, state)

    def seal_key(self) -> bytes:
        path = self.root / ".seal-key"
        if not path.exists():
            self.ensure()
            atomic_write(path, os.urandom(32).hex())
        return bytes.fromhex(path.read_text().strip())

    # -- audit -----------------------------------------------------------------------------
    def audit(self, event: str, who: str | None = None, **fields: Any) -> dict:
        entry = {"ts": iso(now()), "event": event, "who": who or whoami(), **fields}
        self.ensure()
        append_line(self.audit_path, json.dumps(entry, sort_keys=True))
        return entry

    def audit_entries(self) -> list[dict]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line.strip()]

    # -- lock ------------------------------------------------------------------------------
    def holder(self) -> dict | None:
        try:
            return read_json(self.holder_path)
        except UserError:
            return None

    @contextmanager
    def locked(self, command: str) -> Iterator[dict]:
        """Hold the cluster's run lock; a second run is refused naming the holder.

        flock is released by the kernel when the process ends, however it ends, so a crashed
        run never leaves a stale lock; lock.json only says who holds it.
        """
        self.ensure()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.holder() or {}
            self.audit("lock_refused", command=command, holder=holder)
            raise UserError(
                f"another run holds the lock on {self.root}: {holder.get('who', '?')} "
                f"(pid {holder.get('pid', '?')}, {holder.get('command', '?')}) since "
                f"{holder.get('since', '?')}; wait for it to finish or stop it") from None
        holder = {"who": whoami(), "pid": os.getpid(), "since": iso(now()), "command": command}
        try:
            write_json(self.holder_path, holder)
            yield holder
        finally:
            self.holder_path.unlink(missing_ok=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def wait_until(predicate, timeout: float, interval: float = 1.0) -> bool:
    """Poll predicate() until it is true or timeout seconds passed (bounded loop)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
