"""Approvals over REST: the same ApprovalStore as deploy-master.py, so a decision here releases a
run waiting at that gate. Every decision is audited with the approver and the caller."""

from __future__ import annotations

from flask import Blueprint, jsonify

from raydeploy.api.checkpoints import find
from raydeploy.api.context import ctx
from raydeploy.api.security import ApiError, Field, caller, json_body
from raydeploy.deploy.approvals import PENDING, ApprovalError, ApprovalRefused, record_as_public

bp = Blueprint("approvals", __name__, url_prefix="/api/v1")

APPROVE_FIELDS = {"approved_by": Field(str, required=True, max_length=100),
                  "reason": Field(str, required=True, max_length=1000),
                  "acknowledge_risks": Field(bool)}
DENY_FIELDS = {"denied_by": Field(str, required=True, max_length=100),
               "reason": Field(str, required=True, max_length=1000)}


@bp.get("/approvals")
def pending():
    return jsonify({"pending": [record_as_public(r) for r in ctx().approvals.pending()]})


@bp.get("/approvals/<name>")
def get_approval(name: str):
    cp = find(name)
    record = ctx().approvals.get(cp.name) if cp.approval_required else None
    return jsonify({
        "checkpoint": cp.name, "approval_required": cp.approval_required, "destructive": cp.destructive,
        "needs": {"approved_by": True, "reason": True, "acknowledge_risks": cp.destructive},
        "approval": record_as_public(record),
        "preview": record.preview if record is not None and record.state == PENDING else None,
    })


def _gated(name: str):
    cp = find(name)
    if not cp.approval_required:
        raise ApiError(409, f"{cp.name} needs no approval")
    return cp


def _decide(fn, name: str, action: str, **kw):
    """A decision through the ApprovalStore; one it refuses is 409 and is in the audit log
    (`approval_decision_refused`, with the approver, the caller and why), like a granted one.
    The store audits a tampered record itself."""
    try:
        return fn(name, caller=caller(), **kw)
    except ApprovalRefused as exc:
        raise ApiError(409, str(exc)) from exc
    except ApprovalError as exc:
        ctx().state.audit("approval_decision_refused", who=kw["by"], checkpoint=name, action=action,
                          reason=str(exc), caller=caller())
        raise ApiError(409, str(exc)) from exc


@bp.post("/approvals/<name>")
def approve(name: str):
    cp = _gated(name)
    body = json_body(APPROVE_FIELDS)
    if cp.destructive and body.get("acknowledge_risks") is not True:
        raise ApiError(400, f"{cp.name} is destructive: approving it needs acknowledge_risks: true",
                       "acknowledge_risks")
    record = _decide(ctx().approvals.approve, cp.name, "approve", by=body["approved_by"].strip(),
                     reason=body["reason"].strip(), acknowledge_risks=bool(body.get("acknowledge_risks")))
    return jsonify(record_as_public(record))


@bp.post("/approvals/<name>/deny")
def deny(name: str):
    cp = _gated(name)
    body = json_body(DENY_FIELDS)
    record = _decide(ctx().approvals.deny, cp.name, "deny", by=body["denied_by"].strip(),
                     reason=body["reason"].strip())
    return jsonify(record_as_public(record))


