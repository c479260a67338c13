"""roles/common/library/common_files.py, the common role's one write of the files it renders
(open-files limits, sysctl settings), run through Ansible on this machine."""

from __future__ import annotations

import os
import stat

import pytest

from tests.ansible_local import run_module

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the files are given to root (CI runs as root)")


def write(files: list[dict], flags=()) -> tuple[int, dict, str]:
    return run_module("common", "common_files", {"files": files}, flags=flags)


def test_it_writes_what_differs_and_then_nothing(tmp_path):
    same, new = tmp_path / "same.conf", tmp_path / "new.conf"
    same.write_text("a=1\n")
    os.chmod(same, 0o644)
    files = [{"path": str(same), "content": "a=1\n", "mode": "0644"},
             {"path": str(new), "content": "b=2\n", "mode": "0640"}]
    rc, first, output = write(files, ("--diff",))
    assert rc == 0, output
    assert first["changed"] is True and first["files_changed"] == [str(new)]
    assert first["diff"] == [{"before_header": str(new), "after_header": str(new),
                              "before": "", "after": "b=2\n"}]
    assert new.read_text() == "b=2\n" and stat.S_IMODE(new.stat().st_mode) == 0o640
    rc, again, output = write(files)
    assert rc == 0, output
    assert again["changed"] is False and again["files_changed"] == []


def test_a_mode_change_alone_is_a_change(tmp_path):
    path = tmp_path / "limits.conf"
    path.write_text("x\n")
    os.chmod(path, 0o600)
    rc, result, output = write([{"path": str(path), "content": "x\n", "mode": "0644"}])
    assert rc == 0, output
    assert result["files_changed"] == [str(path)] and stat.S_IMODE(path.stat().st_mode) == 0o644


def test_check_mode_reports_and_writes_nothing(tmp_path):
    path = tmp_path / "sysctl.conf"
    path.write_text("old\n")
    rc, result, output = write([{"path": str(path), "content": "new\n", "mode": "0644"}], ("--check",))
    assert rc == 0, output
    assert result["changed"] is True and path.read_text() == "old\n"


def test_a_missing_directory_fails_naming_the_file(tmp_path):
    path = tmp_path / "absent" / "x.conf"
    rc, result, output = write([{"path": str(path), "content": "x\n", "mode": "0644"}])
    assert rc != 0, output
    assert result["msg"] == f"cannot write {path}: its directory does not exist"
