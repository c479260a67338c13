"""`raydeploy deploy …`, `raydeploy approve|deny`, and the seed's deploy-master.py flags."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from raydeploy import checkpoints as registry
from raydeploy.deploy.approvals import ApprovalStore, record_as_public
from raydeploy.deploy.orchestrator import (
    Options,
    Orchestrator,
    is_interactive,
    parse_extravars,
    plan,
    print_report,
    result_json,
)
from raydeploy.deploy.store import StateDir, default_state_dir
from raydeploy.errors import UserError
from raydeploy.paths import PROJECT_ROOT


def resolve_inventory(inventory: Path | None) -> Path:
    default = os.environ.get("RAYDEPLOY_INVENTORY") or PROJECT_ROOT / "inventory" / "hosts.ini"
    path = inventory or Path(default)
    if not path.is_file():
        raise UserError(f"inventory {path} does not exist; pass --inventory PATH (for a sandbox: "
                        "--inventory \"$(raydeploy sandbox inventory --name NAME)\")")
    return path.resolve()


def resolve_state_dir(state_dir: Path | None, inventory: Path | None) -> Path:
    if state_dir:
        return state_dir.resolve()
    return default_state_dir(resolve_inventory(inventory))


def _target_options(f):
    for option in reversed([
        click.option("--inventory", "-i", type=click.Path(path_type=Path), default=None,
                     help="Inventory file (default: $RAYDEPLOY_INVENTORY or inventory/hosts.ini)."),
        click.option("--state-dir", type=click.Path(path_type=Path), default=None,
                     help="State directory (default: ~/.raydeploy/deployments/CLUSTER-KEY, per project "
                          "and inventory)."),
    ]):
        f = option(f)
    return f


def _run_options(f):
    for option in reversed([
        click.option("--limit", "-l", default=None, help="Ansible host pattern to limit the run to."),
        click.option("--extra-vars", "-e", multiple=True,
                     help="KEY=VALUE pairs, a JSON object or @FILE, as for ansible-playbook; repeatable."),
        click.option("--auto-approve", is_flag=True,
                     help="Approve every gated checkpoint as the running user (reason 'auto-approve'); "
                          "logged like any approval. For disposable hosts."),
        click.option("--dry-run", is_flag=True,
                     help="Preview every planned checkpoint in check+diff mode; change nothing. Gated "
                          "checkpoints get a pending approval you can grant ahead of the real run."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print the result as JSON on stdout (schema: raydeploy/deploy/result.schema.json); "
                          "progress goes to stderr."),
        click.option("--approval-timeout", type=float, default=1800.0, show_default=True,
                     help="Without a terminal, seconds to wait for a pending approval."),
        click.option("--approval-ttl", type=float, default=24 * 3600.0, show_default=True,
                     help="Seconds a new approval request stays valid."),
    ]):
        f = option(f)
    return f


def execute(mode: str, name: str | None, *, inventory: Path | None, state_dir: Path | None,
            limit: str | None, extra_vars: tuple[str, ...], auto_approve: bool, dry_run: bool,
            as_json: bool, approval_timeout: float, approval_ttl: float, command: str) -> None:
    console = Console(stderr=as_json, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=as_json, highlight=False, width=120)
    inv = resolve_inventory(inventory)
    options = Options(
        inventory=inv, state_dir=resolve_state_dir(state_dir, inv), limit=limit,
        extravars=parse_extravars(extra_vars), auto_approve=auto_approve, dry_run=dry_run,
        approval_timeout=approval_timeout, approval_ttl=timedelta(seconds=approval_ttl),
        interactive=is_interactive() and not auto_approve,
    )
    orchestrator = Orchestrator(options, console)
    checkpoints = plan(mode, name, orchestrator.state)
    report = orchestrator.run(checkpoints, command)
    print_report(console, report)
    if as_json:
        click.echo(result_json(report))
    sys.exit(report["exit_code"])


def list_checkpoints(as_json: bool) -> None:
    entries = registry.load()
    if as_json:
        click.echo(json.dumps([{"number": c.number, "name": c.name, "title": c.title,
                                "playbook": c.playbook, "approval_required": c.approval_required,
                                "destructive": c.destructive, "description": c.description}
                               for c in entries], indent=2))
        return
    table = Table(title="checkpoints (playbooks/checkpoints.yml)", title_justify="left")
    for col in ("#", "name", "title", "approval", "destructive", "playbook"):
        table.add_column(col)
    for c in entries:
        table.add_row(f"{c.number:02d}", c.name, c.title, "yes" if c.approval_required else "no",
                      "yes" if c.destructive else "no", c.playbook)
    Console(width=max(120, Console().width)).print(table)


# -- raydeploy deploy ... ------------------------------------------------------------------------
@click.group()
def deploy() -> None:
    """Run the checkpoints with previews, approvals, durable state and resume."""


@deploy.command("run")
@_target_options
@_run_options
@click.option("--start-from", default=None, metavar="NAME", help="Run from this checkpoint to the end.")
@click.option("--resume", is_flag=True, help="Continue from the first checkpoint that has not succeeded.")
def run_cmd(start_from: str | None, resume: bool, **kw) -> None:
    """Run every checkpoint in order (or from one, or resume)."""
    if start_from and resume:
        raise UserError("use --start-from NAME or --resume, not both")
    mode = "resume" if resume else "start-from" if start_from else "deploy"
    execute(mode, start_from, command="raydeploy " + " ".join(sys.argv[1:]), **kw)


@deploy.command("checkpoint")
@click.argument("name")
@_target_options
@_run_options
def checkpoint_cmd(name: str, **kw) -> None:
    """Run one checkpoint (with its approval gate if it has one)."""
    execute("checkpoint", name, command=f"raydeploy deploy checkpoint {name}", **kw)


@deploy.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def list_cmd(as_json: bool) -> None:
    """List the checkpoints from the registry."""
    list_checkpoints(as_json)


@deploy.command("status")
@_target_options
@click.option("--json", "as_json", is_flag=True)
def status_cmd(inventory: Path | None, state_dir: Path | None, as_json: bool) -> None:
    """Checkpoint states, approvals, the lock holder and the last failure."""
    state = StateDir(resolve_state_dir(state_dir, inventory))
    data = state.load_state() if state.root.exists() else {"checkpoints": {}, "last_run": None}
    store = ApprovalStore(state) if state.root.exists() else None
    approvals = {c.name: record_as_public(store.get(c.name)) if store else None
                 for c in registry.load() if c.approval_required}
    out = {"state_dir": str(state.root), "checkpoints": data.get("checkpoints", {}),
           "last_run": data.get("last_run"), "approvals": approvals,
           "lock": state.holder() if state.root.exists() else None,
           "failure": json.loads(state.failure_path.read_text()) if state.failure_path.exists() else None}
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    console = Console()
    table = Table(title=f"state: {state.root}", title_justify="left")
    for col in ("checkpoint", "status", "run", "finished", "approval"):
        table.add_column(col)
    for c in registry.load():
        s = out["checkpoints"].get(c.name, {})
        a = approvals.get(c.name)
        table.add_row(f"{c.number:02d} {c.name}", s.get("status", "-"), s.get("run_id", "-"),
                      s.get("finished_at") or "-", f"{a['state']} ({a['id'][:8]})" if a else "-")
    console.print(table)
    if out["lock"]:
        console.print(f"locked by {out['lock']}")
    if out["failure"]:
        f = out["failure"]
        console.print(f"last failure: {f['checkpoint']} on {', '.join(f['hosts'])}: "
                      f"{escape(f['task'])}: {escape(f['message'][:300])}", highlight=False)


# -- raydeploy approve / deny --------------------------------------------------------------------
@click.command()
@click.argument("name")
@click.option("--by", "by", required=True, help="Who approves (recorded).")
@click.option("--reason", required=True, help="Why (recorded).")
@click.option("--acknowledge-risks", is_flag=True, help="Required for destructive checkpoints.")
@_target_options
def approve(name: str, by: str, reason: str, acknowledge_risks: bool, inventory: Path | None,
            state_dir: Path | None) -> None:
    """Approve the pending approval of checkpoint NAME (a run previewed it)."""
    registry.get(name)
    store = ApprovalStore(StateDir(resolve_state_dir(state_dir, inventory)))
    record = store.approve(name, by=by, reason=reason, acknowledge_risks=acknowledge_risks)
    click.echo(f"approved {name} ({record.id}) by {by}; digest {record.digest}; valid until "
               f"{record.expires_at}; the next run (or the one waiting) consumes it")


@click.command()
@click.argument("name")
@click.option("--by", "by", required=True, help="Who denies (recorded).")
@click.option("--reason", required=True, help="Why (recorded).")
@_target_options
def deny(name: str, by: str, reason: str, inventory: Path | None, state_dir: Path | None) -> None:
    """Deny the pending approval of checkpoint NAME; a run waiting at it stops."""
    registry.get(name)
    store = ApprovalStore(StateDir(resolve_state_dir(state_dir, inventory)))
    record = store.deny(name, by=by, reason=reason)
    click.echo(f"denied {name} ({record.id}) by {by}")


# -- the seed's deploy-master.py -----------------------------------------------------------------
@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--deploy", "do_deploy", is_flag=True, help="Run every checkpoint in order.")
@click.option("--checkpoint", default=None, metavar="NAME", help="Run one checkpoint.")
@click.option("--start-from", default=None, metavar="NAME", help="With --deploy: start at this checkpoint.")
@click.option("--resume", is_flag=True, help="Continue from the first checkpoint that has not succeeded.")
@click.option("--list-checkpoints", "list_only", is_flag=True, help="List the checkpoints and exit.")
@_target_options
@_run_options
def deploy_master(do_deploy: bool, checkpoint: str | None, start_from: str | None, resume: bool,
                  list_only: bool, **kw) -> None:
    """Gated checkpoint orchestrator for a Ray cluster (seed 001's deploy-master.py)."""
    if list_only:
        list_checkpoints(kw["as_json"])
        return
    chosen = [flag for flag, on in (("--deploy", do_deploy or bool(start_from)),
                                    ("--checkpoint", bool(checkpoint)), ("--resume", resume)) if on]
    if len(chosen) != 1:
        raise UserError("choose one of --deploy [--start-from NAME], --checkpoint NAME, --resume "
                        "or --list-checkpoints" + (f" (got {' '.join(chosen)})" if chosen else ""))
    if checkpoint:
        mode, name = "checkpoint", checkpoint
    elif resume:
        mode, name = "resume", None
    else:
        mode, name = ("start-from", start_from) if start_from else ("deploy", None)
    execute(mode, name, command="deploy-master.py " + " ".join(sys.argv[1:]), **kw)
