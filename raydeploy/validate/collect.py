"""Gather everything a report needs, at once: HTTP to Ray's dashboard, Prometheus, Grafana and
every node exporter, and (unless health only) one SSH probe per host, all overlapping."""

from __future__ import annotations

import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from raydeploy.validate import ssh
from raydeploy.validate.http import (
    GCS_PROBE_PAUSE,
    GCS_PROBES,
    Fetch,
    Request,
    Response,
    ask_again,
    fetch,
    fetch_all,
)
from raydeploy.validate.metrics import DEFAULT_CPU_WEIGHT, DEFAULT_GPU_WEIGHT, DEFAULT_MAX_SCORE
from raydeploy.validate.spec import ClusterSpec

GPU_QUERIES = {"gpu_used": "ray_node_gram_used", "gpu_available": "ray_node_gram_available"}


@dataclass
class Options:
    timeout: float = 2.0
    cpu_weight: float = DEFAULT_CPU_WEIGHT
    gpu_weight: float = DEFAULT_GPU_WEIGHT
    max_score: float = DEFAULT_MAX_SCORE
    health_only: bool = False
    use_ssh: bool = True
    run_job: bool = False
    job_timeout: float = 300.0
    gcs_probes: int = GCS_PROBES
    gcs_probe_pause: float = GCS_PROBE_PAUSE


@dataclass
class Observations:
    http: dict[tuple[str, str], Response] = field(default_factory=dict)
    probes: dict[str, ssh.Probe] | None = None
    job: Any = None  # job.JobResult when the distributed job ran
    timings: dict[str, float] = field(default_factory=dict)

    def get(self, kind: str, name: str = "") -> Response | None:
        return self.http.get((kind, name))


def requests_for(spec: ClusterSpec, options: Options) -> dict[tuple[str, str], Request]:
    token = spec.token()
    auth = (("Authorization", f"Bearer {token}"),) if token else ()
    dash = spec.dashboard_url
    reqs: dict[tuple[str, str], Request] = {
        ("ray_gcs", ""): Request(f"{dash}/api/gcs_healthz"),
        ("ray_nodes", ""): Request(f"{dash}/api/v0/nodes?detail=true&limit=10000", auth),
    }
    if not options.health_only:
        reqs[("ray_auth_mode", "")] = Request(f"{dash}/api/authentication_mode")
        reqs[("ray_nodes_noauth", "")] = Request(f"{dash}/api/v0/nodes?limit=1")
        reqs[("ray_version", "")] = Request(f"{dash}/api/version", auth)
    mp = spec.monitoring_ports
    for h in spec.hosts:
        if h.node_exporter_enabled:
            reqs[("node", h.name)] = Request(f"http://{h.monitoring_address}:{mp['node_exporter']}/metrics")
        if h.prometheus_enabled:
            prom = f"http://{h.monitoring_address}:{mp['prometheus']}"
            for key, query in GPU_QUERIES.items():
                reqs[(key, h.name)] = Request(f"{prom}/api/v1/query?query={urllib.parse.quote(query)}")
            if not options.health_only:
                reqs[("prom_ready", h.name)] = Request(f"{prom}/-/ready")
                reqs[("prom_targets", h.name)] = Request(f"{prom}/api/v1/targets?state=active")
                reqs[("prom_rules", h.name)] = Request(f"{prom}/api/v1/rules?type=alert")
        if h.grafana_enabled and not options.health_only:
            reqs[("grafana", h.name)] = Request(f"http://{h.monitoring_address}:{mp['grafana']}/api/health")
    return reqs


def gcs_ok(resp: Response) -> bool:
    return resp.ok and resp.body.strip() == "success"


class Collector:
    def __init__(
        self,
        spec: ClusterSpec,
        options: Options,
        fetcher: Fetch = fetch,
        ssh_runner: ssh.Runner | None = None,
    ):
        self.spec, self.options, self.fetcher = spec, options, fetcher
        self.ssh_runner = ssh_runner

    def collect(self) -> Observations:
        obs = Observations()
        started = time.monotonic()
        reqs = requests_for(self.spec, self.options)
        with ThreadPoolExecutor(max_workers=min(96, len(reqs) + len(self.spec.hosts) + 1)) as pool:
            futures = None
            if self.options.use_ssh and not self.options.health_only:
                futures = ssh.probe_all(
                    self.spec, pool, **({"runner": self.ssh_runner} if self.ssh_runner else {})
                )
            obs.http = fetch_all(reqs, self.options.timeout, self.fetcher, pool=pool)
            # No answer at all is final: a dead dashboard would only multiply the timeout.
            gcs = ("ray_gcs", "")
            obs.http[gcs], attempts = ask_again(
                obs.http[gcs],
                lambda: self.fetcher(reqs[gcs], self.options.timeout),
                lambda r: not r.answered or gcs_ok(r),
                self.options.gcs_probes,
                self.options.gcs_probe_pause,
            )
            obs.http[gcs].attempts = attempts
            obs.timings["http_s"] = time.monotonic() - started
            if futures is not None:
                obs.probes = {name: fut.result() for name, fut in futures.items()}
                obs.timings["ssh_s"] = max((p.elapsed for p in obs.probes.values()), default=0.0)
        if self.options.run_job:
            from raydeploy.validate.job import run_hello_ray

            job_started = time.monotonic()
            obs.job = run_hello_ray(self.spec, self.options.job_timeout)
            obs.timings["job_s"] = time.monotonic() - job_started
        obs.timings["collect_s"] = time.monotonic() - started
        return obs
