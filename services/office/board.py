"""The year board: each financial year's state in one place, read-only.

Every figure comes from the reads the other services already have (the projector's status,
the letters' summary and list, the narrative book, the publication job's closes); nothing is
computed again here. Kafka being away does not take the board down: the parts that need it
(lag, the narrative in force) say they are unknown.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from aiokafka.errors import KafkaError

from contracts.financial_year import FinancialYear
from contracts.topics import FACTS
from services.audit.trail import fold_entries, read_trail
from services.domain import close_proposal
from services.domain.narrative_book import NarrativeBook
from services.letters import operations
from services.letters.narrative_registry import load_book
from services.platform.settings import Settings
from services.projector.lag import end_offsets
from services.publication.job import Close, closes
from services.readmodel.status import PartitionStatus, Status, read_status

log = structlog.get_logger(__name__)
KAFKA_TIMEOUT_S = 10.0


@dataclass(slots=True)
class YearRow:
    year: FinancialYear
    narrative: str  # "version 2 (registered 2026-05-01 by ...)" / "none"
    proofs: str
    closed: str  # "6/6 partitions" / "not closed"
    cuts: dict[str, int] = field(default_factory=dict)
    complete: bool = False
    parked_events: int = 0
    late_events: int = 0
    letters: dict[str, int] = field(default_factory=dict)
    publication: str = "not closed"
    close_review: str = "no proposal"  # the close with four eyes (services/office/closing.py)


@dataclass(slots=True)
class Board:
    read_model_version: str | None
    partitions: list[PartitionStatus]
    kafka_error: str | None
    lag_seconds: float | None
    dead_letters: dict[str, int]
    parked_events: int
    letters_by_state: dict[str, int]
    years: list[YearRow]
    rebuilding: list[int]


async def _kafka_reads(
    settings: Settings,
) -> tuple[dict[int, int] | None, NarrativeBook | None, close_proposal.Trail | None, str | None]:
    try:
        async with asyncio.timeout(KAFKA_TIMEOUT_S):
            ends = await end_offsets(settings)
            book = await load_book(settings)
            trail = close_proposal.fold(fold_entries(await read_trail(settings)))
        return ends, book, trail, None
    except (KafkaError, OSError, TimeoutError) as e:
        log.warning("the year board cannot read Kafka", error=type(e).__name__)
        return None, None, None, f"Kafka is not reachable ({type(e).__name__})"


async def read_board(pool: asyncpg.Pool, settings: Settings) -> Board:
    ends, book, trail, kafka_error = await _kafka_reads(settings)
    async with pool.acquire() as conn:
        status: Status = await read_status(conn, settings.topic(FACTS), ends or {})
        summary = await operations.summary(conn)
        letters = await operations.list_letters(conn)
        year_closes = await closes(conn) if status.version else []
    return build_board(status, summary, letters, year_closes, book, kafka_error, trail)


def build_board(
    status: Status,
    summary: dict[str, Any],
    letters: list[dict[str, Any]],
    year_closes: list[Close],
    book: NarrativeBook | None,
    kafka_error: str | None,
    trail: close_proposal.Trail | None = None,
) -> Board:
    cut_years = {y["start_year"]: y for y in status.years}
    close_of = {c.year.start_year: c for c in year_closes}
    letters_of: dict[int, Counter[str]] = {}
    for row in letters:
        start = FinancialYear.parse(row["financial_year"]).start_year
        letters_of.setdefault(start, Counter())[row["state"]] += 1
    parked_of: Counter[int] = Counter()
    for p in status.parked:
        if p["financial_year"]:
            parked_of[FinancialYear.parse(p["financial_year"]).start_year] += p["events"]
    narrative_years = {y - 1 for y in book.years()} if book else set()
    proposal_years = {p.terms.year.start_year for p in trail.proposals.values()} if trail else set()
    starts = (
        set(cut_years) | set(close_of) | set(letters_of) | set(parked_of) | narrative_years
    ) | proposal_years
    rows = []
    for start in sorted(starts, reverse=True):
        year = FinancialYear(start)
        cut = cut_years.get(start)
        rows.append(
            YearRow(
                year=year,
                narrative=_narrative(book, year),
                proofs="not recorded yet (the CLI makes them: annual-review letters proof)",
                closed=f"{cut['closed_partitions']} partitions cut" if cut else "not closed",
                cuts=dict(cut["cuts"]) if cut else {},
                complete=bool(cut and cut["complete"]),
                parked_events=parked_of.get(start, 0),
                late_events=cut["late_events"] if cut else 0,
                letters=dict(sorted(letters_of.get(start, Counter()).items())),
                publication=_publication(close_of.get(start)),
                close_review=_close_review(trail, year),
            )
        )
    return Board(
        read_model_version=status.version,
        partitions=status.partitions,
        kafka_error=kafka_error,
        lag_seconds=status.lag_seconds if status.partitions else None,
        dead_letters=dict(sorted(status.dead_letters.items())),
        parked_events=sum(p["events"] for p in status.parked),
        letters_by_state=dict(sorted(summary["by_state"].items())),
        years=rows,
        rebuilding=status.rebuilding,
    )


def _narrative(book: NarrativeBook | None, year: FinancialYear) -> str:
    if book is None:
        return "unknown (Kafka is not reachable)"
    v = book.in_force(year.letter_year)
    if v is None:
        return "none registered"
    if v.version == 0:
        return "the one shipped with the project (version 0)"
    when = f", registered {_day(v.registered_at)}" if v.registered_at else ""
    by = f" by {v.registered_by}" if v.registered_by else ""
    return f"version {v.version}{when}{by}"


def _close_review(trail: close_proposal.Trail | None, year: FinancialYear) -> str:
    """The close with four eyes, in a line: a lone close (the CLI) says so first."""
    if trail is None:
        return "unknown (Kafka is not reachable)"
    alone = trail.closed_alone.get(year.start_year)
    if alone is not None:
        return f"closed without a second signature (the CLI, by {alone.actor})"
    signed = trail.signed_off(year)
    if signed is not None:
        return f"signed off by {signed.decided_by}, proposed by {signed.proposer.name}"
    waiting = trail.pending(year)
    if waiting is not None:
        return f"proposed by {waiting.proposer.name}: waiting for an approver's sign-off"
    ended = trail.of_year(year)
    if ended:
        last = ended[-1]
        return f"last proposal {last.state.label}" + (f" ({last.reason})" if last.reason else "")
    return "no proposal"


def _publication(close: Close | None) -> str:
    if close is None:
        return "not closed"
    if close.published_at is not None:
        return f"published {_day(close.published_at)}"
    return f"to be published {_day(close.publishes_at)} (00:00 UK time)"


def _day(moment: datetime) -> str:
    return moment.strftime("%-d %B %Y")
