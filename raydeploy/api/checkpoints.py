"""Checkpoints (the registry with each one's last state) and runs started over REST."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, jsonify, request

from raydeploy import checkpoints as registry
from raydeploy.api.context import ctx
from raydeploy.api.runs import RunNotStoppable
from raydeploy.api.security import ApiError, Field, caller, json_body, shown
from raydeploy.checkpoints import Checkpoint
from raydeploy.deploy.approvals import record_as_public

bp = Blueprint("checkpoints", __name__, url_prefix="/api/v1")

LIMIT_RE = re.compile(r"^[A-Za-z0-9_.:,!&*\[\]-]{1,200}$")
RUN_FIELDS = {"dry_run": Field(bool), "to_end": Field(bool), "limit": Field(str, max_length=200)}
STOP_FIELDS = {"reason": Field(str, max_length=500)}


def find(name: str) -> Checkpoint:
    for cp in registry.load():
        if cp.name == name:
            return cp
    known = ", ".join(c.name for c in registry.load())
    raise ApiError(404, f"unknown checkpoint {shown(name)}; known checkpoints: {known}")


def checkpoint_view(cp: Checkpoint, states: dict[str, Any]) -> dict[str, Any]:
    saved = states.get(cp.name)
    state = None
    if isinstance(saved, dict):
        state = {k: saved.get(k) for k in ("status", "run_id", "started_at", "finished_at", "duration_s")}
        state["hosts"] = saved.get("hosts") or {}
        state["failures"] = len(saved.get("failures") or [])
    approval = None
    if cp.approval_required:
        approval = record_as_public(ctx().approvals.get(cp.name))
    return {"number": cp.number, "name": cp.name, "title": cp.title, "playbook": cp.playbook,
            "approval_required": cp.approval_required, "destructive": cp.destructive,
            "description": cp.description, "state": state, "approval": approval}


@bp.get("/checkpoints")
def list_checkpoints():
    states = ctx().state.load_state().get("checkpoints", {})
    return jsonify({"checkpoints": [checkpoint_view(cp, states) for cp in registry.load()],
                    "lock": ctx().state.holder()})


@bp.get("/checkpoints/<name>")
def get_checkpoint(name: str):
    cp = find(name)
    return jsonify(checkpoint_view(cp, ctx().state.load_state().get("checkpoints", {})))


@bp.post("/checkpoints/<name>")
def start_checkpoint(name: str):
    cp = find(name)
    body = json_body(RUN_FIELDS, allow_empty=True)
    limit = body.get("limit")
    if limit is not None and not LIMIT_RE.match(limit):
        raise ApiError(400, "limit must be an Ansible host pattern (letters, digits and _.:,!&*[]-)", "limit")
    c = ctx()
    if c.inventory is None:
        raise ApiError(409, "this API was started without an inventory (--inventory); it cannot start runs")
    holder = c.state.holder()
    if holder:
        raise ApiError(409, f"another run holds the lock: {holder.get('who', '?')} "
                            f"(pid {holder.get('pid', '?')}, {holder.get('command', '?')}) "
                            f"since {holder.get('since', '?')}")
    launch = c.runs.start(cp.name, to_end=bool(body.get("to_end")), dry_run=bool(body.get("dry_run")),
                          limit=limit, requested_by=caller())
    resp = jsonify({"run_id": launch.run_id, "checkpoint": cp.name, "status": "starting",
                    "url": f"/api/v1/runs/{launch.run_id}"})
    resp.status_code = 202
    resp.headers["Location"] = f"/api/v1/runs/{launch.run_id}"
    return resp


@bp.get("/runs")
def list_runs():
    limit = request.args.get("limit", "20")
    # ASCII digits only: str.isdigit() is true for '²', which int() refuses (that was a 500)
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 200:
        raise ApiError(400, "limit must be an integer from 1 to 200", "limit")
    return jsonify({"runs": ctx().runs.list(int(limit))})


@bp.get("/runs/<run_id>")
def get_run(run_id: str):
    run = ctx().runs.get(run_id)
    if run is None:
        raise ApiError(404, f"no run {shown(run_id)} in this state directory")
    return jsonify(run)


@bp.post("/runs/<run_id>/stop")
def stop_run(run_id: str):
    body = json_body(STOP_FIELDS, allow_empty=True)
    c = ctx()
    try:
        pid = c.runs.stop(run_id)
    except LookupError:
        raise ApiError(404, f"no run {shown(run_id)} in this state directory") from None
    except RunNotStoppable as exc:
        raise ApiError(409, str(exc)) from None
    c.state.audit("api_run_stop_requested", who=caller(), run=run_id, pid=pid, reason=body.get("reason"))
    resp = jsonify({"run_id": run_id, "status": "stopping", "url": f"/api/v1/runs/{run_id}"})
    resp.status_code = 202
    resp.headers["Location"] = f"/api/v1/runs/{run_id}"
    return resp
