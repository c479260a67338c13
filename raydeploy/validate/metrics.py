"""Per-host load, memory, disk and GPU memory, and seed 002's health score.

Host numbers come from each host's node exporter (Prometheus text format); GPU memory from
Ray's own per-node metrics (ray_node_gram_used / ray_node_gram_available, MB, one series per
GPU) through Prometheus' query API. Seed 002 scores a node as CPU load x cpu_weight + GPU
memory x gpu_weight (defaults 1.0 and 3.0), lower is better; here both are percentages, so a
node at 100 % load with no GPU scores 100 and seed 002's alert threshold (200) is the default
`max_score` above which a host is reported degraded.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_CPU_WEIGHT = 1.0
DEFAULT_GPU_WEIGHT = 3.0
DEFAULT_MAX_SCORE = 200.0
MEMORY_USED_WARN_PCT = 90.0

_WANTED = (
    "node_load1",
    "node_cpu_seconds_total",
    "node_memory_MemTotal_bytes",
    "node_memory_MemAvailable_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_avail_bytes",
)
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_samples(
    text: str, wanted: tuple[str, ...] = _WANTED
) -> dict[str, list[tuple[dict[str, str], float]]]:
    """name -> [(labels, value)] for the wanted metric names only (fast: a prefix test per line)."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line.startswith(wanted):
            continue
        m = _LINE.match(line)
        if not m or m.group(1) not in wanted:
            continue
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(m.group(3) or ""))
        out.setdefault(m.group(1), []).append((labels, value))
    return out


@dataclass
class HostMetrics:
    cpus: int | None = None
    load1: float | None = None
    memory_total_bytes: float | None = None
    memory_available_bytes: float | None = None
    disk_path: str | None = None
    disk_size_bytes: float | None = None
    disk_free_bytes: float | None = None
    gpus: int = 0
    gpu_memory_used_mb: float | None = None
    gpu_memory_total_mb: float | None = None

    @property
    def load_pct(self) -> float | None:
        if self.load1 is None or not self.cpus:
            return None
        return 100.0 * self.load1 / self.cpus

    @property
    def memory_used_pct(self) -> float | None:
        if not self.memory_total_bytes or self.memory_available_bytes is None:
            return None
        return 100.0 * (1 - self.memory_available_bytes / self.memory_total_bytes)

    @property
    def disk_used_pct(self) -> float | None:
        if not self.disk_size_bytes or self.disk_free_bytes is None:
            return None
        return 100.0 * (1 - self.disk_free_bytes / self.disk_size_bytes)

    @property
    def gpu_memory_used_pct(self) -> float | None:
        if not self.gpu_memory_total_mb or self.gpu_memory_used_mb is None:
            return None
        return 100.0 * self.gpu_memory_used_mb / self.gpu_memory_total_mb

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("load_pct", "memory_used_pct", "disk_used_pct", "gpu_memory_used_pct"):
            value = getattr(self, key)
            data[key] = None if value is None else round(value, 1)
        return data


def host_metrics(text: str, disk_path: str = "/") -> HostMetrics:
    s = parse_samples(text)
    m = HostMetrics()
    if s.get("node_load1"):
        m.load1 = s["node_load1"][0][1]
    cpus = {labels.get("cpu") for labels, _ in s.get("node_cpu_seconds_total", [])}
    m.cpus = len(cpus) or None
    if s.get("node_memory_MemTotal_bytes"):
        m.memory_total_bytes = s["node_memory_MemTotal_bytes"][0][1]
    if s.get("node_memory_MemAvailable_bytes"):
        m.memory_available_bytes = s["node_memory_MemAvailable_bytes"][0][1]
    # The filesystem holding disk_path: the longest mountpoint that is a prefix of it.
    sizes = {labels.get("mountpoint", ""): v for labels, v in s.get("node_filesystem_size_bytes", [])}
    avail = {labels.get("mountpoint", ""): v for labels, v in s.get("node_filesystem_avail_bytes", [])}
    candidates = [mp for mp in sizes if mp in avail and _contains(mp, disk_path)]
    if candidates:
        mp = max(candidates, key=len)
        m.disk_path, m.disk_size_bytes, m.disk_free_bytes = mp, sizes[mp], avail[mp]
    return m


def _contains(mountpoint: str, path: str) -> bool:
    mountpoint = mountpoint.rstrip("/") or "/"
    return path == mountpoint or mountpoint == "/" or path.startswith(mountpoint + "/")


def health_score(
    m: HostMetrics, cpu_weight: float = DEFAULT_CPU_WEIGHT, gpu_weight: float = DEFAULT_GPU_WEIGHT
) -> float | None:
    """Seed 002's score: CPU load % x cpu_weight + GPU memory used % x gpu_weight; lower is better."""
    if m.load_pct is None:
        return None
    return round(cpu_weight * m.load_pct + gpu_weight * (m.gpu_memory_used_pct or 0.0), 1)
