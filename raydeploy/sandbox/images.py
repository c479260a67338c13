"""The sandbox's two images, each cached under a tag derived from its recipe."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound

from raydeploy.errors import UserError
from raydeploy.sandbox.engine import apt_install

SUITE = "bookworm"
UPSTREAM_BASE = f"debian:{SUITE}"
_BASE_REPO = "raydeploy/debian-base"
_HOST_REPO = "raydeploy/sandbox-host"
_RECIPES = resources.files("raydeploy.sandbox") / "recipes"


@dataclass(frozen=True)
class BaseRecipe:
    suite: str = SUITE
    variant: str = "minbase"
    mirror: str = os.environ.get("RAYDEPLOY_DEBIAN_MIRROR", "http://deb.debian.org/debian")

    def key(self) -> str:
        return recipe_key("debootstrap", self.suite, self.variant, self.mirror)

    def tag(self) -> str:
        return f"{_BASE_REPO}:{self.suite}-{self.key()}"


def recipe_key(*parts: str) -> str:
    """A short digest of everything that shapes an image: same recipe, same tag, no rebuild."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return digest[:12]


def host_dockerfile() -> str:
    return (_RECIPES / "host.Dockerfile").read_text()


def host_tag(base_ref: str, dockerfile: str) -> str:
    return f"{_HOST_REPO}:{recipe_key(base_ref, dockerfile)}"


def _exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except ImageNotFound:
        return False


def ensure_debootstrap() -> str:
    path = shutil.which("debootstrap")
    if path:
        return path
    try:
        apt_install("debootstrap")
    except UserError as exc:
        raise UserError(
            "debootstrap is needed to build the Debian base image (no registry answered) and "
            f"could not be installed ({exc}); install it with 'apt-get install debootstrap' "
            f"or load a {UPSTREAM_BASE} image with 'docker load'"
        ) from exc
    path = shutil.which("debootstrap")
    if not path:
        raise UserError("debootstrap was installed but is not on PATH; add /usr/sbin to PATH")
    return path


def ensure_base(client: docker.DockerClient, log=print) -> str:
    recipe = BaseRecipe()
    for ref in (recipe.tag(), UPSTREAM_BASE):
        if _exists(client, ref):
            return ref
    try:
        client.images.pull("debian", tag=SUITE)
        return UPSTREAM_BASE
    except APIError:
        log(f"no registry answered for {UPSTREAM_BASE}; building the base with debootstrap")
    return _debootstrap_base(client, recipe)


def _debootstrap_base(client: docker.DockerClient, recipe: BaseRecipe) -> str:
    debootstrap = ensure_debootstrap()
    with tempfile.TemporaryDirectory(prefix="raydeploy-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        proc = subprocess.run(
            [debootstrap, f"--variant={recipe.variant}", recipe.suite, str(rootfs), recipe.mirror],
            capture_output=True, text=True, timeout=1200,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"debootstrap of {recipe.suite} failed: {tail[0]}")
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        repo, tag = recipe.tag().split(":")
        client.api.import_image(src=str(tarball), repository=repo, tag=tag)
    return recipe.tag()


def ensure_host_image(client: docker.DockerClient, log=print) -> str:
    base = ensure_base(client, log)
    dockerfile = host_dockerfile()
    tag = host_tag(base, dockerfile)
    if _exists(client, tag):
        return tag
    log(f"building host image {tag}")
    with tempfile.TemporaryDirectory(prefix="raydeploy-build-") as ctx:
        Path(ctx, "Dockerfile").write_text(dockerfile)
        try:
            client.images.build(path=ctx, tag=tag, buildargs={"BASE_IMAGE": base}, rm=True)
        except BuildError as exc:
            lines = [c.get("stream", "") for c in exc.build_log if "stream" in c]
            raise UserError(f"building the host image failed: {exc.msg}; last output: "
                            f"{''.join(lines[-3:]).strip()}") from exc
    return tag
