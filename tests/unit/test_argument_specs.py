"""Every role documents and type-checks exactly its public variables (prometheus-community's CI
check): the options of meta/argument_specs.yml (entry point main) equal the keys of
defaults/main.yml. Roles starting with '_' (internal) or without defaults/main.yml are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT

ROLES = PROJECT / "roles"


def _roles_with_defaults() -> list[Path]:
    if not ROLES.is_dir():
        return []
    return sorted(
        d for d in ROLES.iterdir()
        if d.is_dir() and not d.name.startswith("_") and (d / "defaults" / "main.yml").is_file()
    )


def _load(path: Path):
    return yaml.safe_load(path.read_text()) if path.is_file() else None


ROLE_DIRS = _roles_with_defaults()


def test_the_roles_of_this_check_exist():
    # Guards against a silent pass if roles/ moves or the defaults layout changes.
    names = {d.name for d in ROLE_DIRS}
    assert {"common", "docker"} <= names, names


@pytest.mark.parametrize("role", ROLE_DIRS, ids=[d.name for d in ROLE_DIRS])
def test_argument_spec_options_equal_defaults(role: Path):
    defaults = _load(role / "defaults" / "main.yml") or {}
    assert isinstance(defaults, dict), f"{role.name}: defaults/main.yml is not a mapping"
    spec_path = role / "meta" / "argument_specs.yml"
    spec = _load(spec_path)
    assert spec, f"{role.name}: {spec_path.relative_to(PROJECT)} is missing or empty"
    main = (spec.get("argument_specs") or {}).get("main")
    assert main is not None, f"{role.name}: argument_specs has no 'main' entry point"
    options = set((main.get("options") or {}).keys())
    keys = set(defaults)
    assert options == keys, (
        f"{role.name}: argument_specs options and defaults/main.yml differ; "
        f"undocumented defaults: {sorted(keys - options)}, "
        f"documented but not in defaults: {sorted(options - keys)}"
    )


@pytest.mark.parametrize("role", ROLE_DIRS, ids=[d.name for d in ROLE_DIRS])
def test_every_option_has_a_description_and_a_type(role: Path):
    spec = _load(role / "meta" / "argument_specs.yml") or {}
    options = ((spec.get("argument_specs") or {}).get("main") or {}).get("options") or {}
    missing = {name: [k for k in ("description", "type") if k not in opt]
               for name, opt in options.items()}
    missing = {name: keys for name, keys in missing.items() if keys}
    assert not missing, f"{role.name}: options without description/type: {missing}"
