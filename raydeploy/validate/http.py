"""Plain HTTP GETs with short timeouts, many at once; a failure is data, never an exception."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

MAX_BODY = 8 * 2**20
T = TypeVar("T")

# Ray's /api/gcs_healthz gives the GCS 0.1 s to answer (ray.dashboard.modules.reporter.utils), so
# on a busy head one 503 "Deadline Exceeded" says little. Like a Kubernetes probe's
# failureThreshold, the GCS counts as unhealthy only when GCS_PROBES answers in a row say so.
GCS_PROBES = 3
GCS_PROBE_PAUSE = 0.5


@dataclass(frozen=True)
class Request:
    url: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Response:
    url: str
    status: int | None = None  # None: no HTTP answer at all (refused, timeout, unreachable)
    body: str = ""
    error: str | None = None
    elapsed: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def refused(self) -> bool:
        """The host answered with a reset: it is up, nothing listens on the port."""
        return self.status is None and "refused" in (self.error or "").lower()

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        if self.status is None:
            return f"no answer from {self.url} ({self.error})"
        return f"{self.url} answered HTTP {self.status}"


Fetch = Callable[[Request, float], Response]


def fetch(request: Request, timeout: float) -> Response:
    started = time.monotonic()
    req = urllib.request.Request(request.url, headers=dict(request.headers))  # noqa: S310 - http(s) from the inventory
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            body = resp.read(MAX_BODY).decode(errors="replace")
            return Response(request.url, resp.status, body, None, time.monotonic() - started)
    except urllib.error.HTTPError as exc:
        body = exc.read(MAX_BODY).decode(errors="replace") if exc.fp else ""
        return Response(request.url, exc.code, body, str(exc.reason), time.monotonic() - started)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Response(
            request.url, None, "", str(reason) or type(reason).__name__, time.monotonic() - started
        )


def ask_again(
    first: T, again: Callable[[], T], settled: Callable[[T], bool], attempts: int, pause: float
) -> tuple[T, int]:
    """Asks again, `pause` s apart, until an answer is settled or `attempts` answers are in;
    returns the last answer and how many there were. The health report and the REST API both
    probe the GCS this way."""
    answer, n = first, 1
    while not settled(answer) and n < attempts:
        time.sleep(pause)
        answer, n = again(), n + 1
    return answer, n


def fetch_all(
    requests: Mapping[Any, Request],
    timeout: float,
    fetcher: Fetch = fetch,
    pool: ThreadPoolExecutor | None = None,
    workers: int = 64,
) -> dict[Any, Response]:
    """Every request at once; returns key -> Response in the caller's key space."""
    if not requests:
        return {}
    own = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=min(workers, len(requests)))
    try:
        futures = {key: pool.submit(fetcher, req, timeout) for key, req in requests.items()}
        return {key: fut.result() for key, fut in futures.items()}
    finally:
        if own:
            pool.shutdown(wait=False)
