"""Fault injection on the real servers: each test records its figures.

A test asks for ``figures`` (a dict) and fills it in; after the test, pass or fail, they are
written with its outcome and duration to ``.local/reliability/<test>.json`` (or
``$AR_RELIABILITY_RESULTS``). ``python -m tests.reliability.report`` turns the latest run into
docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import REPO

RESULTS = Path(os.environ.get("AR_RELIABILITY_RESULTS") or REPO / ".local" / "reliability")
FIGURES = pytest.StashKey[dict[str, Any]]()


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


@pytest.fixture(scope="session", autouse=True)
def reliability_suite() -> Iterator[None]:
    """The wall time of the reliability tests of this session, for the report."""
    started, at = time.monotonic(), datetime.now(UTC)
    yield
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "started_at": at.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "commit": _commit(),
        "cpus": os.cpu_count(),
    }
    (RESULTS / "suite.json").write_text(json.dumps(summary, indent=2) + "\n")


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> dict[str, Any]:
    """What the test injected and what came of it; saved after the test, pass or fail."""
    recorded: dict[str, Any] = {}
    request.node.stash[FIGURES] = recorded
    return recorded


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and FIGURES in item.stash:
        RESULTS.mkdir(parents=True, exist_ok=True)
        result = {
            "test": item.name,
            "module": Path(str(item.path)).stem,
            "outcome": report.outcome,
            "seconds": round(report.duration, 1),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": _commit(),
            "figures": item.stash[FIGURES],
        }
        if report.failed:
            result["error"] = str(report.longrepr)[-2000:]
        path = RESULTS / f"{item.name.replace('/', '_')}.json"
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return report
