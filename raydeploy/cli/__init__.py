"""The `raydeploy` command. Each area adds its own click group from its own module."""

from __future__ import annotations

import click

from raydeploy import __version__
from raydeploy.cli.api import api
from raydeploy.cli.deploy import approve, deny, deploy
from raydeploy.cli.image import image
from raydeploy.cli.sandbox import sandbox
from raydeploy.errors import run_click
from raydeploy.validate.cli import validate


@click.group()
@click.version_option(__version__)
def cli() -> None:
    """Take Linux servers from bare to a production Ray cluster with monitoring."""


cli.add_command(sandbox)
cli.add_command(image)
cli.add_command(deploy)
cli.add_command(approve)
cli.add_command(deny)
cli.add_command(api)
cli.add_command(validate)


def main(command: click.Command = cli, prog_name: str | None = None) -> None:
    """Run a click command with the project's error habits: `error: ...` and exit 2."""
    run_click(command, prog_name)
