"""The cluster as Ray's dashboard API sees it (`/api/v0/nodes`, `/api/gcs_healthz`) and the
monitoring stack as Prometheus and Grafana see it. Nothing here uses SSH."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from raydeploy.api.context import ctx
from raydeploy.api.security import ApiError, shown
from raydeploy.api.upstream import Answer
from raydeploy.deploy.store import iso, now

bp = Blueprint("cluster", __name__, url_prefix="/api/v1")


def _source(ans: Answer, url: str | None) -> dict[str, Any]:
    return {"url": url, "available": ans.available, "error": ans.error}


def _health(nodes: list[dict[str, Any]] | None, ans: Answer) -> dict[str, Any]:
    up = ctx().upstream
    gcs = up.ray_gcs_healthy()
    alive = [n for n in nodes or [] if n["state"] == "ALIVE"]
    dead = [n for n in nodes or [] if n["state"] != "ALIVE"]
    healthy = bool(gcs.available and nodes is not None and alive and not dead)
    return {
        "healthy": healthy,
        "gcs": {"available": gcs.available, "error": gcs.error},
        "nodes_alive": len(alive), "nodes_dead": len(dead), "nodes_total": len(nodes or []),
        "dead_nodes": [n["node_ip"] or n["node_id"] for n in dead],
        "ray": _source(ans, up.ray.url),
        "checked_at": iso(now()),
    }


@bp.get("/cluster/health")
def health():
    return jsonify(_health(*ctx().upstream.ray_nodes()))


@bp.get("/cluster/status")
def status():
    c = ctx()
    nodes, ans = c.upstream.ray_nodes()
    resources: dict[str, float] = {}
    for n in nodes or []:
        if n["state"] == "ALIVE":
            for k, v in n["resources_total"].items():
                resources[k] = resources.get(k, 0.0) + v
    state = c.state.load_state()
    cps = state.get("checkpoints", {})
    return jsonify({
        "health": _health(nodes, ans),
        "resources_total": {k: resources[k] for k in sorted(resources) if k in ("CPU", "GPU", "memory",
                                                                                "object_store_memory")},
        "checkpoints": {name: (s or {}).get("status") for name, s in sorted(cps.items())},
        "last_run": state.get("last_run"),
        "lock": c.state.holder(),
        "pending_approvals": [r.checkpoint for r in c.approvals.pending()],
    })


@bp.get("/nodes")
def nodes():
    c = ctx()
    found, ans = c.upstream.ray_nodes()
    return jsonify({"nodes": found or [], "source": _source(ans, c.upstream.ray.url)})


@bp.get("/nodes/<node>")
def node(node: str):
    c = ctx()
    found, ans = c.upstream.ray_nodes()
    if found is None:
        raise ApiError(404, f"no node {shown(node)}: Ray's dashboard gave no node list ({ans.error})")
    for n in found:
        if node in (n["node_id"], n["node_ip"], n["node_name"]):
            return jsonify(n)
    raise ApiError(404, f"no node {shown(node)} (match a node id, address or name from /api/v1/nodes)")


@bp.get("/monitoring/prometheus")
def prometheus():
    c = ctx()
    ans = c.upstream.prometheus_targets()
    targets = []
    if ans.available:
        for t in ((ans.data or {}).get("data") or {}).get("activeTargets") or []:
            labels = t.get("labels") or {}
            targets.append({"job": str(labels.get("job", t.get("scrapePool", ""))),
                            "instance": str(labels.get("instance", "")),
                            "health": str(t.get("health", "unknown")),
                            "last_error": str(t.get("lastError") or ""),
                            "last_scrape": str(t.get("lastScrape") or "")})
    return jsonify({"source": _source(ans, c.upstream.prometheus.url), "targets": targets,
                    "up": sum(1 for t in targets if t["health"] == "up"),
                    "down": sum(1 for t in targets if t["health"] != "up")})


@bp.get("/monitoring/grafana/dashboards")
def grafana_dashboards():
    c = ctx()
    ans = c.upstream.grafana_dashboards()
    boards = []
    if ans.available and isinstance(ans.data, list):
        for d in ans.data:
            boards.append({"uid": str(d.get("uid", "")), "title": str(d.get("title", "")),
                           "folder": str(d.get("folderTitle") or ""),
                           "url": (c.upstream.grafana.url or "").rstrip("/") + str(d.get("url", ""))})
    return jsonify({"source": _source(ans, c.upstream.grafana.url), "dashboards": boards})
