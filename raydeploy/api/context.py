"""What one API app holds (no module-level state): the state directory, approvals, runs,
the upstream clients and the metrics registry. Views reach it through `ctx()`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from prometheus_client import CollectorRegistry, Counter

from raydeploy.api.runs import RunManager
from raydeploy.api.upstream import UpstreamClient
from raydeploy.deploy.approvals import ApprovalStore
from raydeploy.deploy.store import StateDir


@dataclass
class ApiContext:
    state: StateDir
    approvals: ApprovalStore
    runs: RunManager
    upstream: UpstreamClient
    inventory: Path | None
    metrics: CollectorRegistry
    requests: Counter


def ctx() -> ApiContext:
    return current_app.extensions["raydeploy"]
