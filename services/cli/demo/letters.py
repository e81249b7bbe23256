"""Waiting for the year's letters to be sent, then writing them out with Mansfield's
figures: what the demo shows of the letter service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from services.cli.demo.stage import Stage
from services.cli.demo.year import YEAR
from services.cli.progress import Tracker
from services.domain.letter_lifecycle import LetterState
from services.letters import operations, outbox
from services.platform.settings import Settings
from services.projector.config import get_projector_settings
from services.readmodel.council_figures import council_figures
from services.readmodel.letter_reads import snapshot_size

POLL_S = 1.0


@dataclass(frozen=True, slots=True)
class Sent:
    sent: int
    expected: int  # one letter per council in the snapshot; 0 until the snapshot is made


class LettersNotSent(TimeoutError):
    """The letters were not all sent in time, or a service stopped before."""


@asynccontextmanager
async def letter_count(ns: Settings) -> AsyncIterator[Callable[[], Awaitable[Sent | None]]]:
    """A function counting the letters sent and expected, on one connection kept between
    calls (and closed at the end); it answers None while the database cannot be reached or
    its tables are not there yet."""
    conn: asyncpg.Connection | None = None

    async def count() -> Sent | None:
        nonlocal conn
        try:
            if conn is None or conn.is_closed():
                conn = await asyncpg.connect(ns.database_url)
            expected = await snapshot_size(conn, YEAR)
            sent = await outbox.count_in(conn, LetterState.SENT)
        except (OSError, asyncpg.PostgresError):
            return None
        return Sent(int(sent), int(expected or 0))

    try:
        yield count
    finally:
        if conn is not None:
            await conn.close()


async def wait_for_letters(
    count: Callable[[], Awaitable[Sent | None]],
    stage: Stage,
    wait_s: float,
    tracker: Tracker,
    *,
    poll_s: float = POLL_S,
) -> int:
    """Until every letter of the snapshot is sent: the number sent. Raises LettersNotSent
    after ``wait_s`` seconds, or as soon as a service stops."""
    deadline = time.monotonic() + wait_s
    task = tracker.add_task("waiting for the year's snapshot", total=None)
    known = False
    while True:
        stopped = stage.stopped()
        if stopped is not None:
            raise LettersNotSent(
                f"a service stopped (exit {stopped.returncode}) before the letters were sent"
            )
        now = await count()
        if now is not None and now.expected:
            if not known:
                tracker.update(task, description="letters sent", total=now.expected)
                known = True
            tracker.update(task, completed=now.sent)
            if now.sent >= now.expected:
                return now.sent
        if time.monotonic() > deadline:
            raise LettersNotSent(f"the letters were not all sent within {wait_s:.0f} s")
        await asyncio.sleep(poll_s)


@dataclass(frozen=True, slots=True)
class Written:
    files: int  # .txt, .html and .pdf of every letter
    letters: int  # rows in the outbox for the year
    mansfield: dict[str, Any] | None  # Mansfield's figures, as `stats --json` gives them


async def write_letters(ns: Settings, folder: Path, mansfield: str | None) -> Written:
    """Export every letter of the year to ``folder``; Mansfield's figures for the summary."""
    conn = await asyncpg.connect(ns.database_url)
    try:
        files = await operations.export(conn, folder, year=YEAR)
        figures = (
            await council_figures(conn, mansfield, YEAR, get_projector_settings().averaging_rule)
            if mansfield
            else None
        )
        letters = await operations.list_letters(conn, year=YEAR)
    finally:
        await conn.close()
    return Written(len(files), len(letters), figures.as_dict() if figures else None)
