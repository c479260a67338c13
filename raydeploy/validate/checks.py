"""The checks: pure functions from (what should be, what was observed) to Results.

Each checkpoint of playbooks/checkpoints.yml has checks that say whether its effect holds now;
`health` holds the per-host numbers. Check ids are stable (scripts and tests key on them):

| id | checkpoint | per | fails (exit 2) | warns (exit 1) |
|---|---|---|---|---|
| hosts.reachable | prerequisites-check | host | no SSH (no HTTP in --health-only) | probe ran but failed |
| prerequisites.disk | prerequisites-check | host | | free < prerequisites_min_disk_free_gb |
| prerequisites.memory | prerequisites-check | host | | total < prerequisites_min_memory_mb |
| docker.running | docker-installation | host | Docker enabled but not active | |
| cleanup.no_stray_ray | cleanup-existing | host | Ray processes/containers not ours | |
| ray.dashboard | ray-deployment | head | dashboard does not answer | |
| ray.gcs | ray-deployment | head | /api/gcs_healthz not "success" on 3 probes in a row | |
| ray.auth | ray-deployment | head | token auth not enforced | disabled by the inventory |
| ray.nodes_alive | ray-deployment | host | head node missing | a worker node missing |
| ray.resources | ray-deployment | host | | CPUs/GPUs/memory not as expected |
| ray.versions | ray-deployment | host | Ray or Python version differs | |
| monitoring.node_exporter | monitoring-deployment | host | | exporter does not answer |
| monitoring.prometheus | monitoring-deployment | host | | Prometheus not ready |
| monitoring.targets | monitoring-deployment | host | | a scrape target of the host down |
| monitoring.rules | monitoring-deployment | host | | alert rules missing |
| monitoring.grafana | monitoring-deployment | host | | Grafana unhealthy |
| health.host | health | host | | memory, disk or score over threshold |
| final.job | final-validation | host | no task of the job ran on the host | |
"""

from __future__ import annotations

import collections
import datetime as dt
import math
from collections.abc import Callable
from functools import cached_property
from typing import Any

import yaml

from raydeploy import checkpoints as registry
from raydeploy.paths import PROJECT_ROOT
from raydeploy.validate.collect import Observations, Options, gcs_ok
from raydeploy.validate.metrics import MEMORY_USED_WARN_PCT, HostMetrics, health_score, host_metrics
from raydeploy.validate.report import FAIL, PASS, SKIP, WARN, HostHealth, Report, Result
from raydeploy.validate.spec import ClusterSpec, HostSpec

PREREQ, DOCKER, CLEANUP, RAY, MONITORING, FINAL = (c.name for c in registry.load())
HEALTH = "health"
GIB = 2**30


def expected_alert_names() -> list[str]:
    rules = yaml.safe_load(
        (PROJECT_ROOT / "roles" / "prometheus" / "files" / "raydeploy.rules.yml").read_text()
    )
    return [r["alert"] for g in rules.get("groups", []) for r in g.get("rules", []) if "alert" in r]


class Context:
    def __init__(self, spec: ClusterSpec, obs: Observations, options: Options):
        self.spec, self.obs, self.options = spec, obs, options

    @cached_property
    def nodes(self) -> list[dict[str, Any]] | None:
        resp = self.obs.get("ray_nodes")
        data = resp.json() if resp is not None and resp.ok else None
        try:
            return list(data["data"]["result"]["result"])
        except (TypeError, KeyError):
            return None

    def alive_at(self, ip: str) -> list[dict[str, Any]]:
        return [n for n in self.nodes or [] if n.get("state") == "ALIVE" and n.get("node_ip") == ip]

    @cached_property
    def gpu(self) -> dict[str, tuple[int, float, float]]:
        """ip -> (GPUs, MB used, MB total) from Ray's per-GPU metrics in Prometheus."""
        used: dict[str, list[float]] = collections.defaultdict(list)
        avail: dict[str, list[float]] = collections.defaultdict(list)
        for key, sink in (("gpu_used", used), ("gpu_available", avail)):
            for h in self.spec.hosts:
                resp = self.obs.get(key, h.name)
                data = resp.json() if resp is not None and resp.ok else None
                for series in ((data or {}).get("data") or {}).get("result", []):
                    ip = series["metric"].get("ip") or series["metric"].get("instance", "").rsplit(":", 1)[0]
                    sink[ip].append(float(series["value"][1]))
        return {ip: (len(u), sum(u), sum(u) + sum(avail.get(ip, []))) for ip, u in used.items()}

    @cached_property
    def metrics(self) -> dict[str, HostMetrics | None]:
        out: dict[str, HostMetrics | None] = {}
        for h in self.spec.hosts:
            resp = self.obs.get("node", h.name)
            m = host_metrics(resp.body, h.disk_path) if resp is not None and resp.ok else None
            probe = self.probe(h)
            if (
                m is not None
                and m.disk_free_bytes is None
                and probe
                and "free_bytes" in probe.data.get("disk", {})
            ):
                disk = probe.data["disk"]  # node exporter skips overlay roots (containers): ask the host
                m.disk_path, m.disk_free_bytes, m.disk_size_bytes = (
                    disk["path"],
                    disk["free_bytes"],
                    disk["size_bytes"],
                )
            if m is not None and h.ray_ip in self.gpu:
                m.gpus, m.gpu_memory_used_mb, m.gpu_memory_total_mb = self.gpu[h.ray_ip]
            out[h.name] = m
        return out

    def probe(self, h: HostSpec):
        return (self.obs.probes or {}).get(h.name)

    def http_reachable(self, h: HostSpec) -> bool | None:
        """Did the host answer anything over HTTP (a refused connection counts: the host is up)?"""
        resp = self.obs.get("node", h.name)
        if self.alive_at(h.ray_ip):
            return True
        if resp is None:
            return None
        return resp.answered or resp.refused


def _r(
    check: str, checkpoint: str, status: str, message: str, host: HostSpec | None = None, **data: Any
) -> Result:
    return Result(check, checkpoint, status, message, host.name if host else None, data)


# -- 01 prerequisites-check ------------------------------------------------------------------
def check_reachable(ctx: Context) -> list[Result]:
    out = []
    for h in ctx.spec.hosts:
        probe = ctx.probe(h)
        if probe is not None:
            if probe.unreachable:
                out.append(
                    _r(
                        "hosts.reachable",
                        PREREQ,
                        FAIL,
                        f"cannot reach {h.address} over SSH: {probe.error}",
                        h,
                    )
                )
            elif not probe.ok:
                out.append(
                    _r(
                        "hosts.reachable",
                        PREREQ,
                        WARN,
                        f"reached over SSH, but the probe failed: {probe.error}",
                        h,
                    )
                )
            else:
                out.append(
                    _r("hosts.reachable", PREREQ, PASS, f"SSH to {h.address} in {probe.elapsed:.2f} s", h)
                )
            continue
        reachable = ctx.http_reachable(h)
        if reachable is None:
            out.append(_r("hosts.reachable", PREREQ, SKIP, "no HTTP endpoint of this host is checked", h))
        elif reachable:
            out.append(_r("hosts.reachable", PREREQ, PASS, f"{h.address} answers over HTTP", h))
        else:
            resp = ctx.obs.get("node", h.name)
            out.append(
                _r(
                    "hosts.reachable",
                    PREREQ,
                    FAIL,
                    f"{h.address} does not answer: {resp.error if resp else '?'}",
                    h,
                )
            )
    return out


def check_disk_memory(ctx: Context) -> list[Result]:
    out = []
    for h in ctx.spec.hosts:
        m = ctx.metrics.get(h.name)
        if m is None or m.disk_free_bytes is None:
            out.append(
                _r("prerequisites.disk", PREREQ, SKIP, "no disk figures (node exporter or SSH needed)", h)
            )
        else:
            free = m.disk_free_bytes / GIB
            status = PASS if free >= h.min_disk_free_gb else WARN
            out.append(
                _r(
                    "prerequisites.disk",
                    PREREQ,
                    status,
                    f"{free:.1f} GiB free on {m.disk_path} (minimum {h.min_disk_free_gb:g})",
                    h,
                    free_gib=round(free, 1),
                )
            )
        if m is None or not m.memory_total_bytes:
            out.append(
                _r("prerequisites.memory", PREREQ, SKIP, "no memory figures (node exporter needed)", h)
            )
        else:
            total = m.memory_total_bytes / 2**20
            status = PASS if total >= h.min_memory_mb else WARN
            out.append(
                _r(
                    "prerequisites.memory",
                    PREREQ,
                    status,
                    f"{total / 1024:.1f} GiB memory (minimum {h.min_memory_mb / 1024:g})",
                    h,
                )
            )
    return out


# -- 02 docker-installation, 03 cleanup-existing ----------------------------------------------
def _probe_or_skip(ctx: Context, h: HostSpec, check: str, checkpoint: str) -> tuple[Any, Result | None]:
    probe = ctx.probe(h)
    if probe is None:
        return None, _r(check, checkpoint, SKIP, "needs SSH (not in --health-only)", h)
    if not probe.ok:
        return None, _r(check, checkpoint, SKIP, "host not probed (see hosts.reachable)", h)
    return probe, None


def check_docker(ctx: Context) -> list[Result]:
    out = []
    for h in ctx.spec.hosts:
        if not h.docker_enabled:
            out.append(_r("docker.running", DOCKER, SKIP, "Docker is not enabled for this host", h))
            continue
        probe, skip = _probe_or_skip(ctx, h, "docker.running", DOCKER)
        if skip:
            out.append(skip)
            continue
        state = probe.data.get("units", {}).get("docker.service", "unknown")
        docker = probe.data.get("docker", {})
        if state == "active" and docker.get("answered"):
            out.append(_r("docker.running", DOCKER, PASS, "docker.service active, the engine answers", h))
        else:
            out.append(
                _r(
                    "docker.running",
                    DOCKER,
                    FAIL,
                    f"docker.service is {state}"
                    + (f"; docker: {docker.get('error')}" if docker.get("error") else ""),
                    h,
                )
            )
    return out


def check_stray(ctx: Context) -> list[Result]:
    out = []
    for h in ctx.spec.hosts:
        probe, skip = _probe_or_skip(ctx, h, "cleanup.no_stray_ray", CLEANUP)
        if skip:
            out.append(skip)
            continue
        stray = probe.data.get("stray", [])
        foreign = [c for c in probe.data.get("docker", {}).get("containers", []) if not c.get("ours")]
        if stray or foreign:
            what = [f"pid {p['pid']} ({p['cmd'][:60]})" for p in stray[:5]] + [
                f"container {c['name']}" for c in foreign
            ]
            out.append(
                _r(
                    "cleanup.no_stray_ray",
                    CLEANUP,
                    FAIL,
                    f"Ray this deployment does not run: {', '.join(what)}; run checkpoint 03",
                    h,
                    processes=stray,
                    containers=foreign,
                )
            )
        else:
            out.append(_r("cleanup.no_stray_ray", CLEANUP, PASS, "no Ray outside this deployment's units", h))
    return out


# -- 04 ray-deployment ------------------------------------------------------------------------
def check_ray_control(ctx: Context) -> list[Result]:
    head, out = ctx.spec.head, []
    gcs = ctx.obs.get("ray_gcs")
    if gcs is None or not gcs.answered:
        out.append(
            _r(
                "ray.dashboard",
                RAY,
                FAIL,
                f"Ray's dashboard does not answer: {gcs.describe() if gcs else '?'}",
                head,
            )
        )
    else:
        out.append(_r("ray.dashboard", RAY, PASS, f"dashboard answers at {ctx.spec.dashboard_url}", head))
    if gcs is not None and gcs_ok(gcs):
        retried = f", on probe {gcs.attempts}" if gcs.attempts > 1 else ""
        out.append(_r("ray.gcs", RAY, PASS, f"GCS healthy (/api/gcs_healthz{retried})", head))
    else:
        probes = f" ({gcs.attempts} probes in a row)" if gcs is not None and gcs.attempts > 1 else ""
        detail = f"{gcs.describe()} {gcs.body[:100]}".strip() if gcs else "?"
        out.append(_r("ray.gcs", RAY, FAIL, f"GCS not healthy{probes}: {detail}", head))
    if ctx.options.health_only:
        return out
    mode_resp, noauth, nodes = (
        ctx.obs.get("ray_auth_mode"),
        ctx.obs.get("ray_nodes_noauth"),
        ctx.obs.get("ray_nodes"),
    )
    mode = ((mode_resp.json() or {}) if mode_resp is not None and mode_resp.ok else {}).get(
        "authentication_mode"
    )
    if not ctx.spec.auth_enabled:
        out.append(
            _r(
                "ray.auth",
                RAY,
                WARN,
                "token authentication is off in the inventory (ray_auth_enabled: false)",
                head,
            )
        )
    elif gcs is None or not gcs.answered:
        out.append(_r("ray.auth", RAY, SKIP, "dashboard does not answer", head))
    elif ctx.spec.token() is None:
        out.append(
            _r("ray.auth", RAY, FAIL, f"no cluster token on the controller ({ctx.spec.token_file})", head)
        )
    else:
        problems = []
        if mode != "token":
            problems.append(f"authentication_mode is {mode!r}, not 'token'")
        if noauth is None or noauth.status not in (401, 403):
            problems.append(f"a request without a token got {noauth.status if noauth else '?'}, not 401")
        if nodes is None or not nodes.ok:
            problems.append(f"a request with the cluster token got {nodes.status if nodes else '?'}, not 200")
        out.append(
            _r(
                "ray.auth",
                RAY,
                FAIL if problems else PASS,
                "; ".join(problems)
                if problems
                else "token authentication enforced (401 without, 200 with the token)",
                head,
                mode=mode,
                status_without_token=noauth.status if noauth else None,
            )
        )
    return out


def check_nodes_alive(ctx: Context) -> list[Result]:
    out = []
    if ctx.nodes is None:
        resp = ctx.obs.get("ray_nodes")
        for h in ctx.spec.hosts:
            if h.head:
                out.append(
                    _r(
                        "ray.nodes_alive",
                        RAY,
                        FAIL,
                        f"cannot list Ray nodes: {resp.describe() if resp else '?'}",
                        h,
                    )
                )
            elif h.expected_nodes:
                out.append(_r("ray.nodes_alive", RAY, SKIP, "unknown: the head cannot list nodes", h))
        return out
    for h in ctx.spec.hosts:
        if not h.expected_nodes:
            continue
        alive = len(ctx.alive_at(h.ray_ip))
        if alive >= h.expected_nodes:
            out.append(
                _r(
                    "ray.nodes_alive",
                    RAY,
                    PASS,
                    f"{alive} of {h.expected_nodes} Ray node(s) ALIVE at {h.ray_ip}",
                    h,
                    alive=alive,
                    expected=h.expected_nodes,
                )
            )
        else:
            dead = [n for n in ctx.nodes if n.get("node_ip") == h.ray_ip and n.get("state") != "ALIVE"]
            hint = (
                f"; last state {dead[-1].get('state')}: {dead[-1].get('state_message') or ''}".rstrip(": ")
                if dead
                else ""
            )
            # On a head host that runs worker containers too, only a missing head is a failure.
            head_down = h.head and not any(n.get("is_head_node") for n in ctx.alive_at(h.ray_ip))
            kind = "head" if head_down else "worker"
            where = (f"docker logs ray-{kind}{'' if head_down else '-N'}" if h.install_mode == "docker"
                     else f"journalctl -u ray-{kind}")
            out.append(
                _r(
                    "ray.nodes_alive",
                    RAY,
                    FAIL if head_down else WARN,
                    f"{alive} of {h.expected_nodes} Ray node(s) ALIVE at {h.ray_ip}{hint}; "
                    f"see {where} on {h.name}",
                    h,
                    alive=alive,
                    expected=h.expected_nodes,
                )
            )
    return out


def check_resources(ctx: Context) -> list[Result]:
    out = []
    for h in ctx.spec.hosts:
        nodes = ctx.alive_at(h.ray_ip)
        if not h.expected_nodes:
            continue
        if not nodes:
            out.append(_r("ray.resources", RAY, SKIP, "no ALIVE node to inspect", h))
            continue
        m = ctx.metrics.get(h.name)
        problems, seen = [], []
        for n in nodes:
            res = n.get("resources_total") or {}
            cpu, gpu = float(res.get("CPU", 0)), float(res.get("GPU", 0))
            seen.append(
                {
                    "CPU": cpu,
                    "GPU": gpu,
                    "memory_gib": round(res.get("memory", 0) / GIB, 1),
                    "object_store_gib": round(res.get("object_store_memory", 0) / GIB, 1),
                }
            )
            # A worker container starts with --num-cpus of its CPU limit, rounded up, and its own
            # object store setting (ray_common's common-args.yml); the head and native nodes with
            # the host's.
            container = h.install_mode == "docker" and not n.get("is_head_node")
            want_cpu = (
                float(math.ceil(h.container_cpus))
                if container and h.container_cpus is not None
                else h.num_cpus
                if h.num_cpus is not None
                else (m.cpus if m and m.cpus and h.install_mode == "native" else None)
            )
            want_store = (h.container_object_store_memory if container else None) or h.object_store_memory
            if want_cpu is not None and cpu != want_cpu:
                problems.append(f"{cpu:g} CPUs, expected {want_cpu:g}")
            if h.num_gpus is not None and gpu != h.num_gpus:
                problems.append(f"{gpu:g} GPUs, expected {h.num_gpus:g}")
            if not res.get("memory") or not res.get("object_store_memory"):
                problems.append("no memory or object store memory")
            if want_store and int(res.get("object_store_memory", 0)) != want_store:
                problems.append(f"object store {res.get('object_store_memory')} bytes, expected {want_store}")
        desc = ", ".join(f"{s['CPU']:g} CPU {s['GPU']:g} GPU {s['memory_gib']} GiB" for s in seen)
        out.append(
            _r(
                "ray.resources",
                RAY,
                WARN if problems else PASS,
                "; ".join(problems) if problems else desc,
                h,
                nodes=seen,
            )
        )
    return out


def check_versions(ctx: Context) -> list[Result]:
    want_ray = ctx.spec.ray_version
    per_host: dict[str, list[dict[str, str]]] = {}
    out = []
    for h in ctx.spec.hosts:
        if not h.expected_nodes:
            continue
        probe, skip = _probe_or_skip(ctx, h, "ray.versions", RAY)
        if skip:
            out.append(skip)
            continue
        per_host[h.name] = list(probe.data.get("ray_nodes", {}).values())
    pythons = collections.Counter(v.get("python") for vs in per_host.values() for v in vs if v.get("python"))
    head = ctx.spec.head.name
    head_python = next((v.get("python") for v in per_host.get(head, []) if v.get("python")), None)
    want_python = head_python or (pythons.most_common(1)[0][0] if pythons else None)
    for name, versions in per_host.items():
        h, problems = ctx.spec.host(name), []
        if not versions:
            problems.append("no Ray installation found")
        for v in versions:
            if "error" in v:
                problems.append(f"cannot read Ray's version: {v['error']}")
                continue
            if v["ray"] != want_ray:
                problems.append(f"Ray {v['ray']}, expected {want_ray}")
            if want_python and v["python"] != want_python:
                problems.append(f"Python {v['python']}, the head runs {want_python}")
        found = sorted(
            {f"Ray {v.get('ray')} / Python {v.get('python')}" for v in versions if "error" not in v}
        )
        out.append(
            _r(
                "ray.versions",
                RAY,
                FAIL if problems else PASS,
                "; ".join(dict.fromkeys(problems)) if problems else ", ".join(found),
                h,
                versions=versions,
            )
        )
    return out


# -- 05 monitoring-deployment -----------------------------------------------------------------
def check_node_exporters(ctx: Context) -> list[Result]:
    out = []
    for h in ctx.spec.hosts:
        if not h.node_exporter_enabled:
            continue
        resp = ctx.obs.get("node", h.name)
        if resp is not None and resp.ok and ctx.metrics.get(h.name) and ctx.metrics[h.name].load1 is not None:
            out.append(
                _r(
                    "monitoring.node_exporter",
                    MONITORING,
                    PASS,
                    f"answers in {resp.elapsed * 1000:.0f} ms",
                    h,
                )
            )
        else:
            out.append(
                _r(
                    "monitoring.node_exporter",
                    MONITORING,
                    WARN,
                    f"node exporter does not answer: {resp.describe() if resp else '?'}",
                    h,
                )
            )
    return out


def check_prometheus(ctx: Context) -> list[Result]:
    out: list[Result] = []
    targets_by_host: dict[str, list[dict]] = collections.defaultdict(list)
    have_targets = False
    expected_alerts = expected_alert_names()
    for h in ctx.spec.hosts:
        if not h.prometheus_enabled:
            continue
        ready = ctx.obs.get("prom_ready", h.name)
        if ready is None or not ready.ok:
            out.append(
                _r(
                    "monitoring.prometheus",
                    MONITORING,
                    WARN,
                    f"Prometheus is not ready: {ready.describe() if ready else '?'}",
                    h,
                )
            )
        else:
            out.append(_r("monitoring.prometheus", MONITORING, PASS, "ready", h))
        targets = ctx.obs.get("prom_targets", h.name)
        data = targets.json() if targets is not None and targets.ok else None
        if data:
            have_targets = True
            for t in data.get("data", {}).get("activeTargets", []):
                targets_by_host[t.get("labels", {}).get("host", "")].append(t)
        rules = ctx.obs.get("prom_rules", h.name)
        rdata = rules.json() if rules is not None and rules.ok else None
        if rdata is None:
            out.append(_r("monitoring.rules", MONITORING, SKIP, "Prometheus' rules API does not answer", h))
        else:
            loaded = {
                r.get("name") for g in rdata.get("data", {}).get("groups", []) for r in g.get("rules", [])
            }
            missing = [a for a in expected_alerts if a not in loaded]
            out.append(
                _r(
                    "monitoring.rules",
                    MONITORING,
                    WARN if missing else PASS,
                    f"alert rules not loaded: {', '.join(missing)}"
                    if missing
                    else f"{len(loaded)} alert rules loaded",
                    h,
                    firing=None,
                )
            )
    if have_targets:
        for h in ctx.spec.hosts:
            mine = targets_by_host.get(h.name, [])
            down = [t for t in mine if t.get("health") != "up"]
            jobs = {t.get("labels", {}).get("job") for t in mine}
            missing = ["node"] if h.node_exporter_enabled and "node" not in jobs else []
            if down or missing:
                what = [
                    f"{t['labels'].get('job')} {t['labels'].get('instance')} {t.get('health')}"
                    + (f" ({t.get('lastError')})" if t.get("lastError") else "")
                    for t in down
                ]
                what += [f"no {j} target" for j in missing]
                out.append(_r("monitoring.targets", MONITORING, WARN, "; ".join(what), h))
            elif mine:
                out.append(_r("monitoring.targets", MONITORING, PASS, f"{len(mine)} scrape target(s) up", h))
    for h in ctx.spec.hosts:
        if not h.monitoring:
            continue
        if not h.grafana_enabled:
            out.append(
                _r(
                    "monitoring.grafana",
                    MONITORING,
                    SKIP,
                    "Grafana is rendered but not installed here (grafana_install_enabled: false)",
                    h,
                )
            )
            continue
        resp = ctx.obs.get("grafana", h.name)
        db = (resp.json() or {}).get("database") if resp is not None and resp.ok else None
        out.append(
            _r(
                "monitoring.grafana",
                MONITORING,
                PASS if db == "ok" else WARN,
                "healthy (database ok)"
                if db == "ok"
                else f"Grafana not healthy: {resp.describe() if resp else '?'}",
                h,
            )
        )
    return out


# -- health -----------------------------------------------------------------------------------
def host_health(ctx: Context) -> tuple[list[HostHealth], list[Result]]:
    hosts, results = [], []
    for h in ctx.spec.hosts:
        m = ctx.metrics.get(h.name)
        role = "head" if h.head else "worker" if h.worker else "monitoring"
        alive = len(ctx.alive_at(h.ray_ip)) if ctx.nodes is not None and h.ray_node else None
        if m is None:
            hosts.append(
                HostHealth(
                    h.name,
                    h.address,
                    role,
                    WARN if h.node_exporter_enabled else SKIP,
                    {},
                    None,
                    alive,
                    ["no node exporter figures"],
                )
            )
            results.append(_r("health.host", HEALTH, SKIP, "no figures: node exporter not answering", h))
            continue
        score = health_score(m, ctx.options.cpu_weight, ctx.options.gpu_weight)
        notes = []
        if m.memory_used_pct is not None and m.memory_used_pct > MEMORY_USED_WARN_PCT:
            notes.append(f"memory {m.memory_used_pct:.0f}% used (> {MEMORY_USED_WARN_PCT:g}%)")
        if m.disk_free_bytes is not None and m.disk_free_bytes / GIB < h.min_disk_free_gb:
            notes.append(f"disk {m.disk_free_bytes / GIB:.1f} GiB free (< {h.min_disk_free_gb:g})")
        if score is not None and score > ctx.options.max_score:
            notes.append(f"score {score:g} > {ctx.options.max_score:g}")
        status = WARN if notes else PASS
        hosts.append(HostHealth(h.name, h.address, role, status, m.to_dict(), score, alive, notes))
        desc = (
            f"load {m.load1:.2f}/{m.cpus} CPUs, memory {m.memory_used_pct or 0:.0f}% used, "
            f"disk {'?' if m.disk_used_pct is None else f'{m.disk_used_pct:.0f}%'} used"
            + (f", GPU memory {m.gpu_memory_used_pct:.0f}%" if m.gpu_memory_used_pct is not None else "")
            + f", score {score:g}"
        )
        results.append(_r("health.host", HEALTH, status, "; ".join(notes) if notes else desc, h, score=score))
    return hosts, results


# -- 06 final-validation ----------------------------------------------------------------------
def check_job(ctx: Context) -> list[Result]:
    job = ctx.obs.job
    if job is None:
        return []
    out = []
    for h in ctx.spec.hosts:
        if not h.expected_nodes:
            continue
        if not job.ok:
            out.append(_r("final.job", FINAL, FAIL, f"the distributed job failed: {job.error}", h))
            continue
        tasks = job.by_ip.get(h.ray_ip, 0)
        out.append(
            _r(
                "final.job",
                FINAL,
                PASS if tasks else FAIL,
                f"{tasks} of {job.tasks} hello_ray tasks ran here"
                if tasks
                else f"none of {job.tasks} hello_ray tasks ran here (job {job.job_id})",
                h,
                tasks=tasks,
            )
        )
    return out


CheckFn = Callable[[Context], list[Result]]
CHECKS: dict[str, list[CheckFn]] = {
    PREREQ: [check_reachable, check_disk_memory],
    DOCKER: [check_docker],
    CLEANUP: [check_stray],
    RAY: [check_ray_control, check_nodes_alive, check_resources, check_versions],
    MONITORING: [check_node_exporters, check_prometheus],
    FINAL: [check_job],
}
HEALTH_ONLY: list[CheckFn] = [check_reachable, check_ray_control, check_nodes_alive, check_node_exporters]


def evaluate(
    spec: ClusterSpec,
    obs: Observations,
    options: Options,
    checkpoints: list[str],
    mode: str,
    started: float | None = None,
    duration: float = 0.0,
) -> Report:
    ctx = Context(spec, obs, options)
    results: list[Result] = []
    if options.health_only:
        for fn in HEALTH_ONLY:
            results += fn(ctx)
    else:
        fns: list[CheckFn] = []
        for name in checkpoints:
            fns += [fn for fn in CHECKS[name] if fn not in fns]
        if check_reachable not in fns:
            fns.insert(0, check_reachable)
        for fn in fns:
            results += fn(ctx)
    hosts, health_results = host_health(ctx)
    if options.health_only or FINAL in checkpoints or set(checkpoints) >= set(CHECKS) - {FINAL}:
        results += health_results
    everything_down = (
        bool(spec.hosts)
        and all(r.status == FAIL for r in results if r.check == "hosts.reachable")
        and any(r.check == "hosts.reachable" for r in results)
    )
    return Report(
        inventory=spec.inventory,
        mode=mode,
        checkpoints=checkpoints,
        results=results,
        hosts=hosts,
        weights={"cpu": options.cpu_weight, "gpu": options.gpu_weight, "max_score": options.max_score},
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        duration_s=duration,
        timings=dict(obs.timings),
        unreachable=everything_down,
    )
