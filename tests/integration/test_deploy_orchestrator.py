"""deploy-master.py end to end on sandbox hosts: prompts with previews, denial, approval,
auto-approve from bare hosts, a host lost during 04 and --resume, refused approvals, the lock,
Ctrl-C, and the --json schema.

One sandbox, `orch`, in file order: a dry run and --auto-approve on its bare hosts, then on the
deployed cluster the interactive run, refusals, the lock and Ctrl-C, and last a host stopped
during 04 and --resume. (One cold deploy instead of two: the interactive run's approvals and
denial are the same on deployed hosts, and its 04 still has to end with every node ALIVE.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pexpect
import pytest

from raydeploy.deploy import RESULT_SCHEMA
from raydeploy.sandbox.hosts import Sandbox
from tests.conftest import BIN, PROJECT, kept_sandbox, run_cli

pytestmark = pytest.mark.sandbox
DEPLOY_MASTER = PROJECT / "modular-deployment" / "deploy-master.py"
RUN_TIMEOUT = 1500


def deploy_master(*args: str, timeout: int = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "python"), str(DEPLOY_MASTER), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=PROJECT, stdin=subprocess.DEVNULL)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "python"), str(DEPLOY_MASTER), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=PROJECT, stdin=subprocess.DEVNULL)


def audit(state: Path) -> list[dict]:
    path = state / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def events(state: Path, run: str | None = None, event: str | None = None) -> list[dict]:
    return [e for e in audit(state) if (run is None or e.get("run") == run)
            and (event is None or e["event"] == event)]


def last_run(state: Path) -> str:
    return events(state, event="run_started")[-1]["run"]


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read()[-4000:]
            raise AssertionError(f"the run ended ({proc.returncode}) before {what}:\n{out}")
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def checkpoint_status(state: Path, name: str) -> str | None:
    try:
        return json.loads((state / "state.json").read_text())["checkpoints"].get(name, {}).get("status")
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def alive_everywhere(cluster) -> bool:
    return sorted(cluster.alive()) == sorted(cluster.hosts().values())


GATHER_ACTIONS = {"gather_facts", "ansible.builtin.gather_facts"}


def fact_gathering(checkpoints: list[dict]) -> dict[str, list[str]]:
    """Per host, the checkpoints whose runner events show a play gathering its facts."""
    out: dict[str, list[str]] = {}
    for cp in checkpoints:
        for path in sorted(Path(cp["artifacts"], "job_events").glob("*.json")):
            event = json.loads(path.read_text())
            data = event.get("event_data") or {}
            if event.get("event") == "runner_on_ok" and data.get("task_action") in GATHER_ACTIONS:
                out.setdefault(data["host"], []).append(cp["name"])
    return out


@pytest.fixture(scope="module")
def orch():
    # Always new hosts: the first tests deploy from nothing.
    with kept_sandbox("orch", 3, fresh=True) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def orch_state(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("orch-state")


# -- bare hosts: a dry run, then --auto-approve --------------------------------------------------
def test_dry_run_on_bare_hosts_previews_every_checkpoint_and_changes_nothing(orch, tmp_path):
    """What a cautious operator runs first on new servers: every checkpoint previewed in check
    mode without a failure, the two gates left pending, nothing installed."""
    from raydeploy import checkpoints

    proc = deploy_master("--deploy", "--dry-run", "--json", "--inventory", str(orch.inventory),
                         "--state-dir", str(tmp_path / "state"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    result = json.loads(proc.stdout)
    jsonschema.validate(result, json.loads(RESULT_SCHEMA.read_text()))
    assert result["status"] == "previewed", result["message"]
    assert [c["name"] for c in result["checkpoints"]] == [c.name for c in checkpoints.load()]
    assert all(c["status"] == "previewed" and c["preview"]["ok"] for c in result["checkpoints"])
    gates = {c["name"]: c["approval"]["state"] for c in result["checkpoints"] if c["approval_required"]}
    assert gates == {"docker-installation": "pending", "cleanup-existing": "pending"}
    for host in orch.hosts():
        probe = orch.ssh(host, "test -e /opt/ray/venv && echo present || echo absent")
        assert probe.stdout.strip() == "absent", host


def test_auto_approve_from_bare_hosts_exits_0_with_a_complete_audit_trail(orch, tmp_path_factory):
    state = tmp_path_factory.getbasetemp() / "orch-auto-state"
    Sandbox(orch.name).forget_facts()  # the dry run before this test cached them
    proc = deploy_master("--deploy", "--auto-approve", "--inventory", str(orch.inventory), "--state-dir",
                         str(state), "--json")
    assert proc.returncode == 0, proc.stderr[-5000:]
    result = json.loads(proc.stdout)
    jsonschema.validate(result, json.loads(RESULT_SCHEMA.read_text()))
    assert result["status"] == "succeeded"
    assert [c["status"] for c in result["checkpoints"]] == ["succeeded"] * 6
    run = result["run_id"]
    trail = [(e["event"], e.get("checkpoint")) for e in events(state, run)]
    expected = [("run_started", None)]
    for cp in result["checkpoints"]:
        if cp["approval_required"]:
            expected += [("preview", cp["name"]), ("approval_requested", cp["name"]),
                         ("approval_granted", cp["name"]), ("approval_consumed", cp["name"])]
        expected += [("checkpoint_started", cp["name"]), ("checkpoint_finished", cp["name"])]
    expected.append(("run_finished", None))
    granted = [e for e in audit(state) if e["event"] == "approval_granted"]
    assert [e["reason"] for e in granted] == ["auto-approve", "auto-approve"]
    assert trail == [t for t in trail if t in expected] and set(trail) >= set(expected), trail
    assert alive_everywhere(orch)
    # 01 and 04 both gather facts; through ansible.cfg's shared cache 04 reuses 01's.
    gathered = fact_gathering(result["checkpoints"])
    assert gathered == {h: ["prerequisites-check"] for h in orch.hosts()}, gathered


# -- deployed: previews at 02 and 03, deny 03, then a new run approves it ---------------------
def spawn(*args: str) -> pexpect.spawn:
    child = pexpect.spawn(str(BIN / "python"), [str(DEPLOY_MASTER), *args], cwd=str(PROJECT),
                          env={**os.environ, "COLUMNS": "200", "LINES": "50"}, encoding="utf-8",
                          timeout=900, dimensions=(50, 200))
    child.logfile_read = sys.stdout
    return child


def test_interactive_deploy_previews_denies_03_then_a_new_run_approves_it(orch, orch_state):
    common = ("--inventory", str(orch.inventory), "--state-dir", str(orch_state))
    child = spawn("--deploy", *common)
    child.expect("Preview of 02 docker-installation")
    child.expect("digest: sha256:")
    child.expect(r"Approve 02 docker-installation\? \[y/N\]: ")
    child.sendline("y")
    child.expect(r"Preview of 03 cleanup-existing\S* \S*\(DESTRUCTIVE\)")
    child.expect(r"orch-1\S*: \d+ task\(s\) would change")  # per-host preview lines
    child.expect("digest: sha256:")
    child.expect("Type its name")
    child.sendline("yes")  # not the checkpoint's name: a denial
    child.expect("was denied by")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    denied_run = last_run(orch_state)
    denial = events(orch_state, event="approval_denied")[-1]
    assert denial["checkpoint"] == "cleanup-existing" and denial["reason"] == "denied at the terminal"
    assert not events(orch_state, denied_run, "checkpoint_started")[2:]  # 01 and 02 ran, nothing after
    assert checkpoint_status(orch_state, "cleanup-existing") == "denied"

    child = spawn("--resume", *common)
    child.expect(r"Preview of 03 cleanup-existing\S* \S*\(DESTRUCTIVE\)")
    child.expect("Type its name")
    child.sendline("cleanup-existing")
    child.expect("04 ray-deployment")
    child.expect(pexpect.EOF, timeout=1200)
    child.close()
    assert child.exitstatus == 0
    run = last_run(orch_state)
    started = [e["checkpoint"] for e in events(orch_state, run, "checkpoint_started")]
    assert started == ["cleanup-existing", "ray-deployment", "monitoring-deployment", "final-validation"]
    assert events(orch_state, run, "approval_consumed")[0]["checkpoint"] == "cleanup-existing"
    assert alive_everywhere(orch)


# -- refusals, the lock, and Ctrl-C on the deployed cluster ---------------------------------------
def approve(state: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("approve", name, "--state-dir", str(state), "--by", "tester", "--reason", "e2e", *extra)


def refused(state: Path, run: str) -> list[str]:
    return [e["reason"] for e in events(state, run, "approval_refused")]


def test_refused_approvals_through_the_cli(orch, tmp_path):
    state = tmp_path / "state"
    gate = ("--checkpoint", "docker-installation", "--inventory", str(orch.inventory), "--state-dir",
            str(state), "--approval-timeout", "0")
    seed_file = Path("/tmp/checkpoint-docker-installation-approved")  # noqa: S108 - the seed's file
    seed_file.write_text('{"approved_by": "manual"}')
    try:
        proc = deploy_master(*gate)
        assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr
        assert "is not an approval" in proc.stdout and "raydeploy approve docker-installation" in proc.stdout
        assert refused(state, last_run(state)) == ["seed-file"]
    finally:
        seed_file.unlink(missing_ok=True)

    # swapped: docker-installation's approval put in place of cleanup-existing's
    assert approve(state, "docker-installation").returncode == 0
    approvals = state / "approvals"
    shutil.copy(approvals / "docker-installation.json", approvals / "cleanup-existing.json")
    proc = deploy_master(*gate[2:], "--checkpoint", "cleanup-existing")
    assert proc.returncode == 3 and "granted for checkpoint docker-installation" in proc.stdout, proc.stdout
    assert refused(state, last_run(state)) == ["swapped"]

    # tampered: the digest edited by hand
    record = json.loads((approvals / "docker-installation.json").read_text())
    record["digest"] = "sha256:" + "0" * 64
    (approvals / "docker-installation.json").write_text(json.dumps(record))
    proc = deploy_master(*gate)
    assert proc.returncode == 3 and "modified outside raydeploy" in proc.stdout, proc.stdout
    assert refused(state, last_run(state)) == ["tampered"]

    # used once, then replayed from a copy
    assert approve(state, "docker-installation").returncode == 0
    saved = (approvals / "docker-installation.json").read_text()
    proc = deploy_master(*gate, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    jsonschema.validate(result, json.loads(RESULT_SCHEMA.read_text()))
    assert result["checkpoints"][0]["approval"]["state"] == "consumed"
    (approvals / "docker-installation.json").write_text(saved)
    proc = deploy_master(*gate)
    assert proc.returncode == 3 and "already used" in proc.stdout, proc.stdout
    assert refused(state, last_run(state)) == ["consumed"]

    # denied over the CLI, then expired
    deny = run_cli("deny", "docker-installation", "--state-dir", str(state), "--by", "tester",
                   "--reason", "not now")
    assert deny.returncode == 0, deny.stderr
    proc = deploy_master(*gate, "--approval-ttl", "3")
    assert proc.returncode == 3 and refused(state, last_run(state)) == ["denied"]
    assert approve(state, "docker-installation").returncode == 0
    time.sleep(4)
    proc = deploy_master(*gate)
    assert proc.returncode == 3 and "expired" in proc.stdout, proc.stdout
    assert refused(state, last_run(state)) == ["expired"]
    # the refusing run asked again, so one is pending: approving it works, approving twice does not
    assert approve(state, "docker-installation").returncode == 0
    second = approve(state, "docker-installation")
    assert second.returncode == 2 and "only a pending approval" in second.stderr


def test_second_run_is_refused_while_a_run_waits_for_approval_without_a_terminal(orch, tmp_path):
    state = tmp_path / "state"
    args = ("--checkpoint", "docker-installation", "--inventory", str(orch.inventory), "--state-dir",
            str(state))
    first = start(*args, "--approval-timeout", "300")
    try:
        wait_for(lambda: events(state, event="approval_requested"), 300, "the approval request", first)
        holder = json.loads((state / "lock.json").read_text())
        second = deploy_master(*args, "--approval-timeout", "0")
        assert second.returncode == 2
        assert f"pid {holder['pid']}" in second.stderr and "another run holds the lock" in second.stderr
        assert events(state, event="lock_refused")
        assert approve(state, "docker-installation").returncode == 0  # releases the waiting run
        out, _ = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out[-3000:]
    assert "waiting up to 300 s" in out and "raydeploy approve docker-installation" in out
    assert "POST /api/v1/approvals/docker-installation" in out


@pytest.mark.parametrize("where", ["waiting-approval", "running"])
def test_ctrl_c_leaves_state_consistent_and_releases_the_lock(orch, tmp_path, where):
    state = tmp_path / "state"
    if where == "running":
        args = ("--checkpoint", "prerequisites-check")
        ready = lambda: checkpoint_status(state, "prerequisites-check") == "running"  # noqa: E731
    else:
        args = ("--checkpoint", "docker-installation", "--approval-timeout", "300")
        ready = lambda: events(state, event="approval_requested")  # noqa: E731
    proc = start(*args, "--inventory", str(orch.inventory), "--state-dir", str(state))
    try:
        wait_for(ready, 300, where, proc)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out[-3000:]
    assert not (state / "lock.json").exists()
    name = args[1]
    assert checkpoint_status(state, name) == "interrupted"
    assert events(state, event="run_finished")[-1]["status"] == "interrupted"
    assert not list(state.glob(".*.json.*"))  # no half-written temp files
    again = deploy_master("--checkpoint", "docker-installation", "--inventory", str(orch.inventory),
                          "--state-dir", str(state), "--approval-timeout", "0")
    assert again.returncode == 3, again.stderr  # the lock is free: it got as far as the gate


# -- last, as it stops a host: a host lost during 04 and --resume ----------------------------------
def test_host_stopped_during_04_fails_naming_it_and_resume_finishes(orch, tmp_path_factory):
    state = tmp_path_factory.getbasetemp() / "orch-auto-state"
    common = ("--inventory", str(orch.inventory), "--state-dir", str(state),
              "--extra-vars", "ray_wait_timeout_s=45")
    victim = orch.host(3)
    container = f"raydeploy-{orch.name}-3"
    proc = start("--deploy", "--auto-approve", *common)
    try:
        wait_for(lambda: checkpoint_status(state, "ray-deployment") == "running", 900, "checkpoint 04", proc)
        subprocess.run(["docker", "stop", "-t", "2", container], check=True, capture_output=True, timeout=120)
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(["docker", "start", container], capture_output=True, timeout=120)
    assert proc.returncode == 1, out[-4000:]
    assert f"checkpoint 04 ray-deployment failed on {victim}" in out or victim in out.split("failed on")[-1]
    failure = json.loads((state / "failure.json").read_text())
    assert failure["checkpoint"] == "ray-deployment" and victim in failure["hosts"]
    first = last_run(state)
    assert [e["checkpoint"] for e in events(state, first, "checkpoint_started")][:3] == [
        "prerequisites-check", "docker-installation", "cleanup-existing"]

    run_cli("sandbox", "up", "--hosts", "3", "--name", orch.name, check=True)  # the host is back
    resumed = deploy_master("--resume", *common)
    assert resumed.returncode == 0, resumed.stdout[-5000:]
    run = last_run(state)
    started = [e["checkpoint"] for e in events(state, run, "checkpoint_started")]
    assert started == ["ray-deployment", "monitoring-deployment", "final-validation"]
    assert alive_everywhere(orch)
