"""`raydeploy sandbox ...`: local Debian hosts to try a deployment on before real servers."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from raydeploy.sandbox.hosts import HostStatus, Sandbox

_name = click.option("--name", default="sandbox", show_default=True,
                     help="Sandbox name; several sandboxes can live side by side.")


def _table(rows: list[HostStatus], title: str) -> Table:
    table = Table(title=title)
    for col in ("host", "address", "container", "state", "systemd"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.name, r.address, r.container, r.state, r.systemd)
    return table


@click.group()
def sandbox() -> None:
    """Local sandbox hosts (Debian, systemd, sshd) running as Docker containers."""


@sandbox.command()
@_name
@click.option("--hosts", "count", type=int, default=3, show_default=True,
              help="Number of hosts; the sandbox grows or shrinks to exactly this many.")
@click.option("--ca-bundle", type=click.Path(path_type=Path), default=None,
              help="Extra CA certificates (PEM) to trust on the hosts, e.g. for a TLS proxy.")
def up(name: str, count: int, ca_bundle: Path | None) -> None:
    """Create or start the sandbox's hosts and write its inventory."""
    console = Console(stderr=False)
    started = time.monotonic()
    box = Sandbox(name)
    rows = box.up(count, ca_bundle=ca_bundle, log=lambda m: console.print(f"[dim]{m}[/dim]"))
    console.print(_table(rows, f"sandbox '{name}' ({time.monotonic() - started:.1f} s)"))
    console.print(f"inventory: {box.inventory_path}")


@sandbox.command()
@_name
def status(name: str) -> None:
    """Show the sandbox's hosts, their addresses and whether systemd runs over SSH."""
    rows = Sandbox(name).status()
    if not rows:
        click.echo(f"sandbox '{name}' has no hosts; create it with 'raydeploy sandbox up'")
        return
    Console().print(_table(rows, f"sandbox '{name}'"))


@sandbox.command()
@_name
def inventory(name: str) -> None:
    """Print the path of the sandbox's Ansible inventory."""
    box = Sandbox(name)
    if not box.inventory_path.exists():
        raise click.ClickException(
            f"sandbox '{name}' has no inventory; create it with 'raydeploy sandbox up --name {name}'"
        )
    click.echo(box.inventory_path)


@sandbox.command()
def engine() -> None:
    """Ensure a Docker engine runs (on Debian as root, install and start one if needed)."""
    from raydeploy.sandbox.engine import ensure_engine

    version = ensure_engine().version()
    click.echo(f"Docker engine {version.get('Version', '?')} is running")


@sandbox.command()
def image() -> None:
    """Build (if needed) and print the sandbox host image tag, e.g. for molecule scenarios."""
    from raydeploy.sandbox.engine import ensure_engine
    from raydeploy.sandbox.images import ensure_host_image

    click.echo(ensure_host_image(ensure_engine(), log=lambda m: click.echo(m, err=True)))


@sandbox.command()
@_name
def down(name: str) -> None:
    """Remove the sandbox's containers, network, volumes, key and inventory."""
    removed = Sandbox(name).down()
    click.echo(f"sandbox '{name}': removed {removed} hosts")
