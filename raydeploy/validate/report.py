"""The report: one Result per check and host, per-host health, an overall status and exit code.

Statuses: pass; warn (the cluster works but something is degraded: a worker node missing, a
scrape target down, a host over a threshold); fail (a checkpoint's effect does not hold, or
a host cannot be reached); skip (does not apply here). Exit codes: 0 healthy (no warn or
fail), 1 degraded (warn, no fail), 2 failed or unreachable (any fail). The JSON form follows
report.schema.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
STATUSES = (PASS, WARN, FAIL, SKIP)
HEALTHY, DEGRADED, FAILED, UNREACHABLE = "healthy", "degraded", "failed", "unreachable"
EXIT_CODES = {HEALTHY: 0, DEGRADED: 1, FAILED: 2, UNREACHABLE: 2}
SCHEMA_VERSION = 1


@dataclass
class Result:
    check: str  # stable id, e.g. "ray.nodes_alive"
    checkpoint: str  # a registry name, or "health" / "approval"
    status: str
    message: str
    host: str | None = None  # None: about the cluster as a whole
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "checkpoint": self.checkpoint,
            "host": self.host,
            "status": self.status,
            "message": self.message,
            "data": self.data,
        }


@dataclass
class HostHealth:
    name: str
    address: str
    role: str  # head, worker, monitoring
    status: str  # pass, warn, fail (unreachable or no metrics)
    metrics: dict[str, Any]
    score: float | None
    ray_nodes_alive: int | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "role": self.role,
            "status": self.status,
            "score": self.score,
            "ray_nodes_alive": self.ray_nodes_alive,
            "metrics": self.metrics,
            "notes": self.notes,
        }


@dataclass
class Report:
    inventory: str
    mode: str  # full, health-only, checkpoint, approval
    checkpoints: list[str]
    results: list[Result]
    hosts: list[HostHealth]
    weights: dict[str, float]
    generated_at: str
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)
    approval: dict[str, Any] | None = None
    unreachable: bool = False

    @property
    def status(self) -> str:
        statuses = {r.status for r in self.results}
        if self.unreachable:
            return UNREACHABLE
        if FAIL in statuses:
            return FAILED
        if WARN in statuses:
            return DEGRADED
        return HEALTHY

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def problems(self) -> list[Result]:
        return [r for r in self.results if r.status in (WARN, FAIL)]

    def summary(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "generated_at": self.generated_at,
            "inventory": self.inventory,
            "mode": self.mode,
            "status": self.status,
            "exit_code": self.exit_code,
            "duration_s": round(self.duration_s, 3),
            "checkpoints": self.checkpoints,
            "summary": self.summary(),
            "problems": [f"{r.check}{'@' + r.host if r.host else ''}: {r.message}" for r in self.problems()],
            "results": [r.to_dict() for r in self.results],
            "hosts": [h.to_dict() for h in self.hosts],
            "health_weights": self.weights,
            "approval": self.approval,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
