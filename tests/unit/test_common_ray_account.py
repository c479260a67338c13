"""roles/common/library/common_ray_account.py run through Ansible on this machine: what it would
change for a missing account (check mode, so the controller gets no user), and what it changes
on directories for an account that already matches (root's own, left as it is). Creating the
account for real is covered on sandbox hosts (tests/integration/test_roles_common_docker.py and
every checkpoint 04 run)."""

from __future__ import annotations

import os
import pwd
import stat

import pytest

from tests.ansible_local import run_module

ROOT = pwd.getpwuid(0)


def account(args: dict, flags=()) -> dict:
    rc, result, output = run_module("common", "common_ray_account", args, flags=flags)
    assert rc == 0, output
    return result


def roots_own(**extra) -> dict:
    """Arguments that describe root's account exactly as it is, so nothing about it changes."""
    mode = format(stat.S_IMODE(os.stat(ROOT.pw_dir).st_mode), "04o")
    return {"user": "root", "group": "root", "home": ROOT.pw_dir, "home_mode": mode,
            "shell": ROOT.pw_shell, "comment": ROOT.pw_gecos, **extra}


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root (CI runs as root)")


def test_check_mode_names_everything_a_missing_account_needs_and_makes_nothing(tmp_path):
    home = tmp_path / "home"
    result = account({"user": "raydeploy-test-nobody", "group": "raydeploy-test-nogroup",
                      "home": str(home), "shell": "/usr/sbin/nologin", "comment": "Ray",
                      "dirs": [{"path": str(tmp_path / "etc"), "owner": "root",
                                "group": "raydeploy-test-nogroup", "mode": "0750"}]}, ("--check",))
    assert result["changed"] is True
    assert result["changes"] == [
        "create the system group raydeploy-test-nogroup",
        "create the system user raydeploy-test-nobody",
        f"create {home} (raydeploy-test-nobody:raydeploy-test-nogroup 0750)",
        f"create {tmp_path / 'etc'} (root:raydeploy-test-nogroup 0750)",
    ]
    assert not home.exists() and not (tmp_path / "etc").exists()
    with pytest.raises(KeyError):
        pwd.getpwnam("raydeploy-test-nobody")


def test_an_account_that_differs_is_corrected_field_by_field_in_check_mode():
    result = account({**roots_own(), "shell": "/usr/sbin/nologin", "comment": "not root's"}, ("--check",))
    assert result["changes"] == ["change the shell, comment of user root"]
    assert pwd.getpwnam("root").pw_shell == ROOT.pw_shell


def test_directories_get_their_owner_and_mode_then_nothing_changes(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o700)
    os.chmod(existing, 0o700)
    dirs = [{"path": str(tmp_path / "a" / "b"), "owner": "root", "group": "root", "mode": "0750"},
            {"path": str(existing), "owner": "root", "group": "root", "mode": "0755"}]
    first = account(roots_own(dirs=dirs))
    assert first["changes"] == [f"create {tmp_path / 'a' / 'b'} (root:root 0750)",
                                f"set {existing} to root:root 0755"]
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o755
    again = account(roots_own(dirs=dirs))
    assert again["changed"] is False and again["changes"] == []


def test_a_file_where_a_directory_belongs_fails_naming_it(tmp_path):
    blocker = tmp_path / "etc-ray"
    blocker.write_text("x")
    rc, result, output = run_module("common", "common_ray_account", roots_own(
        dirs=[{"path": str(blocker), "owner": "root", "group": "root", "mode": "0750"}]))
    assert rc != 0, output
    assert result["msg"] == f"{blocker} exists and is not a directory: move it away and run again"


def test_an_incomplete_directory_entry_is_refused():
    rc, result, output = run_module("common", "common_ray_account",
                                    roots_own(dirs=[{"path": "/tmp/x", "mode": "0750"}]))
    assert rc != 0, output
    assert "lacks group, owner" in result["msg"]


def test_a_secret_file_is_written_private_and_its_content_never_shown(tmp_path):
    token = "f" * 64
    path = tmp_path / "auth_token"
    args = roots_own(secret_files=[{"path": str(path), "owner": "root", "group": "root", "mode": "0600"}],
                     secret_contents=[token])
    rc, first, output = run_module("common", "common_ray_account", args, flags=("--diff", "-v"))
    assert rc == 0, output
    assert first["secret_files_changed"] == [str(path)]
    assert first["changes"] == [f"write {path} (root:root 0600)"]
    assert path.read_text() == token and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token not in output
    again = account(args)
    assert again["changed"] is False and again["secret_files_changed"] == []


def test_secret_files_and_contents_must_pair_up():
    rc, result, output = run_module("common", "common_ray_account", roots_own(
        secret_files=[{"path": "/tmp/x", "owner": "root", "group": "root", "mode": "0600"}]))
    assert rc != 0, output
    assert result["msg"] == "1 secret_files but 0 secret_contents: give one content per file"
