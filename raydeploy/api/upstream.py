"""Cluster data from Ray's dashboard API and Prometheus/Grafana HTTP APIs, never over SSH.

Each upstream answer is cached for a short time (CACHE_TTL, default 2 s) so a busy web page or
many API clients do not turn into as many calls to the Ray head. An unreachable upstream is
not an API error: the answer says `available: false` and why.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raydeploy import settings
from raydeploy.validate.http import GCS_PROBE_PAUSE, GCS_PROBES, ask_again


@dataclass
class Upstream:
    name: str
    url: str | None
    token_file: Path | None = None
    basic_auth: tuple[str, Path] | None = None


@dataclass
class Answer:
    available: bool
    status: int | None = None
    data: Any = None
    error: str | None = None


@dataclass
class UpstreamClient:
    ray: Upstream
    prometheus: Upstream
    grafana: Upstream
    timeout: float = 3.0
    cache_ttl: float = 2.0
    probe_pause: float = GCS_PROBE_PAUSE
    _cache: dict[str, tuple[float, Answer]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, up: Upstream, path: str, as_json: bool = True, probes: int = 1) -> Answer:
        """`probes` > 1 asks again while the upstream answers with an HTTP error."""
        if not up.url:
            return Answer(False, error=f"no {up.name} address configured")
        key = f"{up.name} {path}"
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self.cache_ttl:
                return hit[1]
        answer, _ = ask_again(
            self._fetch(up, path, as_json),
            lambda: self._fetch(up, path, as_json),
            lambda a: a.available or a.status is None,  # no answer at all is final
            probes,
            self.probe_pause,
        )
        with self._lock:
            self._cache[key] = (time.monotonic(), answer)
        return answer

    def _fetch(self, up: Upstream, path: str, as_json: bool) -> Answer:
        url = up.url.rstrip("/") + path
        req = urllib.request.Request(url)  # noqa: S310 - http(s) URL from the API's configuration
        # Credentials are read on every call: the Ray token is created by checkpoint 04, often
        # after the API started, and may be rotated.
        try:
            if up.token_file:
                req.add_header("Authorization", f"Bearer {up.token_file.read_text().strip()}")
            if up.basic_auth and up.basic_auth[1].exists():
                user, pw_file = up.basic_auth
                cred = base64.b64encode(f"{user}:{pw_file.read_text().strip()}".encode()).decode()
                req.add_header("Authorization", f"Basic {cred}")
        except OSError as exc:
            return Answer(False, error=f"cannot read the {up.name} credential: {exc}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                body = resp.read()
                data = json.loads(body) if as_json else body.decode(errors="replace")
                return Answer(True, resp.status, data)
        except urllib.error.HTTPError as exc:
            return Answer(False, exc.code, error=f"{up.name} answered HTTP {exc.code} for {path}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return Answer(False, error=f"{up.name} at {up.url} is unreachable: {getattr(exc, 'reason', exc)}")

    # -- Ray -------------------------------------------------------------------------------------
    def ray_nodes(self) -> tuple[list[dict[str, Any]] | None, Answer]:
        ans = self.get(self.ray, "/api/v0/nodes?limit=1000&detail=true")
        if not ans.available:
            return None, ans
        try:
            rows = ans.data["data"]["result"]["result"]
        except (KeyError, TypeError):
            return None, Answer(False, ans.status, error="Ray's /api/v0/nodes answer has no node list")
        return [node_view(r) for r in rows], ans

    def ray_gcs_healthy(self) -> Answer:
        return self.get(self.ray, "/api/gcs_healthz", as_json=False, probes=GCS_PROBES)

    # -- monitoring ------------------------------------------------------------------------------
    def prometheus_targets(self) -> Answer:
        return self.get(self.prometheus, "/api/v1/targets?state=active")

    def grafana_dashboards(self) -> Answer:
        return self.get(self.grafana, "/api/search?type=dash-db")


def node_view(row: dict[str, Any]) -> dict[str, Any]:
    """A Ray node row reduced to what the API promises (see the spec's Node)."""
    resources = row.get("resources_total") or {}
    return {
        "node_id": str(row.get("node_id", "")),
        "node_ip": str(row.get("node_ip", "")),
        "node_name": str(row.get("node_name") or ""),
        "is_head_node": bool(row.get("is_head_node", False)),
        "state": str(row.get("state", "UNKNOWN")),
        "state_message": row.get("state_message") if isinstance(row.get("state_message"), str) else None,
        "resources_total": {str(k): float(v) for k, v in resources.items()
                            if isinstance(v, int | float) and not isinstance(v, bool)},
        "start_time_ms": row.get("start_time_ms") if isinstance(row.get("start_time_ms"), int) else None,
    }


def from_inventory(inventory: Path | None) -> dict[str, str | None]:
    """Ray dashboard, Prometheus and Grafana URLs from the inventory's head and monitoring hosts."""
    out: dict[str, str | None] = {"ray": None, "prometheus": None, "grafana": None}
    if inventory is None or not inventory.is_file():
        return out
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    inv = InventoryManager(loader=DataLoader(), sources=[str(inventory)])

    def address(group: str) -> str | None:
        hosts = inv.get_groups_dict().get(group) or []
        if not hosts:
            return None
        host = inv.get_host(hosts[0])
        hv = host.get_vars()
        for key in ("ray_node_ip", "monitoring_address", "ansible_host"):
            value = hv.get(key)
            if isinstance(value, str) and value and "{{" not in value:
                return value
        return host.name

    head, mon = address("head_nodes"), address("monitoring")
    ports, mports = settings.ray_ports(), settings.monitoring_ports()
    if head:
        out["ray"] = f"http://{head}:{ports['dashboard']}"
    if mon:
        out["prometheus"] = f"http://{mon}:{mports['prometheus']}"
        out["grafana"] = f"http://{mon}:{mports['grafana']}"
    return out
