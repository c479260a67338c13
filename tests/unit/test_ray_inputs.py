"""Hostile inventory values, checked without hosts: ray_common's input filter (checkpoint 01
refuses what systemd, Docker's builder or pip would not take literally, naming the variable),
the shipped defaults pass it, and a controller-side playbook run with hostile host names and
addresses runs nothing they contain."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, PROJECT

_spec = importlib.util.spec_from_file_location(
    "ray_inputs", PROJECT / "roles/ray_common/filter_plugins/ray_inputs.py")
ray_inputs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ray_inputs)

DEFAULTS = yaml.safe_load((PROJECT / "roles/ray_common/defaults/main.yml").read_text())
SHELL = ["x; touch /tmp/pwned", "$(touch /tmp/pwned2)", "`touch /tmp/pwned3`", "a b", "'quote\""]


def problems(mode: str = "native", **values) -> list[str]:
    return ray_inputs.ray_input_problems({**DEFAULTS, "ray_install_mode": mode, **values})


@pytest.mark.parametrize("mode", ["native", "docker"])
def test_the_defaults_pass(mode):
    assert problems(mode) == []


def test_shell_characters_in_environment_values_pass_literally():
    # systemd's Environment= runs no shell: ; $( ) ` and spaces reach Ray as they are.
    env = {f"RD_{i}": v for i, v in enumerate(SHELL[:4])} | {"RD_SQ": "it's"}
    assert problems(ray_environment=env) == []


@pytest.mark.parametrize(("value", "shown"), [
    ("'quote\"", '"'), ("back\\slash", "\\"), ("100%h", "%"),
    ("x\nExecStartPre=/bin/touch /tmp/pwned", "control characters"), ("tab\there", "control characters")])
def test_environment_values_systemd_would_change_are_refused_natively(value, shown):
    found = problems(ray_environment={"RD": value})
    assert len(found) == 1 and found[0].startswith("ray_environment['RD'] is ") and shown in found[0], found
    assert "remove them" in found[0]


def test_docker_mode_takes_quotes_but_not_newlines_in_the_environment():
    assert problems("docker", ray_environment={"RD": "'quote\" 100% back\\slash $(x)"}) == []
    assert "control characters" in problems("docker", ray_environment={"RD": "a\nb"})[0]


@pytest.mark.parametrize("key", ["1X", "A B", "X;touch /tmp/pwned", "A=B", ""])
def test_environment_names_are_refused_unless_plain(key):
    found = problems(ray_environment={key: "v"})
    assert any(p.startswith(f"ray_environment has the key {key!r}") for p in found), found


@pytest.mark.parametrize(("arg", "ok"), [
    ("--node-name=a b; `touch /tmp/pwned3` 'q\"", True),  # shell-quoted into ExecStart: literal
    ("--node-name=$(touch /tmp/pwned2)", False), ("--node-name=$HOME", False),  # systemd expands $
    ("--node-name=50%", False), ("--x=a\\b", False), ("--x=a\nExecStartPre=/bin/touch /tmp/p", False)])
def test_extra_start_args_natively(arg, ok):
    found = problems(ray_extra_start_args=[arg])
    assert (found == []) is ok, found
    if not ok:
        assert found[0].startswith("ray_extra_start_args[0] is ")


def test_extra_start_args_in_docker_mode_are_argv():
    assert problems("docker", ray_extra_start_args=["--node-name=$(touch /tmp/pwned2) 50% a\\b"]) == []


def test_extra_start_args_must_be_a_list():
    assert "ray_extra_start_args must be a list" in problems(ray_extra_start_args="--num-cpus=2")[0]


def test_resources():
    assert problems(ray_resources={"a b; `touch /tmp/pwned3`": 1, "gpu_x": 0.5}) == []
    assert problems(ray_resources={'q"': 1})[0].startswith("ray_resources key 'q\"'")
    assert problems(ray_resources={"n": -1}) == ["ray_resources['n'] is '-1': an amount is a number >= 0"]
    assert "an amount is a number" in problems(ray_resources={"n": "1; touch /tmp/pwned"})[0]


@pytest.mark.parametrize("name", ["ray_venv_dir", "ray_temp_dir", "ray_home_dir", "ray_config_dir"])
@pytest.mark.parametrize("value", ["/opt/ray venv", "relative", "/x;touch /tmp/pwned", "/x/$(id)", "/q'"])
def test_paths_are_refused_unless_plain(name, value):
    found = problems(**{name: value})
    assert len(found) == 1 and found[0].startswith(f"{name} is {value!r}: use an absolute path"), found


@pytest.mark.parametrize("name", ["ray_user", "ray_group"])
@pytest.mark.parametrize("value", ["ray; touch /tmp/pwned", "a b", "$(id)", "Ray", "x" * 33])
def test_account_names_are_refused_unless_posix(name, value):
    assert problems(**{name: value})[0].startswith(f"{name} is {value!r}: use a POSIX account name")


@pytest.mark.parametrize("name", ["ray_pip_extra_packages", "ray_docker_extra_pip_packages"])
def test_pip_requirements(name):
    good = ["tabulate", "tabulate==0.9.0", "ray[default]>=2.0, <3", "pkg.name_x-y ~= 1.2", "a[b,c]"]
    assert problems(**{name: good}) == []
    for bad in [*SHELL, "x\nRUN touch /tmp/pwned", "--index-url=http://evil", "pkg @ https://x/y.whl",
                'pkg; python_version<"3.12"']:
        found = problems(**{name: [bad]})
        assert found and found[0].startswith(f"{name} has {bad!r}: write a requirement"), (bad, found)


def test_pip_index_url():
    assert problems(ray_pip_source="index", ray_pip_index_url="https://pypi.example:8443/simple/") == []
    for bad in ["https://x/simple --trusted-host evil", "https://x/$(touch /tmp/pwned2)", "ftp://x", "x; y"]:
        assert problems(ray_pip_index_url=bad)[0].startswith("ray_pip_index_url is "), bad


def test_docker_image():
    assert problems("docker", ray_docker_image="registry.example:5000/ray/ray:2.60.0@sha256:abc") == []
    for bad in ["ray:x\nRUN touch /tmp/pwned", "ray; touch /tmp/pwned", "a b", "$(id)"]:
        assert problems("docker", ray_docker_image=bad)[0].startswith("ray_docker_image is "), bad


def test_every_problem_is_reported_at_once():
    found = problems(ray_environment={"A": 'q"'}, ray_user="a b", ray_venv_dir="/a b",
                     ray_pip_extra_packages=["x;y"])
    assert [p.split(" ")[0] for p in found] == ["ray_environment['A']", "ray_venv_dir", "ray_user",
                                                "ray_pip_extra_packages"]


def _marker_free_run(tmp_path: Path, inventory: dict) -> subprocess.CompletedProcess:
    (tmp_path / "inv.yml").write_text(yaml.safe_dump(inventory))
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(tmp_path / "inv.yml"),
         str(PROJECT / "playbooks/01-prerequisites-check.yml")],
        capture_output=True, text=True, cwd=PROJECT, timeout=300,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_SSH_ARGS": "-o ControlMaster=no",
             "ANSIBLE_SSH_RETRIES": "0", "ANSIBLE_TIMEOUT": "5"})


def _inventory(head: str, head_vars: dict) -> dict:
    return {"all": {"children": {"ray_cluster": {"children": {
        "head_nodes": {"hosts": {head: head_vars}}, "worker_nodes": {"hosts": {}}}}}}}


@pytest.mark.parametrize("marker", ["pwned-unit-1", "pwned-unit-2", "pwned-unit-3"])
def test_hostile_host_names_are_refused_on_the_controller(tmp_path, marker):
    target = tmp_path / marker
    name = {"pwned-unit-1": f"x;touch {target}", "pwned-unit-2": f"$(touch {target})",
            "pwned-unit-3": f"`touch {target}`"}[marker]
    proc = _marker_free_run(tmp_path, _inventory(name, {"ansible_host": "127.0.0.1"}))
    assert proc.returncode != 0
    assert "are not plain names; use letters, digits" in proc.stdout, proc.stdout[-3000:]
    assert not target.exists()


@pytest.mark.parametrize("template", ["x;touch {0} $(touch {1}) `touch {2}`", "-oProxyCommand=touch {0}",
                                      "a b", "-x"])
def test_hostile_ansible_host_is_refused_before_any_connection(tmp_path, template):
    targets = [tmp_path / f"pwned-host-{i}" for i in range(3)]
    address = template.format(*targets)
    proc = _marker_free_run(tmp_path, _inventory("h1", {"ansible_host": address}))
    assert proc.returncode != 0
    out = proc.stdout
    assert "inventory: ansible_host " in out and "is not an address" in out, out[-3000:]
    assert "h1" not in proc.stdout.split("PLAY RECAP")[-1], "a host was contacted"
    assert [t for t in targets if t.exists()] == []


def test_plain_addresses_pass_the_inventory_check(tmp_path):
    inv = _inventory("h1", {"ansible_host": "10.0.0.5"})
    inv["all"]["children"]["ray_cluster"]["children"]["worker_nodes"]["hosts"] = {
        "h2": {"ansible_host": "node-2.example.com"}, "h3": {"ansible_host": "fe80::1%eth0"}}
    (tmp_path / "inv.yml").write_text(yaml.safe_dump(inv))
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(tmp_path / "inv.yml"),
         str(PROJECT / "playbooks/common/boilerplate.yml")],
        capture_output=True, text=True, cwd=PROJECT, timeout=300, env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_validate_never_reads_an_address_as_an_ssh_option():
    from raydeploy.validate.spec import HostSpec
    from raydeploy.validate.ssh import ssh_argv

    host = HostSpec(name="h1", address="-oProxyCommand=touch /tmp/pwned", ray_ip="10.0.0.5",
                    monitoring_address="10.0.0.5", head=True, worker=False, monitoring=False)
    argv = ssh_argv(host, "true")
    assert argv[-3:] == ["--", "-oProxyCommand=touch /tmp/pwned", "true"]


COMMON_PREFLIGHT = """
- hosts: localhost
  gather_facts: false
  vars_files: [{defaults}]
  vars: {{ansible_os_family: Debian, ansible_distribution: Debian}}
  tasks:
    - ansible.builtin.include_role: {{name: common, tasks_from: preflight.yml}}
"""


def common_preflight(tmp_path: Path, values: dict) -> subprocess.CompletedProcess:
    play = tmp_path / "common-preflight.yml"
    play.write_text(COMMON_PREFLIGHT.format(defaults=PROJECT / "roles/common/defaults/main.yml"))
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(play),
                           "-e", json.dumps(values)], capture_output=True, text=True, cwd=PROJECT,
                          timeout=300, env={**os.environ, "ANSIBLE_NOCOLOR": "1"})


@pytest.mark.parametrize(("values", "ok"), [
    ({}, True), ({"common_ntp_servers": ["pool.ntp.org", "10.0.0.1", "fe80::1"]}, True),
    ({"common_sysctl": {"net.ipv4.ip_local_port_range": "1024 65535"}}, True),
    ({"common_ntp_servers": ["x\nconfdir /tmp"]}, False),
    ({"common_ntp_servers": ["x;touch /tmp/pwned"]}, False),
    ({"common_sysctl": {"kernel.core_pattern": "core\nkernel.core_pattern=|/tmp/x"}}, False)])
def test_common_preflight_refuses_multi_line_settings(tmp_path, values, ok):
    proc = common_preflight(tmp_path, values)
    assert (proc.returncode == 0) is ok, proc.stdout[-3000:]
    if not ok:
        assert "common_sysctl values must be one line and common_ntp_servers host names" in proc.stdout


@pytest.mark.parametrize(("values", "needles"), [
    ({"ansible_os_family": "RedHat", "ansible_distribution": "Rocky"}, ["runs Rocky (RedHat)"]),
    ({"common_ray_home": "home/ray"}, ["common_ray_home (home/ray) must be an absolute path"]),
    ({"common_nofile_limit": 512}, ["common_nofile_limit is 512; Ray needs at least 1024"]),
    ({"common_sysctl": {"vm max map": "1"}},
     ["common_sysctl has keys that are not sysctl names: vm max map"]),
    # Every problem in one failure, not only the first.
    ({"common_nofile_limit": 512, "common_sysctl": {"vm;x": "1"}, "common_ntp_servers": ["a b"]},
     ["common_nofile_limit is 512", "not sysctl names: vm;x", "common_sysctl values must be one line"])])
def test_common_preflight_names_each_problem(tmp_path, values, needles):
    proc = common_preflight(tmp_path, values)
    assert proc.returncode != 0, proc.stdout[-3000:]
    for needle in needles:
        assert needle in proc.stdout, proc.stdout[-3000:]
