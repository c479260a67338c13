"""Latency of the REST API under 100 concurrent clients on loopback: p50/p99 of
GET /api/v1/checkpoints and GET /api/v1/cluster/status.

The API runs as `raydeploy api` (waitress, --threads 16) in its own process. Cluster data comes
from a stub Ray dashboard (tests/api_stub.py, a separate process answering like a token-secured
Ray 2.60 head) unless --sandbox NAME points the API at a running sandbox's real head. The status
call is measured with the API's default upstream cache (2 s) and with the cache off (every
request then calls the dashboard twice: nodes and GCS health).
The clients are 4 processes x 25 threads, each thread one keep-alive connection.

Run: .venv/bin/python benchmarks/api_latency.py [--requests 40] [--sandbox NAME]
Writes benchmarks/results/api_latency.json (api_latency_sandbox.json with --sandbox).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import BIN, PROJECT, write

sys.path.insert(0, str(PROJECT))
from tests.api_support import free_port, start_api  # noqa: E402

PROCESSES, THREADS = 4, 25
STUB_TOKEN = "d" * 64


def client_process(args: tuple[int, str, str, int]) -> tuple[list[float], int]:
    port, path, token, requests = args
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        bad = 0
        start.wait()
        for _ in range(requests):
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine.append(time.perf_counter() - t0)
            bad += not ok
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def measure(port: int, path: str, token: str, requests: int) -> dict:
    # warm up (not timed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(20):
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        conn.getresponse().read()
    conn.close()
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        parts = pool.map(client_process, [(port, path, token, requests)] * PROCESSES)
    wall = time.perf_counter() - t0
    lat = sorted(x for part, _ in parts for x in part)
    errors = sum(e for _, e in parts)
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {"path": path, "requests": len(lat), "errors": errors, "wall_s": round(wall, 2),
            "throughput_rps": round(len(lat) / wall, 1), "p50_ms": round(q[49] * 1000, 1),
            "p90_ms": round(q[89] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
            "max_ms": round(lat[-1] * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=40, help="requests per client (100 clients)")
    ap.add_argument("--sandbox", default=None, help="use this running sandbox's Ray head instead of the stub")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="api-bench-"))
    stub = None
    if args.sandbox:
        inv = subprocess.run([str(BIN / "raydeploy"), "sandbox", "inventory", "--name", args.sandbox],
                             capture_output=True, text=True, check=True).stdout.strip()
        upstream = ["--inventory", inv]
        target = f"sandbox {args.sandbox}: the real Ray head's dashboard API"
    else:
        stub_port = free_port()
        stub = subprocess.Popen([str(BIN / "python"), str(PROJECT / "tests" / "api_stub.py"), str(stub_port),
                                 STUB_TOKEN], env={**os.environ, "PYTHONPATH": str(PROJECT)})
        (tmp / "ray_token").write_text(STUB_TOKEN)
        upstream = ["--ray-dashboard", f"http://127.0.0.1:{stub_port}",
                    "--ray-token-file", str(tmp / "ray_token")]
        target = "local stub of a Ray dashboard (tests/api_stub.py, own process)"
    results = {}
    load_before = [round(x, 1) for x in os.getloadavg()]  # other jobs sharing the cores skew the figures
    try:
        for label, path, ttl in (("checkpoints", "/api/v1/checkpoints", "2"),
                                 ("cluster_status_cached", "/api/v1/cluster/status", "2"),
                                 ("cluster_status_uncached", "/api/v1/cluster/status", "0")):
            api = start_api(tmp, "--state-dir", str(tmp / "state"), "--upstream-cache-ttl", ttl, *upstream)
            try:
                results[label] = {**measure(int(api.url.rsplit(":", 1)[1]), path, api.token, args.requests),
                                  "upstream_cache_ttl_s": float(ttl)}
            finally:
                api.stop()
            print(label, results[label], flush=True)
    finally:
        if stub:
            stub.terminate()
            stub.wait(10)
    out = write("api_latency_sandbox" if args.sandbox else "api_latency", {
        "what": "GET latency of the REST API under 100 concurrent keep-alive clients on 127.0.0.1",
        "server": "raydeploy api (waitress, 16 threads)", "clients": PROCESSES * THREADS,
        "client_layout": f"{PROCESSES} processes x {THREADS} threads", "requests_per_client": args.requests,
        "cluster_data_from": target, "load_average_before": load_before,
        "load_average_after": [round(x, 1) for x in os.getloadavg()], "results": results,
    })
    print(out)


if __name__ == "__main__":
    main()
