"""Approvals for gated checkpoints: a sealed record bound to a digest of what was previewed.

The model is AWX's approval node plus Terraform's plan/apply: a run previews a gated
checkpoint, records a *pending* approval carrying the digest of everything that decides what
the checkpoint does (playbooks and roles, inventory, variables, limit), and runs the
checkpoint only with an *approved* record whose digest still matches. Each run consumes its
approval. State machine::

    pending --approve--> approved --consume--> consumed
       |  \\--deny-----> denied
       \\----time-----> expired <--time-- approved

Records are sealed with an HMAC whose key lives in the state directory (0600): a record
edited by hand (its digest, its checkpoint, its state) is refused, not trusted. Consumed ids
are kept in an append-only ledger, so restoring an old copy of a used approval is refused too.

This module is the one place approvals are decided; the CLI, the orchestrator and the REST
API (issue 6) all call ApprovalStore.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from raydeploy.checkpoints import Checkpoint
from raydeploy.deploy.store import StateDir, append_line, iso, now, parse_iso, read_json, write_json
from raydeploy.errors import UserError
from raydeploy.paths import PROJECT_ROOT

PENDING, APPROVED, DENIED, EXPIRED, CONSUMED = "pending", "approved", "denied", "expired", "consumed"
STATES = (PENDING, APPROVED, DENIED, EXPIRED, CONSUMED)
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({APPROVED, DENIED, EXPIRED}),
    APPROVED: frozenset({CONSUMED, EXPIRED}),
    DENIED: frozenset(),
    EXPIRED: frozenset(),
    CONSUMED: frozenset(),
}
DEFAULT_TTL = timedelta(hours=24)


def seed_approval_file(checkpoint: str) -> Path:
    """The seed's approval mechanism: any user can create it, so it is never trusted."""
    return Path("/tmp") / f"checkpoint-{checkpoint}-approved"  # noqa: S108 - only checked, never trusted


class ApprovalError(UserError):
    """Deciding an approval that cannot be decided (not pending, missing fields)."""


class ApprovalRefused(UserError):
    """An approval a run cannot use; `reason` is a short code kept in the audit log."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# -- digest ------------------------------------------------------------------------------------
_SKIP_DIRS = {"molecule", "__pycache__", ".git"}


def _tree_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name


_ROLE_REF = r"""^\s*(?:-\s*)?(?:role:\s*|name:\s*)?["']?{}["']?\s*$"""


def used_roles(checkpoint: Checkpoint, project: Path = PROJECT_ROOT) -> list[Path]:
    """The role directories a checkpoint can reach: every role named in its playbook, its
    shared plays, or (transitively) in those roles' files, as a `roles:` entry, a `role:` or
    the `name:` of include_role/import_role (a role's own tasks_from files are in its tree)."""
    roles_dir = project / "roles"
    names = sorted(p.name for p in roles_dir.iterdir() if p.is_dir()) if roles_dir.is_dir() else []
    texts = [p.read_text(errors="replace") for tree in (checkpoint.playbook_path,
             project / "playbooks" / "common") for p in _tree_files(tree)]
    found: set[str] = set()
    while texts:
        text = texts.pop()
        for name in names:
            if name not in found and re.search(_ROLE_REF.format(re.escape(name)), text, re.M):
                found.add(name)
                texts += [p.read_text(errors="replace") for p in _tree_files(roles_dir / name)]
    return [roles_dir / name for name in sorted(found)]


def digest_inputs(checkpoint: Checkpoint, inventory: Path, extravars: dict[str, Any],
                  limit: str | None, project: Path = PROJECT_ROOT) -> dict[str, str]:
    """Every input that decides what a checkpoint does, as {label: sha256}."""
    inputs: dict[str, str] = {
        "checkpoint": hashlib.sha256(checkpoint.name.encode()).hexdigest(),
        "extravars": hashlib.sha256(json.dumps(extravars, sort_keys=True).encode()).hexdigest(),
        "limit": hashlib.sha256((limit or "").encode()).hexdigest(),
    }
    trees = [checkpoint.playbook_path, project / "playbooks" / "common", project / "group_vars",
             project / "ansible.cfg", *used_roles(checkpoint, project)]
    inv = inventory.resolve()
    trees += [inv, inv.parent / "group_vars", inv.parent / "host_vars"]
    for tree in trees:
        for path in _tree_files(tree):
            try:
                label = str(path.relative_to(project))
            except ValueError:
                label = str(path)
            inputs[label] = hashlib.sha256(path.read_bytes()).hexdigest()
    return inputs


def compute_digest(inputs: dict[str, str]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


# -- the record --------------------------------------------------------------------------------
@dataclass
class Approval:
    id: str
    checkpoint: str
    destructive: bool
    digest: str
    state: str
    created_at: str
    expires_at: str
    requested_by: str
    run_id: str | None = None
    decided_at: str | None = None
    decided_by: str | None = None
    approved_by: str | None = None
    reason: str | None = None
    acknowledge_risks: bool = False
    consumed_at: str | None = None
    consumed_by_run: str | None = None
    preview: dict[str, Any] = field(default_factory=dict)
    seal: str = ""

    def payload(self) -> bytes:
        data = asdict(self)
        data.pop("seal")
        return json.dumps(data, sort_keys=True).encode()

    def sealed(self, key: bytes) -> Approval:
        self.seal = hmac.new(key, self.payload(), hashlib.sha256).hexdigest()
        return self

    def seal_ok(self, key: bytes) -> bool:
        expected = hmac.new(key, self.payload(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.seal or "")

    def is_expired(self, at: datetime) -> bool:
        expires = parse_iso(self.expires_at)
        return expires is not None and at >= expires

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Approval:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def transition(record: Approval, new_state: str) -> Approval:
    """Move a record along the state machine; anything else is an ApprovalError."""
    if new_state not in STATES:
        raise ApprovalError(f"unknown approval state {new_state!r}")
    if new_state not in TRANSITIONS[record.state]:
        raise ApprovalError(
            f"the approval for {record.checkpoint} is {record.state}, it cannot become {new_state}"
            + ("; only a pending approval can be decided" if new_state in (APPROVED, DENIED) else ""))
    record.state = new_state
    return record


def check_usable(record: Approval, checkpoint: str, digest: str, key: bytes,
                 consumed_ids: Iterable[str], at: datetime) -> None:
    """Raise ApprovalRefused unless a run may use this record for this checkpoint now."""
    if not record.seal_ok(key):
        raise ApprovalRefused("tampered", f"the approval record for {checkpoint} was modified "
                              "outside raydeploy (its seal does not match): refused")
    if record.checkpoint != checkpoint:
        raise ApprovalRefused("swapped", f"the approval record for {checkpoint} was granted for "
                              f"checkpoint {record.checkpoint}: refused")
    if record.id in set(consumed_ids) or record.state == CONSUMED:
        raise ApprovalRefused("consumed", f"approval {record.id} for {checkpoint} was already used "
                              f"by run {record.consumed_by_run or '?'}; each run needs its own approval")
    if record.state == DENIED:
        raise ApprovalRefused("denied", f"the approval for {checkpoint} was denied by "
                              f"{record.decided_by}: {record.reason}")
    if record.state == EXPIRED or record.is_expired(at):
        raise ApprovalRefused("expired", f"the approval for {checkpoint} expired at {record.expires_at}")
    if record.state != APPROVED:
        raise ApprovalRefused("not-approved", f"the approval for {checkpoint} is {record.state}")
    if not hmac.compare_digest(record.digest, digest):
        raise ApprovalRefused("digest", f"the approval for {checkpoint} was granted for a different "
                              "inventory, playbooks, variables or limit (digest "
                              f"{record.digest[:19]}…, now {digest[:19]}…): refused; preview again")
    if record.destructive and not record.acknowledge_risks:
        raise ApprovalRefused("risks", f"{checkpoint} is destructive and its approval does not "
                              "acknowledge the risks")


# -- the store ---------------------------------------------------------------------------------
class ApprovalStore:
    """Approval records of one state directory; safe to use from several processes."""

    def __init__(self, state: StateDir):
        self.state = state.ensure()
        self.dir = state.approvals_dir

    def path(self, checkpoint: str) -> Path:
        return self.dir / f"{checkpoint}.json"

    @property
    def ledger_path(self) -> Path:
        return self.dir / "consumed"

    def consumed_ids(self) -> set[str]:
        if not self.ledger_path.exists():
            return set()
        return {line.strip() for line in self.ledger_path.read_text().splitlines() if line.strip()}

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, record: Approval) -> Approval:
        record.sealed(self.state.seal_key())
        write_json(self.path(record.checkpoint), record.to_dict())
        return record

    def _archive(self, slot: str, record: Approval, note: str) -> None:
        """Move the record in checkpoint `slot`'s file (which may hold a swapped record) aside."""
        data = {**record.to_dict(), "archived_note": note, "archived_at": iso(now())}
        write_json(self.dir / "history" / f"{slot}-{record.id}.json", data)
        self.path(slot).unlink(missing_ok=True)

    def load(self, checkpoint: str) -> Approval | None:
        data = read_json(self.path(checkpoint))
        if data is None:
            return None
        if not isinstance(data, dict) or "checkpoint" not in data:
            raise ApprovalRefused("tampered", f"{self.path(checkpoint)} is not an approval record")
        return Approval.from_dict(data)

    def get(self, checkpoint: str, at: datetime | None = None) -> Approval | None:
        """The current record, moved to expired first when its time has passed."""
        with self._locked():
            return self._expire(self.load(checkpoint), at or now())

    def _expire(self, record: Approval | None, at: datetime) -> Approval | None:
        key = self.state.seal_key()
        if (record is not None and record.state in (PENDING, APPROVED) and record.is_expired(at)
                and record.seal_ok(key)):
            transition(record, EXPIRED)
            self._write(record)
            self.state.audit("approval_expired", who="raydeploy", checkpoint=record.checkpoint,
                             approval=record.id)
        return record

    def pending(self) -> list[Approval]:
        out = []
        for path in sorted(self.dir.glob("*.json")):
            record = self.get(path.stem)
            if record and record.state == PENDING:
                out.append(record)
        return out

    # -- requests and decisions ---------------------------------------------------------------
    def request(self, checkpoint: Checkpoint, digest: str, requested_by: str, run_id: str | None,
                preview: dict[str, Any] | None = None, ttl: timedelta = DEFAULT_TTL,
                at: datetime | None = None) -> Approval:
        """A pending approval for this digest: the existing one if it matches, else a new one."""
        at = at or now()
        with self._locked():
            try:
                current = self._expire(self.load(checkpoint.name), at)
            except ApprovalRefused:
                current = None
            key = self.state.seal_key()
            if (current and current.state == PENDING and current.digest == digest
                    and current.seal_ok(key) and current.checkpoint == checkpoint.name):
                if preview is not None:
                    current.preview = preview
                    current.run_id = run_id
                    self._write(current)
                return current
            if current is not None:
                self._archive(checkpoint.name, current, "superseded by a new request")
            record = Approval(
                id=uuid.uuid4().hex, checkpoint=checkpoint.name, destructive=checkpoint.destructive,
                digest=digest, state=PENDING, created_at=iso(at), expires_at=iso(at + ttl),
                requested_by=requested_by, run_id=run_id, preview=preview or {},
            )
            self._write(record)
        self.state.audit("approval_requested", who=requested_by, checkpoint=checkpoint.name,
                         approval=record.id, digest=digest, run=run_id, expires_at=record.expires_at)
        return record

    def _decide(self, checkpoint: str, new_state: str, by: str, reason: str,
                acknowledge_risks: bool, at: datetime | None, run: str | None = None,
                caller: str | None = None) -> Approval:
        at = at or now()
        if not (by or "").strip():
            raise ApprovalError("say who decides: --by NAME (approved_by over REST)")
        if not (reason or "").strip():
            raise ApprovalError("give a reason: --reason TEXT")
        with self._locked():
            record = self._expire(self.load(checkpoint), at)
            if record is None:
                raise ApprovalError(
                    f"no approval is pending for {checkpoint}; start a run (deploy-master.py --deploy "
                    "or --dry-run) so it previews the checkpoint and asks for one")
            if not record.seal_ok(self.state.seal_key()) or record.checkpoint != checkpoint:
                self.state.audit("approval_refused", who=by, checkpoint=checkpoint, approval=record.id,
                                 reason="tampered", action=new_state, **_via(caller))
                raise ApprovalRefused("tampered", f"the approval record for {checkpoint} was modified "
                                      "outside raydeploy; start a new run to request a new one")
            if new_state == APPROVED and record.destructive and not acknowledge_risks:
                raise ApprovalError(f"{checkpoint} is destructive: approving it needs "
                                    "--acknowledge-risks (acknowledge_risks: true over REST)")
            transition(record, new_state)
            record.decided_at, record.decided_by, record.reason = iso(at), by, reason
            if new_state == APPROVED:
                record.approved_by, record.acknowledge_risks = by, bool(acknowledge_risks)
            self._write(record)
        self.state.audit("approval_granted" if new_state == APPROVED else "approval_denied", who=by,
                         checkpoint=checkpoint, approval=record.id, reason=reason,
                         acknowledge_risks=record.acknowledge_risks, digest=record.digest, run=run,
                         **_via(caller))
        return record

    def approve(self, checkpoint: str, by: str, reason: str, acknowledge_risks: bool = False,
                at: datetime | None = None, run: str | None = None,
                caller: str | None = None) -> Approval:
        """Approve the pending request (CLI, REST, a terminal prompt or --auto-approve).

        `caller` is who made the call when that is not `by` itself (REST: the token and the
        client address); it is written to the audit entry next to `who`."""
        return self._decide(checkpoint, APPROVED, by, reason, acknowledge_risks, at, run, caller)

    def deny(self, checkpoint: str, by: str, reason: str, at: datetime | None = None,
             run: str | None = None, caller: str | None = None) -> Approval:
        return self._decide(checkpoint, DENIED, by, reason, False, at, run, caller)

    def set_aside_used(self, checkpoint: str, record: Approval) -> bool:
        """A validly sealed, consumed record left by an earlier run is history, not a replay."""
        with self._locked():
            if (record.state == CONSUMED and record.checkpoint == checkpoint
                    and record.seal_ok(self.state.seal_key()) and self.path(checkpoint).exists()):
                self._archive(checkpoint, record, "used by an earlier run")
                return True
        return False

    def usable(self, checkpoint: str, digest: str, at: datetime | None = None) -> Approval:
        """The approved record a run may consume, or ApprovalRefused."""
        record = self.get(checkpoint, at)
        if record is None:
            raise ApprovalRefused("missing", f"no approval for {checkpoint}")
        check_usable(record, checkpoint, digest, self.state.seal_key(), self.consumed_ids(), at or now())
        return record

    def consume(self, record: Approval, run_id: str, at: datetime | None = None) -> Approval:
        at = at or now()
        with self._locked():
            append_line(self.ledger_path, record.id)
            transition(record, CONSUMED)
            record.consumed_at, record.consumed_by_run = iso(at), run_id
            self._write(record)
        self.state.audit("approval_consumed", checkpoint=record.checkpoint, approval=record.id,
                         run=run_id, approved_by=record.approved_by)
        return record

    def refuse(self, checkpoint: str, refusal: ApprovalRefused, run_id: str | None,
               record: Approval | None = None) -> None:
        """Log a refused approval and put it aside, so the next request starts clean."""
        self.state.audit("approval_refused", checkpoint=checkpoint, reason=refusal.reason,
                         message=str(refusal), run=run_id, approval=record.id if record else None)
        if record is not None:
            with self._locked():
                if self.path(checkpoint).exists():
                    self._archive(checkpoint, record, f"refused: {refusal.reason}")


def _via(caller: str | None) -> dict[str, str]:
    return {"caller": caller} if caller else {}


def record_as_public(record: Approval | None) -> dict[str, Any] | None:
    """An approval for JSON output and the API: everything but the seal and the preview."""
    if record is None:
        return None
    data = record.to_dict()
    data.pop("seal", None)
    data.pop("preview", None)
    return data


def load_raw(path: Path) -> dict[str, Any]:
    return read_json(path, {})
