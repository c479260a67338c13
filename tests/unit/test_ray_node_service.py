"""roles/ray_common/library/ray_node_service.py, a native node's unit files and service in one
module run, through Ansible on this machine against a stand-in `systemctl` that keeps the unit's
state in a file and logs every call: what it writes, when it restarts or starts, and what check
mode leaves alone. The sandbox tests run it against real systemd (test_ray_cluster.py)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.ansible_local import run_module

UNIT = "ray-worker.service"
FAKE_SYSTEMCTL = """#!/bin/sh
echo "$*" >> "$STATE_DIR/calls"
case "$1" in
  is-active) s=$(cat "$STATE_DIR/active" 2>/dev/null || echo inactive); echo "$s"; [ "$s" = active ];;
  is-enabled) s=$(cat "$STATE_DIR/enabled" 2>/dev/null || echo disabled); echo "$s"; [ "$s" = enabled ];;
  start|restart) echo active > "$STATE_DIR/active";;
  enable) echo enabled > "$STATE_DIR/enabled";;
esac
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the module writes root-owned files")


@pytest.fixture
def node(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(FAKE_SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    (tmp_path / "etc").mkdir()
    return tmp_path


def files(node: Path, unit_text: str = "[Service]\nExecStart=/bin/true\n") -> list[dict]:
    return [{"path": str(node / "etc" / "supervisor"), "content": "#!/bin/sh\nexec \"$@\"\n", "mode": "0755"},
            {"path": str(node / "etc" / UNIT), "content": unit_text, "mode": "0644"}]


def run(node: Path, *, check: bool = False, diff: bool = False, **args) -> dict:
    (node / "calls").write_text("")
    _, result, _ = run_module(
        "ray_common", "ray_node_service", {"unit": UNIT, **args},
        env={"STATE_DIR": str(node), "PATH": f"{node / 'bin'}:{os.environ['PATH']}"},
        flags=(("--check",) if check else ()) + (("--diff",) if diff else ()))
    result["calls"] = (node / "calls").read_text().splitlines()
    return result


def mutations(result: dict) -> list[str]:
    return [c for c in result["calls"] if not c.startswith(("is-active", "is-enabled"))]


def test_a_new_node_gets_its_files_is_enabled_started_and_recorded(node):
    record = {"path": str(node / "deployed.json"), "fingerprint": "f1",
              "files": [str(node / "etc" / UNIT)]}
    result = run(node, files=files(node), record=record)
    assert result["changed"] is True and not result.get("failed"), result
    assert mutations(result) == ["daemon-reload", f"enable {UNIT}", f"start {UNIT}"]
    assert (node / "etc" / "supervisor").stat().st_mode & 0o7777 == 0o755
    assert (node / "etc" / UNIT).read_text() == "[Service]\nExecStart=/bin/true\n"
    saved = json.loads((node / "deployed.json").read_text())
    digest = hashlib.sha256((node / "etc" / UNIT).read_bytes()).hexdigest()
    assert saved == {"fingerprint": "f1", "files": {str(node / "etc" / UNIT): digest}}
    assert (node / "deployed.json").stat().st_mode & 0o777 == 0o600


def test_a_running_node_with_nothing_changed_is_left_alone(node):
    run(node, files=files(node))
    result = run(node, files=files(node))
    assert result["changed"] is False, result
    assert mutations(result) == []


def test_a_changed_unit_restarts_a_running_node(node):
    run(node, files=files(node))
    result = run(node, files=files(node, "[Service]\nExecStart=/bin/false\n"))
    assert result["changed"] is True and result["restarted"] is True
    assert result["files_changed"] == [str(node / "etc" / UNIT)]
    assert mutations(result) == ["daemon-reload", f"restart {UNIT}"]


def test_a_changed_token_restarts_a_running_node_with_the_same_files(node):
    run(node, files=files(node))
    result = run(node, files=files(node), restart=True)
    assert mutations(result) == [f"restart {UNIT}"] and result["changed"] is True


def test_a_wrong_mode_alone_is_mended(node):
    run(node, files=files(node))
    (node / "etc" / "supervisor").chmod(0o644)
    result = run(node, files=files(node))
    assert result["files_changed"] == [str(node / "etc" / "supervisor")]
    assert (node / "etc" / "supervisor").stat().st_mode & 0o7777 == 0o755


def test_a_unit_between_restarts_is_not_started_again(node):
    run(node, files=files(node))
    (node / "active").write_text("activating\n")
    result = run(node, files=files(node))
    assert result["changed"] is False and mutations(result) == []


def test_check_mode_says_what_it_would_do_and_changes_nothing(node):
    result = run(node, check=True, diff=True, files=files(node),
                 record={"path": str(node / "deployed.json"), "fingerprint": "f1", "files": []})
    assert result["changed"] is True and result["started"] is True
    assert mutations(result) == []
    assert not (node / "etc" / UNIT).exists() and not (node / "deployed.json").exists()
    assert [d["after_header"] for d in result["diff"]] == [f["path"] for f in files(node)]


def test_a_missing_directory_is_named(node):
    spec = [{"path": str(node / "nowhere" / UNIT), "content": "x\n", "mode": "0644"}]
    result = run(node, files=spec)
    assert result.get("failed") is True
    assert f"cannot write {node / 'nowhere' / UNIT}: its directory does not exist" in result["msg"]
    assert mutations(result) == []
