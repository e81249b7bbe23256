"""The CLI's log lines on a terminal are for a person: what happened and its details, no
timestamp or logger name; a warning says it is one. Elsewhere (a pipe, CI, the services)
they stay JSON lines, whole."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from services.platform.logging import configure_logging
from services.platform.settings import Settings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def logged(log_format: str, *, for_a_person: bool) -> str:
    stream = io.StringIO()
    configure_logging(Settings(log_format=log_format), stream=stream, for_a_person=for_a_person)
    log = structlog.get_logger("services.platform.migrations")
    log.info("migrations applied at start", versions=["letters/0001"])
    log.warning("lag stuck", partition=3)
    return stream.getvalue()


def test_a_person_reads_brief_lines() -> None:
    lines = logged("console", for_a_person=True).splitlines()
    assert lines == [
        "migrations applied at start versions=['letters/0001']",
        "[warning] lag stuck partition=3",
    ]


def test_a_service_keeps_timestamps_and_logger_names_on_the_console() -> None:
    first = logged("console", for_a_person=False).splitlines()[0]
    assert "services.platform.migrations" in first and "[info" in first
    assert first[:4].isdigit()  # the ISO timestamp first


def test_json_stays_whole_for_a_person_too() -> None:
    first = json.loads(logged("json", for_a_person=True).splitlines()[0])
    assert first["event"] == "migrations applied at start"
    assert {"timestamp", "level", "logger"} <= set(first)
