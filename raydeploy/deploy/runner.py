"""Run one checkpoint playbook through ansible-runner and fold its JSON events into a result.

Nothing here reads ansible-playbook's text output: per-host counts, failures, changed tasks,
diffs and the tasks check mode could not simulate all come from the runner's events.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

from raydeploy.checkpoints import Checkpoint
from raydeploy.paths import PROJECT_ROOT

COUNTERS = ("ok", "changed", "failed", "unreachable", "skipped")
_SHELLISH = {"command", "shell", "raw", "script", "ansible.builtin.command", "ansible.builtin.shell",
             "ansible.builtin.raw", "ansible.builtin.script", "ansible.legacy.command",
             "ansible.legacy.shell"}


@dataclass
class HostTally:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    last_task: str = ""


@dataclass
class Failure:
    host: str
    task: str
    message: str
    unreachable: bool = False


@dataclass
class Change:
    host: str
    task: str
    diff: str = ""


@dataclass
class RunResult:
    """What one ansible-runner run of a checkpoint did, per host."""

    checkpoint: str
    check_mode: bool
    ident: str
    status: str = "pending"   # ansible-runner's: successful, failed, canceled, timeout
    rc: int | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    hosts: dict[str, HostTally] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    unsimulated: list[Change] = field(default_factory=list)
    artifacts: str = ""
    current_task: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0

    @property
    def duration(self) -> float:
        return (self.finished or time.time()) - self.started

    def failed_hosts(self) -> list[str]:
        names = [f.host for f in self.failures]
        names += [h for h, t in self.hosts.items() if (t.failed or t.unreachable) and h not in names]
        return list(dict.fromkeys(names))

    def host(self, name: str) -> HostTally:
        return self.hosts.setdefault(name, HostTally())

    def preview(self) -> dict[str, Any]:
        """The approver's view: per host, what would change, its diff, what was not simulated."""
        out: dict[str, Any] = {"hosts": {}, "failures": [asdict(f) for f in self.failures]}
        touched = {c.host for c in self.changes + self.unsimulated}
        for host in sorted((set(self.hosts) - {"localhost"}) | touched):
            out["hosts"][host] = {
                "would_change": [{"task": c.task, "diff": c.diff} for c in self.changes if c.host == host],
                "not_simulated": [c.task for c in self.unsimulated if c.host == host],
            }
        return out

    # -- event folding -------------------------------------------------------------------------
    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host") or data.get("remote_addr")
        task = data.get("task") or ""
        res = data.get("res") or {}
        if kind == "playbook_on_task_start":
            self.current_task = task
        elif kind == "runner_on_ok" and host:
            tally = self.host(host)
            tally.last_task = task
            if res.get("changed"):
                tally.changed += 1
                self.changes.append(Change(host, task, _diff_text(res.get("diff"))))
            else:
                tally.ok += 1
        elif kind == "runner_on_skipped" and host:
            tally = self.host(host)
            tally.skipped += 1
            if self.check_mode and _not_simulated(data, res):
                self.unsimulated.append(Change(host, task))
        elif kind == "runner_on_failed" and host:
            if data.get("ignore_errors"):
                self.host(host).ok += 1
                return
            tally = self.host(host)
            tally.failed += 1
            tally.last_task = task
            self.failures.append(Failure(host, task, _message(res)))
        elif kind == "runner_on_unreachable" and host:
            tally = self.host(host)
            tally.unreachable += 1
            tally.last_task = task
            self.failures.append(Failure(host, task, _message(res), unreachable=True))
        elif kind == "runner_on_file_diff" and host:
            diff = _diff_text(data.get("diff"))
            if diff and self.changes and self.changes[-1].host == host and not self.changes[-1].diff:
                self.changes[-1].diff = diff
        elif kind == "playbook_on_stats":
            self._stats(data)

    def _stats(self, data: dict[str, Any]) -> None:
        """The final recap is authoritative for the counts."""
        mapping = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
                   "skipped": "skipped"}
        seen = set()
        for key in mapping:
            seen |= set((data.get(key) or {}).keys())
        for host in seen:
            tally = self.host(host)
            for key, attr in mapping.items():
                setattr(tally, attr, int((data.get(key) or {}).get(host, 0)))
            # ansible counts a changed task in both ok and changed
            tally.ok = max(0, tally.ok - tally.changed)


def _not_simulated(data: dict[str, Any], res: dict[str, Any]) -> bool:
    action = data.get("task_action") or ""
    msg = str(res.get("msg", "")).lower()
    return action in _SHELLISH and "check mode" in msg or "not supported in check mode" in msg


def _message(res: dict[str, Any]) -> str:
    for key in ("msg", "stderr", "reason"):
        value = res.get(key)
        if value:
            return str(value).strip()[:2000]
    results = res.get("results")
    if isinstance(results, list):
        msgs = [str(r.get("msg")) for r in results if isinstance(r, dict) and r.get("failed")]
        if msgs:
            return "; ".join(msgs)[:2000]
    return "failed"


def _diff_text(diff: Any) -> str:
    if not diff:
        return ""
    items = diff if isinstance(diff, list) else [diff]
    parts = []
    for item in items:
        if not isinstance(item, dict):
            parts.append(str(item))
            continue
        if item.get("prepared"):
            parts.append(str(item["prepared"]))
            continue
        header = item.get("before_header") or item.get("after_header") or ""
        before, after = item.get("before"), item.get("after")
        if isinstance(before, str) or isinstance(after, str):
            import difflib

            lines = difflib.unified_diff(str(before or "").splitlines(), str(after or "").splitlines(),
                                         fromfile=f"before: {header}", tofile=f"after: {header}",
                                         lineterm="")
            parts.append("\n".join(lines))
        elif before is not None or after is not None:
            parts.append(f"{header}: {before!r} -> {after!r}")
    return "\n".join(p for p in parts if p).strip()[:8000]


def run_checkpoint(checkpoint: Checkpoint, *, inventory: Path, state_root: Path, ident: str,
                   extravars: dict[str, Any], limit: str | None, check: bool,
                   on_event: Callable[[RunResult, dict[str, Any]], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> RunResult:
    """Run a checkpoint's playbook (in check+diff mode when `check`) and return its result."""
    result = RunResult(checkpoint=checkpoint.name, check_mode=check, ident=ident)
    private = state_root / "runner"
    artifacts = state_root / "artifacts"
    private.mkdir(parents=True, exist_ok=True, mode=0o700)

    def handle(event: dict[str, Any]) -> bool:
        result.apply(event)
        if on_event:
            on_event(result, event)
        return True

    envvars = {
        "ANSIBLE_CONFIG": str(PROJECT_ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        # ansible-runner turns host key checking off unless told; keep ansible.cfg's strict checking
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        # ansible-playbook from the interpreter's own environment (the project's .venv) first
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    runner = ansible_runner.run(
        private_data_dir=str(private),
        artifact_dir=str(artifacts),
        project_dir=str(PROJECT_ROOT),
        playbook=str(checkpoint.playbook_path),
        inventory=str(inventory.resolve()),
        extravars=extravars,
        limit=limit or None,
        cmdline="--check --diff" if check else None,
        ident=ident,
        quiet=True,
        envvars=envvars,
        event_handler=handle,
        cancel_callback=cancelled or (lambda: False),
        suppress_env_files=True,
        # ansible-runner's default ('jsonfile') points the fact cache at a directory of this run's
        # own; any other value leaves ansible.cfg's shared cache in place, so 03 and 04 reuse the
        # facts 01 gathered instead of gathering them again on every host.
        fact_cache_type="ansible.cfg",
    )
    result.status = runner.status
    result.rc = runner.rc
    result.finished = time.time()
    result.artifacts = str(artifacts / ident)
    if runner.status != "successful" and not result.failures and runner.status != "canceled":
        stdout = ""
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stdout = runner.stdout.read()[-1500:]
        result.failures.append(Failure("localhost", result.current_task or "(playbook)",
                                       f"ansible-playbook ended {runner.status} (rc {runner.rc}) "
                                       f"without a task failure: {stdout.strip()}"))
    return result
