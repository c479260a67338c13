"""Bring a named sandbox's hosts up, report on them, and take them down again."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import NotFound
from docker.models.containers import Container

from raydeploy.errors import UserError
from raydeploy.paths import ansible_fact_cache_dir, raydeploy_home
from raydeploy.sandbox import addresses, images
from raydeploy.sandbox.engine import ensure_engine
from raydeploy.sandbox.inventory import (
    SSH_USER,
    HostRecord,
    build_inventory,
    known_hosts_lines,
    write_inventory,
)
from raydeploy.sandbox.names import validate_host_count, validate_name

LABEL = "io.raydeploy.sandbox"
INDEX_LABEL = "io.raydeploy.index"
SHM_SIZE = "2g"
_BOOT_TIMEOUT_S = 180
# How long a restarting host gets to shut down cleanly (a Ray head takes ~35 s here; Docker's
# default 10 s would cut its power instead).
_STOP_TIMEOUT_S = 90


@dataclass
class HostStatus:
    name: str
    container: str
    address: str
    state: str
    systemd: str = "-"


class Sandbox:
    def __init__(self, name: str = "sandbox", client: docker.DockerClient | None = None):
        self.name = validate_name(name)
        self._client = client

    # -- names of everything this sandbox owns; `down` removes exactly these ------------------
    @property
    def dir(self) -> Path:
        return raydeploy_home() / "sandboxes" / self.name

    @property
    def inventory_path(self) -> Path:
        return self.dir / "inventory.yml"

    @property
    def key_path(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def network_name(self) -> str:
        return f"raydeploy-{self.name}"

    def container_name(self, index: int) -> str:
        return f"raydeploy-{self.name}-{index}"

    def hostname(self, index: int) -> str:
        return f"{self.name}-{index}"

    def volume_name(self, index: int) -> str:
        return f"raydeploy-{self.name}-{index}-docker"

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = ensure_engine()
        return self._client

    def _labels(self, index: int | None = None) -> dict[str, str]:
        labels = {LABEL: self.name}
        if index is not None:
            labels[INDEX_LABEL] = str(index)
        return labels

    def _containers(self) -> dict[int, Container]:
        found = self.client.containers.list(all=True, filters={"label": f"{LABEL}={self.name}"})
        return {int(c.labels[INDEX_LABEL]): c for c in found}

    # -- up ------------------------------------------------------------------------------------
    def up(self, hosts: int, ca_bundle: Path | None = None, log=print) -> list[HostStatus]:
        validate_host_count(hosts)
        if ca_bundle is not None and not ca_bundle.is_file():
            raise UserError(f"CA bundle {ca_bundle} does not exist; pass an existing PEM file")
        image = images.ensure_host_image(self.client, log)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._ensure_key()
        network = self._ensure_network()
        existing = self._containers()
        for index in sorted(i for i in existing if i > hosts):
            log(f"removing {self.hostname(index)} (sandbox shrinks to {hosts} hosts)")
            self._remove_host(index, existing[index])
        wanted = range(1, hosts + 1)
        with ThreadPoolExecutor(max_workers=min(hosts, 8)) as pool:
            records = list(pool.map(
                lambda i: self._ensure_host(i, existing.get(i), image, network, ca_bundle, log),
                wanted,
            ))
        host_keys = {r.address: (r.name, key) for r, key in records}
        self.known_hosts_path.write_text(known_hosts_lines(host_keys))
        inventory = build_inventory(
            [r for r, _ in records], self.key_path, self.known_hosts_path, self.name
        )
        write_inventory(self.inventory_path, inventory)
        with ThreadPoolExecutor(max_workers=min(hosts, 8)) as pool:
            states = list(pool.map(lambda r: self._wait_running(r[0]), records))
        return [
            HostStatus(r.name, self.container_name(i), r.address, "running", s)
            for i, ((r, _), s) in enumerate(zip(records, states, strict=True), start=1)
        ]

    def _ensure_key(self) -> None:
        if self.key_path.exists():
            return
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"raydeploy-{self.name}",
             "-f", str(self.key_path)],
            check=True, capture_output=True,
        )

    def _ensure_network(self):
        nets = self.client.networks.list(names=[self.network_name])
        for net in nets:
            if net.name == self.network_name:
                return net
        return addresses.create_network(self.client, self.network_name, self._labels())

    def _ensure_host(self, index, container, image, network, ca_bundle, log):
        if container is None:
            container = self._create_host(index, image, network)
        elif container.status != "running":
            log(f"starting stopped host {self.hostname(index)}")
            container.start()
        # Every time, so a sandbox whose state folder was lost gets its new key authorized.
        self._authorize(container, ca_bundle)
        container.reload()
        address = container.attrs["NetworkSettings"]["Networks"][self.network_name]["IPAddress"]
        return HostRecord(self.hostname(index), address), self._host_key(container)

    def _create_host(self, index: int, image: str, network) -> Container:
        # Flags verified on this kernel (TESTBED.md); --privileged fails here, so never use it.
        volume = self.client.volumes.create(self.volume_name(index), labels=self._labels(index))
        fixed = {}
        if addresses.is_pinned(network):
            address = addresses.host_address(addresses.subnet_of(network), index)
            fixed["networking_config"] = {
                network.name: self.client.api.create_endpoint_config(ipv4_address=address)}
        return self.client.containers.run(
            image,
            name=self.container_name(index),
            hostname=self.hostname(index),
            detach=True,
            labels=self._labels(index),
            network=network.name,
            cap_add=["SYS_ADMIN", "NET_ADMIN"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            tmpfs={"/run": "", "/run/lock": ""},
            volumes={
                "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "ro"},
                volume.name: {"bind": "/var/lib/docker", "mode": "rw"},
            },
            shm_size=SHM_SIZE,
            **fixed,
        )

    def _authorize(self, container: Container, ca_bundle: Path | None) -> None:
        pubkey = Path(f"{self.key_path}.pub").read_bytes()
        _put_file(container, f"/home/{SSH_USER}/.ssh/authorized_keys", pubkey, 0o600)
        _exec(container, ["chown", "-R", f"{SSH_USER}:{SSH_USER}", f"/home/{SSH_USER}/.ssh"])
        if ca_bundle is not None:
            _put_file(container, "/usr/local/share/ca-certificates/raydeploy-extra.crt",
                      ca_bundle.read_bytes(), 0o644)
            _exec(container, ["update-ca-certificates"])

    def _host_key(self, container: Container) -> str:
        # The key is generated by a first-boot unit, so it may take a moment to appear, and
        # under load the file can exist before ssh-keygen has written it: wait for a full line.
        deadline = time.monotonic() + _BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            code, out = container.exec_run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
            line = out.decode().strip() if code == 0 else ""
            if line.startswith("ssh-ed25519 ") and len(line.split()) >= 2:
                return line
            time.sleep(0.5)
        raise UserError(f"{container.name} did not generate SSH host keys within "
                        f"{_BOOT_TIMEOUT_S} s; see 'docker logs {container.name}'")

    def ssh_command(self, address: str, *remote: str, timeout: int = 10) -> list[str]:
        return [
            "ssh", "-i", str(self.key_path), "-o", f"UserKnownHostsFile={self.known_hosts_path}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={timeout}", f"{SSH_USER}@{address}", *remote,
        ]

    def _systemd_state(self, address: str) -> str:
        try:
            proc = subprocess.run(
                self.ssh_command(address, "systemctl", "is-system-running", timeout=5),
                capture_output=True, text=True, timeout=15,
            )
        except subprocess.TimeoutExpired:
            return "unreachable"
        if proc.returncode == 255:
            return "unreachable"
        return proc.stdout.strip() or "unknown"

    def _wait_running(self, record: HostRecord) -> str:
        deadline = time.monotonic() + _BOOT_TIMEOUT_S
        state = "unreachable"
        while time.monotonic() < deadline:
            state = self._systemd_state(record.address)
            if state == "running":
                return state
            time.sleep(1)
        raise UserError(
            f"{record.name} ({record.address}) is '{state}' after {_BOOT_TIMEOUT_S} s, not "
            f"'running' over SSH; see 'docker exec raydeploy-{record.name} systemctl --failed'"
        )

    # -- restart: the sandbox's reboot ---------------------------------------------------------
    def restart(self, index: int, stop_timeout: int = _STOP_TIMEOUT_S) -> HostStatus:
        """Reboot one host: systemd shuts down (its units stop as on a server's reboot; the
        container is killed only after stop_timeout s), /run starts empty, and the host comes
        back with the units enabled at boot. Returns once systemd is running over SSH again.

        A reboot keeps a host's address, and so must this: the inventory and every Ray unit name
        it. Raises if Docker gave the host another one.
        """
        container = self._containers().get(index)
        if container is None:
            raise UserError(f"sandbox '{self.name}' has no host {index}; "
                            f"see 'raydeploy sandbox status --name {self.name}'")
        before = self._address(container)
        container.restart(timeout=stop_timeout)
        container.reload()
        after = self._address(container)
        record = HostRecord(self.hostname(index), after)
        if after != before:
            raise UserError(f"{record.name} came back at {after}, not {before}; run "
                            f"'raydeploy sandbox up --name {self.name}' to rewrite the inventory")
        return HostStatus(record.name, container.name, after, "running", self._wait_running(record))

    def _address(self, container: Container) -> str:
        return container.attrs["NetworkSettings"]["Networks"][self.network_name]["IPAddress"]

    # -- status / down -------------------------------------------------------------------------
    def status(self) -> list[HostStatus]:
        rows = []
        for index, c in sorted(self._containers().items()):
            nets = c.attrs["NetworkSettings"]["Networks"]
            address = nets.get(self.network_name, {}).get("IPAddress") or "-"
            rows.append(HostStatus(self.hostname(index), c.name, address, c.status))
        with ThreadPoolExecutor(max_workers=8) as pool:
            states = pool.map(
                lambda r: self._systemd_state(r.address) if r.state == "running" else "-", rows
            )
            for row, state in zip(rows, states, strict=True):
                row.systemd = state
        return rows

    def _remove_host(self, index: int, container: Container) -> None:
        container.remove(force=True, v=True)
        with contextlib.suppress(NotFound):
            self.client.volumes.get(self.volume_name(index)).remove(force=True)

    def down(self) -> int:
        removed = 0
        for index, container in self._containers().items():
            self._remove_host(index, container)
            removed += 1
        for volume in self.client.volumes.list(filters={"label": f"{LABEL}={self.name}"}):
            volume.remove(force=True)
        for net in self.client.networks.list(filters={"label": f"{LABEL}={self.name}"}):
            net.remove()
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.forget_facts()
        return removed

    def forget_facts(self) -> None:
        # Ansible caches facts by host name; a sandbox made again under this name within the
        # cache's lifetime would otherwise start from the old hosts' facts.
        pattern = re.compile(rf"^(?:[a-z0-9]+_)?{re.escape(self.name)}-\d+$")
        cache = ansible_fact_cache_dir()
        if cache.is_dir():
            for entry in cache.iterdir():
                if pattern.match(entry.name):
                    entry.unlink(missing_ok=True)


def _put_file(container: Container, path: str, data: bytes, mode: int) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(Path(path).name)
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))
    container.put_archive(str(Path(path).parent), buf.getvalue())


def _exec(container: Container, argv: list[str]) -> None:
    code, out = container.exec_run(argv)
    if code != 0:
        raise UserError(f"{' '.join(argv)} failed in {container.name}: {out.decode().strip()}")
