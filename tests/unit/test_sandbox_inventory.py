from pathlib import Path

import pytest
import yaml

from raydeploy.sandbox.inventory import (
    HostRecord,
    build_inventory,
    known_hosts_lines,
    write_inventory,
)

HOSTS = [HostRecord("sb-1", "10.9.0.2"), HostRecord("sb-2", "10.9.0.3"), HostRecord("sb-3", "10.9.0.4")]


def _inv(hosts=HOSTS):
    return build_inventory(hosts, Path("/k/id_ed25519"), Path("/k/known_hosts"), "sb")


def test_first_host_is_head_and_monitoring_rest_are_workers():
    children = _inv()["all"]["children"]
    ray = children["ray_cluster"]["children"]
    assert list(ray["head_nodes"]["hosts"]) == ["sb-1"]
    assert list(ray["worker_nodes"]["hosts"]) == ["sb-2", "sb-3"]
    assert list(children["monitoring"]["hosts"]) == ["sb-1"]


def test_each_host_has_its_own_address():
    ray = _inv()["all"]["children"]["ray_cluster"]["children"]
    addresses = {n: v["ansible_host"] for g in ray.values() for n, v in g["hosts"].items()}
    assert addresses == {"sb-1": "10.9.0.2", "sb-2": "10.9.0.3", "sb-3": "10.9.0.4"}


def test_key_path_and_strict_known_hosts_are_set():
    vars_ = _inv()["all"]["vars"]
    assert vars_["ansible_ssh_private_key_file"] == "/k/id_ed25519"
    assert "UserKnownHostsFile=/k/known_hosts" in vars_["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in vars_["ansible_ssh_common_args"]
    assert vars_["ansible_user"] == "deploy" and vars_["ansible_become"] is True


def test_single_host_sandbox_has_no_workers():
    ray = _inv(HOSTS[:1])["all"]["children"]["ray_cluster"]["children"]
    assert ray["worker_nodes"]["hosts"] == {}


def test_empty_host_list_is_refused():
    with pytest.raises(ValueError):
        _inv([])


def test_written_inventory_round_trips(tmp_path):
    path = tmp_path / "inventory.yml"
    write_inventory(path, _inv())
    assert yaml.safe_load(path.read_text()) == _inv()


def test_known_hosts_lines_carry_address_and_name():
    text = known_hosts_lines({"10.9.0.2": ("sb-1", "ssh-ed25519 AAAAC3Nz root@sb-1")})
    assert text == "10.9.0.2,sb-1 ssh-ed25519 AAAAC3Nz\n"


def test_grafana_password_is_generated_into_the_sandbox_secrets():
    from raydeploy.sandbox.inventory import GRAFANA_PASSWORD_FILE

    vars_ = _inv()["all"]["vars"]
    lookup = vars_["grafana_admin_password"]
    # Ansible's password lookup: generated once on the controller, file 0600 in a 0700 dir.
    assert lookup.startswith("{{ lookup('ansible.builtin.password', inventory_dir")
    assert GRAFANA_PASSWORD_FILE == ".secrets/grafana_admin_password" and GRAFANA_PASSWORD_FILE in lookup
    assert "length=32" in lookup
    # Sandbox hosts reach no Grafana repository or registry: configuration only.
    assert vars_["grafana_install_enabled"] is False
