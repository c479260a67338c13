"""roles/ray_common/action_plugins/ray_venv_transfer.py through Ansible on this machine
(connection local): a pull moves the host's packed venv into the controller's cache and removes
it from the host; a push unpacks a cached one into place and leaves no archive behind, and
refuses one that does not record the name it is pushed as, leaving the host as it was. The
sandbox tests run it over SSH with become (test_venv_artifact.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.ansible_local import run_module

KEY = "ray-2.60.0-debian12-x86_64-py3.11.2-test"


def pack(tmp_path: Path, key: str) -> Path:
    venv = tmp_path / "built"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "ray").write_text("#!/bin/sh\n")
    (venv / ".raydeploy-venv").write_text(key + "\n")
    archive = tmp_path / "venv.tar"
    subprocess.run(["tar", "-cf", str(archive), "-C", str(venv), "."], check=True)
    return archive


def test_pull_moves_the_archive_into_the_cache(tmp_path):
    archive = pack(tmp_path, KEY)
    dest = tmp_path / "cache" / f"{KEY}.tar"
    rc, result, out = run_module("ray_common", "ray_venv_transfer",
                                 {"direction": "pull", "src": str(archive), "dest": str(dest)})
    assert rc == 0, out
    assert result["changed"] is True
    assert dest.is_file() and not archive.exists()
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no part file left


def test_push_unpacks_in_place(tmp_path):
    archive = pack(tmp_path, KEY)
    venv = tmp_path / "opt" / "venv"
    venv.mkdir(parents=True)
    (venv / "old").write_text("replaced whole")
    rc, result, out = run_module("ray_common", "ray_venv_transfer",
                                 {"direction": "push", "src": str(archive), "venv": str(venv), "key": KEY})
    assert rc == 0, out
    assert result["changed"] is True
    assert (venv / "bin" / "ray").is_file() and not (venv / "old").exists()
    assert sorted(p.name for p in venv.parent.iterdir()) == ["venv"]  # no .part, no archive
    assert archive.is_file()  # the controller's copy stays in its cache


def test_push_refuses_an_archive_not_built_as_named(tmp_path):
    archive = pack(tmp_path, "ray-2.59.0-other")
    venv = tmp_path / "opt" / "venv"
    rc, result, out = run_module("ray_common", "ray_venv_transfer",
                                 {"direction": "push", "src": str(archive), "venv": str(venv), "key": KEY})
    assert rc != 0
    assert f"the packed venv {archive} on the controller was not built as {KEY}" in result["msg"], out
    assert "delete it and run again" in result["msg"]
    assert not venv.parent.exists() or sorted(p.name for p in venv.parent.iterdir()) == []


def test_push_names_a_missing_archive(tmp_path):
    missing = tmp_path / "nothing.tar"
    args = {"direction": "push", "src": str(missing), "venv": "/opt/x/venv", "key": KEY}
    rc, result, out = run_module("ray_common", "ray_venv_transfer", args)
    assert rc != 0
    assert f"the packed virtualenv {missing} is not on the controller" in result["msg"], out


def test_push_without_a_key_names_the_missing_argument(tmp_path):
    archive = pack(tmp_path, KEY)
    venv = tmp_path / "opt" / "venv"
    rc, result, out = run_module("ray_common", "ray_venv_transfer",
                                 {"direction": "push", "src": str(archive), "venv": str(venv)})
    assert rc != 0
    assert "key" in result["msg"] and "direction is push" in result["msg"], out
    assert not venv.parent.exists()
