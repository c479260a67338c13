"""The web page (plain HTML and JavaScript, no build step) and the open health probe."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("web", __name__)


@bp.get("/")
def index():
    # The page holds no data: it asks for the token and calls the API with it.
    return current_app.send_static_file("index.html")


@bp.get("/healthz")
def healthz():
    """The one open probe: says the API process answers, nothing about the cluster."""
    return jsonify({"status": "ok"})
