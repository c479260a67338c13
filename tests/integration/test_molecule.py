"""Each role's molecule scenario (roles/<role>/molecule/default), run as `molecule test`: create
the instances from the sandbox host image, converge, converge again changing nothing (molecule's
idempotence step), verify, destroy.

To keep the module under 10 minutes on a 2-core machine the scenarios run in two lanes at once:
ray_head then ray_worker (both fill the controller's wheelhouse on first use, which two runs
must not do at the same time, and both run Ray), and the other four one after another.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BIN, PROJECT, run_cli

pytestmark = pytest.mark.sandbox

LANES = (("ray_head", "ray_worker"), ("common", "docker", "prerequisites", "ray_cleanup"))
ROLES = sorted(role for lane in LANES for role in lane)
TIMEOUT_S = 900
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# One line per step of the scenario's test sequence, and again in molecule's closing summary:
# "INFO [default > idempotence] Executed: Successful", "default > idempotence: Executed: Successful"
# ("➜" instead of ">" when molecule writes in colour).
_STEP = re.compile(
    r"^(?:[A-Z]+\s+)?\[?default (?:>|➜) (?P<step>\w+)\]?:? Executed: (?P<result>.+?)\s*$", re.M)


@dataclass
class ScenarioRun:
    role: str
    rc: int
    output: str
    seconds: float
    log: Path

    def steps(self) -> dict[str, str]:
        """Step name -> molecule's result for it ("Successful", "Failed (...)", ...)."""
        return {m["step"]: m["result"] for m in _STEP.finditer(self.output)}

    def describe(self) -> str:
        return f"molecule test for {self.role}: rc={self.rc} after {self.seconds:.0f} s (log: {self.log})\n" \
               f"{self.output[-8000:]}"


def _run_scenario(role: str, env: dict[str, str], log_dir: Path) -> ScenarioRun:
    log = log_dir / f"{role}.log"
    start = time.monotonic()
    try:
        proc = subprocess.run([str(BIN / "molecule"), "test"], cwd=PROJECT / "roles" / role, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=TIMEOUT_S)
        rc, output = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        # The next `molecule test` starts with its destroy step, which removes what was left.
        rc, output = -1, f"{partial}\n[timed out after {TIMEOUT_S} s]"
    output = _ANSI.sub("", output)
    log.write_text(output)
    return ScenarioRun(role, rc, output, time.monotonic() - start, log)


@pytest.fixture(scope="module")
def scenario_runs(request, tmp_path_factory) -> dict[str, Future]:
    """Start every selected scenario at once, two lanes in parallel; tests wait for their own."""
    if not (BIN / "molecule").exists():
        pytest.fail(f"molecule is not installed in {BIN}: pip install -e '.[dev]'")
    image = run_cli("sandbox", "image", check=True).stdout.strip().splitlines()[-1]
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "RAYDEPLOY_HOST_IMAGE": image,
        "NO_COLOR": "1",
        "PY_COLORS": "0",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }
    selected = {item.callspec.params["role"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")}
    runs: dict[str, Future] = {role: Future() for role in ROLES if role in selected}
    log_dir = tmp_path_factory.mktemp("molecule")

    def lane(roles: tuple[str, ...]) -> None:
        for role in roles:
            if role in runs:
                try:
                    runs[role].set_result(_run_scenario(role, env, log_dir))
                except Exception as exc:  # handed to the test that waits for this role
                    runs[role].set_exception(exc)

    threads = [threading.Thread(target=lane, args=(roles,), daemon=True) for roles in LANES]
    for thread in threads:
        thread.start()
    yield runs
    for thread in threads:
        thread.join()


@pytest.mark.parametrize("role", ROLES)
def test_molecule_scenario_converges_idempotently_and_verifies(role, scenario_runs):
    run: ScenarioRun = scenario_runs[role].result()
    print(f"molecule test {role}: rc={run.rc}, {run.seconds:.0f} s")
    assert run.rc == 0, run.describe()
    results = run.steps()
    for step in ("converge", "idempotence", "verify"):
        assert results.get(step) == "Successful", f"step {step}: {results.get(step)}\n{run.describe()}"
