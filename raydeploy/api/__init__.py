"""The REST API and web page (issue 6): a Flask app factory with one blueprint per area.

    create_app(test_config=None) -> Flask

Settings come from DEFAULTS, then the mapping passed by `raydeploy api` (or a test). The app
shares the orchestrator's state directory and ApprovalStore, so a decision made here releases
a deploy-master.py run waiting at that gate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from flask_cors import CORS
from prometheus_client import CollectorRegistry, Counter

from raydeploy.api import approvals, checkpoints, cluster, metrics, security, web
from raydeploy.api.context import ApiContext
from raydeploy.api.runs import RunManager
from raydeploy.api.upstream import Upstream, UpstreamClient, from_inventory
from raydeploy.deploy.approvals import ApprovalStore
from raydeploy.deploy.store import StateDir
from raydeploy.paths import raydeploy_home

DEFAULTS: dict[str, Any] = {
    "STATE_DIR": None,            # the orchestrator's state directory (required)
    "INVENTORY": None,            # inventory: where runs go, and the head/monitoring addresses
    "API_TOKEN_FILE": None,       # default ~/.raydeploy/api/token
    "CORS_ORIGINS": [],           # no CORS headers unless origins are configured
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "AUTH_MAX_FAILURES": 10,      # failed token attempts per client address within AUTH_WINDOW ...
    "AUTH_WINDOW": 60.0,          # ... lock it out (429) for AUTH_WINDOW seconds
    "AUTH_MAX_CLIENTS": 10000,    # addresses tracked at most (least recently seen forgotten first)
    "RAY_DASHBOARD_URL": None,    # default http://HEAD:8265 from the inventory
    "RAY_TOKEN_FILE": None,       # default INVENTORY_DIR/.secrets/ray_auth_token
    "PROMETHEUS_URL": None,
    "GRAFANA_URL": None,
    "GRAFANA_USER": "admin",
    "GRAFANA_PASSWORD_FILE": None,  # default INVENTORY_DIR/.secrets/grafana_admin_password
    "UPSTREAM_TIMEOUT": 3.0,
    "UPSTREAM_CACHE_TTL": 2.0,
    "APPROVAL_TIMEOUT": 1800.0,   # how long runs started over REST wait at a gate
    "RUN_MANAGER": None,          # tests may pass their own
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    # No redirects: '//' (a %2F in a name) is a JSON 404, not a 308 to another path with an HTML body.
    app.url_map.merge_slashes = False
    app.config.from_mapping(DEFAULTS)
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config["STATE_DIR"]:
        raise ValueError("STATE_DIR is required")
    inventory = Path(app.config["INVENTORY"]).resolve() if app.config["INVENTORY"] else None
    token_file = Path(app.config["API_TOKEN_FILE"] or raydeploy_home() / "api" / "token")
    app.config["API_TOKEN_FILE"] = str(token_file)
    app.config["API_TOKEN"] = security.load_or_create_token(token_file)

    found = from_inventory(inventory) if inventory else {}
    secrets_dir = inventory.parent / ".secrets" if inventory else None

    def path_or(key: str, default: Path | None) -> Path | None:
        # The default files may not exist yet (checkpoint 04 creates the Ray token): read later.
        value = app.config[key]
        return Path(value) if value else default

    upstream = UpstreamClient(
        ray=Upstream("ray", app.config["RAY_DASHBOARD_URL"] or found.get("ray"),
                     token_file=path_or("RAY_TOKEN_FILE",
                                        secrets_dir / "ray_auth_token" if secrets_dir else None)),
        prometheus=Upstream("prometheus", app.config["PROMETHEUS_URL"] or found.get("prometheus")),
        grafana=Upstream("grafana", app.config["GRAFANA_URL"] or found.get("grafana")),
        timeout=float(app.config["UPSTREAM_TIMEOUT"]), cache_ttl=float(app.config["UPSTREAM_CACHE_TTL"]),
    )
    pw = path_or("GRAFANA_PASSWORD_FILE", secrets_dir / "grafana_admin_password" if secrets_dir else None)
    if pw:
        upstream.grafana.basic_auth = (app.config["GRAFANA_USER"], pw)

    state = StateDir(Path(app.config["STATE_DIR"])).ensure()
    store = ApprovalStore(state)
    runs = app.config["RUN_MANAGER"] or RunManager(state, inventory,
                                                   approval_timeout=float(app.config["APPROVAL_TIMEOUT"]))
    registry = CollectorRegistry()
    registry.register(metrics.StateCollector(state, store))
    counter = Counter("raydeploy_api_requests", "API requests by endpoint and status.",
                      ["method", "endpoint", "status"], registry=registry)
    app.extensions["raydeploy_auth_metrics"] = {
        "failures": Counter("raydeploy_api_auth_failures", "Requests refused for a missing or wrong token.",
                            registry=registry),
        "lockouts": Counter("raydeploy_api_auth_lockouts",
                            "Client addresses locked out after too many failed token attempts.",
                            registry=registry),
    }
    app.extensions["raydeploy"] = ApiContext(state=state, approvals=store, runs=runs, upstream=upstream,
                                             inventory=inventory, metrics=registry, requests=counter)

    security.install(app)
    if app.config["CORS_ORIGINS"]:
        CORS(app, origins=list(app.config["CORS_ORIGINS"]), allow_headers=["Authorization", "Content-Type"],
             methods=["GET", "POST"], supports_credentials=False)
    for module in (web, cluster, checkpoints, approvals, metrics):
        app.register_blueprint(module.bp)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        counter.labels(request.method, endpoint, str(response.status_code)).inc()
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
