"""A stand-in for a Ray head's dashboard API and Prometheus, for API tests and the benchmark.

It answers the calls raydeploy.api makes (`/api/v0/nodes`, `/api/gcs_healthz`,
`/api/v1/targets`, Grafana's `/api/search`) in the shapes Ray 2.60 and Prometheus 2.x use,
and like a token-secured Ray head it answers 401 without the right bearer token.

    python tests/api_stub.py PORT TOKEN    # serve until killed (the benchmark does this)
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NODES = [
    {"node_id": "a" * 56, "node_ip": "10.9.0.2", "is_head_node": True, "state": "ALIVE",
     "state_message": None, "node_name": "10.9.0.2",
     "resources_total": {"CPU": 2.0, "memory": 4.0e9, "object_store_memory": 1.0e9},
     "labels": {}, "start_time_ms": 1700000000000},
    {"node_id": "b" * 56, "node_ip": "10.9.0.3", "is_head_node": False, "state": "ALIVE",
     "state_message": None, "node_name": "10.9.0.3",
     "resources_total": {"CPU": 2.0, "memory": 4.0e9}, "labels": {},
     "start_time_ms": 1700000001000},
]
TARGETS = [
    {"labels": {"job": "node", "instance": "10.9.0.2:9100"}, "health": "up", "lastError": "",
     "lastScrape": "2026-01-01T00:00:00Z", "scrapePool": "node"},
    {"labels": {"job": "ray", "instance": "10.9.0.3:8080"}, "health": "down",
     "lastError": "connection refused", "lastScrape": "2026-01-01T00:00:00Z", "scrapePool": "ray"},
]


def make_handler(token: str):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            secured = path.startswith("/api/v0/") or path == "/api/gcs_healthz"
            if secured and self.headers.get("Authorization") != f"Bearer {token}":
                self._send(401, b'{"error": "unauthorized"}')
                return
            if path == "/api/v0/nodes":
                body = {"result": True, "msg": "", "data": {"result": {"total": len(NODES), "result": NODES}}}
                self._send(200, json.dumps(body).encode())
            elif path == "/api/gcs_healthz":
                self._send(200, b"success", "application/text")
            elif path == "/api/v1/targets":
                body = {"status": "success", "data": {"activeTargets": TARGETS}}
                self._send(200, json.dumps(body).encode())
            elif path == "/api/search":
                self._send(200, json.dumps([{"uid": "n1", "title": "Nodes", "folderTitle": "raydeploy",
                                             "url": "/d/n1/nodes"}]).encode())
            else:
                self._send(404, b"{}")

    return Handler


def start(token: str, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(token))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), make_handler(sys.argv[2]))
    srv.serve_forever()
