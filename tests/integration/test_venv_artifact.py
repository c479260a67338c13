"""Ray's virtualenv built once per platform and unpacked on the other hosts (ray_venv_artifact).

On fresh sandbox hosts checkpoint 04 installs Ray with uv on one host only, keeps the packed
venv in the controller's cache and unpacks it on the rest; a later cluster unpacks the cached
one everywhere, and refuses a cached one not built as its name says; when the building host
fails, the others install Ray themselves instead of failing with it; and packages added to
ray_pip_extra_packages after a first deploy reach the controller's wheelhouse and every host."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import keep_sandbox, make_cluster, run_cli, run_playbook

pytestmark = pytest.mark.sandbox
NAME = "vart"
DEPLOY = "playbooks/04-ray-deployment.yml"
RAY_VERSION = "python -c 'import ray; print(ray.__version__)'"
TABULATE_VERSION = "python -c 'import tabulate; print(tabulate.__version__)'"


@pytest.fixture(scope="module")
def fresh():
    """Returns a function that gives two bare hosts, recreating them on every call."""
    def hosts():
        run_cli("sandbox", "down", "--name", NAME, check=True)
        return make_cluster(NAME, 2)
    yield hosts
    if not keep_sandbox():
        run_cli("sandbox", "down", "--name", NAME)


def ray_version(cluster, host: str) -> str:
    return cluster.ssh(host, f"/opt/ray/venv/bin/{RAY_VERSION}").stdout.strip()


def installed_with_uv(cluster, host: str) -> bool:
    return cluster.ssh(host, "test -x /opt/ray/uv && echo uv").stdout.strip() == "uv"


def test_builder_failure_leaves_the_other_hosts_installing(fresh, tmp_path):
    cluster = fresh()
    builder, other = cluster.host(1), cluster.host(2)
    # The builder cannot write its packed venv: its install job fails after uv is done.
    block = cluster.ssh(builder, "mkdir -p /opt/ray/venv.tar.part && echo blocked")
    assert block.stdout.strip() == "blocked", block.stderr
    run = run_playbook(cluster.inventory, DEPLOY, "-e", f"ray_venv_artifact_controller_dir={tmp_path}",
                       "-e", "ray_wait_timeout_s=30")
    assert run.rc != 0, run.output()
    assert run.recap[builder]["failed"] == 1, run.recap
    assert f"{other} unpacks Ray's virtualenv after {builder} builds it" in run.stdout
    assert f"{other} installs Ray with uv itself" in run.stdout, run.output()
    assert ray_version(cluster, other) == "2.60.0"
    assert list(tmp_path.iterdir()) == []  # nothing half-made in the cache


def test_fresh_cluster_builds_the_venv_once(fresh, tmp_path_factory):
    cache = tmp_path_factory.mktemp("venvs")
    cluster = fresh()
    builder, other = cluster.host(1), cluster.host(2)
    run = run_playbook(cluster.inventory, DEPLOY, "-e", f"ray_venv_artifact_controller_dir={cache}")
    assert run.rc == 0, run.output()
    assert f"{other} unpacks Ray's virtualenv after {builder} builds it" in run.stdout
    packed = [p.name for p in cache.iterdir()]
    assert len(packed) == 1 and packed[0].startswith("ray-2.60.0-debian12-"), packed
    assert packed[0].endswith(".tar")
    assert installed_with_uv(cluster, builder) and not installed_with_uv(cluster, other)
    for host in (builder, other):
        assert ray_version(cluster, host) == "2.60.0"
        left = cluster.ssh(host, "ls -d /opt/ray/venv.tar* /opt/ray/venv.part 2>/dev/null; true")
        assert left.stdout.strip() == "", (host, left.stdout)
    assert len(cluster.alive()) == 2

    # A new cluster of the same platform unpacks the cached venv on every host.
    cluster = fresh()
    again = run_playbook(cluster.inventory, DEPLOY, "-e", f"ray_venv_artifact_controller_dir={cache}")
    assert again.rc == 0, again.output()
    assert "builds it" not in again.stdout
    assert [p.name for p in cache.iterdir()] == packed
    for host in (cluster.host(1), cluster.host(2)):
        assert not installed_with_uv(cluster, host)
        assert ray_version(cluster, host) == "2.60.0"
    assert len(cluster.alive()) == 2

    # An archive under this platform's name that does not record that name, as an older
    # raydeploy packed them: unpacked, it would send every full-path run back through uv.
    stale_cache = tmp_path_factory.mktemp("stale-venvs")
    stale = tmp_path_factory.mktemp("stale-venv")
    (stale / "bin").mkdir()
    (stale / "bin" / "ray").write_text("#!/bin/sh\n")
    subprocess.run(["tar", "-czf", str(stale_cache / packed[0]), "-C", str(stale), "."], check=True)
    cluster = fresh()
    refused = run_playbook(cluster.inventory, DEPLOY, "-e", f"ray_venv_artifact_controller_dir={stale_cache}")
    assert refused.rc != 0
    said = f"the packed venv {stale_cache / packed[0]} on the controller was not built as"
    assert said in refused.stdout, refused.output()
    assert "delete it and run again" in refused.stdout
    for host in (cluster.host(1), cluster.host(2)):
        left = cluster.ssh(host, "ls -d /opt/ray/venv /opt/ray/venv.* 2>/dev/null; true")
        assert left.stdout.strip() == "", (host, left.stdout)


def test_extra_packages_added_later_reach_every_host(fresh, tmp_path):
    # A wheelhouse the controller made for Ray alone (uv on every host, so no cached venv
    # hides it), then ray_pip_extra_packages grows: the controller tops the wheelhouse up and
    # the hosts' offline install finds the new wheel.
    default = Path("~/.cache/raydeploy").expanduser()
    cache = tmp_path / "cache"
    for part in [default / "wheelhouse", *default.glob("uv-*")]:
        if part.is_dir():  # a copy of the user's cache saves the download, when there is one
            shutil.copytree(part, cache / part.name, dirs_exist_ok=True)
    wheels = ["-e", f"ray_wheelhouse_controller_dir={cache / 'wheelhouse'}", "-e", "ray_venv_artifact=false"]
    cluster = fresh()
    first = run_playbook(cluster.inventory, DEPLOY, *wheels)
    assert first.rc == 0, first.output()
    before = cluster.alive()
    more = run_playbook(cluster.inventory, DEPLOY, *wheels,
                        "-e", json.dumps({"ray_pip_extra_packages": ["tabulate==0.9.0"]}))
    assert more.rc == 0, more.output()
    for host in (cluster.host(1), cluster.host(2)):
        found = cluster.ssh(host, f"/opt/ray/venv/bin/{TABULATE_VERSION}")
        assert found.stdout.strip() == "0.9.0", (host, found.stdout, found.stderr)
    packed = subprocess.run(["tar", "-tf", str(cache / "wheelhouse" / "ray-2.60.0-cp311.tar")],
                            capture_output=True, text=True, check=True).stdout
    assert "tabulate-0.9.0-py3-none-any.whl" in packed
    assert len(before) == 2 and cluster.alive() == before  # same node ids: Ray was not restarted
