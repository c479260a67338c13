"""Ports, versions and paths, read from the role defaults that define them once."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from raydeploy.paths import PROJECT_ROOT


@cache
def role_defaults(role: str) -> dict[str, Any]:
    path = PROJECT_ROOT / "roles" / role / "defaults" / "main.yml"
    return yaml.safe_load(path.read_text()) or {}


def ray_ports() -> dict[str, int]:
    return dict(role_defaults("ray_common")["ray_ports"])


def ray_version() -> str:
    return str(role_defaults("ray_common")["ray_version"])


@cache
def _monitoring_vars() -> dict[str, Any]:
    path = PROJECT_ROOT / "group_vars" / "all" / "monitoring.yml"
    return yaml.safe_load(path.read_text()) or {}


def monitoring_ports() -> dict[str, int]:
    """Prometheus, Grafana, node exporter and cAdvisor ports (group_vars/all/monitoring.yml)."""
    return dict(_monitoring_vars()["monitoring_ports"])


def monitoring_versions() -> dict[str, str]:
    return {k: str(v) for k, v in _monitoring_vars()["monitoring_versions"].items()}
