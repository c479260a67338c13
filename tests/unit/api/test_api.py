"""The REST API with Flask's test client: every status code of issue 6's acceptance, the body
checks, approvals shared with the orchestrator, runs, cluster data from a stub Ray head,
/metrics, CORS and the token file."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from raydeploy import checkpoints as registry
from raydeploy.api import create_app
from raydeploy.deploy.orchestrator import Options, Orchestrator
from tests.unit.api.conftest import request_approval

SEED_BODY = {"approved_by": "admin", "reason": "Planned maintenance", "acknowledge_risks": True}
SPEC = Path(__file__).resolve().parents[3] / "api-interface" / "rest-api-spec.yaml"
PROTECTED_GETS = ["/api/v1/cluster/status", "/api/v1/cluster/health", "/api/v1/nodes", "/api/v1/checkpoints",
                  "/api/v1/checkpoints/cleanup-existing", "/api/v1/approvals/cleanup-existing",
                  "/api/v1/approvals", "/api/v1/runs", "/api/v1/monitoring/prometheus",
                  "/api/v1/monitoring/grafana/dashboards", "/metrics"]


# -- 401 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", PROTECTED_GETS)
def test_no_token_is_401(client, path):
    resp = client.get(path)
    assert resp.status_code == 401
    assert resp.json["error"]["status"] == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer ", "Basic Zm9vOmJhcg==", "token", ""])
def test_wrong_token_is_401(client, header, token):
    assert client.get("/api/v1/checkpoints", headers={"Authorization": header}).status_code == 401
    # the right token with one character changed
    bad = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert client.get("/api/v1/checkpoints", headers={"Authorization": f"Bearer {bad}"}).status_code == 401


def test_decisions_need_the_token_too(app, client):
    request_approval(app)
    resp = client.post("/api/v1/approvals/cleanup-existing", json=SEED_BODY)
    assert resp.status_code == 401
    assert app.extensions["raydeploy"].approvals.get("cleanup-existing").state == "pending"


def test_health_probe_and_page_are_open(client):
    assert client.get("/healthz").json == {"status": "ok"}
    page = client.get("/")
    assert page.status_code == 200 and b"raydeploy" in page.data
    assert client.get("/static/app.js").status_code == 200


# -- the token file --------------------------------------------------------------------------------
def test_token_is_generated_0600_once_and_reused(app, api_paths):
    path = api_paths["token"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(app.config["API_TOKEN"]) == 64
    again = create_app({"STATE_DIR": str(api_paths["state"]), "API_TOKEN_FILE": str(path)})
    assert again.config["API_TOKEN"] == app.config["API_TOKEN"]


# -- approvals: 200, 409, 404, 400 -----------------------------------------------------------------
def test_seed_body_approves_then_approving_again_is_409(app, client, auth):
    record = request_approval(app)
    first = client.post("/api/v1/approvals/cleanup-existing", json=SEED_BODY, headers=auth)
    assert first.status_code == 200, first.json
    assert first.json["state"] == "approved" and first.json["approved_by"] == "admin"
    assert first.json["id"] == record.id
    second = client.post("/api/v1/approvals/cleanup-existing", json=SEED_BODY, headers=auth)
    assert second.status_code == 409
    assert "approved" in second.json["error"]["message"]
    audit = app.extensions["raydeploy"].state.audit_entries()
    granted = [e for e in audit if e["event"] == "approval_granted"]
    assert len(granted) == 1
    assert granted[0]["who"] == "admin" and granted[0]["reason"] == "Planned maintenance"
    assert granted[0]["caller"].startswith("token:") and granted[0]["caller"].endswith("@127.0.0.1")


def test_deny_then_approve_is_409(app, client, auth):
    request_approval(app, "docker-installation")
    resp = client.post("/api/v1/approvals/docker-installation/deny", headers=auth,
                       json={"denied_by": "bob", "reason": "not today"})
    assert resp.status_code == 200 and resp.json["state"] == "denied"
    again = client.post("/api/v1/approvals/docker-installation", headers=auth,
                        json={"approved_by": "admin", "reason": "x"})
    assert again.status_code == 409
    denied = [e for e in app.extensions["raydeploy"].state.audit_entries() if e["event"] == "approval_denied"]
    assert denied[0]["who"] == "bob" and denied[0]["caller"].startswith("token:")


def test_nothing_pending_and_ungated_are_409(client, auth):
    assert client.post("/api/v1/approvals/cleanup-existing", json=SEED_BODY, headers=auth).status_code == 409
    resp = client.post("/api/v1/approvals/ray-deployment", json=SEED_BODY, headers=auth)
    assert resp.status_code == 409 and "needs no approval" in resp.json["error"]["message"]


@pytest.mark.parametrize("method,path", [
    ("get", "/api/v1/checkpoints/no-such-checkpoint"), ("post", "/api/v1/checkpoints/no-such-checkpoint"),
    ("get", "/api/v1/approvals/no-such-checkpoint"), ("post", "/api/v1/approvals/no-such-checkpoint"),
    ("post", "/api/v1/approvals/no-such-checkpoint/deny"), ("get", "/api/v1/runs/20260101T000000-000000"),
    ("get", "/api/v1/nodes/10.99.99.99"),
])
def test_unknown_is_404(client, auth, method, path):
    resp = getattr(client, method)(path, headers=auth, json=SEED_BODY if method == "post" else None)
    assert resp.status_code == 404
    assert resp.json["error"]["status"] == 404


def test_unknown_checkpoint_404_names_the_known_ones(client, auth):
    msg = client.get("/api/v1/checkpoints/nope", headers=auth).json["error"]["message"]
    assert "cleanup-existing" in msg


@pytest.mark.parametrize("body,field", [
    ({"reason": "r", "acknowledge_risks": True}, "approved_by"),
    ({"approved_by": "admin", "acknowledge_risks": True}, "reason"),
    ({"approved_by": "   ", "reason": "r", "acknowledge_risks": True}, "approved_by"),
    ({"approved_by": 7, "reason": "r", "acknowledge_risks": True}, "approved_by"),
    ({"approved_by": "a", "reason": "r", "acknowledge_risks": "yes"}, "acknowledge_risks"),
    ({"approved_by": "a", "reason": "r"}, "acknowledge_risks"),  # destructive: must acknowledge
    ({"approved_by": "a", "reason": "r", "acknowledge_risks": True, "approve": True}, "approve"),
    ({"approved_by": "a" * 101, "reason": "r", "acknowledge_risks": True}, "approved_by"),
    ([1, 2], "body"),
])
def test_bad_body_is_400_naming_the_field(app, client, auth, body, field):
    request_approval(app)
    resp = client.post("/api/v1/approvals/cleanup-existing", json=body, headers=auth)
    assert resp.status_code == 400, resp.json
    assert resp.json["error"]["field"] == field
    assert app.extensions["raydeploy"].approvals.get("cleanup-existing").state == "pending"


def test_not_json_is_400_naming_the_body(app, client, auth):
    request_approval(app)
    resp = client.post("/api/v1/approvals/cleanup-existing", data="approved_by=admin", headers=auth,
                       content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["field"] == "body"


# -- 413 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("with_token", [True, False])
def test_2mb_body_is_413(app, client, auth, with_token):
    request_approval(app)
    big = b'{"approved_by": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    resp = client.post("/api/v1/approvals/cleanup-existing", data=big, content_type="application/json",
                       headers=auth if with_token else {})
    assert resp.status_code == 413
    assert resp.json["error"]["status"] == 413
    assert app.extensions["raydeploy"].approvals.get("cleanup-existing").state == "pending"


# -- the orchestrator waiting at a gate is released by a REST approval -----------------------------
def test_rest_approval_releases_an_orchestrator_waiting_without_a_terminal(app, client, auth, api_paths):
    from rich.console import Console

    request_approval(app)
    orch = Orchestrator(Options(inventory=api_paths["inventory"], state_dir=api_paths["state"],
                                approval_timeout=30, approval_ttl=timedelta(hours=1)),
                        Console(file=open("/dev/null", "w")))  # noqa: SIM115 - closed with the process
    done = threading.Event()

    def wait() -> None:
        orch._wait(registry.get("cleanup-existing"))
        done.set()

    t0 = time.monotonic()
    threading.Thread(target=wait, daemon=True).start()
    time.sleep(0.5)
    assert not done.is_set()
    assert client.post("/api/v1/approvals/cleanup-existing", json=SEED_BODY, headers=auth).status_code == 200
    assert done.wait(10), "the waiting orchestrator did not see the REST approval"
    assert time.monotonic() - t0 < 10
    assert orch.approvals.get("cleanup-existing").state == "approved"


# -- checkpoints and runs --------------------------------------------------------------------------
def test_checkpoints_list_has_states_and_pending_approval(app, client, auth):
    request_approval(app)
    state = app.extensions["raydeploy"].state
    state.save_state({"checkpoints": {"prerequisites-check": {
        "status": "succeeded", "run_id": "r1", "started_at": "a", "finished_at": "b", "duration_s": 3.5,
        "hosts": {"h1": {"ok": 3, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 1}},
        "failures": []}},
        "last_run": None})
    data = client.get("/api/v1/checkpoints", headers=auth).json
    names = [c["name"] for c in data["checkpoints"]]
    assert names == [c.name for c in registry.load()]
    first = data["checkpoints"][0]
    assert first["state"]["status"] == "succeeded" and first["state"]["hosts"]["h1"]["ok"] == 3
    cleanup = next(c for c in data["checkpoints"] if c["name"] == "cleanup-existing")
    assert cleanup["approval"]["state"] == "pending" and "seal" not in cleanup["approval"]
    info = client.get("/api/v1/approvals/cleanup-existing", headers=auth).json
    assert info["needs"]["acknowledge_risks"] is True
    assert info["preview"]["hosts"]["h1"]["would_change"][0]["task"] == "Stop stray Ray"


def test_post_checkpoint_starts_a_run_and_returns_its_id(app, client, auth):
    resp = client.post("/api/v1/checkpoints/prerequisites-check", headers=auth, json={"dry_run": True})
    assert resp.status_code == 202
    run_id = resp.json["run_id"]
    assert resp.headers["Location"] == f"/api/v1/runs/{run_id}"
    started = app.extensions["raydeploy"].runs.started
    assert started[0]["checkpoint"] == "prerequisites-check" and started[0]["dry_run"] is True
    run = client.get(f"/api/v1/runs/{run_id}", headers=auth)
    assert run.status_code == 200 and run.json["run_id"] == run_id
    assert run_id in [r["run_id"] for r in client.get("/api/v1/runs", headers=auth).json["runs"]]


@pytest.mark.parametrize("body,field", [({"approve": True}, "approve"), ({"dry_run": "yes"}, "dry_run"),
                                        ({"limit": "a b"}, "limit"), ({"limit": ""}, "limit")])
def test_post_checkpoint_bad_body_is_400(client, auth, body, field):
    resp = client.post("/api/v1/checkpoints/prerequisites-check", headers=auth, json=body)
    assert resp.status_code == 400 and resp.json["error"]["field"] == field


def test_post_checkpoint_while_a_run_holds_the_lock_is_409(app, client, auth):
    state = app.extensions["raydeploy"].state
    with state.locked("deploy-master.py --deploy"):
        resp = client.post("/api/v1/checkpoints/prerequisites-check", headers=auth)
    assert resp.status_code == 409 and "holds the lock" in resp.json["error"]["message"]


def test_stop_sends_sigterm_to_the_run_this_api_started(app, client, auth):
    run_id = client.post("/api/v1/checkpoints/prerequisites-check", headers=auth).json["run_id"]
    runs = app.extensions["raydeploy"].runs
    (runs.runs_dir / run_id).mkdir(parents=True)
    (runs.runs_dir / run_id / "meta.json").write_text(json.dumps({"run_id": run_id}))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    runs._procs[run_id] = child
    try:
        resp = client.post(f"/api/v1/runs/{run_id}/stop", headers=auth, json={"reason": "wrong inventory"})
        assert resp.status_code == 202 and resp.json["status"] == "stopping", resp.json
        assert resp.headers["Location"] == f"/api/v1/runs/{run_id}"
        assert child.wait(10) == -signal.SIGTERM
    finally:
        child.kill()
    (entry,) = [e for e in app.extensions["raydeploy"].state.audit_entries()
                if e["event"] == "api_run_stop_requested"]
    assert entry["run"] == run_id and entry["reason"] == "wrong inventory"
    assert entry["who"].startswith("token:")
    # Killed before the orchestrator set its SIGTERM handler: still an interrupted run.
    run = client.get(f"/api/v1/runs/{run_id}", headers=auth).json
    assert run["status"] == "interrupted" and run["exit_code"] == -signal.SIGTERM, run
    again = client.post(f"/api/v1/runs/{run_id}/stop", headers=auth)
    assert again.status_code == 409 and "has already ended" in again.json["error"]["message"]


def test_a_second_stop_does_not_signal_again(app, client, auth, tmp_path):
    # A second SIGTERM would cut the orchestrator's clean-up short: the child counts them.
    run_id = client.post("/api/v1/checkpoints/prerequisites-check", headers=auth).json["run_id"]
    count = tmp_path / "sigterms"
    child = subprocess.Popen([sys.executable, "-c", (
        "import pathlib, signal, sys, time\n"
        f"p = pathlib.Path({str(count)!r}); p.write_text('0')\n"
        "signal.signal(signal.SIGTERM, lambda *a: p.write_text(str(int(p.read_text()) + 1)))\n"
        "time.sleep(30)\n")])
    app.extensions["raydeploy"].runs._procs[run_id] = child
    try:
        deadline = time.monotonic() + 10
        while not count.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(2):
            resp = client.post(f"/api/v1/runs/{run_id}/stop", headers=auth)
            assert resp.status_code == 202, resp.json
        time.sleep(0.5)
        assert count.read_text() == "1"
    finally:
        child.kill()
        child.wait(10)


def test_stop_a_run_started_elsewhere_is_409_naming_its_process(app, client, auth):
    state = app.extensions["raydeploy"].state
    state.audit("run_started", run="20260101T000000-abcdef", command="deploy-master.py --deploy", pid=4242,
                plan=[])
    resp = client.post("/api/v1/runs/20260101T000000-abcdef/stop", headers=auth)
    assert resp.status_code == 409
    message = resp.json["error"]["message"]
    assert "started by another process (pid 4242, deploy-master.py --deploy)" in message, message
    assert "SIGTERM to pid 4242" in message
    state.audit("run_finished", run="20260101T000000-abcdef", status="succeeded", exit_code=0)
    resp = client.post("/api/v1/runs/20260101T000000-abcdef/stop", headers=auth)
    assert resp.status_code == 409 and "has already ended (succeeded)" in resp.json["error"]["message"]


def test_stop_an_unknown_run_is_404_and_a_bad_body_400(client, auth):
    assert client.post("/api/v1/runs/20260101T000000-000000/stop", headers=auth).status_code == 404
    resp = client.post("/api/v1/runs/x/stop", headers=auth, json={"force": True})
    assert resp.status_code == 400 and resp.json["error"]["field"] == "force"


def _event(events_dir: Path, counter: int, event: str, data: dict) -> None:
    events_dir.mkdir(parents=True, exist_ok=True)
    (events_dir / f"{counter}-x{counter}.json").write_text(json.dumps({"event": event, "event_data": data}))


def test_run_progress_is_folded_from_the_audit_log_and_runner_events(app, client, auth):
    state = app.extensions["raydeploy"].state
    run = "20260101T000000-abc123"
    state.audit("run_started", run=run, command="deploy-master.py --deploy",
                plan=["prerequisites-check", "docker-installation", "cleanup-existing", "ray-deployment"])
    state.audit("checkpoint_started", run=run, checkpoint="prerequisites-check")
    state.audit("checkpoint_finished", run=run, checkpoint="prerequisites-check", status="succeeded",
                duration_s=4.2)
    # 01 ended: its recap; the counts are ansible-runner's playbook_on_stats
    done = state.root / "artifacts" / f"{run}-01" / "job_events"
    _event(done, 1, "runner_on_ok", {"host": "h1", "res": {}})
    _event(done, 2, "playbook_on_stats", {"ok": {"h1": 5, "h2": 4}, "changed": {"h1": 1}, "failures": {},
                                          "dark": {"h2": 1}, "skipped": {}})
    state.audit("approval_requested", run=run, checkpoint="docker-installation", approval="ap1")
    data = client.get(f"/api/v1/runs/{run}", headers=auth).json
    assert data["status"] == "waiting-approval" and data["current_checkpoint"] == "docker-installation"
    by_name = {c["name"]: c for c in data["checkpoints"]}
    assert by_name["prerequisites-check"]["hosts"] == {
        "h1": {"ok": 5, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 0},
        "h2": {"ok": 4, "changed": 0, "failed": 0, "unreachable": 1, "skipped": 0}}
    assert by_name["cleanup-existing"]["status"] == "planned"
    # 02 and 03 approved and done, 04 running: live counts from the events so far
    for name in ("docker-installation", "cleanup-existing"):
        state.audit("approval_consumed", run=run, checkpoint=name, approval="a-" + name)
        state.audit("checkpoint_finished", run=run, checkpoint=name, status="succeeded", duration_s=1.0)
    state.audit("checkpoint_started", run=run, checkpoint="ray-deployment")
    live = state.root / "artifacts" / f"{run}-04" / "job_events"
    _event(live, 1, "runner_on_ok", {"host": "h1", "res": {"changed": True}})
    _event(live, 2, "runner_on_ok", {"host": "h1", "res": {"changed": False}})
    _event(live, 3, "runner_on_failed", {"host": "h2", "res": {}})
    data = client.get(f"/api/v1/runs/{run}", headers=auth).json
    assert data["status"] == "running" and data["current_checkpoint"] == "ray-deployment"
    ray = next(c for c in data["checkpoints"] if c["name"] == "ray-deployment")
    assert ray["hosts"]["h1"] == {"ok": 2, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 0}
    assert ray["hosts"]["h2"]["failed"] == 1
    state.audit("run_finished", run=run, status="succeeded", exit_code=0, message="")
    assert client.get(f"/api/v1/runs/{run}", headers=auth).json["status"] == "succeeded"


# -- cluster data from Ray's dashboard API (a stub head with token auth) ---------------------------
def test_cluster_status_and_nodes_come_from_the_dashboard(client, auth):
    health = client.get("/api/v1/cluster/health", headers=auth).json
    assert health["healthy"] is True and health["nodes_alive"] == 2 and health["gcs"]["available"]
    status = client.get("/api/v1/cluster/status", headers=auth).json
    assert status["resources_total"]["CPU"] == 4.0
    nodes = client.get("/api/v1/nodes", headers=auth).json["nodes"]
    assert {n["node_ip"] for n in nodes} == {"10.9.0.2", "10.9.0.3"}
    one = client.get("/api/v1/nodes/10.9.0.3", headers=auth).json
    assert one["is_head_node"] is False and one["node_id"] == "b" * 56


def test_wrong_ray_token_is_reported_not_raised(app, client, auth, api_paths):
    api_paths["ray_token"].write_text("0" * 64)
    health = client.get("/api/v1/cluster/health", headers=auth)
    assert health.status_code == 200
    assert health.json["healthy"] is False and "401" in health.json["ray"]["error"]


def test_unreachable_dashboard_is_reported_not_raised(api_paths):
    app = create_app({"STATE_DIR": str(api_paths["state"]), "API_TOKEN_FILE": str(api_paths["token"]),
                      "RAY_DASHBOARD_URL": "http://127.0.0.1:9", "UPSTREAM_TIMEOUT": 1.0})
    auth = {"Authorization": f"Bearer {app.config['API_TOKEN']}"}
    resp = app.test_client().get("/api/v1/cluster/status", headers=auth)
    assert resp.status_code == 200
    assert resp.json["health"]["healthy"] is False and resp.json["health"]["ray"]["available"] is False


def test_monitoring_from_prometheus_and_grafana(client, auth):
    prom = client.get("/api/v1/monitoring/prometheus", headers=auth).json
    assert prom["up"] == 1 and prom["down"] == 1
    assert {t["job"] for t in prom["targets"]} == {"node", "ray"}
    boards = client.get("/api/v1/monitoring/grafana/dashboards", headers=auth).json["dashboards"]
    assert boards[0]["title"] == "Nodes" and boards[0]["url"].endswith("/d/n1/nodes")


# -- /metrics --------------------------------------------------------------------------------------
def test_metrics_count_runs_approvals_and_last_run(app, client, auth):
    state = app.extensions["raydeploy"].state
    state.audit("checkpoint_finished", run="r", checkpoint="ray-deployment", status="succeeded",
                duration_s=12.5)
    state.audit("checkpoint_finished", run="r", checkpoint="ray-deployment", status="failed", duration_s=2.0)
    state.save_state({"checkpoints": {}, "last_run": {"run_id": "r", "status": "failed", "exit_code": 1,
                                                       "finished_at": "2026-01-01T00:00:00+00:00"}})
    request_approval(app)
    client.post("/api/v1/approvals/cleanup-existing", json=SEED_BODY, headers=auth)
    text = client.get("/metrics", headers=auth).data.decode()
    assert 'raydeploy_checkpoint_runs_total{checkpoint="ray-deployment",result="succeeded"} 1.0' in text
    assert ('raydeploy_checkpoint_duration_seconds_sum{checkpoint="ray-deployment",result="succeeded"} 12.5'
            in text)
    assert 'raydeploy_approvals{state="approved"} 1.0' in text
    assert 'raydeploy_approval_decisions_total{decision="granted"} 1.0' in text
    assert 'raydeploy_last_run_status{status="failed"} 1.0' in text
    assert "raydeploy_last_run_exit_code 1.0" in text
    assert ('raydeploy_api_requests_total{endpoint="/api/v1/approvals/<name>",method="POST",status="200"}'
            in text)


# -- CORS ------------------------------------------------------------------------------------------
def test_cors_only_for_configured_origins(client, auth):
    ok = client.get("/api/v1/checkpoints", headers={**auth, "Origin": "https://ops.example"})
    assert ok.headers.get("Access-Control-Allow-Origin") == "https://ops.example"
    other = client.get("/api/v1/checkpoints", headers={**auth, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_no_cors_without_configured_origins(api_paths):
    app = create_app({"STATE_DIR": str(api_paths["state"]), "API_TOKEN_FILE": str(api_paths["token"])})
    resp = app.test_client().get("/healthz", headers={"Origin": "https://ops.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


# -- the spec describes exactly the routes -------------------------------------------------------
def test_spec_paths_and_methods_equal_the_app_routes(app):
    spec = yaml.safe_load(SPEC.read_text())
    documented = {(path, method.upper()) for path, ops in spec["paths"].items()
                  for method in ops if method in ("get", "post", "put", "delete", "patch")}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "web.index"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served


def test_spec_is_valid_openapi():
    # Schemathesis reads a schema it can use and passes over the rest; this checks all of it.
    from openapi_spec_validator import validate

    validate(yaml.safe_load(SPEC.read_text()))


def test_cli_api_command_is_registered():
    from click.testing import CliRunner

    from raydeploy.cli import cli

    out = CliRunner().invoke(cli, ["api", "--help"])
    assert out.exit_code == 0 and "--port" in out.output and "127.0.0.1" in out.output


def test_seed_path_script_starts_the_same_command():
    import subprocess
    import sys

    seed_001_dir = SPEC.parents[1] / "modular-deployment" / "api-interface"
    for script in (SPEC.parent / "flask-api-server.py", seed_001_dir / "flask-api-server.py"):
        proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "flask-api-server.py" in proc.stdout and "--token-file" in proc.stdout
    assert (seed_001_dir / "rest-api-spec.yaml").read_text() == SPEC.read_text()


def test_gcs_health_asks_again_after_an_http_error_but_not_after_silence():
    # Ray gives the GCS 0.1 s per /api/gcs_healthz: one 503 on a busy head is not "unhealthy".
    from raydeploy.api.upstream import Answer, Upstream, UpstreamClient

    def client_answering(answers):
        c = UpstreamClient(Upstream("ray", "http://127.0.0.1:1"), Upstream("prometheus", None),
                           Upstream("grafana", None), probe_pause=0)
        seen = []

        def fetch(up, path, as_json):
            seen.append(path)
            return answers[min(len(seen), len(answers)) - 1]

        c._fetch = fetch
        return c, seen

    busy = Answer(False, 503, error="ray answered HTTP 503 for /api/gcs_healthz")
    c, seen = client_answering([busy, Answer(True, 200, "success")])
    assert c.ray_gcs_healthy().available and len(seen) == 2
    c, seen = client_answering([busy])
    assert not c.ray_gcs_healthy().available and len(seen) == 3
    c, seen = client_answering([Answer(False, error="ray at http://127.0.0.1:1 is unreachable")])
    assert not c.ray_gcs_healthy().available and len(seen) == 1
    c, seen = client_answering([Answer(False, 503, error="prometheus answered HTTP 503")])
    assert not c.prometheus_targets().available  # no address: nothing fetched
    assert not c.get(c.ray, "/api/v0/nodes").available and len(seen) == 1  # one probe by default
