"""Bad input stops with one line naming the problem and the fix, before anything is touched."""

import os
import shutil
import sys

import pytest

from raydeploy.errors import UserError
from raydeploy.sandbox import images
from tests.conftest import run_cli


@pytest.mark.parametrize("count", ["0", "500"])
def test_bad_host_count(count):
    proc = run_cli("sandbox", "up", "--hosts", count, "--name", "never-made")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--hosts" in lines[0] and count in lines[0]


@pytest.mark.parametrize("name", ["with space", "a/b", "../../etc"])
@pytest.mark.parametrize("command", ["up", "status", "inventory", "down"])
def test_bad_names(command, name):
    proc = run_cli("sandbox", command, "--name", name)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "invalid sandbox name" in lines[0] and "--name" in lines[0]


def test_inventory_of_missing_sandbox_says_how_to_make_it():
    proc = run_cli("sandbox", "inventory", "--name", "nosuchbox")
    assert proc.returncode != 0
    assert "raydeploy sandbox up --name nosuchbox" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_no_access_to_docker_socket(tmp_path):
    # A user outside the docker group, as on a workstation without setup. The child drops to
    # 'nobody' after fork, so it needs no access to this checkout to run the real CLI code.
    if not os.path.exists("/var/run/docker.sock"):
        pytest.skip("no Docker socket on this machine to be refused access to")
    import docker.transport  # noqa: F401 - loaded before dropping privileges

    from raydeploy import cli

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 3
        try:
            os.dup2(write_fd, 2)
            sys.stderr = os.fdopen(2, "w", buffering=1)
            os.environ.update(HOME=str(tmp_path), RAYDEPLOY_HOME=str(tmp_path),
                              DOCKER_HOST="unix:///var/run/docker.sock")
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            sys.argv = ["raydeploy", "sandbox", "up", "--hosts", "1", "--name", "denied"]
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        stderr = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "no access to the Docker socket" in lines[0] and "docker' group" in lines[0]


def test_debootstrap_missing_and_not_installable(tmp_path, monkeypatch):
    # apt-get exists but fails, as with no network or no package source.
    fake = tmp_path / "apt-get"
    fake.write_text("#!/bin/sh\necho 'E: Unable to locate package debootstrap' >&2\nexit 100\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("debootstrap") is None
    with pytest.raises(UserError) as err:
        images.ensure_debootstrap()
    message = str(err.value)
    assert "\n" not in message
    assert "Unable to locate package debootstrap" in message
    assert "apt-get install debootstrap" in message
