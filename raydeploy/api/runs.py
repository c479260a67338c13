"""Orchestrator runs started over REST, and the progress of any run (REST, CLI or deploy-master.py).

A run started by the API is the orchestrator itself in a child process (`python -m raydeploy
deploy checkpoint|run … --json`), so it takes the same lock, waits at the same approval gates
and writes the same state directory and audit log as deploy-master.py. Its run id is chosen
by the API (RAYDEPLOY_RUN_ID) and returned at once. Progress is read back from what every run
writes: the audit log (run and checkpoint events), state.json (per-host results of finished
checkpoints) and ansible-runner's job events (live per-host counts of the running one).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raydeploy import checkpoints as registry
from raydeploy.deploy.orchestrator import EXIT_INTERRUPTED, new_run_id
from raydeploy.deploy.store import StateDir, iso, now, read_json, write_json
from raydeploy.paths import PROJECT_ROOT

RUN_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{6}$")
HOST_COUNTS = ("ok", "changed", "failed", "unreachable", "skipped")
_EVENT_COUNT = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_unreachable": "unreachable",
                "runner_on_skipped": "skipped"}


class RunNotStoppable(Exception):
    """A stop request this API process cannot carry out; the message says why and what to do."""


@dataclass
class Launch:
    run_id: str
    argv: list[str]
    dir: Path


@dataclass
class RunManager:
    state: StateDir
    inventory: Path | None
    approval_timeout: float = 1800.0
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: set[str] = field(default_factory=set)

    @property
    def runs_dir(self) -> Path:
        return self.state.root / "api-runs"

    def start(self, checkpoint: str, *, to_end: bool, dry_run: bool, limit: str | None,
              requested_by: str) -> Launch:
        run_id = new_run_id()
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True, mode=0o700)
        argv = [sys.executable, "-m", "raydeploy", "deploy"]
        argv += ["run", "--start-from", checkpoint] if to_end else ["checkpoint", checkpoint]
        argv += ["--inventory", str(self.inventory), "--state-dir", str(self.state.root), "--json",
                 "--approval-timeout", str(self.approval_timeout)]
        if dry_run:
            argv.append("--dry-run")
        if limit:
            argv += ["--limit", limit]
        meta = {"run_id": run_id, "checkpoint": checkpoint, "to_end": to_end, "dry_run": dry_run,
                "limit": limit, "requested_by": requested_by, "requested_at": iso(now()), "argv": argv}
        write_json(run_dir / "meta.json", meta)
        env = {**os.environ, "RAYDEPLOY_RUN_ID": run_id, "PYTHONPATH": _pythonpath()}
        with (run_dir / "result.json").open("w") as out, (run_dir / "log.txt").open("w") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                    cwd=PROJECT_ROOT, start_new_session=True)
        with self._lock:
            self._procs[run_id] = proc
        self.state.audit("api_run_requested", who=requested_by, run=run_id, checkpoint=checkpoint,
                         to_end=to_end, dry_run=dry_run, limit=limit, pid=proc.pid)
        return Launch(run_id, argv, run_dir)

    def stop(self, run_id: str) -> int:
        """SIGTERM to a run this API process started, as Ctrl-C would: the orchestrator stops
        ansible-playbook, marks the checkpoint interrupted, releases the lock and exits 130.
        Signals once: a second SIGTERM would cut the orchestrator's own clean-up short.
        Returns the pid; LookupError for a run this state directory does not know, and
        RunNotStoppable says why not (another process's run, or ended)."""
        with self._lock:
            proc = self._procs.get(run_id)
            if proc is not None and proc.poll() is None and run_id not in self._stopping:
                proc.send_signal(signal.SIGTERM)
                self._stopping.add(run_id)
        if proc is None:
            audit = self.state.audit_entries()
            run = self.get(run_id, audit)
            if run is None:
                raise LookupError(run_id)
            if run["finished_at"]:
                raise RunNotStoppable(f"run {run_id} has already ended ({run['status']})")
            started = next((e for e in audit if e.get("event") == "run_started" and e.get("run") == run_id),
                           {})
            pid = started.get("pid", "?")
            raise RunNotStoppable(f"run {run_id} was started by another process (pid {pid}, "
                                  f"{started.get('command', '?')}); stop it there: Ctrl-C, or SIGTERM "
                                  f"to pid {pid}")
        if proc.returncode is not None:
            raise RunNotStoppable(f"run {run_id} has already ended (exit {proc.returncode})")
        return proc.pid

    def _returncode(self, run_id: str) -> int | None:
        with self._lock:
            proc = self._procs.get(run_id)
        return proc.poll() if proc else None

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        runs: dict[str, dict[str, Any]] = {}
        entries = self.state.audit_entries()
        for entry in entries:
            run = entry.get("run")
            if entry.get("event") in ("run_started", "api_run_requested") and isinstance(run, str):
                runs.setdefault(run, {"run_id": run, "started_at": entry.get("ts")})
        ids = sorted(runs, reverse=True)[:limit]
        return [self.get(i, entries) or runs[i] for i in ids]

    def get(self, run_id: str, audit: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
        if not RUN_ID_RE.match(run_id):
            return None
        audit = self.state.audit_entries() if audit is None else audit
        entries = [e for e in audit if e.get("run") == run_id]
        meta = read_json(self.runs_dir / run_id / "meta.json") if (self.runs_dir / run_id).is_dir() else None
        if not entries and meta is None:
            return None
        run: dict[str, Any] = {"run_id": run_id, "status": "starting", "command": None, "plan": [],
                               "started_at": None, "finished_at": None, "exit_code": None, "message": "",
                               "requested_by": meta.get("requested_by") if meta else None,
                               "current_checkpoint": None, "checkpoints": [], "log_tail": []}
        cps: dict[str, dict[str, Any]] = {}

        def cp(name: str) -> dict[str, Any]:
            if name not in cps:
                cps[name] = {"name": name, "status": "planned", "started_at": None, "finished_at": None,
                             "duration_s": None, "hosts": {}, "approval_id": None}
            return cps[name]

        for e in entries:
            ev, name = e.get("event"), e.get("checkpoint")
            if ev == "run_started":
                run.update(status="running", command=e.get("command"), started_at=e.get("ts"),
                           plan=list(e.get("plan") or []))
                for n in run["plan"]:
                    cp(n)
            elif ev == "run_finished":
                run.update(status=e.get("status"), finished_at=e.get("ts"), exit_code=e.get("exit_code"),
                           message=e.get("message") or "")
            elif not isinstance(name, str):
                continue
            elif ev == "preview":
                cp(name)["status"] = "previewing"
            elif ev == "approval_requested":
                cp(name).update(status="waiting-approval", approval_id=e.get("approval"))
            elif ev in ("approval_granted", "approval_consumed"):
                cp(name).update(status="approved", approval_id=e.get("approval"))
            elif ev == "approval_denied":
                cp(name)["status"] = "denied"
            elif ev == "checkpoint_started":
                cp(name).update(status="running", started_at=e.get("ts"))
            elif ev == "checkpoint_finished":
                cp(name).update(status=e.get("status"), finished_at=e.get("ts"),
                                duration_s=e.get("duration_s"))
            elif ev == "checkpoint_interrupted":
                cp(name)["status"] = "interrupted"
        for name, c in cps.items():
            if c["status"] in ("running", "previewing", "succeeded", "failed", "interrupted"):
                c["hosts"] = self.host_results(run_id, name, c["status"] == "previewing")
        if run["status"] == "running":
            for c in cps.values():
                if c["status"] in ("running", "previewing", "waiting-approval"):
                    run["current_checkpoint"] = c["name"]
                    if c["status"] == "waiting-approval":
                        run["status"] = "waiting-approval"
        if meta is not None:
            rc = self._returncode(run_id)
            log = self.runs_dir / run_id / "log.txt"
            tail = log.read_text(errors="replace").splitlines()[-20:] if log.exists() else []
            run["log_tail"] = tail
            if run["finished_at"] is None and rc is not None:
                # Stopped before the orchestrator set its handler: SIGTERM's default action.
                interrupted = rc in (EXIT_INTERRUPTED, -signal.SIGTERM)
                status = "interrupted" if interrupted else "failed" if rc else "succeeded"
                run.update(status=status, exit_code=rc,
                           message=run["message"] or next((line for line in reversed(tail)
                                                           if line.startswith("error:")), ""))
        number = {c.name: c.number for c in registry.load()}
        run["checkpoints"] = sorted(cps.values(), key=lambda c: number.get(c["name"], 99))
        return run

    def host_results(self, run_id: str, checkpoint: str, preview: bool) -> dict[str, dict[str, int]]:
        """Per-host counts of one checkpoint of one run, from ansible-runner's job events (kept
        per run under artifacts/): the final recap once the play ended, else the counts so far."""
        try:
            number = registry.get(checkpoint).number
        except Exception:  # noqa: BLE001 - an audit entry naming a checkpoint no longer in the registry
            return {}
        events_dir = (self.state.root / "artifacts" / f"{run_id}-{number:02d}{'-preview' if preview else ''}"
                      / "job_events")
        hosts: dict[str, dict[str, int]] = {}
        if not events_dir.is_dir():
            return hosts
        paths = sorted(events_dir.glob("*.json"), key=_counter)
        for path in reversed(paths[-5:]):  # the recap is one of the last events
            try:
                event = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if event.get("event") == "playbook_on_stats":
                return _recap(event.get("event_data") or {})
        for path in paths[:20000]:
            try:
                event = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            kind = _EVENT_COUNT.get(event.get("event", ""))
            data = event.get("event_data") or {}
            host = data.get("host")
            if not kind or not host:
                continue
            counts = hosts.setdefault(host, dict.fromkeys(HOST_COUNTS, 0))
            counts[kind] += 1
            if kind == "ok" and (data.get("res") or {}).get("changed"):
                counts["changed"] += 1
        return hosts


def _counter(path: Path) -> int:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isascii() and head.isdigit() else 0


def _recap(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
    keys = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
            "skipped": "skipped"}
    hosts: dict[str, dict[str, int]] = {}
    for src, dst in keys.items():
        for host, n in (stats.get(src) or {}).items():
            hosts.setdefault(host, dict.fromkeys(HOST_COUNTS, 0))[dst] = int(n)
    return hosts


def _pythonpath() -> str:
    """The child imports this same raydeploy package, wherever it was imported from."""
    root = str(PROJECT_ROOT)
    existing = os.environ.get("PYTHONPATH", "")
    return root if not existing else f"{root}{os.pathsep}{existing}"
