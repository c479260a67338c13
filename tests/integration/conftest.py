"""Fixtures for the end-to-end tests in this folder."""

from __future__ import annotations

import json
import time

import pytest

from raydeploy import checkpoints
from tests.conftest import kept_sandbox, run_playbook

MON_SCRAPE_S = 5
MON_SCRAPE = ("-e", json.dumps({"prometheus_scrape_interval": f"{MON_SCRAPE_S}s"}))
CLEANUP_CONFIRMED = ("-e", "raydeploy_cleanup_confirmed=true")
# 01 through 05, from the one registry of checkpoints.
MON_CHECKPOINTS = [str(c.playbook_path) for c in checkpoints.load()
                   if c.number <= checkpoints.get("monitoring-deployment").number]


@pytest.fixture(scope="session")
def inj_cluster():
    """Two bare sandbox hosts (`inj`) shared by the disk-refusal and hostile-input tests."""
    with kept_sandbox("inj", 2) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def mon_cluster():
    """Three sandbox hosts (`mon`) through 01->05, native, Prometheus scraping every 5 s.

    test_monitoring.py uses them first (and adds a 4th host at its end), then test_validate.py,
    which breaks one thing at a time and restores it. One cold 01->05 for both instead of two
    saves ~2.5 min of CI on 2 cores; pytest_collection_modifyitems below keeps the two modules
    next to each other and test_validate.py takes the hosts down when it is done, so their idle
    Ray and Prometheus do not take CPU from the modules after them.
    """
    with kept_sandbox("mon", 3) as cluster:
        started = time.monotonic()
        for playbook in MON_CHECKPOINTS:
            run = run_playbook(cluster.inventory, playbook, *CLEANUP_CONFIRMED, *MON_SCRAPE)
            assert run.rc == 0, f"{playbook} failed:\n{run.output()}"
        print(f"01->05 on 3 hosts: {time.monotonic() - started:.0f} s")
        yield cluster


def _is(item, name: str) -> bool:
    return item.path.name == name and item.path.parent.name == "integration"


def pytest_collection_modifyitems(session, config, items):
    # Run test_validate.py right after test_monitoring.py: they share mon_cluster's hosts.
    validate = [i for i in items if _is(i, "test_validate.py")]
    rest = [i for i in items if not _is(i, "test_validate.py")]
    monitoring = [n for n, i in enumerate(rest) if _is(i, "test_monitoring.py")]
    if validate and monitoring:
        items[:] = rest[: monitoring[-1] + 1] + validate + rest[monitoring[-1] + 1 :]
