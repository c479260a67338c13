"""What the inventory says should run where: hosts, addresses, ports, versions, expectations.

The inventory is read by Ansible itself (inventory, its group_vars/host_vars, the project's
playbook group_vars, and the role defaults validation relies on), so whatever a playbook
sees, validation sees. Ansible takes most of a second to import, so the resolved spec is
cached under ~/.raydeploy/cache/validate/, keyed by a digest of every file that feeds it:
edit the inventory or a default and the next run reads it again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raydeploy.errors import UserError
from raydeploy.paths import PROJECT_ROOT, cache_dir

# Role defaults validation reads (the playbooks' own defaults, so both agree).
_ROLES = ("prerequisites", "ray_common", "ray_worker", "monitoring", "grafana")
_CACHE_VERSION = 2  # raised when what a spec holds or how it is read changes
# ray_common's port filters, whose ray_slots says how many Ray nodes a host runs.
_RAY_PORTS = PROJECT_ROOT / "roles" / "ray_common" / "filter_plugins" / "ray_ports.py"


@functools.cache
def _ray_slots():
    spec = importlib.util.spec_from_file_location("raydeploy_ray_ports", _RAY_PORTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ray_slots


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str
    ray_ip: str
    monitoring_address: str
    head: bool
    worker: bool
    monitoring: bool
    install_mode: str = "native"
    expected_nodes: int = 1
    docker_enabled: bool = False
    node_exporter_enabled: bool = True
    prometheus_enabled: bool = False
    grafana_enabled: bool = False
    cadvisor_enabled: bool = False
    num_cpus: float | None = None
    num_gpus: float | None = None
    object_store_memory: int | None = None
    # Docker mode's worker containers (ray_worker_container_cpus, ray_worker_object_store_memory),
    # on a worker host or beside the head.
    container_cpus: float | None = None
    container_object_store_memory: int | None = None
    venv_dir: str = "/opt/ray/venv"
    ssh_user: str | None = None
    ssh_port: int | None = None
    ssh_key: str | None = None
    ssh_args: tuple[str, ...] = ()
    become: bool = False
    min_disk_free_gb: float = 10.0
    min_memory_mb: int = 2048
    disk_path: str = "/"

    @property
    def ray_node(self) -> bool:
        return self.head or self.worker


@dataclass(frozen=True)
class ClusterSpec:
    inventory: str
    hosts: tuple[HostSpec, ...]
    ray_ports: dict[str, int]
    monitoring_ports: dict[str, int]
    ray_version: str
    auth_enabled: bool = True
    token_file: str | None = None
    token_inline: str = field(default="", repr=False)

    @property
    def head(self) -> HostSpec:
        heads = [h for h in self.hosts if h.head]
        if len(heads) != 1:
            raise UserError(
                f"inventory {self.inventory}: head_nodes must hold exactly one host, it holds {len(heads)}"
            )
        return heads[0]

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.head.ray_ip}:{self.ray_ports['dashboard']}"

    def host(self, name: str) -> HostSpec:
        return next(h for h in self.hosts if h.name == name)

    def token(self) -> str | None:
        if not self.auth_enabled:
            return None
        if self.token_inline:
            return self.token_inline
        if self.token_file and Path(self.token_file).is_file():
            return Path(self.token_file).read_text().strip() or None
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("token_inline")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterSpec:
        hosts = tuple(HostSpec(**{**h, "ssh_args": tuple(h.get("ssh_args", ()))}) for h in data["hosts"])
        return cls(**{**data, "hosts": hosts})


# -- reading ------------------------------------------------------------------------------------
def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and ".secrets" not in p.parts)
    return []


def _inputs(inventory: Path) -> list[Path]:
    base = inventory if inventory.is_dir() else inventory.parent
    paths = _files(inventory) + _files(base / "group_vars") + _files(base / "host_vars")
    paths += _files(PROJECT_ROOT / "group_vars")
    paths += [PROJECT_ROOT / "roles" / r / "defaults" / "main.yml" for r in _ROLES] + [_RAY_PORTS]
    return paths


def spec_digest(inventory: Path) -> str:
    h = hashlib.sha256(f"{_CACHE_VERSION}\0{PROJECT_ROOT}\0{inventory}".encode())
    for path in _inputs(inventory):
        h.update(str(path).encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()


def load_spec(inventory: Path, use_cache: bool = True) -> ClusterSpec:
    inventory = Path(inventory).resolve()
    if not inventory.exists():
        raise UserError(
            f"inventory {inventory} does not exist; pass --inventory PATH (for a sandbox: "
            '--inventory "$(raydeploy sandbox inventory --name NAME)")'
        )
    cache = cache_dir() / "validate" / f"{spec_digest(inventory)}.json"
    if use_cache and cache.is_file():
        try:
            return ClusterSpec.from_dict(json.loads(cache.read_text()))
        except (ValueError, TypeError, KeyError):
            pass
    spec = resolve_with_ansible(inventory)
    if use_cache and not spec.token_inline:
        cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(spec.to_dict()))
        tmp.replace(cache)
    return spec


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _opt_num(value: Any) -> float | None:
    if value in (None, "", "None", "null"):
        return None
    return float(value)


def _trusted(value: Any, trust) -> Any:
    """Role defaults are templates, as they are to a playbook (Ansible 2.19 trusts only those)."""
    if isinstance(value, str):
        return trust(value)
    if isinstance(value, dict):
        return {k: _trusted(v, trust) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v, trust) for v in value]
    return value


def resolve_with_ansible(inventory: Path) -> ClusterSpec:
    """Resolve every variable validation needs, per host, the way a playbook would."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template
    from ansible.vars.hostvars import HostVars
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    loader.set_basedir(str(PROJECT_ROOT / "playbooks"))
    inv = InventoryManager(loader=loader, sources=[str(inventory)])
    variables = VariableManager(loader=loader, inventory=inv)
    HostVars(inventory=inv, variable_manager=variables, loader=loader)  # registers itself
    defaults: dict[str, Any] = {}
    for role in _ROLES:
        data = loader.load_from_file(str(PROJECT_ROOT / "roles" / role / "defaults" / "main.yml")) or {}
        defaults.update({k: _trusted(v, trust_as_template) for k, v in data.items()})

    groups = inv.get_groups_dict()
    heads, workers = set(groups.get("head_nodes", [])), set(groups.get("worker_nodes", []))
    monitoring = set(groups.get("monitoring", []))
    names = [*groups.get("head_nodes", []), *[h for h in groups.get("ray_cluster", []) if h not in heads]]
    names += [h for h in sorted(monitoring) if h not in names]
    if not names:
        raise UserError(f"inventory {inventory} has no hosts in ray_cluster or monitoring")

    hosts, cluster = [], {}
    for name in names:
        hv = {**defaults, **variables.get_vars(host=inv.get_host(name), include_hostvars=True)}
        templar = Templar(loader=loader, variables=hv)

        def get(key: str, default: Any = None, hv=hv, templar=templar) -> Any:
            if key not in hv:
                return default
            return templar.template(hv[key])

        address = str(get("ansible_host", name))
        mode = str(get("ray_install_mode", "native"))
        count = int(get("ray_worker_count", 1))
        ray_node = name in heads or name in workers
        expected = _ray_slots()(name in heads, mode, count, name in workers) if ray_node else 0
        key = get("ansible_ssh_private_key_file") or get("ansible_private_key_file")
        ssh_args = " ".join(str(get(k) or "") for k in ("ansible_ssh_common_args", "ansible_ssh_extra_args"))
        hosts.append(
            HostSpec(
                name=name,
                address=address,
                ray_ip=str(get("ray_node_ip", address)),
                monitoring_address=str(get("monitoring_address", address)),
                head=name in heads,
                worker=name in workers,
                monitoring=name in monitoring,
                install_mode=mode,
                expected_nodes=expected,
                docker_enabled=_bool(get("docker_install_enabled", mode == "docker")),
                node_exporter_enabled=_bool(get("monitoring_node_exporter_enabled", True)),
                prometheus_enabled=_bool(get("monitoring_prometheus_enabled", name in monitoring)),
                grafana_enabled=_bool(get("monitoring_grafana_enabled", name in monitoring))
                and _bool(get("grafana_install_enabled", True)),
                cadvisor_enabled=_bool(get("monitoring_cadvisor_enabled", False)),
                num_cpus=_opt_num(get("ray_num_cpus")),
                num_gpus=_opt_num(get("ray_num_gpus")),
                object_store_memory=(int(v) if (v := _opt_num(get("ray_object_store_memory"))) else None),
                container_cpus=_opt_num(get("ray_worker_container_cpus")),
                container_object_store_memory=(
                    int(v) if (v := _opt_num(get("ray_worker_object_store_memory"))) else None
                ),
                venv_dir=str(get("ray_venv_dir", "/opt/ray/venv")),
                ssh_user=get("ansible_user") or get("ansible_ssh_user"),
                ssh_port=int(p) if (p := get("ansible_port") or get("ansible_ssh_port")) else None,
                ssh_key=str(Path(str(key)).expanduser()) if key else None,
                ssh_args=tuple(shlex.split(ssh_args)),
                become=_bool(get("ansible_become", False)),
                min_disk_free_gb=float(get("prerequisites_min_disk_free_gb", 10)),
                min_memory_mb=int(get("prerequisites_min_memory_mb", 2048)),
                disk_path=str(get("prerequisites_disk_path", "/")),
            )
        )
        if name in heads or not cluster:
            cluster = {
                "ray_ports": {k: int(v) for k, v in dict(get("ray_ports", {})).items()},
                "monitoring_ports": {k: int(v) for k, v in dict(get("monitoring_ports", {})).items()},
                "ray_version": str(get("ray_version", "")),
                "auth_enabled": _bool(get("ray_auth_enabled", True)),
                "token_file": str(Path(str(get("ray_auth_token_file"))).expanduser())
                if get("ray_auth_token_file")
                else None,
                "token_inline": str(get("ray_auth_token", "") or ""),
            }
    return ClusterSpec(inventory=str(inventory), hosts=tuple(hosts), **cluster)
