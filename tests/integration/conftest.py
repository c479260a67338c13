"""Fixtures for the end-to-end tests in this folder."""

from __future__ import annotations

import os

import pytest

from tests.conftest import make_cluster, run_cli


@pytest.fixture(scope="session")
def inj_cluster():
    """Two bare sandbox hosts (`inj`) shared by the disk-refusal and hostile-input tests."""
    cluster = make_cluster("inj", 2)
    yield cluster
    if not os.environ.get("RAYDEPLOY_KEEP_SANDBOX"):
        run_cli("sandbox", "down", "--name", "inj")
