"""Hostile input against the API (Flask's test client): brute force on the token (a limit on
failed attempts per client address), path traversal and shell metacharacters in names and
approval fields, oversized bodies, wrong content types, and decisions made twice."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import pytest

from raydeploy.api import create_app
from raydeploy.api.security import AuthLimiter
from tests.unit.api.conftest import request_approval

SEED_BODY = {"approved_by": "admin", "reason": "Planned maintenance", "acknowledge_risks": True}
ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
OTHER = {"REMOTE_ADDR": "198.51.100.7"}


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under the state directory with a hash of its content."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _limited_app(api_paths, **config):
    return create_app({"TESTING": True, "STATE_DIR": str(api_paths["state"]),
                       "API_TOKEN_FILE": str(api_paths["token"]), **config})


# -- a limit on failed token attempts per client --------------------------------------------------
def test_tenth_failure_locks_the_client_out_even_with_the_right_token(app, client, auth, caplog):
    caplog.set_level(logging.WARNING, "raydeploy.api.security")
    for i in range(9):
        assert client.get("/api/v1/checkpoints", headers={"Authorization": f"Bearer guess{i}"},
                          environ_base=ATTACKER).status_code == 401
    # nine failures: the right token still works, and a success does not count
    assert client.get("/api/v1/checkpoints", headers=auth, environ_base=ATTACKER).status_code == 200
    assert client.get("/api/v1/checkpoints", headers={"Authorization": "Bearer guess9"},
                      environ_base=ATTACKER).status_code == 401
    locked = client.get("/api/v1/checkpoints", headers=auth, environ_base=ATTACKER)
    assert locked.status_code == 429
    err = locked.json["error"]
    assert err["status"] == 429 and "failed token attempts" in err["message"]
    assert set(locked.json) == {"error"}
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    # other clients are not affected; the open probe stays open for the locked-out one
    assert client.get("/api/v1/checkpoints", headers=auth, environ_base=OTHER).status_code == 200
    assert client.get("/healthz", environ_base=ATTACKER).status_code == 200
    # each failure logged with the address and never the token; the lock-out logged and audited
    failures = [r.getMessage() for r in caplog.records if "auth failure" in r.getMessage()]
    assert len(failures) == 10 and all("203.0.113.9" in m for m in failures)
    assert any("locked out" in r.getMessage() and "203.0.113.9" in r.getMessage() for r in caplog.records)
    assert not any(auth["Authorization"].split()[1] in r.getMessage() for r in caplog.records)
    audit = [e for e in app.extensions["raydeploy"].state.audit_entries() if e["event"] == "api_auth_locked"]
    assert len(audit) == 1 and audit[0]["client"] == "203.0.113.9" and audit[0]["failures"] == 10
    text = client.get("/metrics", headers=auth, environ_base=OTHER).data.decode()
    assert "raydeploy_api_auth_failures_total 10.0" in text
    assert "raydeploy_api_auth_lockouts_total 1.0" in text


def test_lock_out_ends_after_the_window(api_paths):
    app = _limited_app(api_paths, AUTH_MAX_FAILURES=3, AUTH_WINDOW=60.0)
    limiter: AuthLimiter = app.extensions["raydeploy_auth"]
    now = [1000.0]
    limiter.clock = lambda: now[0]
    client, auth = app.test_client(), {"Authorization": f"Bearer {app.config['API_TOKEN']}"}
    for _ in range(3):
        assert client.get("/api/v1/runs", environ_base=ATTACKER).status_code == 401
    now[0] += 30
    resp = client.get("/api/v1/runs", headers=auth, environ_base=ATTACKER)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"
    # refused while locked out is not a token attempt: it does not extend the lock
    for _ in range(5):
        client.get("/api/v1/runs", environ_base=ATTACKER)
    now[0] += 30.5
    assert client.get("/api/v1/runs", headers=auth, environ_base=ATTACKER).status_code == 200


def test_failures_outside_the_window_do_not_add_up():
    now = [0.0]
    limiter = AuthLimiter(max_failures=3, window=10, clock=lambda: now[0])
    for _ in range(10):
        assert limiter.failed("c") is False
        now[0] += 6  # never three within 10 s
    assert limiter.locked("c") == 0
    assert limiter.failed("c") is False and limiter.failed("c") is True
    assert limiter.locked("c") == 10


def test_tracked_clients_are_bounded_oldest_forgotten_first():
    limiter = AuthLimiter(max_failures=2, window=60, max_clients=100)
    limiter.failed("first")
    limiter.failed("first")
    assert limiter.locked("first") > 0
    for i in range(100):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100
    assert limiter.locked("first") == 0


def test_limiter_is_thread_safe():
    limiter = AuthLimiter(max_failures=1000, window=60, max_clients=50)
    locks: list[bool] = []

    def hammer(n: int) -> None:
        for i in range(500):
            locks.append(limiter.failed(f"c{(n * 500 + i) % 80}"))
            limiter.locked(f"c{i % 80}")
        locks.append(limiter.failed("shared"))

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(limiter) <= 50
    one = AuthLimiter(max_failures=160, window=60)
    results: list[bool] = []
    workers = [threading.Thread(target=lambda: results.extend(one.failed("x") for _ in range(10)))
               for _ in range(16)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert results.count(True) == 1 and one.locked("x") > 0


def test_limits_are_settings(api_paths):
    app = _limited_app(api_paths, AUTH_MAX_FAILURES=2, AUTH_WINDOW=5.0)
    client = app.test_client()
    codes = [client.get("/api/v1/runs", environ_base=ATTACKER).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    assert int(client.get("/api/v1/runs", environ_base=ATTACKER).headers["Retry-After"]) <= 5


def test_cli_has_the_auth_flags():
    from click.testing import CliRunner

    from raydeploy.cli import cli

    out = CliRunner().invoke(cli, ["api", "--help"])
    assert out.exit_code == 0
    assert "--auth-max-failures" in out.output and "--auth-window" in out.output


# -- path traversal, shell metacharacters, long strings in names ----------------------------------
HOSTILE_NAMES = [
    "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%252F..%252Fetc", "..",
    "%2e%2e", "cleanup-existing%2F..%2F..%2Fapproved", "x%3B%20rm%20-rf%20%2F", "%24%28id%29",
    "%60id%60", "a%7Cb", "a%26%26b", "a%0Ab", "a%0D%0AX-Injected:%201", "a%00b", "<script>alert(1)</script>",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "cleanup-existing%20", "CLEANUP-EXISTING", "x" * 5000,
]
ROUTES = [("get", "/api/v1/checkpoints/{}"), ("post", "/api/v1/checkpoints/{}"),
          ("get", "/api/v1/approvals/{}"), ("post", "/api/v1/approvals/{}"),
          ("post", "/api/v1/approvals/{}/deny"), ("get", "/api/v1/runs/{}"), ("get", "/api/v1/nodes/{}")]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: n[:40])
@pytest.mark.parametrize("method,route", ROUTES, ids=lambda r: r if isinstance(r, str) else "")
def test_hostile_names_are_404_and_change_nothing(app, client, auth, api_paths, name, method, route):
    request_approval(app, "cleanup-existing")
    before = _snapshot(api_paths["state"])
    body = {"approved_by": "admin", "reason": "r", "acknowledge_risks": True, "denied_by": "x"}
    if route.endswith("/deny"):
        body = {"denied_by": "admin", "reason": "r"}
    elif "checkpoints" in route:
        body = {}
    resp = getattr(client, method)(route.format(name), headers=auth,
                                   json=body if method == "post" else None)
    assert resp.status_code in (400, 404, 405), (resp.status_code, resp.data[:200])
    assert resp.content_type == "application/json"
    err = resp.json["error"]
    assert err["status"] == resp.status_code and err["message"]
    assert len(resp.data) < 2000, "the message echoes a long name in full"
    assert b"<script" not in resp.data
    assert _snapshot(api_paths["state"]) == before
    assert app.extensions["raydeploy"].approvals.get("cleanup-existing").state == "pending"
    assert app.extensions["raydeploy"].runs.started == []


def test_404_names_the_problem(client, auth):
    resp = client.get("/api/v1/checkpoints/..%2F..%2Fetc%2Fpasswd", headers=auth)
    assert resp.status_code == 404
    resp = client.get("/api/v1/checkpoints/%24%28id%29", headers=auth)
    assert resp.status_code == 404 and "unknown checkpoint" in resp.json["error"]["message"]
    resp = client.get("/api/v1/runs/%3B%20rm%20-rf%20%2F", headers=auth)
    assert resp.status_code == 404 and "no such endpoint" in resp.json["error"]["message"]
    assert "rm -rf" not in resp.json["error"]["message"]
    resp = client.get("/api/v1/runs/%24%28id%29", headers=auth)
    assert resp.status_code == 404 and "no run '$(id)'" in resp.json["error"]["message"]
    resp = client.get("/api/v1/nodes/" + "n" * 5000, headers=auth)
    assert resp.status_code == 404 and "cut; 5000 characters" in resp.json["error"]["message"]


def test_the_page_never_reflects_input(client):
    # the only HTML is the static page; an unknown path is a JSON 404, not an HTML page
    resp = client.get("/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert resp.status_code in (401, 404) and resp.content_type == "application/json"
    page = client.get("/?q=<script>alert(1)</script>")
    assert b"alert(1)" not in page.data


# -- approval fields -------------------------------------------------------------------------------
HOSTILE_TEXT = ["; rm -rf /", "$(id)", "`id`", "a | cat /etc/passwd", "a && reboot", "line1\nline2",
                "nul\x00byte", "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", "\u202eevil"]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_metacharacters_in_approval_fields_are_data(app, client, auth, text):
    """Approver and reason are text for the audit log, never a command or a path: they are kept
    as given, JSON-escaped."""
    request_approval(app)
    resp = client.post("/api/v1/approvals/cleanup-existing", headers=auth,
                       json={"approved_by": text.strip() or "x", "reason": text, "acknowledge_risks": True})
    assert resp.status_code == 200, resp.json
    assert resp.content_type == "application/json"
    audit = app.extensions["raydeploy"].state.audit_entries()
    entry = next(e for e in audit if e["event"] == "approval_granted")
    assert entry["reason"] == text.strip()
    lines = app.extensions["raydeploy"].state.audit_path.read_text().splitlines()
    assert all(line.startswith("{") for line in lines), "a newline in a field split the audit log"


@pytest.mark.parametrize("field,size", [("approved_by", 101), ("reason", 1001), ("approved_by", 60000)])
def test_long_approval_fields_are_400_naming_them(app, client, auth, api_paths, field, size):
    request_approval(app)
    before = _snapshot(api_paths["state"])
    body = {**SEED_BODY, field: "x" * size}
    resp = client.post("/api/v1/approvals/cleanup-existing", headers=auth, json=body)
    assert resp.status_code == 400 and resp.json["error"]["field"] == field
    assert _snapshot(api_paths["state"]) == before


@pytest.mark.parametrize("body", [{"approved_by": "a", "reason": "r", "acknowledge_risks": True,
                                   "../../etc/passwd": 1},
                                  {"approved_by": "a", "reason": "r", "acknowledge_risks": True,
                                   "$(id)": "x"}])
def test_hostile_unknown_fields_are_400(app, client, auth, api_paths, body):
    request_approval(app)
    before = _snapshot(api_paths["state"])
    resp = client.post("/api/v1/approvals/cleanup-existing", headers=auth, json=body)
    assert resp.status_code == 400 and "unknown field" in resp.json["error"]["message"]
    assert _snapshot(api_paths["state"]) == before


@pytest.mark.parametrize("limit", ["; rm -rf /", "$(id)", "`id`", "a|b", "a\nb", "../../etc", "x" * 201])
def test_hostile_limit_patterns_are_400(app, client, auth, api_paths, limit):
    before = _snapshot(api_paths["state"])
    resp = client.post("/api/v1/checkpoints/prerequisites-check", headers=auth, json={"limit": limit})
    assert resp.status_code == 400 and resp.json["error"]["field"] == "limit"
    assert app.extensions["raydeploy"].runs.started == []
    assert _snapshot(api_paths["state"]) == before


def test_hostile_query_limit_on_runs_is_400(client, auth):
    # '²' and '５' pass str.isdigit(); int('²') raised (a 500 found by schemathesis)
    for value in ["$(id)", "-1", "1e9", "../", "99999999999999999999", "²", "５", "1_0", " 5", "0x10"]:
        resp = client.get("/api/v1/runs", query_string={"limit": value}, headers=auth)
        assert resp.status_code == 400 and resp.json["error"]["field"] == "limit"


def test_invalid_json_and_deep_nesting_are_400(app, client, auth):
    request_approval(app)
    for raw in [b"{", b"\xff\xfe", b'{"approved_by": "a"' + b"]" * 10, b"[" * 5000 + b"]" * 5000,
                b'{"approved_by": ' + b"[" * 5000 + b"]" * 5000 + b"}", b"null", b'"string"', b"1e999999"]:
        resp = client.post("/api/v1/approvals/cleanup-existing", data=raw, headers=auth,
                           content_type="application/json")
        assert resp.status_code == 400, (raw[:20], resp.status_code)
        assert resp.json["error"]["status"] == 400


# -- bodies: size and content type -----------------------------------------------------------------
POSTS = ["/api/v1/checkpoints/prerequisites-check", "/api/v1/approvals/cleanup-existing",
         "/api/v1/approvals/cleanup-existing/deny"]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("streamed", [False, True])
def test_2mb_bodies_are_413_on_every_post(app, client, auth, api_paths, path, streamed):
    request_approval(app)
    before = _snapshot(api_paths["state"])
    big = b'{"reason": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    if streamed:  # no Content-Length: the limit holds on the stream too
        import io

        # (waitress de-chunks and says where the body ends, as wsgi.input_terminated does here)
        resp = client.post(path, input_stream=io.BytesIO(big),
                           headers={**auth, "Transfer-Encoding": "chunked"},
                           content_type="application/json", environ_overrides={"wsgi.input_terminated": True})
    else:
        resp = client.post(path, data=big, headers=auth, content_type="application/json")
    assert resp.status_code == 413 and resp.json["error"]["status"] == 413
    assert _snapshot(api_paths["state"]) == before
    assert app.extensions["raydeploy"].runs.started == []


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=xyz", None, "application/xml",
                                          "text/html"])
def test_wrong_content_type_is_415(app, client, auth, api_paths, path, content_type):
    request_approval(app)
    before = _snapshot(api_paths["state"])
    if content_type and content_type.startswith("multipart"):
        data = (b'--xyz\r\nContent-Disposition: form-data; name="approved_by"\r\n\r\nadmin\r\n--xyz--\r\n')
    elif content_type and "urlencoded" in content_type:
        data = b"approved_by=admin&reason=r&acknowledge_risks=true"
    else:
        data = b'{"approved_by": "admin", "reason": "r", "acknowledge_risks": true}'
    headers = dict(auth)
    environ = {} if content_type else {"CONTENT_TYPE": ""}
    resp = client.post(path, data=data, headers=headers, content_type=content_type, environ_overrides=environ)
    assert resp.status_code == 415, (resp.status_code, resp.json)
    assert resp.json["error"]["status"] == 415
    assert "application/json" in resp.json["error"]["message"]
    assert _snapshot(api_paths["state"]) == before
    assert app.extensions["raydeploy"].approvals.get("cleanup-existing").state == "pending"
    assert app.extensions["raydeploy"].runs.started == []


def test_json_with_charset_and_plus_json_are_accepted(app, client, auth):
    request_approval(app)
    resp = client.post("/api/v1/approvals/cleanup-existing", headers=auth,
                       data=b'{"approved_by": "a", "reason": "r", "acknowledge_risks": true}',
                       content_type="application/json; charset=utf-8")
    assert resp.status_code == 200
    resp = client.post("/api/v1/checkpoints/prerequisites-check", headers=auth, data=b"{}",
                       content_type="application/merge-patch+json")
    assert resp.status_code == 202


def test_start_without_a_body_needs_no_content_type(app, client, auth):
    assert client.post("/api/v1/checkpoints/prerequisites-check", headers=auth).status_code == 202


# -- decisions made twice ---------------------------------------------------------------------------
@pytest.mark.parametrize("first,second", [("approve", "approve"), ("approve", "deny"), ("deny", "deny"),
                                          ("deny", "approve")])
def test_deciding_twice_is_409_and_audited(app, client, auth, first, second):
    request_approval(app)
    bodies = {"approve": ("/api/v1/approvals/cleanup-existing", SEED_BODY),
              "deny": ("/api/v1/approvals/cleanup-existing/deny", {"denied_by": "eve", "reason": "again"})}
    path, body = bodies[first]
    assert client.post(path, headers=auth, json=body).status_code == 200
    path, body = bodies[second]
    resp = client.post(path, headers=auth, json=body, environ_base=OTHER)
    assert resp.status_code == 409 and resp.json["error"]["status"] == 409
    state = app.extensions["raydeploy"].approvals.get("cleanup-existing").state
    assert state == ("approved" if first == "approve" else "denied")
    refused = [e for e in app.extensions["raydeploy"].state.audit_entries()
               if e["event"] == "approval_decision_refused"]
    assert len(refused) == 1
    assert refused[0]["action"] == second and refused[0]["checkpoint"] == "cleanup-existing"
    assert refused[0]["who"] == body.get("approved_by", body.get("denied_by"))
    assert refused[0]["caller"].startswith("token:") and refused[0]["caller"].endswith("@198.51.100.7")
    assert refused[0]["reason"]
    text = client.get("/metrics", headers=auth).data.decode()
    assert 'raydeploy_approval_decision_refused' not in text
    assert 'raydeploy_approval_decisions_total{decision="decision_refused"} 1.0' in text


def test_concurrent_double_approval_grants_once(app, auth):
    request_approval(app)
    results: list[int] = []

    def approve() -> None:
        results.append(app.test_client().post("/api/v1/approvals/cleanup-existing", headers=auth,
                                              json=SEED_BODY).status_code)

    threads = [threading.Thread(target=approve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [409] * 7
    events = [e["event"] for e in app.extensions["raydeploy"].state.audit_entries()]
    assert events.count("approval_granted") == 1 and events.count("approval_decision_refused") == 7


def test_approving_nothing_pending_is_409_and_audited(app, client, auth):
    resp = client.post("/api/v1/approvals/cleanup-existing", headers=auth, json=SEED_BODY)
    assert resp.status_code == 409
    events = [e["event"] for e in app.extensions["raydeploy"].state.audit_entries()]
    assert "approval_decision_refused" in events


def test_an_unexpected_error_is_a_json_500_without_details(api_paths, monkeypatch):
    app = _limited_app(api_paths)
    app.testing = False  # as served: the error handler answers instead of pytest seeing the raise

    def broken(*a, **kw):
        raise RuntimeError("secret detail /etc/shadow")

    monkeypatch.setattr(app.extensions["raydeploy"].runs, "list", broken)
    auth = {"Authorization": f"Bearer {app.config['API_TOKEN']}"}
    resp = app.test_client().get("/api/v1/runs", headers=auth)
    assert resp.status_code == 500
    assert resp.json == {"error": {"status": 500, "message": "internal error (logged by the API)"}}
