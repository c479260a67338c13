"""The REST API end to end on sandbox hosts (sandbox `api`, 2 hosts): a deploy-master.py --deploy
run without a terminal waits at the gates and is released by the seed's curl body plus the
token, and carries on to a working cluster; the same through the web page in headless
Chromium; a run started with POST /api/v1/checkpoints/{name}; cluster data from Ray's dashboard
API and Prometheus."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.api_support import approve_in_page, browser, png_summary, start_api, wait_for
from tests.conftest import BIN, PROJECT, kept_sandbox

pytestmark = pytest.mark.sandbox
DEPLOY_MASTER = PROJECT / "modular-deployment" / "deploy-master.py"
SEED_BODY = {"approved_by": "admin", "reason": "Planned maintenance", "acknowledge_risks": True}
SHOTS = Path(__file__).resolve().parents[1] / "artifacts"
RUN_TIMEOUT = 1800


@pytest.fixture(scope="module")
def cluster():
    with kept_sandbox(os.environ.get("RAYDEPLOY_API_SANDBOX", "api"), 2) as c:
        yield c


@pytest.fixture(scope="module")
def api(cluster, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    server = start_api(tmp, "--inventory", str(cluster.inventory), "--state-dir", str(tmp / "state"),
                       "--approval-timeout", "900")
    server.state = tmp / "state"
    server.inventory = cluster.inventory
    yield server
    server.stop()


def start_deploy(api, *args: str) -> subprocess.Popen:
    path = api.state.parent / f"deploy-{time.monotonic_ns()}.log"
    log = path.open("w")
    proc = subprocess.Popen([str(BIN / "python"), str(DEPLOY_MASTER), *args, "--inventory",
                             str(api.inventory), "--state-dir", str(api.state), "--approval-timeout", "1200"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=PROJECT,
                            text=True)
    proc.log_path = path
    return proc


def log_of(proc) -> str:
    return proc.log_path.read_text()[-6000:]


def audit(state: Path) -> list[dict]:
    path = state / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def pending_for(api, name: str, run: str | None):
    code, body = api.call("GET", f"/api/v1/approvals/{name}")
    rec = body.get("approval") if code == 200 else None
    return rec if rec and rec["state"] == "pending" and (run is None or rec["run_id"] == run) else None


def latest_run(api) -> str | None:
    runs = [e["run"] for e in audit(api.state) if e["event"] == "run_started"]
    return runs[-1] if runs else None


def curl(api, path: str, body: dict, token: str | None) -> tuple[int, dict]:
    """The seed's curl command, with the token header added."""
    args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", api.url + path,
            "-H", "Content-Type: application/json", "-d", json.dumps(body)]
    if token is not None:
        args += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    text, _, code = out.rpartition("\n")
    return int(code), json.loads(text or "{}")


def finish(proc: subprocess.Popen, timeout: float = RUN_TIMEOUT) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def cluster_works(api, cluster) -> None:
    code, health = api.call("GET", "/api/v1/cluster/health")
    assert code == 200 and health["healthy"], health
    assert health["nodes_alive"] == 2 and health["gcs"]["available"]
    code, nodes = api.call("GET", "/api/v1/nodes")
    assert {n["node_ip"] for n in nodes["nodes"] if n["state"] == "ALIVE"} == set(cluster.hosts().values())
    head = next(n for n in nodes["nodes"] if n["is_head_node"])
    assert api.call("GET", f"/api/v1/nodes/{head['node_id']}")[1]["node_ip"] == cluster.head


def test_curl_approval_releases_a_deploy_waiting_at_03(api, cluster):
    proc = start_deploy(api, "--deploy")
    run = wait_for(lambda: latest_run(api), 120, "the run to start")
    # 02 (docker-installation) is gated too: approve it the same way
    wait_for(lambda: pending_for(api, "docker-installation", run) or proc.poll() is not None, 900,
             "the pending approval of 02")
    assert proc.poll() is None, log_of(proc)
    code, body = curl(api, "/api/v1/approvals/docker-installation", SEED_BODY, api.token)
    assert code == 200, body
    wait_for(lambda: pending_for(api, "cleanup-existing", run) or proc.poll() is not None, 900,
             "the pending approval of 03")
    assert proc.poll() is None, log_of(proc)
    code, info = api.call("GET", "/api/v1/approvals/cleanup-existing")
    assert info["needs"]["acknowledge_risks"] and set(info["preview"]["hosts"]) >= set(cluster.hosts())
    assert curl(api, "/api/v1/approvals/cleanup-existing", SEED_BODY, None)[0] == 401
    assert curl(api, "/api/v1/approvals/cleanup-existing", SEED_BODY, "0" * 64)[0] == 401
    assert api.call("GET", "/api/v1/approvals/cleanup-existing")[1]["approval"]["state"] == "pending"
    code, body = curl(api, "/api/v1/approvals/cleanup-existing", SEED_BODY, api.token)
    assert code == 200 and body["state"] in ("approved", "consumed"), body
    assert curl(api, "/api/v1/approvals/cleanup-existing", SEED_BODY, api.token)[0] == 409
    assert finish(proc) == 0, log_of(proc)
    code, result = api.call("GET", f"/api/v1/runs/{run}")
    assert result["status"] == "succeeded" and result["exit_code"] == 0
    assert [c["status"] for c in result["checkpoints"]] == ["succeeded"] * 6
    ray = next(c for c in result["checkpoints"] if c["name"] == "ray-deployment")
    assert set(ray["hosts"]) >= set(cluster.hosts()) and all(h["failed"] == 0 for h in ray["hosts"].values())
    granted = [e for e in audit(api.state) if e["event"] == "approval_granted" and e.get("run") is None]
    assert [(e["checkpoint"], e["who"]) for e in granted] == [("docker-installation", "admin"),
                                                              ("cleanup-existing", "admin")]
    assert all(e["caller"].startswith("token:") and e["caller"].endswith("@127.0.0.1") for e in granted)
    cluster_works(api, cluster)
    prom = api.call("GET", "/api/v1/monitoring/prometheus")[1]
    assert prom["source"]["available"] and prom["up"] >= 2, prom
    status = api.call("GET", "/api/v1/cluster/status")[1]
    assert status["checkpoints"]["cleanup-existing"] == "succeeded" and status["resources_total"]["CPU"] > 0
    metrics = subprocess.run(["curl", "-sS", "-H", f"Authorization: Bearer {api.token}",
                              api.url + "/metrics"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
    assert 'raydeploy_checkpoint_runs_total{checkpoint="ray-deployment",result="succeeded"}' in metrics
    assert 'raydeploy_last_run_status{status="succeeded"} 1.0' in metrics


def test_web_page_approval_releases_a_deploy_waiting_at_03(api, cluster):
    before = latest_run(api)
    proc = start_deploy(api, "--deploy")
    run = wait_for(lambda: (r := latest_run(api)) != before and r, 120, "the run to start")
    driver = browser()
    try:
        for name in ("docker-installation", "cleanup-existing"):
            wait_for(lambda n=name: pending_for(api, n, run) or proc.poll() is not None, 900,
                     f"the pending approval of {name}")
            assert proc.poll() is None, log_of(proc)
            text = approve_in_page(driver, api.url, api.token, name, "web-admin", f"page approval of {name}")
            assert text.startswith(f"{name}: approved by web-admin"), text
        SHOTS.mkdir(exist_ok=True)
        approved_shot = SHOTS / "sandbox-web-approved.png"
        driver.save_screenshot(str(approved_shot))
        assert finish(proc) == 0, log_of(proc)
        from selenium.webdriver.common.by import By

        wait_for(lambda: f"run {run}: succeeded" in driver.find_element(By.ID, "run").text, 30,
                 "the page to show the run succeeded")
        done_shot = SHOTS / "sandbox-web-run-succeeded.png"
        driver.save_screenshot(str(done_shot))
        states = {r.get_attribute("data-name"): r.find_elements(By.TAG_NAME, "td")[2].text
                  for r in driver.find_elements(By.CSS_SELECTOR, "#checkpoints tbody tr")}
    finally:
        driver.quit()
    assert set(states.values()) == {"succeeded"}, states
    for shot in (approved_shot, done_shot):
        summary = png_summary(shot.read_bytes())
        assert summary["bytes"] > 10_000 and summary["distinct"] > 20, summary
    granted = [e for e in audit(api.state) if e["event"] == "approval_granted" and e["who"] == "web-admin"]
    assert [e["checkpoint"] for e in granted] == ["docker-installation", "cleanup-existing"]
    cluster_works(api, cluster)


def test_post_checkpoint_runs_it_through_the_orchestrator(api, cluster):
    code, body = api.call("POST", "/api/v1/checkpoints/prerequisites-check", {})
    assert code == 202, body
    run = body["run_id"]
    result = wait_for(lambda: (r := api.call("GET", f"/api/v1/runs/{run}")[1])["finished_at"] and r, 600,
                      "the run started over REST to finish", interval=2)
    assert result["status"] == "succeeded" and result["exit_code"] == 0, result
    (cp,) = result["checkpoints"]
    assert cp["name"] == "prerequisites-check" and set(cp["hosts"]) >= set(cluster.hosts())
    assert all(cp["hosts"][h]["failed"] == 0 and cp["hosts"][h]["ok"] > 0 for h in cluster.hosts())
    requested = [e for e in audit(api.state) if e["event"] == "api_run_requested" and e["run"] == run]
    assert requested and requested[0]["who"].startswith("token:")


def test_stop_button_interrupts_a_run_started_over_rest_and_frees_the_lock(api, cluster):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    code, body = api.call("POST", "/api/v1/checkpoints/prerequisites-check", {"to_end": True})
    assert code == 202, body
    run = body["run_id"]
    # Stop it once its first checkpoint runs (or, on a fast machine, once it waits at 02's gate),
    # with the web page's Stop button, which posts /runs/{run_id}/stop.
    current = wait_for(lambda: api.call("GET", f"/api/v1/runs/{run}")[1]["current_checkpoint"], 300,
                       "the run to start its first checkpoint", interval=0.2)
    driver = browser()
    try:
        driver.get(api.url + "/")
        driver.find_element(By.ID, "token").send_keys(api.token)
        driver.find_element(By.ID, "save-token").click()

        def click_stop() -> bool:
            # The page redraws the run every 2 s, which can replace the button under the click.
            try:
                if run not in driver.find_element(By.ID, "run").text:
                    return False
                driver.find_element(By.ID, "stop-run").click()
                return True
            except (NoSuchElementException, StaleElementReferenceException):
                return False

        wait_for(click_stop, 30, "the page to show the running run's Stop button", interval=0.2)
        driver.switch_to.alert.accept()
        wait_for(lambda: f"stopping run {run}" in driver.find_element(By.ID, "message").text, 30,
                 "the page to say the run is stopping")
    finally:
        driver.quit()
    stopped = [e for e in audit(api.state) if e["event"] == "api_run_stop_requested" and e["run"] == run]
    assert len(stopped) == 1 and stopped[0]["reason"] == "stopped from the web page", stopped
    result = wait_for(lambda: (r := api.call("GET", f"/api/v1/runs/{run}")[1])["finished_at"] and r, 120,
                      "the stopped run to end", interval=1)
    assert result["status"] == "interrupted" and result["exit_code"] == 130, result
    code, cps = api.call("GET", "/api/v1/checkpoints")
    interrupted = [c["name"] for c in cps["checkpoints"]
                   if c["state"] and c["state"]["run_id"] == run and c["state"]["status"] == "interrupted"]
    assert len(interrupted) == 1 and cps["lock"] is None, (current, cps)
    code, again = api.call("POST", f"/api/v1/runs/{run}/stop", {})
    assert code == 409 and "has already ended" in again["error"]["message"], again
