"""Who may call the API and what a request may carry: bearer token, size limit, body checks.

- One bearer token, generated on first start (64 hex, `secrets.token_hex`), stored 0600, and
  compared with `hmac.compare_digest` (constant time). Every route needs it except the routes
  in OPEN_PATHS (the health probe and the web page's static files, which hold no data).
- Bodies larger than MAX_CONTENT_LENGTH are refused with 413 before anything reads them.
- Errors are JSON: {"error": {"status": 400, "message": "...", "field": "reason"}}.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from raydeploy.deploy.store import atomic_write

OPEN_PATHS = ("/healthz",)
OPEN_PREFIXES = ("/static/",)
OPEN_EXACT_PAGES = ("/",)


def load_or_create_token(path: Path) -> str:
    """The API token: read it, or generate it on first start (0600, directory 0700)."""
    if path.exists():
        token = path.read_text().strip()
        if len(token) >= 32:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            return token
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_hex(32)
    atomic_write(path, token + "\n", mode=0o600)
    return token


def token_id(token: str) -> str:
    """A short, non-secret name for a token, for the audit log."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:8]


class ApiError(HTTPException):
    """An error answer that may name the offending field."""

    def __init__(self, code: int, message: str, field: str | None = None):
        super().__init__(description=message)
        self.code = code
        self.field = field


def error_body(code: int, message: str, field: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"status": code, "message": message}
    if field:
        err["field"] = field
    return {"error": err}


def caller() -> str:
    """Who is calling, for the audit log: the token's short id and the client address."""
    return f"{g.get('token_id', 'anonymous')}@{request.remote_addr or '?'}"


def _check_request() -> Any:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        return _json_error(413, f"request body over {limit} bytes")
    path = request.path
    if path in OPEN_PATHS or path in OPEN_EXACT_PAGES or path.startswith(OPEN_PREFIXES):
        return None
    if request.method == "OPTIONS":
        return None  # CORS preflight carries no credentials; flask-cors answers it
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    expected = current_app.config["API_TOKEN"]
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        resp = _json_error(401, "missing or wrong bearer token: send 'Authorization: Bearer TOKEN' "
                                "(the token is in the API's token file)")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="raydeploy"'
        return resp
    g.token_id = token_id(expected)
    return None


def _json_error(code: int, message: str, field: str | None = None):
    resp = jsonify(error_body(code, message, field))
    resp.status_code = code
    return resp


def _handle_http(exc: HTTPException):
    code = exc.code or 500
    message = exc.description or exc.name
    if code == 413:
        message = f"request body over {current_app.config['MAX_CONTENT_LENGTH']} bytes"
    resp = _json_error(code, message, getattr(exc, "field", None))
    if code == 405 and exc.get_response().headers.get("Allow"):
        resp.headers["Allow"] = exc.get_response().headers["Allow"]
    return resp


def install(app: Flask) -> None:
    app.before_request(_check_request)
    app.register_error_handler(HTTPException, _handle_http)


# -- request bodies ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    kind: type
    required: bool = False
    max_length: int = 0
    minimum: float | None = None
    maximum: float | None = None


def json_body(fields: dict[str, Field], allow_empty: bool = False) -> dict[str, Any]:
    """The request's JSON object checked against `fields`; ApiError(400) naming the field."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if allow_empty:
            data: Any = {}
        else:
            raise ApiError(400, "a JSON object body is required", "body")
    else:
        try:
            data = request.get_json(force=True, silent=False)
        except Exception:  # noqa: BLE001 - werkzeug raises BadRequest on any parse error
            raise ApiError(400, "the body is not valid JSON", "body") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", "body")
    for name in data:
        if name not in fields:
            raise ApiError(400, f"unknown field {name!r}; accepted: {', '.join(sorted(fields))}", name)
    for name, spec in fields.items():
        if name not in data:
            if spec.required:
                raise ApiError(400, f"{name} is required", name)
            continue
        value = data[name]
        ok = isinstance(value, spec.kind) and not (spec.kind is not bool and isinstance(value, bool))
        if spec.kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            raise ApiError(400, f"{name} must be a {_type_name(spec.kind)}", name)
        if spec.kind is str:
            if not value.strip():
                raise ApiError(400, f"{name} must not be empty", name)
            if spec.max_length and len(value) > spec.max_length:
                raise ApiError(400, f"{name} is longer than {spec.max_length} characters", name)
        if spec.minimum is not None and value < spec.minimum:
            raise ApiError(400, f"{name} must be at least {spec.minimum}", name)
        if spec.maximum is not None and value > spec.maximum:
            raise ApiError(400, f"{name} must be at most {spec.maximum}", name)
    return data


def _type_name(kind: type) -> str:
    return {str: "string", bool: "boolean", float: "number", int: "integer"}.get(kind, kind.__name__)
