"""Run the registry's checkpoints in order, gate the approval-required ones, remember state.

One run: take the cluster's lock, run each planned checkpoint through ansible-runner, and for
each approval-required one first preview it (check + diff), bind a pending approval to the
digest of its inputs and wait for a decision (terminal prompt, `raydeploy approve`, REST, or
--auto-approve). The run consumes the approval and only then runs the checkpoint; a
destructive one is given its confirmation variable only then.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape

from raydeploy import checkpoints as registry
from raydeploy.checkpoints import Checkpoint
from raydeploy.deploy import progress
from raydeploy.deploy.approvals import (
    DENIED,
    EXPIRED,
    PENDING,
    Approval,
    ApprovalRefused,
    ApprovalStore,
    compute_digest,
    digest_inputs,
    record_as_public,
    seed_approval_file,
)
from raydeploy.deploy.runner import RunResult, run_checkpoint
from raydeploy.deploy.store import StateDir, iso, now, whoami, write_json
from raydeploy.errors import UserError

CONFIRM_VAR = "raydeploy_cleanup_confirmed"
EXIT_OK, EXIT_FAILED, EXIT_USER, EXIT_APPROVAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
RESULT_SCHEMA_VERSION = 1


class Stop(Exception):  # noqa: N818 - a control-flow signal, not an error type
    """Ends a run early with a status, a message and an exit code."""

    def __init__(self, status: str, message: str, exit_code: int):
        super().__init__(message)
        self.status, self.exit_code = status, exit_code


@dataclass
class Options:
    inventory: Path
    state_dir: Path
    limit: str | None = None
    extravars: dict[str, Any] = field(default_factory=dict)
    auto_approve: bool = False
    dry_run: bool = False
    approval_timeout: float = 1800.0
    approval_ttl: timedelta = timedelta(hours=24)
    interactive: bool = False


def parse_extravars(values: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """ansible-playbook's -e forms: key=value pairs, a JSON/YAML mapping, or @FILE."""
    out: dict[str, Any] = {}
    for value in values:
        value = value.strip()
        if value.startswith("@"):
            path = Path(value[1:])
            if not path.is_file():
                raise UserError(f"--extra-vars {value}: no such file")
            data = yaml.safe_load(path.read_text())
        elif value.startswith("{"):
            try:
                data = json.loads(value)
            except json.JSONDecodeError as exc:
                raise UserError(f"--extra-vars {value!r} is not valid JSON: {exc}") from exc
        else:
            data = {}
            for word in shlex.split(value):
                key, sep, val = word.partition("=")
                if not sep or not key:
                    raise UserError(f"--extra-vars {word!r}: use KEY=VALUE, a JSON object or @FILE")
                data[key] = val
        if not isinstance(data, dict):
            raise UserError(f"--extra-vars {value!r} must give a mapping of variables")
        out.update(data)
    if CONFIRM_VAR in out:
        raise UserError(f"{CONFIRM_VAR} is set by the orchestrator after an approval; remove it from "
                        "--extra-vars and approve the checkpoint instead")
    return out


def plan(mode: str, name: str | None, state: StateDir) -> list[Checkpoint]:
    """The checkpoints a run executes: all, one, from one, or from the first not succeeded."""
    every = list(registry.load())
    if mode == "deploy":
        return every
    if mode == "checkpoint":
        return [registry.get(name or "")]
    if mode == "start-from":
        first = registry.get(name or "")
        return [c for c in every if c.number >= first.number]
    if mode == "resume":
        states = state.load_state().get("checkpoints", {})
        for i, cp in enumerate(every):
            if states.get(cp.name, {}).get("status") != "succeeded":
                return every[i:]
        return []
    raise ValueError(mode)


RUN_ID_ENV = "RAYDEPLOY_RUN_ID"


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def run_id_for_this_run() -> str:
    """A new id, or the one the REST API chose for this process (so it can report it at once)."""
    given = os.environ.get(RUN_ID_ENV, "")
    return given if re.fullmatch(r"[0-9]{8}T[0-9]{6}-[0-9a-f]{6}", given) else new_run_id()


class Orchestrator:
    def __init__(self, options: Options, console: Console,
                 ask: Callable[[str], str] | None = None):
        self.o = options
        self.console = console
        self.ask = ask or (lambda prompt: console.input(prompt))
        self.state = StateDir(options.state_dir).ensure()
        self.approvals = ApprovalStore(self.state)
        self.run_id = run_id_for_this_run()
        self.who = whoami()
        self._cancel = False
        self._in_runner = False

    # -- signals ---------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: object) -> None:
        if self._in_runner and not self._cancel:
            self._cancel = True  # ansible-runner stops ansible-playbook; the run then ends
            self.console.print("[yellow]interrupted: stopping ansible-playbook…[/yellow]")
            return
        raise KeyboardInterrupt

    # -- the run ---------------------------------------------------------------------------------
    def run(self, checkpoints: list[Checkpoint], command: str) -> dict[str, Any]:
        report: dict[str, Any] = {
            "schema_version": RESULT_SCHEMA_VERSION, "run_id": self.run_id, "command": command,
            "started_at": iso(now()), "finished_at": None, "status": "running", "exit_code": None,
            "message": "", "dry_run": self.o.dry_run, "auto_approve": self.o.auto_approve,
            "inventory": str(self.o.inventory), "limit": self.o.limit,
            "state_dir": str(self.state.root), "checkpoints": [], "failure": None,
        }
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in old:
            signal.signal(s, self._on_signal)
        try:
            with self.state.locked(command):
                self._run_locked(checkpoints, command, report)
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        return report

    def _run_locked(self, checkpoints: list[Checkpoint], command: str, report: dict[str, Any]) -> None:
        self.state.audit("run_started", run=self.run_id, command=command, pid=os.getpid(),
                         plan=[c.name for c in checkpoints], inventory=str(self.o.inventory),
                         limit=self.o.limit, dry_run=self.o.dry_run, auto_approve=self.o.auto_approve)
        status, code, message = "succeeded", EXIT_OK, ""
        if self.o.dry_run:
            status = "previewed"
        if not checkpoints:
            message = "nothing to resume: every checkpoint succeeded"
        try:
            for cp in checkpoints:
                entry = self._entry(cp)
                report["checkpoints"].append(entry)
                self._checkpoint(cp, entry, report)
                if self._cancel:
                    raise KeyboardInterrupt
            failed = [e for e in report["checkpoints"] if e["status"] == "failed"]
            if self.o.dry_run and failed:
                # A preview that failed must not read as a clean plan.
                status, code = "failed", EXIT_FAILED
                message = "preview failed: " + "; ".join(
                    f"{e['name']} on {', '.join(sorted({f['host'] for f in e['failures']}))} "
                    f"at {e['failures'][0]['task']}: {e['failures'][0]['message'][:200]}" for e in failed)
        except Stop as stop:
            status, code, message = stop.status, stop.exit_code, str(stop)
            last = report["checkpoints"][-1] if report["checkpoints"] else None
            if last and last["status"] in ("waiting-approval", "previewing"):
                last.update(status=stop.status, finished_at=iso(now()))
                self._save_checkpoint_state(last)
        except KeyboardInterrupt:
            status, code = "interrupted", EXIT_INTERRUPTED
            message = "interrupted (Ctrl-C or SIGTERM); --resume continues"
            for entry in report["checkpoints"]:
                if entry["status"] in ("running", "waiting-approval", "previewing"):
                    entry["status"] = "interrupted"
                    self._save_checkpoint_state(entry)
        report.update(status=status, exit_code=code, message=message, finished_at=iso(now()))
        state = self.state.load_state()
        state["last_run"] = {k: report[k] for k in ("run_id", "command", "started_at", "finished_at",
                                                    "status", "exit_code", "message")}
        self.state.save_state(state)
        self.state.audit("run_finished", run=self.run_id, status=status, exit_code=code, message=message)

    def _entry(self, cp: Checkpoint) -> dict[str, Any]:
        return {"name": cp.name, "number": cp.number, "title": cp.title, "playbook": cp.playbook,
                "approval_required": cp.approval_required, "destructive": cp.destructive,
                "status": "pending", "started_at": None, "finished_at": None, "duration_s": None,
                "hosts": {}, "failures": [], "approval": None, "preview": None, "artifacts": None,
                "run_id": self.run_id}

    def _save_checkpoint_state(self, entry: dict[str, Any]) -> None:
        state = self.state.load_state()
        keep = ("status", "run_id", "started_at", "finished_at", "duration_s", "hosts", "failures")
        state.setdefault("checkpoints", {})[entry["name"]] = {k: entry[k] for k in keep}
        self.state.save_state(state)

    def _runner(self, cp: Checkpoint, check: bool, extravars: dict[str, Any]) -> RunResult:
        ident = f"{self.run_id}-{cp.number:02d}{'-preview' if check else ''}"
        with progress.Progress(self.console, cp, check) as prog:
            self._in_runner = True
            try:
                return run_checkpoint(cp, inventory=self.o.inventory, state_root=self.state.root,
                                      ident=ident, extravars=extravars, limit=self.o.limit,
                                      check=check, on_event=prog.event, cancelled=lambda: self._cancel)
            finally:
                self._in_runner = False

    def _checkpoint(self, cp: Checkpoint, entry: dict[str, Any], report: dict[str, Any]) -> None:
        self.console.rule(f"[bold]{progress.label(cp)}[/bold]: {cp.title}")
        extravars = dict(self.o.extravars)
        if self.o.dry_run:
            self._dry_run(cp, entry)
            return
        if cp.approval_required:
            entry["status"] = "waiting-approval"
            approval = self._gate(cp, entry)
            entry["approval"] = record_as_public(approval)
            if cp.destructive:
                extravars[CONFIRM_VAR] = True
        entry.update(status="running", started_at=iso(now()))
        self._save_checkpoint_state(entry)
        self.state.audit("checkpoint_started", run=self.run_id, checkpoint=cp.name,
                         approval=entry["approval"]["id"] if entry["approval"] else None)
        result = self._runner(cp, check=False, extravars=extravars)
        self._fold(entry, result)
        progress.show_result(self.console, cp, result)
        if self._cancel or result.status == "canceled":
            entry["status"] = "interrupted"
            self._save_checkpoint_state(entry)
            self.state.audit("checkpoint_interrupted", run=self.run_id, checkpoint=cp.name)
            raise KeyboardInterrupt
        entry["status"] = "succeeded" if result.ok else "failed"
        self._save_checkpoint_state(entry)
        self.state.audit("checkpoint_finished", run=self.run_id, checkpoint=cp.name,
                         status=entry["status"], duration_s=entry["duration_s"],
                         failed_hosts=result.failed_hosts())
        if not result.ok:
            failure = self._failure(cp, result)
            report["failure"] = failure
            raise Stop("failed", f"checkpoint {progress.label(cp)} failed on "
                       f"{', '.join(failure['hosts']) or 'the controller'}: "
                       f"{failure['task']}: {failure['message'][:400]}", EXIT_FAILED)

    def _fold(self, entry: dict[str, Any], result: RunResult) -> None:
        entry.update(
            started_at=entry["started_at"] or iso(now() - timedelta(seconds=result.duration)),
            finished_at=iso(now()), duration_s=round(result.duration, 1), artifacts=result.artifacts,
            hosts={h: {k: getattr(t, k) for k in ("ok", "changed", "failed", "unreachable", "skipped")}
                   for h, t in result.hosts.items()},
            failures=[asdict(f) for f in result.failures],
        )

    def _failure(self, cp: Checkpoint, result: RunResult) -> dict[str, Any]:
        first = result.failures[0] if result.failures else None
        failure = {
            "run_id": self.run_id, "checkpoint": cp.name, "number": cp.number,
            "hosts": [h for h in result.failed_hosts() if h != "localhost"] or result.failed_hosts(),
            "task": first.task if first else "", "message": first.message if first else result.status,
            "failures": [asdict(f) for f in result.failures], "at": iso(now()),
            "artifacts": result.artifacts,
        }
        write_json(self.state.failure_path, failure)
        self.state.audit("checkpoint_failed", run=self.run_id, checkpoint=cp.name,
                         hosts=failure["hosts"], task=failure["task"], message=failure["message"][:500])
        return failure

    # -- previews and approvals ------------------------------------------------------------------
    def _digest(self, cp: Checkpoint) -> str:
        return compute_digest(digest_inputs(cp, self.o.inventory, self.o.extravars, self.o.limit))

    def _preview(self, cp: Checkpoint, entry: dict[str, Any]) -> tuple[dict[str, Any], str]:
        digest = self._digest(cp)
        extravars = dict(self.o.extravars)
        if cp.destructive:
            # Check mode changes nothing, so the preview may show what the confirmed run would do.
            extravars[CONFIRM_VAR] = True
        entry["status"] = "previewing"
        result = self._runner(cp, check=True, extravars=extravars)
        if self._cancel:
            raise KeyboardInterrupt
        preview = result.preview()
        preview.update(ok=result.ok, artifacts=result.artifacts, digest=digest)
        entry["preview"] = preview
        self.state.audit("preview", run=self.run_id, checkpoint=cp.name, digest=digest, ok=result.ok,
                         would_change=sum(len(h["would_change"]) for h in preview["hosts"].values()),
                         not_simulated=sum(len(h["not_simulated"]) for h in preview["hosts"].values()))
        progress.show_preview(self.console, cp, preview, digest)
        return preview, digest

    def _dry_run(self, cp: Checkpoint, entry: dict[str, Any]) -> None:
        entry["started_at"] = iso(now())
        preview, digest = self._preview(cp, entry)
        entry.update(status="previewed" if preview["ok"] else "failed", finished_at=iso(now()))
        if not preview["ok"]:
            entry["failures"] = preview["failures"]
        if cp.approval_required:
            record = self.approvals.request(cp, digest, self.who, self.run_id, preview,
                                            ttl=self.o.approval_ttl)
            entry["approval"] = record_as_public(record)
            self.console.print(approve_hint(cp, self.o.state_dir))

    def _gate(self, cp: Checkpoint, entry: dict[str, Any]) -> Approval:
        seed = seed_approval_file(cp.name)
        if seed.exists():
            self.state.audit("approval_refused", run=self.run_id, checkpoint=cp.name, reason="seed-file",
                             message=f"{seed} is not an approval")
            self.console.print(f"[yellow]ignored {seed}[/yellow]: any local user can create that file, so "
                               "it is not an approval; approvals are sealed records in the state "
                               "directory, bound to what was previewed")
        existing = self.approvals.get(cp.name)
        if existing is not None and self.approvals.set_aside_used(cp.name, existing):
            existing = None
        if existing is not None and existing.state != PENDING:
            try:
                record = self.approvals.usable(cp.name, self._digest(cp))
                self.console.print(f"using approval {record.id} by {escape(str(record.approved_by))} "
                                   f"({escape(str(record.reason))}), granted {record.decided_at}")
                return self.approvals.consume(record, self.run_id)
            except ApprovalRefused as refusal:
                self.approvals.refuse(cp.name, refusal, self.run_id, existing)
                self.console.print(f"[red]approval refused[/red]: {escape(str(refusal))}")
        preview, digest = self._preview(cp, entry)
        record = self.approvals.request(cp, digest, self.who, self.run_id, preview,
                                        ttl=self.o.approval_ttl)
        entry.update(approval=record_as_public(record), status="waiting-approval")
        if self.o.auto_approve:
            self.approvals.approve(cp.name, by=self.who, reason="auto-approve",
                                   acknowledge_risks=cp.destructive, run=self.run_id)
        elif self.o.interactive:
            self._prompt(cp)
        else:
            self._wait(cp)
        record = self.approvals.get(cp.name)
        entry["approval"] = record_as_public(record)
        if record is None or record.state == PENDING:
            self.state.audit("approval_timeout", run=self.run_id, checkpoint=cp.name,
                             waited_s=self.o.approval_timeout)
            raise Stop("waiting-approval", f"no decision on {progress.label(cp)} within "
                       f"{self.o.approval_timeout:.0f} s; it stays pending until "
                       f"{record.expires_at if record else '?'}: "
                       f"{approve_hint(cp, self.o.state_dir, markup=False)}; then run again",
                       EXIT_APPROVAL)
        if record.state == DENIED:
            raise Stop("denied", f"checkpoint {progress.label(cp)} was denied by {record.decided_by}: "
                       f"{record.reason}. Nothing of it ran; the run stops here.", EXIT_APPROVAL)
        if record.state == EXPIRED:
            raise Stop("refused", f"the approval for {cp.name} expired before it was used", EXIT_APPROVAL)
        try:
            # the digest again: inputs may have changed while the run waited
            usable = self.approvals.usable(cp.name, self._digest(cp))
        except ApprovalRefused as refusal:
            self.approvals.refuse(cp.name, refusal, self.run_id, record)
            raise Stop("refused", str(refusal), EXIT_APPROVAL) from refusal
        return self.approvals.consume(usable, self.run_id)

    def _prompt(self, cp: Checkpoint) -> None:
        try:
            if cp.destructive:
                answer = self.ask(f"[bold red]{cp.name} is destructive.[/bold red] Type its name "
                                  f"({cp.name}) to approve, anything else denies: ")
                approved = answer.strip() == cp.name
            else:
                answer = self.ask(f"Approve {progress.label(cp)}? \\[y/N]: ")
                approved = answer.strip().lower() in ("y", "yes")
        except EOFError:
            self.console.print("no answer (end of input): the approval stays pending")
            return
        current = self.approvals.get(cp.name)
        if current is None or current.state != PENDING:
            return  # decided elsewhere (CLI, REST) while the prompt waited
        if approved:
            self.approvals.approve(cp.name, by=self.who, reason="approved at the terminal",
                                   acknowledge_risks=cp.destructive, run=self.run_id)
        else:
            self.approvals.deny(cp.name, by=self.who, reason="denied at the terminal", run=self.run_id)

    def _wait(self, cp: Checkpoint) -> None:
        """No terminal: wait for a decision made elsewhere, saying how to make it."""
        deadline = time.monotonic() + max(0.0, self.o.approval_timeout)
        self.console.print(f"[bold]waiting up to {self.o.approval_timeout:.0f} s for a decision on "
                           f"{progress.label(cp)}[/bold] (no terminal to ask on):\n"
                           + approve_hint(cp, self.o.state_dir))
        next_hint = time.monotonic() + 60
        while time.monotonic() < deadline:
            record = self.approvals.get(cp.name)
            if record is None or record.state != PENDING:
                return
            if time.monotonic() >= next_hint:
                left = deadline - time.monotonic()
                self.console.print(f"still waiting for {cp.name} ({left:.0f} s left): "
                                   + approve_hint(cp, self.o.state_dir, markup=False))
                next_hint += 60
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))


def approve_hint(cp: Checkpoint, state_dir: Path, markup: bool = True) -> str:
    risks = " --acknowledge-risks" if cp.destructive else ""
    cli = (f"raydeploy approve {cp.name} --state-dir {shlex.quote(str(state_dir))} --by NAME "
           f"--reason TEXT{risks}")
    ack = ', "acknowledge_risks": true' if risks else ""
    rest = f'POST /api/v1/approvals/{cp.name} {{"approved_by": NAME, "reason": TEXT{ack}}}'
    deny = f"raydeploy deny {cp.name} --state-dir {shlex.quote(str(state_dir))} --by NAME --reason TEXT"
    text = f"  approve: {cli}\n  or over REST: {rest}\n  deny: {deny}"
    return escape(text) if markup else text.replace("\n", ";")


def json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value))


def result_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, default=json_default)


def print_report(console: Console, report: dict[str, Any]) -> None:
    if report["checkpoints"]:
        console.print(progress.summary_table(report))
    colour = "green" if report["exit_code"] == 0 else "red"
    if report["message"]:
        console.print(f"[{colour}]{escape(report['message'])}[/{colour}]", highlight=False)
    if report["exit_code"] == EXIT_OK and not report["message"]:
        console.print(f"[green]{report['status']}[/green]: "
                      + ", ".join(c["name"] for c in report["checkpoints"]))
    console.print(f"state: {report['state_dir']}", highlight=False)


def is_interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()

