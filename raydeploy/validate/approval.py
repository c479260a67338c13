"""--approval-check NAME: where the gated checkpoint's approval stands, from the orchestrator's
state directory (the same ApprovalStore deploy-master.py uses). Read-only but for moving a
record whose time has passed to expired, as every reader of the store does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raydeploy import checkpoints as registry
from raydeploy.deploy.approvals import (
    ApprovalRefused,
    ApprovalStore,
    compute_digest,
    digest_inputs,
    record_as_public,
)
from raydeploy.deploy.store import StateDir, default_state_dir
from raydeploy.validate.report import FAIL, PASS, WARN, Result

NEXT_STEP = {
    "pending": "approve it: raydeploy approve {name} --by WHO --reason WHY",
    "missing": "run deploy-master.py --deploy --dry-run (or --checkpoint {name}) to preview it "
    "and request one",
}


def approval_check(
    name: str, inventory: Path, state_dir: Path | None = None
) -> tuple[Result, dict[str, Any]]:
    cp = registry.get(name)
    info: dict[str, Any] = {
        "checkpoint": name,
        "approval_required": cp.approval_required,
        "destructive": cp.destructive,
        "state": None,
        "usable": False,
        "record": None,
    }
    if not cp.approval_required:
        info["usable"] = True
        return Result("approval", name, PASS, f"{name} needs no approval", None, info), info
    root = state_dir or default_state_dir(inventory)
    info["state_dir"] = str(root)
    record = ApprovalStore(StateDir(root)).get(name) if root.is_dir() else None
    if record is None:
        info["state"] = "missing"
        return Result(
            "approval",
            name,
            WARN,
            f"no approval recorded for {name}; " + NEXT_STEP["missing"].format(name=name),
            None,
            info,
        ), info
    info["state"], info["record"] = record.state, record_as_public(record)
    digest = compute_digest(digest_inputs(cp, inventory, {}, None))
    try:
        ApprovalStore(StateDir(root)).usable(name, digest)
        info["usable"] = True
        return Result(
            "approval",
            name,
            PASS,
            f"{name} is approved by {record.approved_by} "
            f"({record.reason}) until {record.expires_at}; a run may use it",
            None,
            info,
        ), info
    except ApprovalRefused as refusal:
        info["refusal"] = refusal.reason
        if record.state == "pending":
            return Result(
                "approval",
                name,
                WARN,
                f"{name} is pending since {record.created_at}; " + NEXT_STEP["pending"].format(name=name),
                None,
                info,
            ), info
        status = WARN if refusal.reason in ("consumed", "expired") else FAIL
        return Result("approval", name, status, f"{name}: {refusal}", None, info), info
