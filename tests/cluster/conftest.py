"""Losing brokers of the three-broker cluster (`make test-cluster`, KAFKA_BROKERS=3).

The tests record their figures as the fault-injection suite does (tests/reliability/conftest.py:
``.local/reliability/<test>.json``); they refuse to run on a single broker, where there is no
leader to move, rather than pass without having lost anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.platform.settings import Settings
from tests.cluster.support import Cluster
from tests.reliability.conftest import figures, pytest_runtest_makereport

__all__ = ["cluster", "figures", "pytest_runtest_makereport"]


@pytest.fixture
def cluster(settings: Settings) -> Iterator[Cluster]:
    """This checkout's three brokers; every one of them runs again after the test."""
    nodes = Cluster.from_environment(settings)
    nodes.check_ours()
    try:
        yield nodes
    finally:
        nodes.start_all()
