"""What a run shows a person: live per-host progress, previews, the summary table (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from raydeploy.checkpoints import Checkpoint
from raydeploy.deploy.runner import RunResult


def label(checkpoint: Checkpoint) -> str:
    return f"{checkpoint.number:02d} {checkpoint.name}"


def host_table(result: RunResult, title: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for col in ("host", "ok", "changed", "failed", "unreachable", "last task"):
        table.add_column(col, justify="left" if col in ("host", "last task") else "right")
    for host in sorted(result.hosts):
        t = result.hosts[host]
        style = "red" if t.failed or t.unreachable else ""
        table.add_row(host, str(t.ok), str(t.changed), str(t.failed), str(t.unreachable),
                      escape(t.last_task[:60]), style=style)
    return table


class Progress:
    """Per-host counters while a checkpoint runs: a live table on a terminal, lines otherwise."""

    def __init__(self, console: Console, checkpoint: Checkpoint, check: bool):
        self.console = console
        self.title = f"{label(checkpoint)}{' (preview: check mode)' if check else ''}"
        self.live: Live | None = None
        self._task = ""

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self.live = Live(Text(self.title), console=self.console, refresh_per_second=4,
                             transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.live.__exit__(None, None, None)

    def event(self, result: RunResult, event: dict[str, Any]) -> None:
        kind = event.get("event")
        data = event.get("event_data") or {}
        if self.live:
            self.live.update(Group(Text(f"{self.title}: {result.current_task}"),
                                   host_table(result, "")))
            return
        if kind == "playbook_on_task_start" and result.current_task != self._task:
            self._task = result.current_task
            self.console.print(f"  [dim]task: {escape(self._task)}[/dim]", highlight=False)
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            what = "UNREACHABLE" if kind == "runner_on_unreachable" else "FAILED"
            self.console.print(f"  [red]{what}[/red] {escape(str(data.get('host')))}: "
                               f"{escape(result.failures[-1].message[:300]) if result.failures else ''}",
                               highlight=False)


def show_result(console: Console, checkpoint: Checkpoint, result: RunResult) -> None:
    verdict = "[green]ok[/green]" if result.ok else f"[red]{result.status}[/red]"
    console.print(host_table(result, f"{label(checkpoint)}: {verdict} in {result.duration:.0f} s"))


def show_preview(console: Console, checkpoint: Checkpoint, preview: dict[str, Any], digest: str) -> None:
    console.rule(f"Preview of {label(checkpoint)}"
                 + (" [bold red](DESTRUCTIVE)[/bold red]" if checkpoint.destructive else ""))
    console.print(escape(checkpoint.description), highlight=False)
    hosts = preview.get("hosts", {})
    if not hosts:
        console.print("no host would change.")
    for host, info in sorted(hosts.items()):
        changes, unsim = info.get("would_change", []), info.get("not_simulated", [])
        console.print(f"[bold]{escape(host)}[/bold]: {len(changes)} task(s) would change, "
                      f"{len(unsim)} not simulated by check mode", highlight=False)
        for change in changes:
            console.print(f"  [yellow]would change[/yellow]: {escape(change['task'])}", highlight=False)
            if change.get("diff"):
                console.print(Text("    " + change["diff"][:3000].replace("\n", "\n    "), style="dim"))
        for task in unsim:
            console.print(f"  [magenta]not simulated[/magenta] (command/shell): {escape(task)}",
                          highlight=False)
    for failure in preview.get("failures", []):
        console.print(f"  [red]preview failed[/red] on {escape(failure['host'])} at "
                      f"{escape(failure['task'])}: {escape(failure['message'][:300])}", highlight=False)
    console.print(f"digest: {digest}", highlight=False)


def summary_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"run {report['run_id']}: {report['status']}", title_justify="left")
    for col in ("checkpoint", "status", "seconds", "host", "ok", "changed", "failed", "unreachable"):
        table.add_column(col, justify="right" if col in ("seconds", "ok", "changed", "failed",
                                                          "unreachable") else "left")
    for cp in report["checkpoints"]:
        hosts = cp.get("hosts") or {}
        first = True
        for host in sorted(hosts) or [""]:
            t = hosts.get(host, {})
            style = "red" if t.get("failed") or t.get("unreachable") else ""
            table.add_row(
                f"{cp['number']:02d} {cp['name']}" if first else "",
                cp["status"] if first else "",
                f"{cp['duration_s']:.0f}" if first and cp.get("duration_s") is not None else "",
                host, *(str(t.get(k, "")) for k in ("ok", "changed", "failed", "unreachable")),
                style=style,
            )
            first = False
    return table
