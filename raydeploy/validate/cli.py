"""`raydeploy validate` and validation/validate_checkpoint.py (seed 001's flags).

Kept apart from raydeploy.cli so the seed's script starts without importing the orchestrator.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from raydeploy.errors import UserError, run_click
from raydeploy.validate.collect import Options
from raydeploy.validate.metrics import DEFAULT_CPU_WEIGHT, DEFAULT_GPU_WEIGHT, DEFAULT_MAX_SCORE
from raydeploy.validate.render import text

EPILOG = """Exit codes: 0 healthy (every check passed), 1 degraded (warnings: a worker node missing,
a scrape target down, a host over a threshold), 2 failed or unreachable (a checkpoint's effect
does not hold, a host cannot be reached, bad input). JSON schema: raydeploy/validate/report.schema.json."""


def _inventory(path: Path | None) -> Path:
    from raydeploy.paths import PROJECT_ROOT

    default = os.environ.get("RAYDEPLOY_INVENTORY") or PROJECT_ROOT / "inventory" / "hosts.ini"
    inv = path or Path(default)
    if not inv.exists():
        raise UserError(
            f"inventory {inv} does not exist; pass --inventory PATH (for a sandbox: "
            '--inventory "$(raydeploy sandbox inventory --name NAME)")'
        )
    return inv.resolve()


@click.command(epilog=EPILOG)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--checkpoint",
    default=None,
    metavar="NAME",
    help="Only this checkpoint's checks (final-validation: every check plus a distributed job).",
)
@click.option("--health-only", is_flag=True, help="Per-host health and Ray nodes only: HTTP, no SSH.")
@click.option(
    "--approval-check",
    default=None,
    metavar="NAME",
    help="Where the approval of a gated checkpoint stands (alone: only that).",
)
@click.option(
    "--inventory",
    "-i",
    type=click.Path(path_type=Path),
    default=None,
    help="Inventory file (default: $RAYDEPLOY_INVENTORY or inventory/hosts.ini).",
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The orchestrator's state directory, for --approval-check (default: per inventory).",
)
@click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds per HTTP request.")
@click.option(
    "--cpu-weight",
    type=float,
    default=DEFAULT_CPU_WEIGHT,
    show_default=True,
    help="Health score weight of CPU load %% (seed 002).",
)
@click.option(
    "--gpu-weight",
    type=float,
    default=DEFAULT_GPU_WEIGHT,
    show_default=True,
    help="Health score weight of GPU memory used %% (seed 002).",
)
@click.option(
    "--max-score",
    type=float,
    default=DEFAULT_MAX_SCORE,
    show_default=True,
    help="A host scoring above this is degraded.",
)
@click.option(
    "--no-ssh", is_flag=True, help="Skip the SSH probe (versions, Docker, stray Ray are then skipped)."
)
@click.option(
    "--run-job", is_flag=True, help="Also run examples/hello_ray.py across every node (as checkpoint 06)."
)
@click.option("--verbose", "-v", is_flag=True, help="Text: every host's result, not only problems.")
def validate(
    fmt: str,
    checkpoint: str | None,
    health_only: bool,
    approval_check: str | None,
    inventory: Path | None,
    state_dir: Path | None,
    timeout: float,
    cpu_weight: float,
    gpu_weight: float,
    max_score: float,
    no_ssh: bool,
    run_job: bool,
    verbose: bool,
) -> None:
    """Is the cluster healthy now, and if not, exactly what and where."""
    from raydeploy.validate.runner import validate as run

    if health_only and checkpoint:
        raise UserError("--health-only and --checkpoint exclude each other; pass one")
    options = Options(
        timeout=timeout,
        cpu_weight=cpu_weight,
        gpu_weight=gpu_weight,
        max_score=max_score,
        health_only=health_only,
        use_ssh=not no_ssh,
        run_job=run_job,
    )
    report = run(
        _inventory(inventory),
        checkpoint=checkpoint,
        health_only=health_only,
        approval_check=approval_check,
        options=options,
        state_dir=state_dir.resolve() if state_dir else None,
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(text(report, verbose))
    sys.exit(report.exit_code)


def main(prog_name: str | None = None) -> None:
    # Exit 1 means "degraded" here, so click's own errors (bad flags) exit 2 like other bad input.
    run_click(validate, prog_name, click_error_exit=2)
