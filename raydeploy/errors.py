"""One error type for problems the user can fix, and how every command reports errors."""

from __future__ import annotations

import sys

import click


class UserError(Exception):
    """A problem with input or environment; the message names the problem and the fix."""


def run_click(command: click.Command, prog_name: str | None = None,
              click_error_exit: int | None = None) -> None:
    """Run a click command with the project's error habits: `error: ...` and exit 2, Ctrl-C 130.

    Lives here, not in raydeploy.cli, so a thin script can use it without importing every
    command (the orchestrator's imports cost about a second). click_error_exit replaces click's
    own exit code for its errors, for commands whose exit codes carry other meanings.
    """
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
        sys.exit(exc.exit_code if click_error_exit is None else click_error_exit)
