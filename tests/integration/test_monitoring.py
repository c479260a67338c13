"""Checkpoint 05 (issue 4) on the 3-host sandbox `mon` (native mode, 01->05, shared with
test_validate.py, which runs after this module), in file order: every target up; a Ray metric per
node; Grafana's rendered configuration and Ray's dashboards; a second run with changed=0; docker
mode in check mode; a stopped node exporter goes down within two scrape intervals; a 4th host's
targets come up without a Prometheus restart.

Grafana and cAdvisor cannot be installed on this machine (no package, no registry): the sandbox
inventory sets grafana_install_enabled false, so Grafana's files are rendered and checked here
but no Grafana binary runs, and native sandbox hosts have no Docker, so no cAdvisor.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import pytest

from tests.conftest import run_cli, run_playbook
from tests.integration.conftest import CLEANUP_CONFIRMED as CONFIRM
from tests.integration.conftest import MON_SCRAPE as MONITORING_VARS
from tests.integration.conftest import MON_SCRAPE_S as SCRAPE_S
from tests.unit.test_monitoring_render import assert_datasource_references

pytestmark = pytest.mark.sandbox


def _get(url: str, timeout: float = 10) -> dict:
    # Only the sandbox's own Prometheus, from our inventory.
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
        return json.load(resp)


class Prometheus:
    def __init__(self, address: str):
        self.url = f"http://{address}:9090"
        self.address = address

    def targets(self) -> list[dict]:
        return _get(f"{self.url}/api/v1/targets?state=active")["data"]["activeTargets"]

    def health(self) -> dict[tuple[str, str], str]:
        return {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in self.targets()}

    def query(self, promql: str) -> list[dict]:
        return _get(f"{self.url}/api/v1/query?query={urllib.parse.quote(promql)}")["data"]["result"]

    def start_time(self) -> float:
        # Only our own scrape of Prometheus: Debian's package starts Prometheus once with its
        # default config (target localhost:9090) before ours replaces it, and that series stays
        # visible for the 5-minute lookback when the switch was a restart.
        result = self.query(f'process_start_time_seconds{{job="prometheus",instance="{self.address}:9090"}}')
        assert len(result) == 1, result
        return float(result[0]["value"][1])


def expected_targets(cluster) -> set[tuple[str, str]]:
    ips = list(cluster.hosts().values())
    return ({("node", f"{ip}:9100") for ip in ips} | {("ray", f"{ip}:8080") for ip in ips}
            | {("ray_head", f"{cluster.head}:44227"), ("ray_head", f"{cluster.head}:44217"),
               ("prometheus", f"{cluster.head}:9090")})


def wait_health(prom: Prometheus, want: dict[tuple[str, str], str], timeout: float) -> tuple[float, dict]:
    start = time.monotonic()
    health: dict = {}
    while time.monotonic() - start < timeout:
        health = prom.health()
        if all(health.get(k) == v for k, v in want.items()):
            return time.monotonic() - start, health
        time.sleep(0.5)
    raise AssertionError(f"after {timeout:.0f} s: want {want}, have {health}")


def deploy(cluster, playbooks, *extra):
    runs = {}
    for playbook in playbooks:
        run = run_playbook(cluster.inventory, playbook, *CONFIRM, *extra)
        assert run.rc == 0, f"{playbook} failed:\n{run.output()}"
        runs[playbook] = run
    return runs


@pytest.fixture(scope="module")
def cluster(mon_cluster):
    """01->05 ran when mon_cluster was made."""
    return mon_cluster


@pytest.fixture(scope="module")
def prom(cluster) -> Prometheus:
    return Prometheus(cluster.head)


def test_every_expected_target_is_up(cluster, prom):
    health = prom.health()
    expected = expected_targets(cluster)
    assert expected <= set(health), f"missing: {expected - set(health)}"
    assert {k: health[k] for k in expected} == dict.fromkeys(expected, "up")


def test_a_ray_metric_has_a_series_per_ray_node(cluster, prom):
    result = prom.query('ray_node_cpu_count{job="ray"}')
    instances = {r["metric"]["instance"] for r in result}
    assert instances == {f"{ip}:8080" for ip in cluster.hosts().values()}, result


def test_alert_rules_are_loaded(prom):
    rules = _get(f"{prom.url}/api/v1/rules")["data"]["groups"]
    names = {r["name"] for g in rules for r in g["rules"]}
    assert {"HostDown", "RayNodeLost", "RayGCSUnreachable", "DiskFilling", "MemoryPressure",
            "ScrapeTargetDown"} <= names


def test_ray_head_runs_with_grafana_and_prometheus_urls(cluster):
    env = cluster.ssh(cluster.host(1), "systemctl show ray-head.service -p Environment").stdout
    assert f"RAY_PROMETHEUS_HOST=http://{cluster.head}:9090" in env, env
    assert f"RAY_GRAFANA_HOST=http://{cluster.head}:3000" in env, env
    assert f"RAY_GRAFANA_IFRAME_HOST=http://{cluster.head}:3000" in env, env


def test_grafana_is_rendered_with_a_generated_password(cluster):
    secret = cluster.inventory.parent / ".secrets" / "grafana_admin_password"
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    password = secret.read_text().strip()
    assert len(password) >= 32
    host = cluster.host(1)
    on_host = cluster.ssh(
        host, "cat /etc/grafana/admin_password; echo; stat -c '%a %U' /etc/grafana/admin_password")
    assert on_host.stdout.split() == [password, "640", "root"], on_host.stdout
    ini = cluster.ssh(host, "cat /etc/grafana/grafana.ini").stdout
    assert password not in ini
    for line in ("allow_embedding = true", "allow_sign_up = false", "http_port = 3000",
                 "admin_password = $__file{/etc/grafana/admin_password}"):
        assert line in ini, ini
    assert "[auth.anonymous]\nenabled = false" in ini
    datasources = cluster.ssh(host, "cat /etc/grafana/provisioning/datasources/raydeploy.yml").stdout
    assert f"http://{cluster.head}:9090" in datasources


def test_ray_dashboards_are_provisioned_as_valid_json_with_existing_datasources(cluster):
    import yaml

    host = cluster.host(1)
    script = ("import glob, json, os; print(json.dumps({os.path.basename(p): open(p).read() "
              "for p in glob.glob('/var/lib/grafana/dashboards/*/*.json')}))")
    proc = cluster.ssh(host, f'python3 -c "{script}"')
    files = json.loads(proc.stdout)
    ray = [n for n in files if n.endswith("_grafana_dashboard.json")]
    assert "default_grafana_dashboard.json" in ray and len(ray) >= 5, sorted(files)
    assert {"node-exporter.json", "containers.json"} <= set(files)
    provisioned = yaml.safe_load(
        cluster.ssh(host, "cat /etc/grafana/provisioning/datasources/raydeploy.yml").stdout)
    for name, text in files.items():
        assert_datasource_references(name, json.loads(text), provisioned["datasources"])


def test_second_run_changes_nothing(cluster, prom):
    started = prom.start_time()
    run = run_playbook(cluster.inventory, "playbooks/05-monitoring-deployment.yml", *MONITORING_VARS)
    assert run.rc == 0, run.output()
    changed = {h: r["changed"] for h, r in run.recap.items()}
    assert changed and all(v == 0 for v in changed.values()), changed
    assert prom.start_time() == started


def test_docker_mode_tasks_pass_in_check_mode(cluster):
    extra = json.dumps({"ray_install_mode": "docker", "grafana_install_enabled": True,
                        "prometheus_scrape_interval": f"{SCRAPE_S}s"})
    run = run_playbook(cluster.inventory, "playbooks/05-monitoring-deployment.yml",
                       "--check", "-e", extra)
    assert run.rc == 0, run.output()
    for role in ("node_exporter", "cadvisor", "prometheus", "grafana"):
        assert f"TASK [{role} :" in run.stdout, role
    assert "Run the cAdvisor container" in run.stdout
    assert "cannot be previewed" in run.stdout  # no engine on native hosts: said, not hidden


def test_a_stopped_node_exporter_is_down_within_two_scrape_intervals(cluster, prom):
    host, ip = cluster.host(3), cluster.hosts()[cluster.host(3)]
    key = ("node", f"{ip}:9100")
    stop = cluster.ssh(host, "systemctl stop prometheus-node-exporter")
    assert stop.returncode == 0, stop.stderr
    try:
        seconds, _ = wait_health(prom, {key: "down"}, timeout=2 * SCRAPE_S + 3)
        print(f"node exporter target down after {seconds:.1f} s (scrape interval {SCRAPE_S} s)")
        assert seconds <= 2 * SCRAPE_S
    finally:
        cluster.ssh(host, "systemctl start prometheus-node-exporter")
    wait_health(prom, {key: "up"}, timeout=6 * SCRAPE_S)


def test_a_fourth_host_is_scraped_without_restarting_prometheus(cluster, prom):
    started = prom.start_time()
    run_cli("sandbox", "up", "--hosts", "4", "--name", cluster.name, check=True)
    deploy(cluster, ["playbooks/04-ray-deployment.yml"])
    run = run_playbook(cluster.inventory, "playbooks/05-monitoring-deployment.yml", *MONITORING_VARS)
    assert run.rc == 0, run.output()
    ip = cluster.hosts()[cluster.host(4)]
    wait_health(prom, {("node", f"{ip}:9100"): "up", ("ray", f"{ip}:8080"): "up"}, timeout=60)
    assert prom.start_time() == started
    deadline = time.monotonic() + 4 * SCRAPE_S
    while len(prom.query('ray_node_cpu_count{job="ray"}')) < 4 and time.monotonic() < deadline:
        time.sleep(1)
    assert len(prom.query('ray_node_cpu_count{job="ray"}')) == 4
