"""The figures whatever partition each fact is on, on the real broker (docs/design-partitions.md).

A council registered after the close, a correction published to another partition than its
case, population estimates per year, copy recipients, the holds they cause, and a rebuild
that refuses to switch when it differs. Each checks the live figures, the snapshot, the
letters and a replay.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from contracts import CopyRecipient, CouncilDetailsChanged, new_event
from contracts.financial_year import FinancialYear
from contracts.topics import FACTS
from services.domain.letter_inputs import LetterInputs
from services.domain.statistics import AveragingRule
from services.letters.smtp_server import start as start_smtp
from services.platform.kafka.partitioner import crc32_partition, murmur2_partition
from services.platform.kafka.publisher import event_publisher
from services.projector.config import ProjectorSettings
from services.projector.rebuild import rebuild
from services.readmodel.council_figures import council_figures
from tests.support.casework import PUBLISHED, corrected, council, decided
from tests.support.polling import eventually
from tests.support.stack import Stack

SIGNATORY = {"name": "Michael King", "titles": ["Local Government and Social Care Ombudsman"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def letters(stack: Stack, tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Start the letter service (with an SMTP server) when the test says so."""
    port = free_port()
    controller, _ = start_smtp(tmp_path / "maildir", port=port)

    def start() -> None:
        stack.start(
            "services.letters", AR_SMTP_PORT=str(port), AR_LETTERS_RENDER_WORKERS="1",
            AR_LETTERS_RECONCILE_MAILDIR=str(tmp_path / "maildir"),
        )  # fmt: skip

    try:
        yield start
    finally:
        controller.stop()


async def close(stack: Stack, year: str, letter_date: str) -> None:
    async with stack.publisher() as p:
        await p.close_year(
            {"financial_year": year, "letter_date": letter_date,
             "publication_date": letter_date, "signatory": SIGNATORY},
            producer="tests",
        )  # fmt: skip


async def outbox(stack: Stack, year: int) -> dict[str, Any]:
    rows = await stack.fetch(
        "SELECT council, state, hold_reason, context FROM letters.outbox "
        "WHERE financial_year = $1 AND version = 1",
        year,
    )
    return {r["council"]: r for r in rows}


async def snapshot(stack: Stack, year: int) -> dict[str, Any]:
    rows = await stack.fetch(
        "SELECT * FROM readmodel.year_snapshot_councils WHERE financial_year = $1", year
    )
    return {r["council"]: r for r in rows}


async def replay_is_identical(stack: Stack) -> None:
    report = await rebuild(stack.settings, ProjectorSettings(max_records=500))
    assert report is not None
    differ = [c.table for c in report.comparison if not c.identical]
    dump = {
        t: [dict(r) for v in (report.previous_schema, f"rm_v{report.version}")
            for r in await stack.fetch(f"SELECT '{v}' AS v, * FROM {v}.{t}")]
        for t in differ
    }  # fmt: skip
    assert report.switched and report.identical, dump or [
        (c.table, c.only_live, c.only_rebuilt) for c in report.comparison if not c.identical
    ]


def on_other_partitions(prefix: str) -> str:
    """A council code whose crc32 (librdkafka) and murmur2 (CLI) partitions differ."""
    return next(
        c for c in (f"{prefix}{i:02d}" for i in range(100))
        if crc32_partition(c.encode(), FACTS.partitions)
        != murmur2_partition(c.encode(), FACTS.partitions)
    )  # fmt: skip


async def test_a_council_registered_after_the_close_joins_held_and_leaves_the_averages(
    stack: Stack, letters: Callable[[], None]
) -> None:
    D = date(2019, 9, 1)
    stack.start("services.projector")
    letters()
    await stack.publish(
        [
            council("AAA", "District"),
            council("BBB", "District"),
            decided("AAA", "A1", D, "upheld"),
            decided("BBB", "B1", D, "not_upheld"),
            # NEW's casework, published before NEW is registered: parked.
            decided("NEW", "N1", D, "upheld"),
            decided("NEW", "N2", D, "upheld"),
        ]
    )
    await close(stack, "2019-20", "2020-07-22")

    async def queued() -> bool:
        return len(await outbox(stack, 2019)) == 2

    await eventually(queued, what="the letters of AAA and BBB", timeout=90)
    parked = await stack.fetch("SELECT council, financial_year FROM readmodel.parked_events")
    assert [(r["council"], r["financial_year"]) for r in parked] == [("NEW", 2019)] * 2
    (group,) = await stack.fetch("SELECT * FROM readmodel.year_snapshot_groups")
    assert (group["councils"], Fraction(int(group["uphold_num"]), int(group["uphold_den"]))) == (
        2, Fraction(1, 2),
    )  # fmt: skip

    await stack.publish([council("NEW", "District")])  # registered after the close
    await stack.wait_caught_up()
    snap = await snapshot(stack, 2019)
    assert snap["NEW"]["joined_after_close"] and snap["NEW"]["upheld"] == 2
    assert not snap["AAA"]["joined_after_close"]
    assert (await stack.stats())[("NEW", 2019)]["upheld"] == 2  # live: applied now
    assert await stack.fetch("SELECT * FROM readmodel.parked_events") == []
    (same,) = await stack.fetch("SELECT * FROM readmodel.year_snapshot_groups")
    assert same["councils"] == 2 and same["uphold_num"] == group["uphold_num"]  # frozen

    async def new_letter() -> Any:
        return (await outbox(stack, 2019)).get("NEW")

    letter = await eventually(
        new_letter, what="a letter for NEW (the dispatcher's sweep)", timeout=60
    )
    assert letter["state"] == "held"
    assert "registered after the 2019-20 close" in letter["hold_reason"]
    assert LetterInputs.from_json(letter["context"]).counts["upheld"] == 2
    await replay_is_identical(stack)


async def test_a_correction_published_to_another_partition_is_refused_saying_why(
    stack: Stack,
) -> None:
    code = on_other_partitions("X")
    D = date(2019, 9, 1)
    stack.start("services.projector")
    await stack.publish([council(code, "County"), decided(code, "X-1", D, "upheld")])  # murmur2
    cms = stack.settings.model_copy(update={"kafka_partitioner": "crc32"})
    async with event_publisher(cms) as p:  # a librdkafka producer with its default
        await p.publish_many([corrected(code, "X-1", D, "not_upheld")])
    await stack.wait_caught_up()
    (dead,) = await stack.fetch("SELECT reason, detail FROM readmodel.dead_letters")
    assert dead["reason"] == "conflict"
    home = murmur2_partition(code.encode(), FACTS.partitions)
    assert f"it is known on partition {home}" in dead["detail"]
    assert "one producer with one key and partitioner" in dead["detail"]
    assert (await stack.stats())[(code, 2019)]["upheld"] == 1  # the decision stands
    await replay_is_identical(stack)


async def test_each_year_uses_its_own_population_estimate_live_in_the_snapshot_and_replayed(
    stack: Stack, letters: Callable[[], None]
) -> None:
    leader = CopyRecipient(name="Cllr Lee", role="Leader of the Council", email="l@p.example")
    stack.start("services.projector")
    letters()
    await stack.publish(
        [
            council("POP", "Unitary", 200_000, copy_to=(leader,)),  # estimate for 2020
            new_event(
                CouncilDetailsChanged(population=250_000, population_year=2023),
                council="POP",
                producer="tests",
                occurred_at=PUBLISHED,
            ),
            council("NON", "Unitary", None),  # no population at all
            decided("POP", "P1", date(2022, 9, 1), "upheld"),
            decided("POP", "P2", date(2023, 9, 1), "upheld"),
            decided("NON", "Q1", date(2022, 9, 1), "upheld"),
        ]
    )
    await stack.wait_caught_up()
    conn = await stack.connect()
    try:
        for start, estimate in ((2022, (200_000, 2020)), (2023, (250_000, 2023))):
            f = await council_figures(conn, "POP", FinancialYear(start), AveragingRule.POOLED)
            assert f is not None and (f.population, f.population_year) == estimate
    finally:
        await conn.close()

    await close(stack, "2022-23", "2023-07-19")

    async def queued() -> dict[str, Any]:
        rows = await outbox(stack, 2022)
        return rows if len(rows) == 2 else {}

    rows = await eventually(queued, what="the 2022-23 letters", timeout=90)
    pop = LetterInputs.from_json(rows["POP"]["context"])
    assert (pop.population, pop.population_year) == (200_000, 2020)
    assert [c["role"] for c in pop.copy_to] == ["Leader of the Council"]
    assert pop.copy_recipients == ["l@p.example"]
    assert rows["NON"]["state"] == "held"
    assert rows["NON"]["hold_reason"] == (
        "no population for NON in 2022-23: register one with `annual-review councils import` "
        "or release the letter"
    )

    # An estimate for 2022 registered after the close: the live 2022-23 figure uses it, the
    # closed year's snapshot does not; a council that had none takes its first one.
    await stack.publish(
        [
            new_event(CouncilDetailsChanged(population=210_000, population_year=2022),
                      council="POP", producer="tests", occurred_at=PUBLISHED),
            new_event(CouncilDetailsChanged(population=50_000, population_year=2022),
                      council="NON", producer="tests", occurred_at=PUBLISHED),
        ]
    )  # fmt: skip
    await stack.wait_caught_up()
    snap = await snapshot(stack, 2022)
    assert (snap["POP"]["population"], snap["POP"]["population_year"]) == (200_000, 2020)
    assert (snap["NON"]["population"], snap["NON"]["population_year"]) == (50_000, 2022)
    conn = await stack.connect()
    try:
        f = await council_figures(conn, "POP", FinancialYear(2022), AveragingRule.POOLED)
        assert f is not None and (f.population, f.population_year) == (210_000, 2022)
    finally:
        await conn.close()
    await replay_is_identical(stack)


async def test_a_rebuild_that_differs_from_the_live_figures_does_not_switch(
    stack: Stack,
) -> None:
    stack.start("services.projector")
    await stack.publish(
        [council("AAA", "District"), decided("AAA", "A1", date(2019, 9, 1), "upheld")]
    )
    await stack.wait_caught_up()
    # A defect, simulated: the live version counts one decision too many.
    await stack.fetch("UPDATE rm_v1.council_year_contributions SET upheld = upheld + 1")
    report = await rebuild(stack.settings, ProjectorSettings())
    assert report is not None and not report.switched
    assert {c.table for c in report.comparison if not c.identical} == {
        "council_year_contributions", "council_year_stats",
    }  # fmt: skip
    (active,) = await stack.fetch(
        "SELECT schema_name FROM projection_versions WHERE status = 'active'"
    )
    assert active["schema_name"] == "rm_v1"  # readers stay on the live version
    assert (await stack.stats())[("AAA", 2019)]["upheld"] == 2
    report = await rebuild(stack.settings, ProjectorSettings(), accept_differences=True)
    assert report is not None and report.switched and report.version == 2
    assert (await stack.stats())[("AAA", 2019)]["upheld"] == 1


async def test_a_projector_refuses_read_models_of_an_older_format_with_the_way_out(
    stack: Stack,
) -> None:
    first = stack.start("services.projector")
    await stack.publish([council("AAA", "District")])
    await stack.wait_caught_up()
    first.stop()
    await stack.fetch("DROP TABLE rm_v1.read_model_format")  # as an older projector made it
    second = stack.start("services.projector")
    await asyncio.to_thread(second.process.wait, 60)  # it exits by itself
    assert "annual-review replay --upgrade" in second.tail(60)
