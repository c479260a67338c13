"""/metrics in Prometheus' text format, built on each scrape from the state directory:
checkpoint runs and durations by result, approvals by state, the last run's status."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from raydeploy.api.context import ctx
from raydeploy.deploy.approvals import STATES, ApprovalStore
from raydeploy.deploy.store import StateDir, parse_iso

bp = Blueprint("metrics", __name__)

RUN_STATUSES = ("succeeded", "previewed", "failed", "denied", "refused", "waiting-approval",
                "interrupted")
DECISIONS = {"approval_granted": "granted", "approval_denied": "denied", "approval_consumed": "consumed",
             "approval_refused": "refused", "approval_expired": "expired", "approval_timeout": "timeout",
             "approval_decision_refused": "decision_refused"}


class StateCollector(Collector):
    def __init__(self, state: StateDir, approvals: ApprovalStore):
        self.state, self.approvals = state, approvals

    def collect(self) -> Iterator:
        runs = CounterMetricFamily("raydeploy_checkpoint_runs", "Checkpoint runs by result.",
                                   labels=["checkpoint", "result"])
        durations = SummaryMetricFamily("raydeploy_checkpoint_duration_seconds",
                                        "Checkpoint run durations by result.",
                                        labels=["checkpoint", "result"])
        decisions = CounterMetricFamily("raydeploy_approval_decisions", "Approval events by kind.",
                                        labels=["decision"])
        counts: dict[tuple[str, str], list[float]] = {}
        decided = dict.fromkeys(DECISIONS.values(), 0)
        for e in self.state.audit_entries():
            ev = e.get("event")
            if ev == "checkpoint_finished" or ev == "checkpoint_interrupted":
                key = (str(e.get("checkpoint")), "interrupted" if ev == "checkpoint_interrupted"
                       else str(e.get("status")))
                acc = counts.setdefault(key, [0, 0.0])
                acc[0] += 1
                acc[1] += float(e.get("duration_s") or 0.0)
            elif ev in DECISIONS:
                decided[DECISIONS[ev]] += 1
        for (cp, result), (n, total) in sorted(counts.items()):
            runs.add_metric([cp, result], n)
            durations.add_metric([cp, result], count_value=n, sum_value=total)
        for kind, n in decided.items():
            decisions.add_metric([kind], n)
        yield runs
        yield durations
        yield decisions
        approvals = GaugeMetricFamily("raydeploy_approvals", "Current approval records by state.",
                                      labels=["state"])
        by_state = dict.fromkeys(STATES, 0)
        for path in sorted(self.approvals.dir.glob("*.json")):
            try:
                record = self.approvals.get(path.stem)
            except Exception:  # noqa: BLE001, S112 - a damaged record is counted nowhere, not a scrape error
                continue
            if record is not None and record.state in by_state:
                by_state[record.state] += 1
        for st, n in by_state.items():
            approvals.add_metric([st], n)
        yield approvals
        last = (self.state.load_state() or {}).get("last_run") or {}
        status = GaugeMetricFamily("raydeploy_last_run_status", "1 for the last run's status, 0 for others.",
                                   labels=["status"])
        for st in RUN_STATUSES:
            status.add_metric([st], 1 if last.get("status") == st else 0)
        yield status
        finished = parse_iso(last.get("finished_at"))
        yield GaugeMetricFamily("raydeploy_last_run_finished_timestamp_seconds",
                                "When the last run finished (0: never).",
                                value=finished.timestamp() if finished else 0)
        yield GaugeMetricFamily("raydeploy_last_run_exit_code", "The last run's exit code (-1: none).",
                                value=last.get("exit_code") if isinstance(last.get("exit_code"), int) else -1)


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(ctx().metrics), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})
