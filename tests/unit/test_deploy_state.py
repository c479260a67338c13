"""State directory, lock, extra vars, plans, event folding, the CLI's refusals (no hosts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import jsonschema
import pytest
import yaml

from raydeploy import checkpoints as registry
from raydeploy.deploy import RESULT_SCHEMA
from raydeploy.deploy.orchestrator import parse_extravars, plan
from raydeploy.deploy.runner import RunResult
from raydeploy.deploy.store import StateDir, atomic_write
from raydeploy.errors import UserError
from tests.conftest import BIN, PROJECT

DEPLOY_MASTER = PROJECT / "modular-deployment" / "deploy-master.py"


def test_atomic_write_leaves_no_temp_files_and_sets_mode(tmp_path):
    target = tmp_path / "a.json"
    atomic_write(target, "one")
    atomic_write(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert target.stat().st_mode & 0o777 == 0o600


def test_lock_refuses_a_second_holder_naming_the_first(tmp_path):
    state = StateDir(tmp_path / "s")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time; from raydeploy.deploy.store import StateDir\n"
         f"with StateDir({str(state.root)!r}).locked('deploy-master.py --deploy'):\n"
         "    print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError) as err, state.locked("second"):
            pass
        assert f"pid {holder.pid}" in str(err.value) and "deploy-master.py --deploy" in str(err.value)
        assert state.audit_entries()[-1]["event"] == "lock_refused"
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with state.locked("third") as info:  # the kernel released the dead holder's lock
        assert info["pid"] == os.getpid()
    assert not state.holder_path.exists()


def test_extra_vars_forms_and_the_reserved_confirmation(tmp_path):
    f = tmp_path / "vars.yml"
    f.write_text("a: 1\n")
    assert parse_extravars(["x=1 y='two words'", '{"z": [1]}', f"@{f}"]) == {
        "x": "1", "y": "two words", "z": [1], "a": 1}
    with pytest.raises(UserError, match="set by the orchestrator"):
        parse_extravars(["raydeploy_cleanup_confirmed=true"])
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_extravars(["novalue"])


def test_plans(tmp_path):
    state = StateDir(tmp_path / "s").ensure()
    names = [c.name for c in registry.load()]
    assert [c.name for c in plan("deploy", None, state)] == names
    assert [c.name for c in plan("start-from", "ray-deployment", state)] == names[3:]
    assert [c.name for c in plan("checkpoint", "cleanup-existing", state)] == ["cleanup-existing"]
    state.save_state({"checkpoints": {n: {"status": "succeeded"} for n in names[:3]}
                      | {names[3]: {"status": "failed"}}})
    assert [c.name for c in plan("resume", None, state)] == names[3:]
    with pytest.raises(UserError, match="unknown checkpoint"):
        plan("checkpoint", "nope", state)


def test_runner_events_fold_into_counts_failures_changes_and_unsimulated():
    r = RunResult("x", check_mode=True, ident="i")
    diff = [{"before": "a\n", "after": "b\n", "before_header": "/f"}]
    skipped = {"msg": "Command would have run if not in check mode", "skipped": True}
    events = [
        {"event": "playbook_on_task_start", "event_data": {"task": "Install"}},
        {"event": "runner_on_ok",
         "event_data": {"host": "h1", "task": "Install", "res": {"changed": True, "diff": diff}}},
        {"event": "runner_on_skipped",
         "event_data": {"host": "h1", "task": "Kill", "task_action": "ansible.builtin.command",
                        "res": skipped}},
        {"event": "runner_on_failed",
         "event_data": {"host": "h2", "task": "Install", "res": {"msg": "boom"}}},
        {"event": "runner_on_failed",
         "event_data": {"host": "h2", "task": "Probe", "ignore_errors": True, "res": {"msg": "ignored"}}},
        {"event": "runner_on_unreachable",
         "event_data": {"host": "h3", "task": "Gathering Facts", "res": {"msg": "ssh: No route to host"}}},
    ]
    for e in events:
        r.apply(e)
    assert r.failed_hosts() == ["h2", "h3"]
    assert r.failures[1].unreachable and "No route" in r.failures[1].message
    preview = r.preview()
    assert preview["hosts"]["h1"]["would_change"][0]["task"] == "Install"
    assert "-a" in preview["hosts"]["h1"]["would_change"][0]["diff"]
    assert preview["hosts"]["h1"]["not_simulated"] == ["Kill"]
    r.apply({"event": "playbook_on_stats", "event_data": {"ok": {"h1": 3}, "changed": {"h1": 1},
                                                          "failures": {"h2": 1}, "dark": {"h3": 1}}})
    assert (r.hosts["h1"].ok, r.hosts["h1"].changed, r.hosts["h3"].unreachable) == (2, 1, 1)


def cli(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "python"), str(DEPLOY_MASTER), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def test_list_checkpoints_matches_the_registry():
    proc = cli("--list-checkpoints", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    registry_file = yaml.safe_load((PROJECT / "playbooks" / "checkpoints.yml").read_text())["checkpoints"]
    assert listed == registry_file
    text = cli("--list-checkpoints").stdout
    for entry in registry_file:
        assert entry["name"] in text and entry["playbook"] in text


def test_cli_usage_errors_say_what_to_do(tmp_path):
    proc = cli("--deploy", "--checkpoint", "ray-deployment", "--inventory", str(tmp_path / "none.yml"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: choose one of")
    proc = cli("--deploy", "--inventory", str(tmp_path / "none.yml"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = subprocess.run([str(BIN / "raydeploy"), "approve", "cleanup-existing", "--by", "a", "--reason",
                           "b", "--state-dir", str(tmp_path / "s")], capture_output=True, text=True)
    assert proc.returncode == 2 and "no approval is pending" in proc.stderr


def test_result_schema_is_valid_and_rejects_a_wrong_status():
    schema = json.loads(RESULT_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": 1, "status": "great"}, schema)


def test_a_dead_lock_holder_never_blocks(tmp_path):
    state = StateDir(tmp_path / "s")
    proc = subprocess.run([sys.executable, "-c",
                           "import os; from raydeploy.deploy.store import StateDir\n"
                           f"with StateDir({str(state.root)!r}).locked('x'):\n    os._exit(9)"],
                          cwd=PROJECT, timeout=60)
    assert proc.returncode == 9
    started = time.monotonic()
    with state.locked("y"):
        pass
    assert time.monotonic() - started < 5
