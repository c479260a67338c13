"""roles/common/library/common_host_state.py, the common role's one read-only probe per host, run
through Ansible on this machine (a Debian host like the role's targets): what it reports decides
whether apt runs, which sysctls are applied and which CA certificates are removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

ANSIBLE = Path(sys.executable).parent / "ansible"


def probe(**args) -> dict:
    env = {**os.environ, "ANSIBLE_LIBRARY": str(PROJECT / "roles/common/library"),
           "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
           "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg")}
    proc = subprocess.run(
        [str(ANSIBLE), "localhost", "-c", "local", "-i", "localhost,", "-m", "common_host_state",
         "-a", json.dumps(args), "-e", f"ansible_python_interpreter={sys.executable}"],
        capture_output=True, text=True, env=env, cwd=PROJECT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # ansible.cfg's profile_tasks and timer callbacks print lines around the JSON document.
    doc, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])
    return doc["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.mark.skipif(not Path("/usr/bin/dpkg-query").exists(), reason="needs dpkg (a Debian controller)")
def test_it_reports_packages_limits_sysctls_and_certificates(tmp_path):
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / "old.crt").write_text("x")
    (ca_dir / ".hidden").write_text("x")
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    result = probe(packages=["dpkg", "raydeploy-no-such-package", f"dpkg:{arch}"],
                   sysctl=["net.core.somaxconn", "kernel.raydeploy_no_such_key"], ca_dir=str(ca_dir))
    assert result["changed"] is False
    assert result["missing_packages"] == ["raydeploy-no-such-package"]
    assert result["nofile_hard"] == Path("/proc/1/limits").read_text().split("Max open files")[1].split()[1]
    somaxconn = Path("/proc/sys/net/core/somaxconn").read_text().strip()
    assert result["sysctl"]["net.core.somaxconn"] == {
        "value": somaxconn, "writable": os.access("/proc/sys/net/core/somaxconn", os.W_OK)}
    assert result["sysctl"]["kernel.raydeploy_no_such_key"] == {"value": None, "writable": False}
    assert result["ca_files"] == ["old.crt"]


def test_a_missing_certificate_directory_holds_nothing(tmp_path):
    result = probe(ca_dir=str(tmp_path / "absent"))
    assert result["ca_files"] == [] and result["missing_packages"] == [] and result["sysctl"] == {}
