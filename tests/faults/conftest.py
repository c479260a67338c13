"""Fault tests record what they saw, and the session writes it as the README's fault table."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@dataclass
class FaultRow:
    fault: str
    expected: str
    observed: str
    recover_s: float | None
    test: str


class FaultLog:
    def __init__(self) -> None:
        self.rows: list[FaultRow] = []

    def record(self, request: pytest.FixtureRequest, fault: str, expected: str, observed: str,
               recover_s: float | None = None) -> None:
        self.rows.append(FaultRow(fault, expected, observed,
                                  None if recover_s is None else round(recover_s, 1),
                                  request.node.nodeid))

    def write(self) -> None:
        if not self.rows:
            return
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        (RESULTS / "faults.json").write_text(
            json.dumps({"written": stamp, "rows": [asdict(r) for r in self.rows]}, indent=2) + "\n")
        lines = [f"# Faults on sandbox hosts ({stamp}, `bash scripts/faults.sh`)", "",
                 "| fault | expected | observed | time to recover |", "|---|---|---|---|"]
        for r in self.rows:
            took = "–" if r.recover_s is None else f"{r.recover_s} s"
            lines.append(f"| {r.fault} | {r.expected} | {r.observed} | {took} |")
        (RESULTS / "faults.md").write_text("\n".join(lines) + "\n")


_LOG = FaultLog()


@pytest.fixture(scope="session")
def fault_log() -> FaultLog:
    return _LOG


def pytest_sessionfinish(session, exitstatus):
    _LOG.write()
