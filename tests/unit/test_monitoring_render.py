"""The monitoring roles' files without hosts (issue 4): alert rules checked and unit-tested with
promtool; Prometheus' configuration rendered for a 4-host inventory and checked with promtool;
Grafana's configuration, datasource and dashboards; cAdvisor's unit; and the Grafana preflight
refusing an empty or weak admin password. Grafana and cAdvisor binaries are not installable on
this machine, so their rendered files are what is tested.

promtool comes from Debian's prometheus package; it is installed here when missing and apt-get
can (root on Debian), else the promtool tests fail saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from raydeploy import settings
from tests.conftest import BIN, PROJECT

HERE = PROJECT / "tests" / "unit"
RULES = PROJECT / "roles" / "prometheus" / "files" / "raydeploy.rules.yml"
DASHBOARDS = sorted((PROJECT / "roles" / "grafana" / "files" / "dashboards").glob("*.json"))
_VAR = re.compile(r"^\$\{?(\w+)(?::\w+)?\}?$")


def assert_datasource_references(name: str, dashboard: dict, datasources: list[dict]) -> None:
    """Every datasource a dashboard names exists: a provisioned uid or name, the default (null),
    or a ${var} template variable of type datasource whose plugin type is provisioned."""
    uids = {d.get("uid") for d in datasources} - {None}
    names = {d["name"] for d in datasources}
    types = {d["type"] for d in datasources}
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}

    def check(ref, where: str) -> None:
        if ref is None:
            assert any(d.get("isDefault") for d in datasources), f"{name} {where}: no default datasource"
            return
        if isinstance(ref, dict):
            if "uid" not in ref or ref["uid"] in ("-- Grafana --", "grafana", "-- Mixed --"):
                return
            ref_value, ref_type = ref["uid"], ref.get("type")
        else:
            ref_value, ref_type = ref, None
        var = _VAR.match(str(ref_value))
        if var:
            assert var.group(1) in variables, f"{name} {where}: undefined variable {ref_value}"
            assert variables[var.group(1)]["type"] == "datasource", f"{name} {where}: {ref_value}"
            assert variables[var.group(1)]["query"] in types, f"{name} {where}: no {ref_value} datasource"
        else:
            assert ref_value in uids | names, f"{name} {where}: datasource {ref_value} is not provisioned"
        if ref_type:
            assert ref_type in types, f"{name} {where}: no datasource of type {ref_type}"

    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(dashboard.get("panels", [])):
        where = f"panel {panel.get('id')} ({panel.get('title')})"
        if panel.get("type") != "row" or "datasource" in panel:
            check(panel.get("datasource"), where)
        for target in panel.get("targets", []):
            if "datasource" in target:
                check(target["datasource"], f"{where} target {target.get('refId')}")
    for var in variables.values():
        if var.get("type") == "query":
            check(var.get("datasource"), f"variable {var['name']}")


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if not path and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"],
                       check=False, capture_output=True, timeout=600)
        path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: apt-get install --no-install-recommends prometheus")
    return path


def test_ports_and_versions_are_read_from_the_one_definition():
    ports = settings.monitoring_ports()
    assert ports == {"prometheus": 9090, "grafana": 3000, "node_exporter": 9100, "cadvisor": 8081}
    assert ports["cadvisor"] not in settings.ray_ports().values()
    assert set(settings.monitoring_versions()) == {"prometheus", "node_exporter", "grafana", "cadvisor"}


def test_alert_rules_pass_promtool_check(promtool):
    proc = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 6 rules found" in proc.stdout


def test_alert_rules_unit_tests_pass(promtool):
    proc = subprocess.run([promtool, "test", "rules", str(HERE / "promtool" / "raydeploy.rules.test.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_required_alert_exists():
    rules = yaml.safe_load(RULES.read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert names == {"HostDown", "RayNodeLost", "RayGCSUnreachable", "DiskFilling", "MemoryPressure",
                     "ScrapeTargetDown"}


def _playbook(*args: str, inventory: Path = HERE / "monitoring" / "inventory.yml",
              ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory),
         str(HERE / "monitoring" / "render.yml"), *args],
        capture_output=True, text=True, cwd=PROJECT, timeout=300,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"})


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("monitoring-render")
    proc = _playbook("--skip-tags", "preflight", "-e", f"render_dir={out}")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    return out


def test_targets_come_from_the_inventory(rendered):
    def targets(job):
        groups = yaml.safe_load((rendered / "prometheus" / "file_sd" / f"{job}.yml").read_text()) or []
        return sorted(t for g in groups for t in g["targets"])

    assert targets("node") == ["10.9.0.2:9100", "10.9.0.3:9100", "10.9.0.4:9100", "10.9.0.5:9100",
                               "10.9.0.6:9100"]
    # Docker workers: one node per container, ports shifted by ray_docker_port_stride (100); none
    # on h5, whose ray_worker_count is 0.
    assert targets("ray") == ["10.9.0.2:8080", "10.9.0.3:8080", "10.9.0.4:8080", "10.9.0.5:8080",
                              "10.9.0.5:8180"]
    assert targets("ray_head") == ["10.9.0.2:44217", "10.9.0.2:44227"]
    assert targets("cadvisor") == ["10.9.0.4:8081", "10.9.0.5:8081"]
    assert targets("prometheus") == ["10.9.0.2:9090"]


def test_a_docker_head_host_with_workers_has_a_target_per_container(tmp_path):
    inv = yaml.safe_load((HERE / "monitoring" / "inventory.yml").read_text())
    ray = inv["all"]["children"]["ray_cluster"]["children"]
    ray["head_nodes"]["hosts"]["h1"].update(ray_install_mode="docker", docker_install_enabled=True)
    ray["worker_nodes"]["hosts"]["h1"] = {"ray_worker_count": 2}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    proc = _playbook("--skip-tags", "preflight", "-e", f"render_dir={tmp_path / 'out'}", inventory=path)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    groups = yaml.safe_load((tmp_path / "out" / "prometheus" / "file_sd" / "ray.yml").read_text())
    on_h1 = sorted((t, g["labels"]["ray_node_kind"]) for g in groups for t in g["targets"]
                   if g["labels"]["host"] == "h1")
    assert on_h1 == [("10.9.0.2:8080", "head"), ("10.9.0.2:8180", "worker"), ("10.9.0.2:8280", "worker")]


def test_prometheus_config_uses_file_sd_and_passes_promtool(rendered, promtool):
    config = yaml.safe_load((rendered / "prometheus" / "prometheus.yml").read_text())
    jobs = {c["job_name"]: c for c in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "node", "ray", "ray_head", "cadvisor"}
    assert all("static_configs" not in c and c["file_sd_configs"] for c in jobs.values())
    assert config["global"]["scrape_interval"] == "15s"
    proc = subprocess.run([promtool, "check", "config", str(rendered / "prometheus" / "prometheus.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_raydeploy_api_scrape_job_uses_the_token_and_passes_promtool(tmp_path, promtool):
    token = tmp_path / "api-token"
    token.write_text("a" * 64 + "\n")
    extra = json.dumps({"prometheus_raydeploy_api_targets": ["10.9.0.1:8000"],
                        "prometheus_raydeploy_api_token_file": str(token)})
    proc = _playbook("--skip-tags", "preflight", "-e", f"render_dir={tmp_path}", "-e", extra)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    config_path = tmp_path / "prometheus" / "prometheus.yml"
    jobs = {c["job_name"]: c for c in yaml.safe_load(config_path.read_text())["scrape_configs"]}
    api = jobs["raydeploy_api"]
    assert api["static_configs"] == [{"targets": ["10.9.0.1:8000"]}]
    assert api["authorization"]["credentials_file"] == str(tmp_path / "prometheus" / "raydeploy_api_token")
    assert (tmp_path / "prometheus" / "raydeploy_api_token").read_text().strip() == "a" * 64
    proc = subprocess.run([promtool, "check", "config", str(config_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_grafana_ini_embeds_and_locks_down(rendered):
    ini = (rendered / "grafana" / "grafana.ini").read_text()
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in ini.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif "=" in line and not line.startswith(";"):
            key, value = (p.strip() for p in line.split("=", 1))
            sections.setdefault(current, {})[key] = value
    assert sections["security"]["allow_embedding"] == "true"
    assert sections["auth.anonymous"]["enabled"] == "false"
    assert sections["users"]["allow_sign_up"] == "false"
    assert sections["server"]["http_port"] == "3000"
    assert sections["security"]["admin_password"].startswith("$__file{")
    assert "a-strong-generated-password" not in ini


def test_datasource_is_the_default_prometheus(rendered):
    provisioned = yaml.safe_load((rendered / "grafana" / "datasources.yml").read_text())
    [ds] = provisioned["datasources"]
    assert ds["type"] == "prometheus" and ds["isDefault"] is True
    assert ds["url"] == "http://10.9.0.2:9090"
    assert ds["name"] == "Prometheus"  # Ray's dashboards' datasource name (RAY_PROMETHEUS_NAME)
    providers = yaml.safe_load((rendered / "grafana" / "dashboards.yml").read_text())["providers"]
    assert {p["folder"] for p in providers} == {"raydeploy", "Ray"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def test_dashboards_are_valid_json_whose_datasources_exist(path, rendered):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] and dashboard["panels"]
    provisioned = yaml.safe_load((rendered / "grafana" / "datasources.yml").read_text())
    assert_datasource_references(path.name, dashboard, provisioned["datasources"])


def test_datasource_check_catches_a_wrong_reference():
    dashboard = {"panels": [{"id": 1, "datasource": {"type": "prometheus", "uid": "nope"}}]}
    with pytest.raises(AssertionError, match="not provisioned"):
        assert_datasource_references("x", dashboard, [{"name": "P", "uid": "p", "type": "prometheus"}])


def test_dashboards_cover_nodes_and_containers():
    assert {p.name for p in DASHBOARDS} == {"node-exporter.json", "containers.json"}


def test_cadvisor_unit_listens_on_the_shared_port(rendered):
    unit = (rendered / "cadvisor.service").read_text()
    assert "--port=8081" in unit and "--listen_ip=10.9.0.2" in unit


@pytest.mark.parametrize("password", ["", "admin", "admin123", "Admin123", "short-pw"])
def test_grafana_preflight_refuses_an_empty_or_weak_password(password):
    proc = _playbook("--tags", "preflight", "-e", json.dumps({"grafana_admin_password": password}))
    assert proc.returncode != 0
    assert "grafana_admin_password is " + ("not set" if not password else "too weak") in proc.stdout


def test_grafana_preflight_accepts_a_strong_password():
    strong = {"grafana_admin_password": "x" * 8 + "Q7-strong"}
    proc = _playbook("--tags", "preflight", "-e", json.dumps(strong))
    assert proc.returncode == 0, proc.stdout[-3000:]
