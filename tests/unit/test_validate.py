"""Validation logic with fakes for HTTP and SSH: every check, exit codes, the JSON schema, the
health score, the inventory reader and the approval check. No network, no hosts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from raydeploy.validate import REPORT_SCHEMA
from raydeploy.validate.checks import evaluate, expected_alert_names
from raydeploy.validate.collect import Collector, Options
from raydeploy.validate.http import Request, Response, fetch_all
from raydeploy.validate.job import parse_output
from raydeploy.validate.metrics import HostMetrics, health_score, host_metrics, parse_samples
from raydeploy.validate.render import text
from raydeploy.validate.runner import plan
from raydeploy.validate.spec import ClusterSpec, HostSpec, load_spec

PROJECT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads(REPORT_SCHEMA.read_text())
ALL = [
    "prerequisites-check",
    "docker-installation",
    "cleanup-existing",
    "ray-deployment",
    "monitoring-deployment",
]

NODE_TEXT = """# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.5
node_load15 0.2
node_cpu_seconds_total{cpu="0",mode="idle"} 100
node_cpu_seconds_total{cpu="0",mode="user"} 10
node_cpu_seconds_total{cpu="1",mode="idle"} 100
node_memory_MemTotal_bytes 8e+09
node_memory_MemAvailable_bytes 6e+09
node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 1e+11
node_filesystem_avail_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 5e+10
node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 1e+08
node_filesystem_size_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 2e+08
"""


def host(name: str, ip: str, **kw) -> HostSpec:
    return HostSpec(
        name=name,
        address=ip,
        ray_ip=ip,
        monitoring_address=ip,
        head=kw.pop("head", False),
        worker=kw.pop("worker", True),
        monitoring=kw.pop("monitoring", False),
        **kw,
    )


def cluster(**head) -> ClusterSpec:
    """h1 the head and monitoring host (with `head`'s settings), h2 and h3 workers."""
    return ClusterSpec(
        inventory="/inv/hosts.yml",
        hosts=(
            host("h1", "10.0.0.1", **{"head": True, "worker": False, "monitoring": True,
                                      "prometheus_enabled": True, **head}),
            host("h2", "10.0.0.2"),
            host("h3", "10.0.0.3"),
        ),
        ray_ports={"dashboard": 8265, "metrics_export": 8080},
        monitoring_ports={"prometheus": 9090, "node_exporter": 9100, "grafana": 3000},
        ray_version="2.60.0",
        auth_enabled=True,
        token_inline="secret-token",
    )


@pytest.fixture
def spec() -> ClusterSpec:
    return cluster()


def nodes_json(ips, dead=()) -> str:
    result = [
        {
            "node_ip": ip,
            "state": "ALIVE",
            "is_head_node": ip.endswith(".1"),
            "resources_total": {"CPU": 2.0, "memory": 4 * 2**30, "object_store_memory": 2**30},
        }
        for ip in ips
    ]
    result += [
        {"node_ip": ip, "state": "DEAD", "state_message": "raylet died", "resources_total": {}} for ip in dead
    ]
    return json.dumps({"result": True, "data": {"result": {"total": len(result), "result": result}}})


class World:
    """A healthy cluster as seen over HTTP and SSH; tests break one thing at a time."""

    def __init__(self, spec: ClusterSpec):
        self.spec = spec
        ips = [h.ray_ip for h in spec.hosts]
        self.http: dict[str, Response] = {}
        dash = "http://10.0.0.1:8265"
        self.set(f"{dash}/api/gcs_healthz", 200, "success")
        self.set(f"{dash}/api/authentication_mode", 200, json.dumps({"authentication_mode": "token"}))
        self.set(f"{dash}/api/v0/nodes?limit=1", 401, "Unauthorized")
        self.set(f"{dash}/api/v0/nodes?detail=true&limit=10000", 200, nodes_json(ips))
        self.set(f"{dash}/api/version", 200, json.dumps({"ray_version": "2.60.0"}))
        prom = "http://10.0.0.1:9090"
        self.set(f"{prom}/-/ready", 200, "Prometheus Server is Ready.")
        targets = [
            {
                "labels": {"job": "node", "instance": f"{ip}:9100", "host": h.name},
                "health": "up",
                "lastError": "",
            }
            for h, ip in zip(spec.hosts, ips, strict=True)
        ]
        targets += [
            {
                "labels": {"job": "ray", "instance": f"{ip}:8080", "host": h.name},
                "health": "up",
                "lastError": "",
            }
            for h, ip in zip(spec.hosts, ips, strict=True)
        ]
        self.targets = targets
        self.set_targets()
        rules = [{"name": n, "type": "alerting"} for n in expected_alert_names()]
        self.set(f"{prom}/api/v1/rules?type=alert", 200, json.dumps({"data": {"groups": [{"rules": rules}]}}))
        for q in ("ray_node_gram_used", "ray_node_gram_available"):
            self.set(f"{prom}/api/v1/query?query={q}", 200, json.dumps({"data": {"result": []}}))
        for ip in ips:
            self.set(f"http://{ip}:9100/metrics", 200, NODE_TEXT)
        self.probes = {h.address: self.probe(h) for h in spec.hosts}
        self.unreachable: set[str] = set()
        self.ssh_calls = 0

    def set(self, url: str, status: int | None, body: str = "", error: str | None = None) -> None:
        self.http[url] = Response(url, status, body, error, 0.001)

    def set_targets(self) -> None:
        self.set(
            "http://10.0.0.1:9090/api/v1/targets?state=active",
            200,
            json.dumps({"data": {"activeTargets": self.targets}}),
        )

    @staticmethod
    def probe(h: HostSpec) -> dict:
        return {
            "hostname": h.name,
            "os": "debian 12",
            "cpus": 2,
            "units": {
                "ray-head.service": "active" if h.head else "inactive",
                "ray-worker.service": "inactive" if h.head else "active",
                "docker.service": "inactive",
            },
            "docker": {"installed": False, "containers": []},
            "ray_nodes": {"venv": {"ray": "2.60.0", "python": "3.11.2"}},
            "stray": [],
            "disk": {"path": "/", "free_bytes": 5e10, "size_bytes": 1e11},
        }

    def fetch(self, request: Request, timeout: float) -> Response:
        if request.url.endswith("/api/v0/nodes?detail=true&limit=10000"):
            assert ("Authorization", "Bearer secret-token") in request.headers
        return self.http.get(request.url) or Response(request.url, None, "", "timed out", timeout)

    def ssh(self, argv: list[str], stdin: bytes, timeout: float) -> tuple[int, str, str]:
        self.ssh_calls += 1
        address = argv[-2]
        assert "ControlMaster=auto" in argv and b"def main" in stdin
        if address in self.unreachable:
            return 255, "", f"ssh: connect to host {address} port 22: No route to host"
        return 0, json.dumps(self.probes[address]), ""

    def report(self, options: Options | None = None, checkpoints=ALL, mode="full"):
        options = options or Options()
        obs = Collector(self.spec, options, self.fetch, self.ssh).collect()
        return evaluate(self.spec, obs, options, checkpoints, mode)


def problems(report) -> set[tuple[str, str | None]]:
    return {(r.check, r.host) for r in report.problems()}


def assert_schema(report) -> dict:
    data = json.loads(json.dumps(report.to_dict()))
    jsonschema.validate(data, SCHEMA)
    return data


# -- whole reports --------------------------------------------------------------------------
def test_healthy_cluster_passes_every_check_and_matches_the_schema(spec):
    report = World(spec).report()
    assert report.exit_code == 0, text(report)
    assert report.status == "healthy"
    assert not report.problems()
    data = assert_schema(report)
    checks = {r["check"] for r in data["results"]}
    assert {
        "hosts.reachable",
        "ray.gcs",
        "ray.auth",
        "ray.nodes_alive",
        "ray.versions",
        "ray.resources",
        "monitoring.node_exporter",
        "monitoring.targets",
        "monitoring.rules",
        "cleanup.no_stray_ray",
        "health.host",
        "prerequisites.disk",
    } <= checks
    assert {h["name"] for h in data["hosts"]} == {"h1", "h2", "h3"}
    assert "HEALTHY (exit 0)" in text(report)


def test_ray_stopped_on_one_worker_names_that_worker(spec):
    world = World(spec)
    world.set(
        "http://10.0.0.1:8265/api/v0/nodes?detail=true&limit=10000",
        200,
        nodes_json(["10.0.0.1", "10.0.0.3"], dead=["10.0.0.2"]),
    )
    report = world.report()
    assert problems(report) == {("ray.nodes_alive", "h2")}
    assert report.exit_code == 1
    assert "raylet died" in report.problems()[0].message
    assert_schema(report)


def test_ray_head_missing_is_a_failure(spec):
    world = World(spec)
    world.set(
        "http://10.0.0.1:8265/api/v0/nodes?detail=true&limit=10000", 200, nodes_json(["10.0.0.2", "10.0.0.3"])
    )
    report = world.report()
    assert problems(report) == {("ray.nodes_alive", "h1")}
    assert report.exit_code == 2


def test_node_exporter_stopped_names_that_host(spec):
    world = World(spec)
    world.set("http://10.0.0.3:9100/metrics", None, "", "[Errno 111] Connection refused")
    report = world.report()
    assert problems(report) == {("monitoring.node_exporter", "h3")}
    assert report.exit_code == 1
    h3 = next(h for h in report.hosts if h.name == "h3")
    assert h3.score is None and h3.status == "warn"


def test_scrape_target_down_names_the_host(spec):
    world = World(spec)
    world.targets[1].update(health="down", lastError="connection refused")
    world.set_targets()
    report = world.report()
    assert problems(report) == {("monitoring.targets", "h2")}
    assert "connection refused" in report.problems()[0].message


def test_stopped_host_fails_and_only_that_host_is_named(spec):
    world = World(spec)
    world.unreachable.add("10.0.0.3")
    world.set(
        "http://10.0.0.1:8265/api/v0/nodes?detail=true&limit=10000", 200, nodes_json(["10.0.0.1", "10.0.0.2"])
    )
    world.targets = [t for t in world.targets if t["labels"]["host"] != "h3"] + [
        {
            "labels": {"job": "node", "instance": "10.0.0.3:9100", "host": "h3"},
            "health": "down",
            "lastError": "timeout",
        }
    ]
    world.set_targets()
    report = world.report()
    assert {host for _, host in problems(report)} == {"h3"}
    assert ("hosts.reachable", "h3") in problems(report)
    assert report.exit_code == 2
    assert_schema(report)


def test_worker_with_another_ray_version_fails_naming_it(spec):
    world = World(spec)
    world.probes["10.0.0.2"]["ray_nodes"]["venv"]["ray"] = "2.59.0"
    report = world.report()
    assert problems(report) == {("ray.versions", "h2")}
    assert "Ray 2.59.0, expected 2.60.0" in report.problems()[0].message
    assert report.exit_code == 2


def test_python_version_differs(spec):
    world = World(spec)
    world.probes["10.0.0.3"]["ray_nodes"]["venv"]["python"] = "3.12.1"
    report = world.report()
    assert problems(report) == {("ray.versions", "h3")}


def test_token_authentication_off_fails_on_the_head(spec):
    world = World(spec)
    world.set(
        "http://10.0.0.1:8265/api/authentication_mode", 200, json.dumps({"authentication_mode": "disabled"})
    )
    world.set("http://10.0.0.1:8265/api/v0/nodes?limit=1", 200, nodes_json(["10.0.0.1"]))
    report = world.report()
    assert problems(report) == {("ray.auth", "h1")}
    assert report.exit_code == 2
    assert "disabled" in report.problems()[0].message and "200" in report.problems()[0].message


def test_stray_ray_process_fails(spec):
    world = World(spec)
    world.probes["10.0.0.2"]["stray"] = [{"pid": 4242, "cmd": "/usr/bin/raylet --foo"}]
    report = world.report()
    assert problems(report) == {("cleanup.no_stray_ray", "h2")}
    assert "4242" in report.problems()[0].message


def test_docker_checked_only_where_enabled(spec):
    spec = ClusterSpec(
        **{
            **spec.__dict__,
            "hosts": (
                spec.hosts[0],
                HostSpec(**{**spec.hosts[1].__dict__, "docker_enabled": True}),
                spec.hosts[2],
            ),
        }
    )
    world = World(spec)
    report = world.report()
    assert problems(report) == {("docker.running", "h2")}
    world.probes["10.0.0.2"]["units"]["docker.service"] = "active"
    world.probes["10.0.0.2"]["docker"] = {"installed": True, "answered": True, "containers": []}
    assert not problems(world.report())


def test_dashboard_down_fails_at_the_head_without_flooding(spec):
    world = World(spec)
    for url in list(world.http):
        if ":8265/" in url:
            world.set(url, None, "", "[Errno 111] Connection refused")
    report = world.report()
    failing = {(c, h) for c, h in problems(report)}
    assert {("ray.dashboard", "h1"), ("ray.gcs", "h1"), ("ray.nodes_alive", "h1")} <= failing
    assert {h for _, h in failing} == {"h1"}
    assert report.exit_code == 2


GCS_URL = "http://10.0.0.1:8265/api/gcs_healthz"
# What Ray 2.60 answers (aiohttp puts the reason in the status line and the body).
DEADLINE = Response(
    GCS_URL,
    503,
    "503: Health check failed: RPC error: Deadline Exceeded",
    "Health check failed: RPC error: Deadline Exceeded",
)


def gcs_answers(world: World, answers: list[Response]) -> list[int]:
    """The head answers /api/gcs_healthz with these in turn (the last one repeats)."""
    calls, plain = [0], world.fetch

    def fetch(request: Request, timeout: float) -> Response:
        if request.url != GCS_URL:
            return plain(request, timeout)
        calls[0] += 1
        r = answers[min(calls[0], len(answers)) - 1]
        return Response(r.url, r.status, r.body, r.error, r.elapsed)

    world.fetch = fetch
    return calls


def test_one_gcs_deadline_on_a_busy_head_is_probed_again_and_passes(spec):
    # Ray gives the GCS 0.1 s per /api/gcs_healthz; CI saw a lone 503 on a loaded head.
    world = World(spec)
    calls = gcs_answers(world, [DEADLINE, Response(GCS_URL, 200, "success")])
    report = world.report(Options(gcs_probe_pause=0))
    assert report.exit_code == 0, text(report)
    assert calls[0] == 2
    gcs = next(r for r in report.results if r.check == "ray.gcs")
    assert gcs.status == "pass" and "on probe 2" in gcs.message


def test_gcs_unhealthy_on_every_probe_fails_saying_how_often(spec):
    world = World(spec)
    calls = gcs_answers(world, [DEADLINE])
    report = world.report(Options(gcs_probe_pause=0))
    assert calls[0] == 3
    assert ("ray.gcs", "h1") in problems(report) and report.exit_code == 2
    gcs = next(r for r in report.results if r.check == "ray.gcs")
    assert "3 probes in a row" in gcs.message and "Deadline Exceeded" in gcs.message


def test_a_silent_dashboard_is_not_probed_again(spec):
    world = World(spec)
    calls = gcs_answers(world, [Response(GCS_URL, None, "", "timed out")])
    report = world.report(Options(gcs_probe_pause=0))
    assert calls[0] == 1 and ("ray.dashboard", "h1") in problems(report)


def test_health_only_uses_no_ssh_and_is_fast_with_slow_hosts(spec):
    world = World(spec)
    report = world.report(Options(health_only=True), checkpoints=[], mode="health-only")
    assert world.ssh_calls == 0
    assert report.exit_code == 0, text(report)
    assert {r.check for r in report.results} == {
        "hosts.reachable",
        "ray.dashboard",
        "ray.gcs",
        "ray.nodes_alive",
        "monitoring.node_exporter",
        "health.host",
    }
    assert_schema(report)


def test_requests_run_in_parallel():
    def slow(request: Request, timeout: float) -> Response:
        time.sleep(0.2)
        return Response(request.url, 200, "x")

    started = time.monotonic()
    out = fetch_all({i: Request(f"http://h{i}/") for i in range(30)}, 1.0, slow)
    assert time.monotonic() - started < 1.0
    assert len(out) == 30 and all(r.ok for r in out.values())


# -- health numbers -------------------------------------------------------------------------
def test_node_exporter_parsing():
    m = host_metrics(NODE_TEXT, "/")
    assert (m.cpus, m.load1) == (2, 0.5)
    assert m.load_pct == pytest.approx(25.0)
    assert m.memory_used_pct == pytest.approx(25.0)
    assert m.disk_path == "/" and m.disk_used_pct == pytest.approx(50.0)
    assert host_metrics(NODE_TEXT, "/run/x").disk_path == "/run"
    assert "node_load15" not in parse_samples(NODE_TEXT)


def test_health_score_uses_seed_002_weights_by_default_and_they_are_settable():
    m = HostMetrics(cpus=4, load1=2.0, gpus=1, gpu_memory_used_mb=4000, gpu_memory_total_mb=16000)
    assert health_score(m) == pytest.approx(1.0 * 50 + 3.0 * 25)
    assert health_score(m, cpu_weight=0.5, gpu_weight=2.0) == pytest.approx(25 + 50)
    assert health_score(HostMetrics(cpus=4, load1=1.0)) == pytest.approx(25)
    assert health_score(HostMetrics()) is None


def test_host_over_max_score_is_degraded_and_gpu_memory_comes_from_prometheus(spec):
    world = World(spec)
    world.set(
        "http://10.0.0.1:9090/api/v1/query?query=ray_node_gram_used",
        200,
        json.dumps(
            {"data": {"result": [{"metric": {"ip": "10.0.0.2", "GpuIndex": "0"}, "value": [0, "15000"]}]}}
        ),
    )
    world.set(
        "http://10.0.0.1:9090/api/v1/query?query=ray_node_gram_available",
        200,
        json.dumps(
            {"data": {"result": [{"metric": {"ip": "10.0.0.2", "GpuIndex": "0"}, "value": [0, "1000"]}]}}
        ),
    )
    report = world.report()
    h2 = next(h for h in report.hosts if h.name == "h2")
    assert h2.metrics["gpus"] == 1 and h2.metrics["gpu_memory_used_pct"] == pytest.approx(93.8, abs=0.1)
    assert h2.score == pytest.approx(25 + 3 * 93.75, abs=0.1)
    assert problems(report) == {("health.host", "h2")}
    assert report.exit_code == 1
    relaxed = world.report(Options(max_score=400))
    assert not relaxed.problems()


# -- pieces ---------------------------------------------------------------------------------
def test_plan():
    assert plan(None, True) == ("health-only", [])
    assert plan(None, False)[1] == ALL
    assert plan("docker-installation", False) == ("checkpoint", ["docker-installation"])
    assert plan("final-validation", False)[1][-1] == "final-validation"
    with pytest.raises(Exception, match="known checkpoints"):
        plan("nope", False)


def test_job_output_parsing():
    out = (
        "Job 'raysubmit_abc123' submitted successfully\n12 tasks completed in 3.1s on 3 alive nodes\n"
        'RESULT {"tasks": 12, "alive_nodes": 3, "distribution": {"a": 4}, '
        '"by_ip": {"10.0.0.1": 4, "10.0.0.2": 8}}\n'
    )
    job = parse_output(out, 12)
    assert job.ok and job.job_id == "raysubmit_abc123" and job.by_ip == {"10.0.0.1": 4, "10.0.0.2": 8}
    assert not parse_output("Job failed: boom\n", 12).ok


def test_job_results_name_the_host_without_tasks(spec):
    world = World(spec)
    options = Options()
    obs = Collector(spec, options, world.fetch, world.ssh).collect()
    obs.job = parse_output('RESULT {"tasks": 12, "by_ip": {"10.0.0.1": 6, "10.0.0.2": 6}}', 12)
    report = evaluate(spec, obs, options, [*ALL, "final-validation"], "checkpoint")
    assert problems(report) == {("final.job", "h3")}
    assert report.exit_code == 2


def test_inventory_is_read_by_ansible_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYDEPLOY_HOME", str(tmp_path / "home"))
    inv = tmp_path / "inventory.yml"
    (tmp_path / ".secrets").mkdir()
    (tmp_path / ".secrets" / "ray_auth_token").write_text("tok\n")
    inv.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {
                        "ansible_user": "deploy",
                        "ansible_ssh_common_args": "-o StrictHostKeyChecking=yes",
                        "grafana_install_enabled": False,
                    },
                    "children": {
                        "ray_cluster": {
                            "children": {
                                "head_nodes": {"hosts": {"a-1": {"ansible_host": "10.1.0.1"}}},
                                "worker_nodes": {
                                    "hosts": {
                                        "a-2": {"ansible_host": "10.1.0.2", "ray_num_cpus": 3},
                                        "a-3": {"ansible_host": "10.1.0.3"},
                                    }
                                },
                            }
                        },
                        "monitoring": {"hosts": {"a-1": None}},
                    },
                }
            }
        )
    )
    spec = load_spec(inv)
    assert [h.name for h in spec.hosts] == ["a-1", "a-2", "a-3"]
    head = spec.head
    assert head.name == "a-1" and head.prometheus_enabled and not head.grafana_enabled and head.monitoring
    assert spec.host("a-2").num_cpus == 3 and spec.host("a-3").num_cpus is None
    assert spec.host("a-2").ray_ip == "10.1.0.2" and spec.host("a-2").ssh_args == (
        "-o",
        "StrictHostKeyChecking=yes",
    )
    assert spec.dashboard_url == "http://10.1.0.1:8265"
    assert spec.ray_ports["dashboard"] == 8265 and spec.monitoring_ports["node_exporter"] == 9100
    assert spec.token() == "tok" and spec.ray_version
    started = time.monotonic()
    assert load_spec(inv) == spec
    assert time.monotonic() - started < 0.1  # cached, no Ansible
    inv.write_text(inv.read_text().replace("10.1.0.3", "10.1.0.9"))
    assert load_spec(inv).host("a-3").address == "10.1.0.9"


def test_approval_check_states(tmp_path):
    from raydeploy import checkpoints as registry
    from raydeploy.deploy.approvals import ApprovalStore, compute_digest, digest_inputs
    from raydeploy.deploy.store import StateDir
    from raydeploy.validate.approval import approval_check

    inv = PROJECT / "inventory" / "hosts.ini"
    result, info = approval_check("ray-deployment", inv, tmp_path)
    assert result.status == "pass" and not info["approval_required"]
    result, info = approval_check("cleanup-existing", inv, tmp_path)
    assert result.status == "warn" and info["state"] == "missing"
    store = ApprovalStore(StateDir(tmp_path))
    cp = registry.get("cleanup-existing")
    store.request(cp, compute_digest(digest_inputs(cp, inv, {}, None)), "me", "run-1")
    result, info = approval_check("cleanup-existing", inv, tmp_path)
    assert result.status == "warn" and info["state"] == "pending" and "raydeploy approve" in result.message
    store.approve("cleanup-existing", "alice", "window", acknowledge_risks=True)
    result, info = approval_check("cleanup-existing", inv, tmp_path)
    assert result.status == "pass" and info["usable"] and "alice" in result.message
    store.request(registry.get("docker-installation"), "sha256:other", "me", "run-2")
    store.deny("docker-installation", "bob", "not today")
    result, info = approval_check("docker-installation", inv, tmp_path)
    assert result.status == "fail" and info["state"] == "denied" and "bob" in result.message


def test_script_approval_check_alone_is_schema_valid_json(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "modular-deployment" / "validation" / "validate_checkpoint.py"),
            "--approval-check",
            "prerequisites-check",
            "--format",
            "json",
            "--inventory",
            str(PROJECT / "inventory" / "hosts.ini"),
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["mode"] == "approval" and data["approval"]["usable"]


def test_script_bad_input_exits_2(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "validation" / "validate_checkpoint.py"),
            "--inventory",
            str(tmp_path / "missing.ini"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: inventory")
    proc = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "validation" / "validate_checkpoint.py"),
            "--checkpoint",
            "nope",
            "-i",
            str(PROJECT / "inventory" / "hosts.ini"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "known checkpoints" in proc.stderr


def test_every_registry_checkpoint_has_checks():
    from raydeploy import checkpoints as registry
    from raydeploy.validate.checks import CHECKS

    assert set(CHECKS) == {c.name for c in registry.load()}
    assert all(CHECKS.values())


def test_checkpoint_06_runs_the_validator_with_the_job():
    play = (PROJECT / "playbooks" / "06-final-validation.yml").read_text()
    assert "validation/validate_checkpoint.py" in play and "final-validation" in play
    assert "placeholder" not in play


def test_a_docker_head_host_in_worker_nodes_expects_its_worker_containers_too(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYDEPLOY_HOME", str(tmp_path / "home"))
    inv = tmp_path / "inventory.yml"
    groups = {
        "head_nodes": {"hosts": {"a-1": {"ansible_host": "10.1.0.1"}}},
        "worker_nodes": {"hosts": {"a-1": {"ray_worker_count": 3}, "a-2": {"ansible_host": "10.1.0.2"}}},
    }
    inv.write_text(yaml.safe_dump(
        {"all": {"vars": {"ray_install_mode": "docker"}, "children": {"ray_cluster": {"children": groups}}}}))
    spec = load_spec(inv)
    assert [h.name for h in spec.hosts] == ["a-1", "a-2"]
    assert spec.host("a-1").head and spec.host("a-1").worker and spec.host("a-1").expected_nodes == 4
    assert spec.host("a-2").expected_nodes == 1


def _head_host_with_workers_world(dead_workers: int = 0) -> World:
    """h1 runs the head (2 CPUs) and two 1-CPU worker containers; h2 and h3 one node each."""
    world = World(cluster(worker=True, install_mode="docker", expected_nodes=3, num_cpus=2,
                          container_cpus=0.5))
    nodes = json.loads(nodes_json(["10.0.0.1", "10.0.0.2", "10.0.0.3"]))
    rows = nodes["data"]["result"]["result"]
    for i in range(2):
        rows.append({"node_ip": "10.0.0.1", "state": "DEAD" if i < dead_workers else "ALIVE",
                     "is_head_node": False,
                     "resources_total": {"CPU": 1.0, "memory": 2**30, "object_store_memory": 2**29}})
    world.set("http://10.0.0.1:8265/api/v0/nodes?detail=true&limit=10000", 200, json.dumps(nodes))
    return world


def test_a_head_host_with_worker_containers_checks_each_node_against_its_own_settings():
    report = _head_host_with_workers_world().report()
    results = {(r.check, r.host): r for r in report.results}
    assert results[("ray.nodes_alive", "h1")].status == "pass", results[("ray.nodes_alive", "h1")]
    assert results[("ray.resources", "h1")].status == "pass", results[("ray.resources", "h1")].message


def test_a_dead_worker_container_beside_the_head_is_a_warning_not_a_head_failure():
    report = _head_host_with_workers_world(dead_workers=1).report()
    alive = next(r for r in report.results if (r.check, r.host) == ("ray.nodes_alive", "h1"))
    assert alive.status == "warn" and "2 of 3" in alive.message, alive.message
    assert "docker logs ray-worker-N" in alive.message
    assert report.exit_code == 1
