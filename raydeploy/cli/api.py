"""`raydeploy api`: serve the REST API and web page (waitress, a production WSGI server)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from raydeploy.cli.deploy import resolve_inventory, resolve_state_dir


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback exposes the API: put TLS in front of it.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--inventory", "-i", type=click.Path(path_type=Path), default=None,
              help="Inventory (default: $RAYDEPLOY_INVENTORY or inventory/hosts.ini): where runs go, and "
                   "the Ray head and monitoring hosts the API asks.")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None,
              help="The orchestrator's state directory (default: deploy-master.py's for the inventory).")
@click.option("--token-file", type=click.Path(path_type=Path), default=None,
              help="The API's bearer token (default ~/.raydeploy/api/token; generated 0600 on first start).")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Allow browser calls from this origin (repeatable). None by default.")
@click.option("--ray-dashboard", default=None, metavar="URL",
              help="Ray dashboard URL (default: the head's, port 8265).")
@click.option("--ray-token-file", type=click.Path(path_type=Path), default=None,
              help="Ray's auth token (default INVENTORY_DIR/.secrets/ray_auth_token).")
@click.option("--prometheus", default=None, metavar="URL",
              help="Prometheus URL (default: first monitoring host).")
@click.option("--grafana", default=None, metavar="URL", help="Grafana URL (default: first monitoring host).")
@click.option("--max-body", default=64 * 1024, show_default=True,
              type=click.IntRange(1024, 16 * 1024 * 1024),
              help="Largest request body in bytes; larger ones get 413.")
@click.option("--auth-max-failures", default=10, show_default=True, type=click.IntRange(1, 10000),
              help="Failed token attempts from one client address within --auth-window that lock it out "
                   "(429, even with the right token) for --auth-window seconds.")
@click.option("--auth-window", default=60.0, show_default=True, type=click.FloatRange(1, 86400),
              help="Seconds over which failed token attempts are counted, and how long a lock-out lasts.")
@click.option("--approval-timeout", default=1800.0, show_default=True, type=float,
              help="How long runs started over REST wait at an approval gate.")
@click.option("--upstream-cache-ttl", default=2.0, show_default=True, type=click.FloatRange(0, 300),
              help="Seconds an answer from Ray's dashboard, Prometheus or Grafana is reused.")
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 256),
              help="Worker threads of the WSGI server (waitress).")
def api(host: str, port: int, inventory: Path | None, state_dir: Path | None, token_file: Path | None,
        cors_origins: tuple[str, ...], ray_dashboard: str | None, ray_token_file: Path | None,
        prometheus: str | None, grafana: str | None, max_body: int, auth_max_failures: int,
        auth_window: float, approval_timeout: float,
        upstream_cache_ttl: float, threads: int) -> None:
    """Serve the REST API and the approval web page (seed 001's port 8000)."""
    import waitress

    from raydeploy.api import create_app

    inv = resolve_inventory(inventory) if inventory or not state_dir else None
    app = create_app({
        "STATE_DIR": str(resolve_state_dir(state_dir, inv)), "INVENTORY": str(inv) if inv else None,
        "API_TOKEN_FILE": str(token_file) if token_file else None, "CORS_ORIGINS": list(cors_origins),
        "RAY_DASHBOARD_URL": ray_dashboard, "RAY_TOKEN_FILE": str(ray_token_file) if ray_token_file else None,
        "PROMETHEUS_URL": prometheus, "GRAFANA_URL": grafana, "MAX_CONTENT_LENGTH": max_body,
        "AUTH_MAX_FAILURES": auth_max_failures, "AUTH_WINDOW": auth_window,
        "APPROVAL_TIMEOUT": approval_timeout, "UPSTREAM_CACHE_TTL": upstream_cache_ttl,
    })
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        click.echo(f"warning: binding {host}: the API is reachable from the network; it still needs the "
                   "token, but serves plain HTTP: put a TLS proxy in front of it", err=True)
    ctx = app.extensions["raydeploy"]
    click.echo(f"raydeploy API on http://{host}:{port}/  (web page at /, probe at /healthz)", err=True)
    click.echo(f"token file: {app.config['API_TOKEN_FILE']}  state: {ctx.state.root}", err=True)
    click.echo(f"ray dashboard: {ctx.upstream.ray.url or '-'}  "
               f"prometheus: {ctx.upstream.prometheus.url or '-'}", err=True)
    waitress.serve(app, host=host, port=port, threads=threads, ident="raydeploy",
                   # waitress buffers a body before the app sees it: bodies over --max-body get the
                   # app's JSON 413; waitress itself refuses (plain 413) only far beyond it.
                   max_request_body_size=max_body + 16 * 1024 * 1024, connection_limit=1000,
                   channel_timeout=60)
