"""Handling a year-end close, on fakes: what is waited for, queued, woken, and when it raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from contracts.codec import encode
from contracts.envelope import new_event
from contracts.events import CouncilRegistered, FinancialYearClosed
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import Signatory
from services.domain.letter_inputs import LetterInputs
from services.domain.letter_lifecycle import LetterState
from services.domain.narrative_book import NarrativeVersion
from services.letters.year_closed import (
    CloseHandling,
    CloseOutcome,
    Handled,
    HoldReasons,
    NewLetter,
    handle_close,
    letters_to_queue,
)

YEAR = FinancialYear(2019)
CLOSED_AT = datetime(2020, 7, 15, 8, 0, tzinfo=UTC)
MAX_AGE = timedelta(days=30)


def close_event(close_id: UUID, occurred_at: datetime = CLOSED_AT) -> bytes:
    close = FinancialYearClosed(
        financial_year=YEAR,
        close_id=close_id,
        partition_count=3,
        letter_date=date(2020, 7, 22),
        publication_date=date(2020, 7, 29),
        signatory=Signatory(name="Michael King", titles=("Ombudsman",)),
    )
    return encode(new_event(close, council=None, producer="test", occurred_at=occurred_at))


def inputs(council: str) -> LetterInputs:
    return LetterInputs(
        council=council, council_name=f"{council} Council", group="district", year=YEAR.label,
        counts={}, population=None, averages={}, group_councils=1, addressee=None,
        letter_date="2020-07-22", publication_date="2020-07-29", signatory={},
    )  # fmt: skip


@dataclass
class World:
    """The database and the dispatcher, as the use case sees them; every call recorded."""

    snapshot_completes: bool = True
    snapshot: list[LetterInputs] = field(default_factory=lambda: [inputs("A"), inputs("B")])
    create_fails: bool = False
    narrative: NarrativeVersion | None = field(
        default_factory=lambda: NarrativeVersion(2020, 3, "2020", "Dear {council_name}.")
    )
    holds: dict[str | None, str] = field(default_factory=dict)
    created: list[LetterInputs] = field(default_factory=list)
    queued: list[NewLetter] = field(default_factory=list)
    calls: list[tuple[object, ...]] = field(default_factory=list)

    async def wait_for_snapshot(self, year_start: int, timeout_s: float) -> bool:
        self.calls.append(("wait", year_start, timeout_s))
        return self.snapshot_completes

    async def snapshot_inputs(self, year: FinancialYear) -> Sequence[LetterInputs]:
        self.calls.append(("inputs", year))
        return self.snapshot

    async def hold_reasons(self, year: FinancialYear) -> HoldReasons:
        return self.holds

    async def create_letters(
        self, close_id: UUID, year: FinancialYear, letters: Sequence[NewLetter]
    ) -> int:
        rows = [letter.inputs for letter in letters]
        self.calls.append(("create", close_id, year, [r.council for r in rows]))
        self.created.extend(rows)
        self.queued.extend(letters)
        if self.create_fails:
            raise ConnectionError("the database went away")
        return len(rows)

    def wake(self) -> None:
        self.calls.append(("wake",))

    async def narrative_for(self, close: FinancialYearClosed) -> NarrativeVersion | None:
        return self.narrative

    def deps(self, now: datetime = CLOSED_AT + timedelta(minutes=1)) -> CloseHandling:
        return CloseHandling(
            wait_for_snapshot=self.wait_for_snapshot,
            snapshot_inputs=self.snapshot_inputs,
            hold_reasons=self.hold_reasons,
            create_letters=self.create_letters,
            narrative_for=self.narrative_for,
            wake_dispatcher=self.wake,
            max_age=MAX_AGE,
            snapshot_wait_s=12.5,
            now=lambda: now,
        )


async def test_a_close_queues_the_snapshots_letters_and_then_wakes_the_dispatcher() -> None:
    world, close_id = World(), uuid4()

    handled = await handle_close(close_event(close_id), world.deps())

    assert handled == Handled(CloseOutcome.QUEUED, 2)
    assert world.calls == [
        ("wait", 2019, 12.5),
        ("inputs", YEAR),
        ("create", close_id, YEAR, ["A", "B"]),
        ("wake",),
    ]


async def test_a_snapshot_that_does_not_complete_raises_so_the_close_is_redelivered() -> None:
    world = World(snapshot_completes=False)

    with pytest.raises(TimeoutError, match=r"2019-20 snapshot did not complete in 12\.5 s"):
        await handle_close(close_event(uuid4()), world.deps())

    assert world.calls == [("wait", 2019, 12.5)]


async def test_a_database_failure_while_queueing_raises_and_wakes_nobody() -> None:
    world = World(create_fails=True)

    with pytest.raises(ConnectionError):
        await handle_close(close_event(uuid4()), world.deps())

    assert ("wake",) not in world.calls
    assert world.calls[-1][0] == "create"


async def test_the_same_close_delivered_twice_asks_to_queue_the_same_letters_twice() -> None:
    # create_letters is idempotent per close and council (outbox.create_for_close): the use
    # case passes the same close id again rather than remembering anything itself.
    world, close_id = World(), uuid4()

    await handle_close(close_event(close_id), world.deps())
    await handle_close(close_event(close_id), world.deps())

    creates = [c for c in world.calls if c[0] == "create"]
    assert creates == [("create", close_id, YEAR, ["A", "B"])] * 2


@pytest.mark.parametrize(
    ("age", "outcome"),
    [(MAX_AGE, CloseOutcome.QUEUED), (MAX_AGE + timedelta(seconds=1), CloseOutcome.TOO_OLD)],
)
async def test_a_close_older_than_the_limit_is_left_for_an_operator(
    age: timedelta, outcome: CloseOutcome
) -> None:
    world = World()

    handled = await handle_close(close_event(uuid4()), world.deps(now=CLOSED_AT + age))

    assert handled.outcome is outcome
    assert bool(world.calls) is (outcome is CloseOutcome.QUEUED)


@pytest.mark.parametrize("value", [None, b"not json", b'{"type": "FinancialYearClosed"}'])
async def test_an_unreadable_message_is_skipped_without_touching_anything(
    value: bytes | None,
) -> None:
    world = World()

    assert await handle_close(value, world.deps()) == Handled(CloseOutcome.UNREADABLE)
    assert world.calls == []


async def test_another_event_on_the_year_end_topic_is_ignored() -> None:
    world = World()
    other = new_event(
        CouncilRegistered(
            name="Mansfield District Council", comparison_group=ComparisonGroup.DISTRICT
        ),
        council="MAN",
        producer="test",
    )

    assert await handle_close(encode(other), world.deps()) == Handled(CloseOutcome.NOT_A_CLOSE)
    assert world.calls == []


async def test_an_empty_snapshot_queues_nothing_but_still_records_the_close() -> None:
    world = World(snapshot=[])

    handled = await handle_close(close_event(uuid4()), world.deps())

    assert handled == Handled(CloseOutcome.QUEUED, 0)
    assert [c[0] for c in world.calls] == ["wait", "inputs", "create", "wake"]


async def test_every_letter_of_a_close_carries_the_narrative_it_pinned() -> None:
    world = World()
    await handle_close(close_event(uuid4()), world.deps())
    assert world.narrative is not None
    assert [r.narrative for r in world.created] == [
        {"version": 3, "sha256": world.narrative.sha256, "format": "2020",
         "markdown": "Dear {council_name}."},
    ] * 2  # fmt: skip


async def test_a_close_whose_narrative_is_missing_queues_letters_that_will_fail_saying_so() -> None:
    world = World(narrative=None)
    handled = await handle_close(close_event(uuid4()), world.deps())
    assert handled.outcome is CloseOutcome.QUEUED  # not redelivered for ever
    assert [r.narrative for r in world.created] == [None, None]


async def test_a_close_queues_pending_letters_and_holds_those_with_a_reason() -> None:
    world = World(holds={"B": "2 open dead letter(s) for B 2019-20"})

    await handle_close(close_event(uuid4()), world.deps())

    assert [(q.inputs.council, q.state, q.hold_reason) for q in world.queued] == [
        ("A", LetterState.PENDING, None),
        ("B", LetterState.HELD, "2 open dead letter(s) for B 2019-20"),
    ]


def test_dead_letters_naming_no_council_hold_every_letter_and_a_councils_own_reason_wins() -> None:
    holds = {None: "1 open dead letter(s) that name no council", "B": "parked events"}

    queued = letters_to_queue([inputs("A"), inputs("B")], holds)

    assert [(q.state, q.hold_reason) for q in queued] == [
        (LetterState.HELD, "1 open dead letter(s) that name no council"),
        (LetterState.HELD, "parked events"),
    ]


def test_no_reasons_queue_every_letter_pending() -> None:
    queued = letters_to_queue([inputs("A"), inputs("B")], {})

    assert {q.state for q in queued} == {LetterState.PENDING}
    assert {q.hold_reason for q in queued} == {None}
