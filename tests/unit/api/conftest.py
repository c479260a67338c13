"""Fixtures for the API tests: an app over a temporary state directory, its client and token,
a stub Ray head/Prometheus, and a run manager that records instead of starting runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from raydeploy import checkpoints as registry
from raydeploy.api import create_app
from raydeploy.api.runs import Launch, RunManager
from raydeploy.deploy.approvals import ApprovalStore
from raydeploy.deploy.orchestrator import new_run_id
from raydeploy.deploy.store import StateDir
from tests import api_stub

RAY_TOKEN = "f" * 64


@dataclass
class RecordingRuns(RunManager):
    started: list[dict] = field(default_factory=list)

    def start(self, checkpoint: str, **kw) -> Launch:
        run_id = new_run_id()
        self.started.append({"checkpoint": checkpoint, "run_id": run_id, **kw})
        self.state.audit("api_run_requested", who=kw["requested_by"], run=run_id, checkpoint=checkpoint)
        return Launch(run_id, [], self.runs_dir / run_id)


@pytest.fixture(scope="session")
def stub_server():
    server = api_stub.start(RAY_TOKEN)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def api_paths(tmp_path: Path) -> dict[str, Path]:
    inv = tmp_path / "inventory" / "hosts.yml"
    inv.parent.mkdir()
    inv.write_text("all:\n  hosts: {}\n")
    (tmp_path / "ray_token").write_text(RAY_TOKEN + "\n")
    return {"state": tmp_path / "state", "token": tmp_path / "api" / "token", "inventory": inv,
            "ray_token": tmp_path / "ray_token"}


@pytest.fixture
def app(api_paths, stub_server):
    state = StateDir(api_paths["state"]).ensure()
    return create_app({
        "TESTING": True, "STATE_DIR": str(api_paths["state"]), "API_TOKEN_FILE": str(api_paths["token"]),
        "INVENTORY": str(api_paths["inventory"]), "RAY_DASHBOARD_URL": stub_server,
        "RAY_TOKEN_FILE": str(api_paths["ray_token"]), "PROMETHEUS_URL": stub_server,
        "GRAFANA_URL": stub_server, "UPSTREAM_CACHE_TTL": 0.0,
        "RUN_MANAGER": RecordingRuns(state, api_paths["inventory"]),
        "CORS_ORIGINS": ["https://ops.example"],
    })


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(app) -> str:
    return app.config["API_TOKEN"]


@pytest.fixture
def auth(token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def request_approval(app, name: str = "cleanup-existing", run_id: str = "20260101T000000-abcdef"):
    """A pending approval as a previewing run leaves it."""
    store: ApprovalStore = app.extensions["raydeploy"].approvals
    preview = {"hosts": {"h1": {"would_change": [{"task": "Stop stray Ray", "diff": []}],
                                "not_simulated": ["List Ray processes"]}}, "ok": True}
    return store.request(registry.get(name), "sha256:" + "0" * 64, "tester@host", run_id, preview)
