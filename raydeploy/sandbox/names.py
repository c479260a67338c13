"""Validation of sandbox names and sizes, before anything is touched."""

from __future__ import annotations

import re

from raydeploy.errors import UserError

MIN_HOSTS = 1
MAX_HOSTS = 32
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,23}$")


def validate_name(name: str) -> str:
    # The name becomes part of container, network, volume and host names, so it must be
    # valid in all of them (DNS label rules are the strictest).
    if not _NAME_RE.match(name) or name.endswith("-"):
        raise UserError(
            f"invalid sandbox name {name!r}: use 1-24 lowercase letters, digits or '-', "
            "starting with a letter (for example --name sandbox2)"
        )
    return name


def validate_host_count(count: int) -> int:
    if not MIN_HOSTS <= count <= MAX_HOSTS:
        raise UserError(
            f"invalid host count {count}: a sandbox has {MIN_HOSTS} to {MAX_HOSTS} hosts "
            f"on this machine (for example --hosts 3)"
        )
    return count
