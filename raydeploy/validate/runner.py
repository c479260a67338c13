"""validate(): read the inventory, gather, check, report. The CLI, the seed's script,
checkpoint 06 and the REST API call this."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from raydeploy import checkpoints as registry
from raydeploy.validate.checks import FINAL, evaluate
from raydeploy.validate.collect import Collector, Observations, Options
from raydeploy.validate.report import Report
from raydeploy.validate.spec import load_spec


def plan(checkpoint: str | None, health_only: bool) -> tuple[str, list[str]]:
    """(mode, checkpoints whose checks run). final-validation means every checkpoint plus the job."""
    names = [c.name for c in registry.load()]
    if health_only:
        return "health-only", []
    if checkpoint is None:
        return "full", [n for n in names if n != FINAL]
    registry.get(checkpoint)  # unknown names stop here, naming the known ones
    return "checkpoint", names if checkpoint == FINAL else [checkpoint]


def validate(
    inventory: Path,
    *,
    checkpoint: str | None = None,
    health_only: bool = False,
    approval_check: str | None = None,
    options: Options | None = None,
    state_dir: Path | None = None,
    collector_factory=Collector,
) -> Report:
    started = time.monotonic()
    options = options or Options()
    inventory = Path(inventory).resolve()
    approval = None
    if approval_check:
        from raydeploy.validate.approval import approval_check as check_approval

        approval = check_approval(approval_check, inventory, state_dir)
        if checkpoint is None and not health_only:  # the seed's --approval-check on its own
            return Report(
                str(inventory),
                "approval",
                [approval_check],
                [approval[0]],
                [],
                {"cpu": options.cpu_weight, "gpu": options.gpu_weight, "max_score": options.max_score},
                _now(),
                time.monotonic() - started,
                approval=approval[1],
            )
    mode, names = plan(checkpoint, health_only)
    spec = load_spec(inventory)
    t_spec = time.monotonic() - started
    if FINAL in names and not options.run_job:
        options = dataclasses.replace(options, run_job=True)
    obs: Observations = collector_factory(spec, options).collect()
    obs.timings["inventory_s"] = t_spec
    report = evaluate(spec, obs, options, names, mode)
    if approval:
        report.results.append(approval[0])
        report.approval = approval[1]
    report.duration_s = time.monotonic() - started
    return report


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
