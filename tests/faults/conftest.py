"""Fault tests record what they saw, and the session writes it as the README's fault table."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


@dataclass
class FaultRow:
    fault: str
    expected: str
    observed: str
    recover_s: float | None
    test: str
    measured: str = ""


class FaultLog:
    def __init__(self) -> None:
        self.rows: list[FaultRow] = []

    def record(self, request: pytest.FixtureRequest, fault: str, expected: str, observed: str,
               recover_s: float | None = None) -> None:
        self.rows.append(FaultRow(fault, expected, observed,
                                  None if recover_s is None else round(recover_s, 1),
                                  request.node.nodeid, _now()))

    def write(self) -> None:
        if not self.rows:
            return
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "faults.json"
        # A run of some of the tests (-k) replaces their rows and keeps the others'; each row
        # says when it was measured.
        ran = {r.test for r in self.rows}
        names = {f.name for f in fields(FaultRow)}
        earlier = json.loads(path.read_text())["rows"] if path.exists() else []
        kept = [FaultRow(**{k: v for k, v in row.items() if k in names})
                for row in earlier if row["test"] not in ran]
        rows = sorted(kept + self.rows, key=lambda r: r.test)
        stamp = _now()
        path.write_text(json.dumps({"written": stamp, "rows": [asdict(r) for r in rows]},
                                   indent=2) + "\n")
        lines = [f"# Faults on sandbox hosts (`bash scripts/faults.sh`, written {stamp})", "",
                 "| fault | expected | observed | time to recover | measured |",
                 "|---|---|---|---|---|"]
        for r in rows:
            took = "–" if r.recover_s is None else f"{r.recover_s} s"
            lines.append(f"| {r.fault} | {r.expected} | {r.observed} | {took} | {r.measured} |")
        (RESULTS / "faults.md").write_text("\n".join(lines) + "\n")


_LOG = FaultLog()


@pytest.fixture(scope="session")
def fault_log() -> FaultLog:
    return _LOG


def pytest_sessionfinish(session, exitstatus):
    _LOG.write()
