"""Build the docker-mode Ray image from a wheelhouse and save it as an archive to push."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import docker
from docker.errors import BuildError, ImageNotFound

from raydeploy.errors import UserError
from raydeploy.paths import cache_dir
from raydeploy.sandbox.images import ensure_base, recipe_key

_DOCKERFILE = resources.files("raydeploy.images") / "ray.Dockerfile"
PY_TAG = f"py{sys.version_info.major}{sys.version_info.minor}"


def wheelhouse_dir(ray_version: str, extra: list[str]) -> Path:
    return cache_dir() / "wheelhouse" / f"ray-{ray_version}-{PY_TAG}-{recipe_key(*extra)}"


def wheelhouse(ray_version: str, extra: list[str]) -> Path:
    """Ray and its dependencies for this controller's Python, downloaded once and reused."""
    path = wheelhouse_dir(ray_version, extra)
    marker = path / ".complete"
    if not marker.exists():
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
             "--dest", str(path), f"ray[default]=={ray_version}", *extra],
            capture_output=True, text=True, timeout=1800,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"pip download of ray[default]=={ray_version} failed: {tail[0]}; "
                            "check the controller's access to a package index")
        marker.touch()
    return path


def build(client: docker.DockerClient, ray_version: str, extra: list[str] | None = None,
          log=print) -> tuple[str, Path]:
    """Return (image tag, archive path), building and saving only when the recipe changed."""
    extra = list(extra or [])
    base = ensure_base(client, log)
    recipe = _DOCKERFILE.read_text()
    tag = f"raydeploy/ray:{ray_version}-{PY_TAG}-{recipe_key(base, recipe, ray_version, *extra)}"
    archive = cache_dir() / "images" / f"{tag.replace('/', '_').replace(':', '_')}.tar"
    if archive.exists():
        return tag, archive
    try:
        client.images.get(tag)
    except ImageNotFound:
        log(f"building {tag}")
        wheels = wheelhouse(ray_version, extra)
        with tempfile.TemporaryDirectory(prefix="raydeploy-ray-image-") as ctx:
            shutil.copytree(wheels, Path(ctx, "wheels"))
            Path(ctx, "Dockerfile").write_text(recipe)
            requirements = " ".join([f"ray[default]=={ray_version}", *extra])
            try:
                client.images.build(path=ctx, tag=tag, rm=True, buildargs={
                    "BASE_IMAGE": base, "RAY_REQUIREMENTS": requirements})
            except BuildError as exc:
                raise UserError(f"building {tag} failed: {exc.msg}") from exc
    archive.parent.mkdir(parents=True, exist_ok=True)
    log(f"saving {tag} to {archive}")
    tmp = archive.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for chunk in client.images.get(tag).save(named=True):
            out.write(chunk)
    tmp.replace(archive)
    return tag, archive
