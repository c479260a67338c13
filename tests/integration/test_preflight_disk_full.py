"""A host with almost no free disk where Ray will write: checkpoint 01 refuses, naming the host,
the path, the space free and needed and the fix, and changes nothing on any host.

The full file systems are small tmpfs mounts inside the sandbox hosts (they have CAP_SYS_ADMIN;
the mounts live in the host container's own mount namespace), filled to 1 MiB free, so the
machine's disk is never filled."""

from __future__ import annotations

import contextlib

import pytest

from tests.conftest import run_playbook

pytestmark = pytest.mark.sandbox
PREREQ = "playbooks/01-prerequisites-check.yml"
# What a deployment would change: packages, Ray's directories and account, units, containers.
SNAPSHOT = ("dpkg-query -W -f '${Package} ${Version}\\n' | md5sum; "
            "ls -la /etc/ray /opt/ray /var/lib/ray /opt/ray/venv 2>&1; ls /etc/systemd/system; "
            "id ray 2>&1; command -v docker || echo no-docker; "
            "find /etc /opt /var/lib -newer /tmp/.inj-disk-mark -xdev 2>/dev/null "
            "| grep -v '^/var/lib/\\(apt\\|dpkg\\|systemd\\)' | sort; true")


@contextlib.contextmanager
def full_fs(cluster, host: str, path: str, size_mb: int = 16):
    """Mount a tmpfs over `path` on `host` and fill it to 1 MiB free."""
    cmd = (f"mkdir -p {path} && mount -t tmpfs -o size={size_mb}m raydeploy-test-full {path} && "
           f"dd if=/dev/zero of={path}/.fill bs=1M count={size_mb - 1} 2>/dev/null; "
           f"df -k --output=avail {path} | tail -1")
    proc = cluster.ssh(host, cmd)
    assert proc.returncode == 0 and int(proc.stdout.split()[-1]) <= 1024, proc
    try:
        yield
    finally:
        cluster.ssh(host, f"umount {path}")


def snapshot(cluster) -> dict[str, str]:
    return {h: cluster.ssh(h, SNAPSHOT).stdout for h in cluster.hosts()}


def test_full_disk_refused_before_any_change(inj_cluster):
    c = inj_cluster
    head, worker = c.host(1), c.host(2)
    for h in (head, worker):
        c.ssh(h, "touch /tmp/.inj-disk-mark; rmdir /tmp/ray 2>/dev/null; true")
    before = snapshot(c)
    # The worker's virtualenv parent (/opt: /opt/ray/venv does not exist yet) and the head's
    # temp dir (/tmp/ray) are full; / has room on both.
    with full_fs(c, worker, "/opt"), full_fs(c, head, "/tmp/ray"):
        run = run_playbook(c.inventory, PREREQ)
    c.ssh(head, "rmdir /tmp/ray")
    out = run.stdout + run.stderr
    assert run.rc != 0, run.output()
    assert (f"{worker}: only 1.00 MB free on /opt/ray/venv (the Ray virtualenv, file system mounted on "
            "/opt), need 2 GB: free space on /opt, set ray_venv_dir to a path on a larger file system "
            "or lower prerequisites_min_free_gb_ray_venv") in out, run.output()
    assert (f"{head}: only 1.00 MB free on /tmp/ray (Ray's logs and spilled objects, file system mounted "
            "on /tmp/ray), need 2 GB: free space on /tmp/ray, set ray_temp_dir to a path on a larger "
            "file system or lower prerequisites_min_free_gb_ray_temp") in out, run.output()
    assert run.recap[head]["failed"] == 1 and run.recap[worker]["failed"] == 1, run.recap
    assert all(r["changed"] == 0 for r in run.recap.values()), run.recap
    assert snapshot(c) == before


def test_full_docker_data_root_refused_in_docker_mode(inj_cluster):
    c = inj_cluster
    worker = c.host(2)
    c.ssh(worker, "touch /tmp/.inj-disk-mark")
    before = snapshot(c)
    with full_fs(c, worker, "/var/lib/docker"):
        run = run_playbook(c.inventory, PREREQ, "-e", "ray_install_mode=docker")
    out = run.stdout + run.stderr
    assert run.rc != 0, run.output()
    assert (f"{worker}: only 1.00 MB free on /var/lib/docker (Docker's images and containers, file system "
            "mounted on /var/lib/docker), need 5 GB: free space on /var/lib/docker, set "
            "docker_daemon_options['data-root'] to a path on a larger file system or lower "
            "prerequisites_min_free_gb_docker") in out, run.output()
    assert run.recap[c.host(1)]["failed"] == 0, run.output()
    assert all(r["changed"] == 0 for r in run.recap.values()), run.recap
    assert snapshot(c) == before
