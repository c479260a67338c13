"""Free-form inventory values that reach a host's command lines, units and Dockerfiles.

Nothing raydeploy runs on a host goes through a shell with an inventory value in it: commands
are argv lists, `ray start`'s arguments are quoted into the unit, the derived image's pip line
is shell-quoted. What is left are the places where another parser reads the value:

- systemd reads a native node's unit (ray_common/templates/ray-node.service.j2). In
  `Environment="K=V"` it unescapes backslashes and expands `%` specifiers, and a `"` ends the
  value (systemd then drops the whole line). In `ExecStart=` it also expands `$VAR`/`${VAR}`,
  so `$HOME` is replaced and `$(...)` vanishes. A newline in either starts a new directive:
  an injected `ExecStartPre=` would run as root. (Seen on the sandbox hosts' systemd 252.)
- Docker's builder reads the derived image's Dockerfile, where a newline starts an instruction.
- pip reads requirement strings and the index URL (the pip module splits extra_args like a shell).
- Unquoted paths and names go into the unit and into Ray's own socket paths.

`ray_input_problems` lists, for one host, every value those parsers would not take literally,
naming the variable and the fix; checkpoint 01 (ray_common's preflight) refuses the host with
all of them before anything is changed. A value it accepts reaches Ray literally.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH = re.compile(r"^/[A-Za-z0-9._+/-]*$")
_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
_URL = re.compile(r"^https?://[^\s'\"\\`$<>|;&(){}]+$")
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SPEC = r"(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_REQUIREMENT = re.compile(
    rf"^{_NAME}(?:\[\s*{_NAME}(?:\s*,\s*{_NAME})*\s*\])?\s*(?:{_SPEC}(?:\s*,\s*{_SPEC})*)?$")

# What systemd does not pass literally (see above), by where the value lands in the unit.
UNIT_ENV_CHARS = '"\\%'
UNIT_ARG_CHARS = "$%\\"
UNIT_FIX = "systemd would not pass them literally in the Ray node's unit"


def _show(value: object) -> str:
    return repr(str(value))


def _bad_chars(value: str, chars: str) -> str:
    found = sorted({c for c in value if c in chars})
    if CONTROL.search(value):
        found.append("control characters (newline, tab, ...)")
    return " ".join(found)


def _check_free_text(problems: list[str], name: str, value: object, chars: str) -> None:
    text = str(value)
    bad = _bad_chars(text, chars)
    if bad:
        why = UNIT_FIX if chars else "a container's command line and environment take no control characters"
        if CONTROL.search(text):
            why += " (a newline would start a new directive)"
        problems.append(f"{name} is {_show(text)}: it contains {bad}; {why}; remove them")


def ray_input_problems(v: Mapping) -> list[str]:
    """Every problem with the free-form values in `v` (the host's ray_* settings)."""
    problems: list[str] = []
    native = v.get("ray_install_mode", "native") == "native"
    env_chars = UNIT_ENV_CHARS if native else ""
    arg_chars = UNIT_ARG_CHARS if native else ""

    env = v.get("ray_environment") or {}
    if not isinstance(env, Mapping):
        problems.append(f"ray_environment must be a mapping of variable names to values, not {_show(env)}")
        env = {}
    for key, value in env.items():
        if not _ENV_KEY.match(str(key)):
            problems.append(f"ray_environment has the key {_show(key)}: an environment variable name is "
                            "letters, digits and _, not starting with a digit")
        _check_free_text(problems, f"ray_environment[{key!r}]", value, env_chars)
    for name in ("ray_head_grafana_host", "ray_head_grafana_iframe_host", "ray_head_prometheus_host"):
        if v.get(name):
            _check_free_text(problems, name, v[name], env_chars)

    args = v.get("ray_extra_start_args") or []
    if isinstance(args, (str, bytes)) or not isinstance(args, (list, tuple)):
        problems.append(f"ray_extra_start_args must be a list of arguments, not {_show(args)}; "
                        "write it as [--flag=value, ...]")
        args = []
    for i, arg in enumerate(args):
        _check_free_text(problems, f"ray_extra_start_args[{i}]", arg, arg_chars)

    resources = v.get("ray_resources") or {}
    if not isinstance(resources, Mapping):
        problems.append("ray_resources must be a mapping of resource names to amounts, "
                        f"not {_show(resources)}")
        resources = {}
    for key, amount in resources.items():
        # Names go into --resources='{json}': JSON escapes " and \ with a backslash.
        _check_free_text(problems, f"ray_resources key {key!r}", key, arg_chars + ('"' if native else ""))
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
            problems.append(f"ray_resources[{key!r}] is {_show(amount)}: an amount is a number >= 0")

    for name in ("ray_venv_dir", "ray_temp_dir", "ray_home_dir", "ray_config_dir"):
        if name in v and not _PATH.match(str(v[name])):
            problems.append(f"{name} is {_show(v[name])}: use an absolute path of letters, digits and "
                            ". _ + - / (no spaces or quotes: it goes unquoted into the unit and Ray's "
                            "socket paths)")
    for name in ("ray_user", "ray_group"):
        if name in v and not _ACCOUNT.match(str(v[name])):
            problems.append(f"{name} is {_show(v[name])}: use a POSIX account name (lowercase letters, "
                            "digits, _ and -, starting with a letter or _, at most 32)")

    for name in ("ray_pip_extra_packages", "ray_docker_extra_pip_packages"):
        packages = v.get(name) or []
        if isinstance(packages, (str, bytes)) or not isinstance(packages, (list, tuple)):
            problems.append(f"{name} must be a list of requirements, not {_show(packages)}")
            continue
        for package in packages:
            if not _REQUIREMENT.match(str(package)):
                problems.append(f"{name} has {_show(package)}: write a requirement as name, name[extra] "
                                "or name==1.2 (version specifiers only; no markers, URLs, options or "
                                "spaces in names)")
    url = v.get("ray_pip_index_url") or ""
    if url and not _URL.match(str(url)):
        problems.append(f"ray_pip_index_url is {_show(url)}: use an http(s) URL without spaces, quotes or "
                        "shell characters (\\ ` $ < > | ; & ( ) { })")
    if not native and not _IMAGE.match(str(v.get("ray_docker_image", ""))):
        problems.append(f"ray_docker_image is {_show(v.get('ray_docker_image'))}: use an image reference "
                        "like registry:5000/name:tag or name@sha256:digest")
    return problems


class FilterModule:
    def filters(self) -> dict:
        return {"ray_input_problems": ray_input_problems}
