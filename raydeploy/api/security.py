"""Who may call the API and what a request may carry: bearer token, size limit, body checks.

- One bearer token, generated on first start (64 hex, `secrets.token_hex`), stored 0600, and
  compared with `hmac.compare_digest` (constant time). Every route needs it except the routes
  in OPEN_PATHS (the health probe and the web page's static files, which hold no data).
- Failed token attempts are limited per client address (AuthLimiter): after AUTH_MAX_FAILURES
  401s within AUTH_WINDOW seconds the client gets 429 with Retry-After, even with the right
  token, for AUTH_WINDOW seconds. Each failure is logged (address, method, path, never the
  token); each lock-out is logged and written to the audit log (`api_auth_locked`).
- Bodies larger than MAX_CONTENT_LENGTH are refused with 413 before anything reads them.
- A request body must be JSON: a POST with a body and a Content-Type other than
  application/json (or a +json type) gets 415; no Content-Type with a body too.
- Errors are JSON: {"error": {"status": 400, "message": "...", "field": "reason"}}.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from raydeploy.deploy.store import atomic_write

log = logging.getLogger("raydeploy.api.security")

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


def shown(text: str, limit: int = 80) -> str:
    """A client's string for an error message: quoted (repr escapes newlines, NUL and control
    characters) and cut to `limit` characters, so a long name is not echoed back in full."""
    return repr(text[:limit]) + (f" (cut; {len(text)} characters)" if len(text) > limit else "")


def caller() -> str:
    """Who is calling, for the audit log: the token's short id and the client address."""
    return f"{g.get('token_id', 'anonymous')}@{request.remote_addr or '?'}"


# -- failed token attempts per client ------------------------------------------------------------
class AuthLimiter:
    """Failed token attempts per client address, thread-safe and bounded.

    `failed(client)` records a 401; the `max_failures`-th within `window` seconds locks the client
    out for `window` seconds (`locked(client)` gives the seconds left). Successful requests are
    not counted, and a request refused while locked out is not a token attempt, so it does not
    extend the lock. At most `max_clients` addresses are tracked; the least recently seen one
    is forgotten first."""

    def __init__(self, max_failures: int = 10, window: float = 60.0, max_clients: int = 10000,
                 clock: Callable[[], float] = time.monotonic):
        if max_failures < 1 or window <= 0 or max_clients < 1:
            raise ValueError("AuthLimiter needs max_failures >= 1, window > 0 and max_clients >= 1")
        self.max_failures, self.window, self.max_clients = max_failures, window, max_clients
        self.clock = clock
        self._lock = threading.Lock()
        # client -> [failure times within the window], locked until (0: not locked)
        self._clients: OrderedDict[str, tuple[list[float], float]] = OrderedDict()

    def locked(self, client: str) -> float:
        """Seconds until `client` may try again (0: it may)."""
        with self._lock:
            entry = self._clients.get(client)
            if entry is None:
                return 0.0
            now = self.clock()
            left = entry[1] - now
            if left > 0:
                return left
            if not [t for t in entry[0] if now - t < self.window]:
                del self._clients[client]  # nothing left to remember
            return 0.0

    def failed(self, client: str) -> bool:
        """Record a failed attempt; True when it locks the client out."""
        with self._lock:
            now = self.clock()
            times, until = self._clients.pop(client, ([], 0.0))
            times = [t for t in times if now - t < self.window] + [now]
            if len(times) >= self.max_failures:
                times, until = [], now + self.window
            self._clients[client] = (times, until)  # (re)inserted last: the most recent
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
            return until > now and not times

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)


def _client() -> str:
    # The TCP peer only: X-Forwarded-For is the client's to write. Behind a proxy every
    # client is the proxy's address (see the README).
    return request.remote_addr or "?"


def _check_request() -> Any:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        return _json_error(413, f"request body over {limit} bytes")
    path = request.path
    if path in OPEN_PATHS or path in OPEN_EXACT_PAGES or path.startswith(OPEN_PREFIXES):
        return None
    if request.method == "OPTIONS":
        return None  # CORS preflight carries no credentials; flask-cors answers it
    limiter: AuthLimiter = current_app.extensions["raydeploy_auth"]
    client = _client()
    wait = limiter.locked(client)
    if wait > 0:
        return _locked_out(wait)
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    expected = current_app.config["API_TOKEN"]
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return _auth_failed(limiter, client, "no Authorization header" if not header
                            else "not a Bearer token" if scheme.lower() != "bearer" else "wrong token")
    g.token_id = token_id(expected)
    return None


def _auth_failed(limiter: AuthLimiter, client: str, why: str):
    locked = limiter.failed(client)
    counters = current_app.extensions["raydeploy_auth_metrics"]
    counters["failures"].inc()
    # %r: the path is the client's text (it may hold newlines); the token is never logged.
    log.warning("API auth failure from %s: %s (%s %r)", client, why, request.method, request.path)
    if locked:
        counters["lockouts"].inc()
        log.warning("API auth: %s locked out for %gs after %d failed token attempts",
                    client, limiter.window, limiter.max_failures)
        state = current_app.extensions["raydeploy"].state
        state.audit("api_auth_locked", who="raydeploy", client=client, failures=limiter.max_failures,
                    window_s=limiter.window)
    resp = _json_error(401, "missing or wrong bearer token: send 'Authorization: Bearer TOKEN' "
                            "(the token is in the API's token file)")
    resp.headers["WWW-Authenticate"] = 'Bearer realm="raydeploy"'
    return resp


def _locked_out(wait: float):
    seconds = max(1, math.ceil(wait))
    resp = _json_error(429, f"too many failed token attempts from this address: try again in {seconds} s")
    resp.headers["Retry-After"] = str(seconds)
    return resp


def _json_error(code: int, message: str, field: str | None = None):
    resp = jsonify(error_body(code, message, field))
    resp.status_code = code
    return resp


def _handle_http(exc: HTTPException):
    code = exc.code or 500
    message = exc.description or exc.name
    if code == 404 and request.url_rule is None:
        # no route matched: say so without echoing the path (a %2F in a name is a '/')
        message = ("no such endpoint: see api-interface/rest-api-spec.yaml (a checkpoint, node or run "
                   "name never contains '/')")
    if code == 413:
        message = f"request body over {current_app.config['MAX_CONTENT_LENGTH']} bytes"
    resp = _json_error(code, message, getattr(exc, "field", None))
    if code == 405 and exc.get_response().headers.get("Allow"):
        resp.headers["Allow"] = exc.get_response().headers["Allow"]
    return resp


def _handle_unexpected(exc: Exception):
    # A bug is a JSON 500 that says nothing of the request or the traceback (which is logged).
    log.exception("unhandled error in %s %r", request.method, request.path)
    return _json_error(500, "internal error (logged by the API)")


def install(app: Flask) -> None:
    app.extensions["raydeploy_auth"] = AuthLimiter(int(app.config["AUTH_MAX_FAILURES"]),
                                                   float(app.config["AUTH_WINDOW"]),
                                                   int(app.config["AUTH_MAX_CLIENTS"]))
    app.before_request(_check_request)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(Exception, _handle_unexpected)


# -- request bodies ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    kind: type
    required: bool = False
    max_length: int = 0
    minimum: float | None = None
    maximum: float | None = None


def json_body(fields: dict[str, Field], allow_empty: bool = False) -> dict[str, Any]:
    """The request's JSON object checked against `fields`; ApiError(400) naming the field.

    A body must come as application/json (or a +json type): any other Content-Type, or none,
    is 415 — a form or a multipart upload is refused before it is parsed."""
    raw = request.get_data(cache=True)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(raw) >= limit:
        # A body without Content-Length (chunked) is cut at the limit by Werkzeug, silently:
        # reaching it means there was more.
        raise ApiError(413, f"request body over {limit} bytes")
    if raw and not is_json(request.mimetype):
        given = request.mimetype or "none"
        raise ApiError(415, f"the body must be JSON: send 'Content-Type: application/json' "
                            f"(got {shown(given)})", "body")
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
            raise ApiError(400, f"unknown field {shown(name)}; accepted: {', '.join(sorted(fields))}",
                           name[:80])
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


def is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/")
                                              and mimetype.endswith("+json"))


def _type_name(kind: type) -> str:
    return {str: "string", bool: "boolean", float: "number", int: "integer"}.get(kind, kind.__name__)
