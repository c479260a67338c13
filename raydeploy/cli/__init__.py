"""The `raydeploy` command. Each area adds its own click group from its own module."""

from __future__ import annotations

import sys

import click

from raydeploy import __version__
from raydeploy.cli.api import api
from raydeploy.cli.deploy import approve, deny, deploy
from raydeploy.cli.image import image
from raydeploy.cli.sandbox import sandbox
from raydeploy.errors import UserError
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
    try:
        command.main(standalone_mode=False, prog_name=prog_name)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
