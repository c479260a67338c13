"""Fixtures for the end-to-end tests in this folder."""

from __future__ import annotations

import pytest

from tests.conftest import kept_sandbox


@pytest.fixture(scope="session")
def inj_cluster():
    """Two bare sandbox hosts (`inj`) shared by the disk-refusal and hostile-input tests."""
    with kept_sandbox("inj", 2) as cluster:
        yield cluster
