"""roles/ray_common/files/raydeploy-ray-node, the supervisor native units run `ray start --block`
under, against a stand-in for `ray start --block` whose child is a process named raylet.

The stand-in behaves like Ray 2.60's: a raylet that crashes ends it with status 1; one that
exits on SIGTERM does not (it blocks on); SIGTERM to it ends it with status 1.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT

SUPERVISOR = PROJECT / "roles" / "ray_common" / "files" / "raydeploy-ray-node"
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def load_supervisor():
    loader = importlib.machinery.SourceFileLoader("raydeploy_ray_node", str(SUPERVISOR))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture()
def fake_ray(tmp_path: Path) -> list[str]:
    raylet = tmp_path / "raylet"
    shutil.copy(shutil.which("sleep"), raylet)  # a process whose name is raylet
    script = tmp_path / "ray_start_block.py"
    script.write_text(textwrap.dedent(f"""
        import signal, subprocess, sys, time
        raylet = subprocess.Popen([{str(raylet)!r}, "600"])
        signal.signal(signal.SIGTERM, lambda *_: (raylet.terminate(), sys.exit(1)))
        while True:
            time.sleep(0.1)
            code = raylet.poll()
            if code is not None and code not in (0, -15):
                sys.exit(1)  # a crash: ray start --block ends itself
    """))
    return [sys.executable, str(script)]


def start(command: list[str], tmp_path: Path) -> subprocess.Popen:
    # Its own session, so a failed test can end the supervisor, the stand-in and its raylet.
    supervisor = subprocess.Popen(
        [sys.executable, str(SUPERVISOR), "--interval", "0.2", "--", *command],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "stderr").open("w"), start_new_session=True)
    supervisor.stderr_path = tmp_path / "stderr"
    return supervisor


def raylet_of(supervisor: subprocess.Popen, timeout: float = 10) -> int:
    """The stand-in's raylet, once it has run long enough for the supervisor to see it."""
    module = load_supervisor()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ray_pid, _, _ in module.children(supervisor.pid):
            found = [pid for pid, comm, _ in module.children(ray_pid) if comm == "raylet"]
            if found:
                time.sleep(1)  # several of the supervisor's 0.2 s looks
                return found[0]
        time.sleep(0.1)
    os.killpg(supervisor.pid, signal.SIGKILL)
    raise AssertionError("the stand-in's raylet never started")


def finish(supervisor: subprocess.Popen, timeout: float = 15) -> tuple[int, str]:
    try:
        supervisor.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
        raise AssertionError(f"the supervisor did not exit within {timeout} s: "
                             f"{supervisor.stderr_path.read_text()}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.pid, signal.SIGKILL)  # whatever the stand-in left
    return supervisor.returncode, supervisor.stderr_path.read_text()


def test_a_raylet_ended_by_sigterm_ends_the_node_with_status_1(fake_ray, tmp_path):
    supervisor = start(fake_ray, tmp_path)
    os.kill(raylet_of(supervisor), signal.SIGTERM)
    code, err = finish(supervisor)
    assert code == 1
    assert "the raylet exited" in err


def test_a_crashed_raylet_is_left_to_ray_start(fake_ray, tmp_path):
    supervisor = start(fake_ray, tmp_path)
    os.kill(raylet_of(supervisor), signal.SIGKILL)
    code, err = finish(supervisor)
    assert code == 1  # the stand-in's own status, as `ray start --block` exits on a crash
    assert "the raylet exited" not in err


def test_sigterm_is_passed_on_and_ray_starts_status_returned(fake_ray, tmp_path):
    supervisor = start(fake_ray, tmp_path)
    raylet = raylet_of(supervisor)
    supervisor.send_signal(signal.SIGTERM)
    code, err = finish(supervisor)
    assert code == 1, err  # what `ray start --block` returns after a SIGTERM drain
    assert "the raylet exited" not in err
    with pytest.raises(ProcessLookupError):
        for _ in range(50):  # the stand-in terminated its raylet
            os.kill(raylet, 0)
            time.sleep(0.1)


def test_exit_status_of_a_signal_is_128_plus_the_signal():
    module = load_supervisor()
    assert module.exit_status(-15) == 143
    assert module.exit_status(0) == 0
    assert module.exit_status(1) == 1


def test_children_skips_zombies_and_reads_names_with_spaces(tmp_path):
    module = load_supervisor()
    for pid, text in {"10": "10 (a b) S 7 0", "11": "11 (raylet) Z 7 0", "12": "12 (x)) R 7 0",
                      "13": "13 (y) S 8 0"}.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "stat").write_text(text)
    (tmp_path / "self").mkdir()
    assert sorted(module.children(7, tmp_path)) == [(10, "a b", "S"), (12, "x)", "R")]


def test_no_command_is_a_usage_error():
    proc = subprocess.run([sys.executable, str(SUPERVISOR)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2 and "ray start command" in proc.stderr
