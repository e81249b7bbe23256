"""A logged exception never prints the local variables of its frames: a password held in a
connection's parameters stays out of the console and of the JSON lines, and out of the
traceback typer prints for a command that fails unexpectedly."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import structlog

from services.platform.logging import configure_logging
from services.platform.settings import Settings

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-do-not-print"


def connect(host: str) -> None:
    parameters = {"host": host, "user": "ar_operator", "password": PASSWORD}
    raise ConnectionError(f"cannot connect to {parameters['host']}")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_logged_exception_does_not_print_the_password_in_its_frame(
    log_format: Literal["console", "json"],
) -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format=log_format), stream=stream)
    try:
        connect("db.example")
    except ConnectionError:
        structlog.get_logger("test").exception("database unreachable")
        logging.getLogger("stdlib").exception("database unreachable (stdlib)")
    printed = stream.getvalue()
    assert "cannot connect to db.example" in printed  # the traceback is there...
    assert "database unreachable (stdlib)" in printed
    assert PASSWORD not in printed  # ...without the frame's locals


def test_typers_traceback_of_a_failing_command_does_not_print_locals() -> None:
    script = (
        "import typer\n"
        "from services.cli.main import app\n"
        "@app.command('boom')\n"
        "def boom() -> None:\n"
        f"    password = {PASSWORD!r}\n"
        "    raise RuntimeError('boom')\n"
        "app(prog_name='annual-review')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "boom"], cwd=REPO, capture_output=True, text=True,
        timeout=60, check=False, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "RuntimeError" in proc.stderr and "boom" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
