"""`raydeploy image ...`: images for docker-mode hosts that cannot reach a registry."""

from __future__ import annotations

import click

from raydeploy import settings


@click.group()
def image() -> None:
    """Build container images on the controller to push to hosts."""


@image.command("build-ray")
@click.option("--ray-version", default=None, help="Default: ray_version from roles/ray_common.")
@click.option("--extra-pip", multiple=True, help="Extra pip requirement baked in (repeatable).")
def build_ray(ray_version: str | None, extra_pip: tuple[str, ...]) -> None:
    """Build the Ray image from a wheelhouse and save it; prints 'TAG ARCHIVE'.

    Use them as ray_docker_image and ray_docker_image_archive (ray_docker_image_source: archive).
    """
    from raydeploy.images.ray_image import build
    from raydeploy.sandbox.engine import ensure_engine

    tag, archive = build(ensure_engine(), ray_version or settings.ray_version(), list(extra_pip),
                         log=lambda m: click.echo(m, err=True))
    click.echo(f"{tag} {archive}")
