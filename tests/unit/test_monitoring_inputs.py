"""Monitoring values that reach grafana.ini, the ARGS files systemd splits and cAdvisor's unit:
each role's preflight refuses what would add settings or arguments, naming the variable."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, PROJECT

HERE = Path(__file__).resolve().parent / "monitoring"


def preflight(**values) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(HERE / "inventory.yml"), str(HERE / "preflight-inputs.yml"),
         *(["-e", json.dumps(values)] if values else [])],
        capture_output=True, text=True, cwd=PROJECT, timeout=300,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"})


@pytest.mark.parametrize("values", [{}, {
    "grafana_admin_user": "ops.admin@example", "prometheus_web_listen_address": "mons.example:9090",
    "node_exporter_enabled_collectors": ["systemd", "filesystem.mount-points-exclude=^/(sys|proc)($|/)"],
    "cadvisor_extra_args": ["--docker_only=true", "--store_container_labels=false"]}])
def test_plain_values_pass(values):
    proc = preflight(**values)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.parametrize(("values", "needle"), [
    ({"grafana_admin_user": "admin\n[auth.anonymous]\nenabled = true"}, "grafana_admin_user is "),
    ({"grafana_admin_user": "a b; touch /tmp/pwned"}, "grafana_admin_user is "),
    ({"prometheus_web_listen_address": '0.0.0.0:9090" --web.enable-admin-api "x:1'},
     "prometheus_web_listen_address must be host:port without spaces"),
    ({"prometheus_web_listen_address": "x\nLD_PRELOAD=/tmp/x.so y:9090"},
     "prometheus_web_listen_address must be host:port"),
    ({"prometheus_storage_retention_size": "1GB --web.enable-lifecycle"},
     "prometheus_storage_retention_size looks like"),
    ({"node_exporter_enabled_collectors": ["systemd --collector.textfile.directory=/tmp"]},
     "node_exporter collectors must be names"),
    ({"cadvisor_extra_args": ["--x=$(touch /tmp/pwned2)"]}, "cadvisor_extra_args must be flags"),
])
def test_hostile_values_are_refused(values, needle):
    proc = preflight(**values)
    assert proc.returncode != 0
    assert needle in proc.stdout, proc.stdout[-3000:]
