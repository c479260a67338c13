"""roles/common/library/common_host_state.py, the common role's one read-only probe per host, run
through Ansible on this machine (a Debian host like the role's targets): what it reports decides
whether apt runs, which sysctls are applied and which CA certificates are removed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.ansible_local import run_module


def probe(**args) -> dict:
    rc, result, output = run_module("common", "common_host_state", args)
    assert rc == 0, output
    return result


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
