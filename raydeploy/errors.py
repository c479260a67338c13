"""One error type for problems the user can fix: the CLI prints its message as one line."""


class UserError(Exception):
    """A problem with input or environment; the message names the problem and the fix."""
