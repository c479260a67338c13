"""The web page in headless Chromium against `raydeploy api` on loopback (no sandbox needed): it
shows a pending approval with its preview, approves it with name, reason and the risk
acknowledged, and shows the decision; a screenshot is taken and looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

from raydeploy import checkpoints as registry
from raydeploy.deploy.approvals import ApprovalStore
from raydeploy.deploy.store import StateDir
from tests import api_stub
from tests.api_support import approve_in_page, browser, png_summary, start_api

RAY_TOKEN = "e" * 64
SHOTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def server(tmp_path):
    stub = api_stub.start(RAY_TOKEN)
    (tmp_path / "ray_token").write_text(RAY_TOKEN)
    stub_url = f"http://127.0.0.1:{stub.server_address[1]}"
    api = start_api(tmp_path, "--state-dir", str(tmp_path / "state"), "--ray-dashboard", stub_url,
                    "--ray-token-file", str(tmp_path / "ray_token"), "--prometheus", stub_url)
    yield api, StateDir(tmp_path / "state")
    api.stop()
    stub.shutdown()


def test_page_approves_a_pending_destructive_checkpoint(server):
    api, state = server
    store = ApprovalStore(state)
    preview = {"hosts": {"api-1": {"would_change": [{"task": "Remove stray Ray session directories",
                                                     "diff": []}],
                                   "not_simulated": ["List running Ray processes"]}}}
    record = store.request(registry.get("cleanup-existing"), "sha256:" + "1" * 64, "ops@ci",
                           "20260101T000000-aaaaaa", preview)
    driver = browser()
    try:
        text = approve_in_page(driver, api.url, api.token, "cleanup-existing", "web-admin",
                               "Planned maintenance (page)")
        page = driver.page_source
        SHOTS.mkdir(exist_ok=True)
        shot = SHOTS / "web-page-approved.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert text.startswith("cleanup-existing: approved by web-admin")
    assert "Remove stray Ray session directories" in page and "List running Ray processes" in page
    assert "2 node(s) alive" in page  # the cluster line, from the stub Ray head's dashboard API
    summary = png_summary(shot.read_bytes())
    assert summary["width"] >= 1000 and summary["height"] >= 600
    assert summary["bytes"] > 10_000 and summary["distinct"] > 20, summary

    now = store.get("cleanup-existing")
    assert now.id == record.id and now.state == "approved" and now.acknowledge_risks
    granted = [e for e in state.audit_entries() if e["event"] == "approval_granted"]
    assert granted[-1]["who"] == "web-admin" and granted[-1]["caller"].startswith("token:")


def test_real_server_answers_413_401_404_409_as_json(server):
    api, state = server
    big = {"approved_by": "a" * (2 * 1024 * 1024), "reason": "r"}
    assert api.call("POST", "/api/v1/approvals/cleanup-existing", big) == (413, {"error": {
        "status": 413, "message": "request body over 65536 bytes"}})
    assert api.call("GET", "/api/v1/checkpoints", token="wrong")[0] == 401
    assert api.call("GET", "/api/v1/checkpoints/nope")[0] == 404
    assert api.call("POST", "/api/v1/approvals/docker-installation",
                    {"approved_by": "a", "reason": "r"})[0] == 409
