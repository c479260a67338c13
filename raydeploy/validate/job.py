"""Checkpoint 06's real distributed job: examples/hello_ray.py submitted from the controller
with the cluster token (Ray's job CLI), spread over every node; reports where tasks ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from raydeploy.paths import PROJECT_ROOT
from raydeploy.validate.spec import ClusterSpec

EXAMPLES = PROJECT_ROOT / "examples"
TASKS_PER_NODE = 4


@dataclass
class JobResult:
    ok: bool
    tasks: int = 0
    by_ip: dict[str, int] = field(default_factory=dict)
    job_id: str | None = None
    error: str | None = None
    output: str = ""


def parse_output(text: str, tasks: int) -> JobResult:
    job_id = next(
        (
            w.strip("'\"")
            for line in text.splitlines()
            if "raysubmit_" in line
            for w in line.split()
            if w.strip("'\"").startswith("raysubmit_")
        ),
        None,
    )
    result = next((line.split("RESULT ", 1)[1] for line in text.splitlines() if "RESULT {" in line), None)
    if result is None:
        tail = " | ".join(line.strip() for line in text.strip().splitlines()[-4:])
        return JobResult(False, tasks, job_id=job_id, error=f"no RESULT line: {tail[-400:]}", output=text)
    data = json.loads(result)
    return JobResult(True, data["tasks"], dict(data.get("by_ip", {})), job_id, None, text)


def run_hello_ray(spec: ClusterSpec, timeout: float = 300.0) -> JobResult:
    nodes = sum(h.expected_nodes for h in spec.hosts)
    tasks = max(8, TASKS_PER_NODE * nodes)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    token = spec.token()
    if spec.auth_enabled:
        if token is None:
            return JobResult(False, tasks, error=f"no cluster token ({spec.token_file})")
        env["RAY_AUTH_MODE"] = "token"
        if spec.token_file and Path(spec.token_file).is_file():
            env["RAY_AUTH_TOKEN_PATH"] = spec.token_file
        else:
            env["RAY_AUTH_TOKEN"] = token
    ray = Path(sys.executable).parent / "ray"
    argv = [
        str(ray),
        "job",
        "submit",
        "--address",
        spec.dashboard_url,
        "--working-dir",
        str(EXAMPLES),
        "--",
        "python",
        "hello_ray.py",
        "--tasks",
        str(tasks),
        "--seconds",
        "1",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return JobResult(False, tasks, error=f"the job did not finish in {timeout:.0f} s")
    except OSError as exc:
        return JobResult(False, tasks, error=f"cannot run {ray}: {exc}")
    result = parse_output(proc.stdout + "\n" + proc.stderr, tasks)
    if proc.returncode != 0 and result.ok:
        result.ok, result.error = False, f"ray job submit exited {proc.returncode}"
    return result
