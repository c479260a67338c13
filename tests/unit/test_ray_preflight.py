"""ray_common's input checks, run on the controller: the defaults pass in both install modes,
each bad value is refused with a message naming the variable, and one run names every problem
at once (the checks are one task, so a host is refused for all its problems, not the first)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, PROJECT

PLAYBOOK = Path(__file__).resolve().parent / "ray" / "preflight-inputs.yml"


def preflight(**values) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK),
         *(["-e", json.dumps(values)] if values else [])],
        capture_output=True, text=True, cwd=PROJECT, timeout=300,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"})


@pytest.mark.parametrize("values", [{}, {"ray_install_mode": "docker"}, {"ray_node_ip": "fd00::3"},
                                    {"ray_pip_source": "index", "ray_pip_index_url": "https://pypi.example/simple"}])
def test_the_defaults_and_plain_values_pass(values):
    proc = preflight(**values)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.parametrize(("values", "needle"), [
    ({"ray_install_mode": "k8s"}, "ray_install_mode is 'k8s'; use native or docker."),
    ({"ray_install_mode": "docker", "ray_docker_port_stride": 5}, "ray_docker_port_stride must be >= 10"),
    ({"ray_install_mode": "docker", "ray_docker_image_source": "archive", "ray_docker_image_archive": ""},
     "with ray_docker_image_source=archive a controller path"),
    ({"ray_node_ip": "head.example"}, "ray_node_ip 'head.example' is not an IP address"),
    ({"ray_ports": {"gcs": 6379, "dashboard": 6379, "client": 10001, "node_manager": 8076,
                    "object_manager": 8077, "runtime_env_agent": 8078, "dashboard_agent_grpc": 8079,
                    "metrics_export": 8080, "dashboard_agent_http": 52365, "dashboard_metrics": 44227,
                    "autoscaler_metrics": 44217, "min_worker": 10002, "max_worker": 10100}},
     "ray_ports must be distinct and outside min_worker..max_worker"),
    ({"ray_install_mode": "docker", "ray_worker_count": 2, "ray_docker_port_stride": 1930},
     "this host's 2 Ray nodes would share or overlap ports 10006, 10007, 10008, 10009, 10010"),
    ({"ray_pip_source": "index", "ray_pip_index_url": ""}, "ray_pip_source must be pypi, index"),
    ({"ray_object_store_memory": 1000}, "ray_object_store_memory at least 75 MiB"),
    ({"ray_auth_enabled": True, "ray_auth_token": "short"}, "ray_auth_token is shorter than 32 characters"),
    ({"ray_environment": {"RD": "a\nExecStartPre=/bin/true"}}, "ray_environment['RD'] is "),
])
def test_each_bad_value_is_refused_naming_it(values, needle):
    proc = preflight(**values)
    assert proc.returncode != 0
    assert needle in proc.stdout, proc.stdout[-3000:]


def test_one_run_names_every_problem():
    proc = preflight(ray_install_mode="k8s", ray_node_ip="head.example", ray_auth_enabled=True,
                     ray_auth_token="short")
    assert proc.returncode != 0
    for needle in ("use native or docker", "is not an IP address", "shorter than 32 characters"):
        assert needle in proc.stdout, proc.stdout[-3000:]
