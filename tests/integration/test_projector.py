"""The projector on the real broker and PostgreSQL, as a real process.

Each test reads like the specification: the figures are not there; start the projector;
now they are, and they equal a calculation made here, by hand or by the plain oracle in
tests/support/casework.py.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import date
from fractions import Fraction

from aiokafka import AIOKafkaConsumer

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.topics import DEAD_LETTERS
from services.domain.statistics import AveragingRule
from services.platform.kafka.security import client_kwargs
from services.readmodel.council_figures import live_averages
from services.readmodel.counters import COUNTERS
from tests.support.casework import (
    complied,
    corrected,
    council,
    decided,
    expected_figures,
    random_casework,
    withdrawn,
)
from tests.support.stack import Stack

PROJECTOR = "services.projector"
D = date(2019, 6, 1)  # in 2019-20
E = date(2020, 6, 1)  # in 2020-21


def zeros(**counts: int) -> dict[str, int]:
    return {k: counts.get(k, 0) for k in COUNTERS}


async def test_figures_and_group_averages_equal_a_calculation_by_hand(stack: Stack) -> None:
    events = [
        council("AAA", "District", 50_000),
        council("BBB", "District", 200_000),
        council("CCC", "County", None),
        decided("AAA", "A1", D, "upheld", remedy=True),
        decided("AAA", "A2", D, "upheld"),
        decided("AAA", "A3", D, "not_upheld"),
        decided("AAA", "A4", D, "advice_given"),
        decided("AAA", "A5", date(2020, 3, 31), "closed_after_initial_enquiries"),
        decided("AAA", "A6", date(2020, 4, 1), "upheld"),  # next year
        complied("AAA", "A0", D, implemented=True),
        complied("AAA", "A9", D, implemented=False),
        decided("BBB", "B1", D, "not_upheld"),
        decided("BBB", "B2", D, "upheld"),
        complied("BBB", "B0", D),
        decided("CCC", "C1", D, "referred_back_for_local_resolution"),
    ]
    await stack.publish(events)
    assert await stack.positions() == {}  # nothing there before the projector runs
    stack.start(PROJECTOR)
    await stack.wait_caught_up()

    assert await stack.stats() == {
        ("AAA", 2019): zeros(
            upheld=2,
            not_upheld=1,
            advice_given=1,
            closed_after_initial_enquiries=1,
            satisfactory_remedies=1,
            compliance_outcomes=2,
            compliance_implemented=1,
        ),
        ("AAA", 2020): zeros(upheld=1),
        ("BBB", 2019): zeros(
            upheld=1, not_upheld=1, compliance_outcomes=1, compliance_implemented=1
        ),
        ("CCC", 2019): zeros(referred_back_for_local_resolution=1),
    }
    (district,) = await stack.fetch(
        "SELECT * FROM readmodel.group_averages WHERE financial_year = 2019 "
        "AND comparison_group = 'District'"
    )
    # AAA upholds 2 of 3, BBB 1 of 2: the mean of the rates, not the pooled 3 of 5.
    assert Fraction(district["uphold_rate_mean"]).limit_denominator(1000) == Fraction(7, 12)
    assert Fraction(district["uphold_rate_pooled"]) == Fraction(3, 5)
    assert Fraction(district["compliance_rate_mean"]).limit_denominator(1000) == Fraction(3, 4)
    # remedies: AAA 1 of 2 upheld, BBB 0 of 1
    assert Fraction(district["remedy_rate_mean"]).limit_denominator(1000) == Fraction(1, 4)
    # per 100,000 (each council's estimate for the year): AAA 2 upheld / 50,000 -> 4.0;
    # BBB 1 / 200,000 -> 0.5; mean 2.25
    conn = await stack.connect()
    try:
        averages = await live_averages(conn, FinancialYear(2019), AveragingRule.MEAN_OF_RATES)
    finally:
        await conn.close()
    assert averages[ComparisonGroup.DISTRICT].upheld_per_100k == Fraction(9, 4)


async def test_corrections_and_withdrawals_move_and_remove_cases(stack: Stack) -> None:
    stack.start(PROJECTOR)
    await stack.publish(
        [
            council("AAA", "Unitary"),
            decided("AAA", "K1", D, "upheld", remedy=True),
            decided("AAA", "K2", D, "upheld"),
            decided("AAA", "K3", D, "not_upheld"),
        ]
    )
    await stack.wait_caught_up()
    assert await stack.stats() == {
        ("AAA", 2019): zeros(upheld=2, not_upheld=1, satisfactory_remedies=1)
    }
    await stack.publish(
        [
            corrected("AAA", "K1", D, "not_upheld"),  # re-decided: the remedy goes with it
            corrected("AAA", "K3", E, "upheld"),  # re-decided in the next year: it moves
            withdrawn("AAA", "K2", E),  # withdrawn: it leaves the statistics
        ]
    )
    await stack.wait_caught_up()
    assert await stack.stats() == {
        ("AAA", 2019): zeros(not_upheld=1),
        ("AAA", 2020): zeros(upheld=1),
    }
    # A correction that would move a case to another council is refused, not applied.
    await stack.publish([council("BBB", "Unitary"), corrected("BBB", "K1", D, "upheld")])
    await stack.wait_caught_up()
    (dead,) = await stack.fetch("SELECT reason, detail, council FROM readmodel.dead_letters")
    assert dead["reason"] == "conflict" and "belongs to council AAA" in dead["detail"]
    assert await stack.stats() == {
        ("AAA", 2019): zeros(not_upheld=1),
        ("AAA", 2020): zeros(upheld=1),
    }


async def test_bad_input_is_dead_lettered_with_its_reason_and_nothing_else_stops(
    stack: Stack,
) -> None:
    stack.start(PROJECTOR)
    valid = [council("AAA", "District"), decided("AAA", "G1", D, "upheld")]
    await stack.publish(valid)
    good = json.loads(decided("AAA", "G2", D, "not_upheld").model_dump_json())
    bad: list[tuple[bytes | None, bytes]] = [
        (b"AAA", b"this is not json"),
        (b"AAA", json.dumps({**good, "type": "DecisionInvented"}).encode()),
        (b"AAA", json.dumps({**good, "schema_version": 9}).encode()),
        (
            b"AAA",
            json.dumps({**good, "data": {**good["data"], "satisfactory_remedy": True}}).encode(),
        ),
        (b"ZZZ", json.dumps({**good, "council": "ZZZ"}).encode()),  # not registered
        (
            b"AAA",
            json.dumps({**good, "data": {**good["data"], "decision_date": "2019-02-30"}}).encode(),
        ),
    ]
    await stack.publish_raw(bad)
    await stack.publish([decided("AAA", "G3", D, "upheld")])  # after the bad ones
    await stack.wait_caught_up()

    assert await stack.stats() == {("AAA", 2019): zeros(upheld=2)}
    rows = await stack.fetch(
        'SELECT reason, detail, council, topic, partition, "offset", value '
        'FROM readmodel.dead_letters ORDER BY "offset"'
    )
    # Each bad message, by its original bytes, with the reason it was refused.
    assert {bytes(r["value"]): r["reason"] for r in rows} == {
        bad[0][1]: "not_json",
        bad[1][1]: "unknown_type",
        bad[2][1]: "unsupported_version",
        bad[3][1]: "invalid_data",
        bad[5][1]: "invalid_data",
    }
    # A decision for a council nobody registered is not refused: it is parked until it is.
    (parked,) = await stack.fetch("SELECT council, financial_year FROM readmodel.parked_events")
    assert (parked["council"], parked["financial_year"]) == ("ZZZ", 2019)
    remedy = next(r for r in rows if bytes(r["value"]) == bad[3][1])
    assert "satisfactory_remedy is only meaningful on an upheld decision" in remedy["detail"]
    assert all(r["topic"] == stack.facts for r in rows)
    # The same messages on the dead-letter topic, with the reason and where they came from.
    consumer = AIOKafkaConsumer(
        stack.settings.topic(DEAD_LETTERS),
        **client_kwargs(stack.settings),
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        got = await consumer.getmany(timeout_ms=5000)
        records = [r for batch in got.values() for r in batch]
    finally:
        await consumer.stop()
    assert len(records) == len(bad) - 1  # all but the parked one
    headers = [dict(r.headers) for r in records]
    assert sorted(h["dead-letter-reason"].decode() for h in headers) == sorted(
        r["reason"] for r in rows
    )
    assert {h["original-topic"].decode() for h in headers} == {stack.facts}


async def test_a_projector_killed_again_and_again_counts_every_event_exactly_once(
    stack: Stack,
) -> None:
    councils = [f"K{i:02d}" for i in range(24)]
    events = [council(c, "District") for c in councils] + list(
        random_casework(councils, 30_000, seed=7)
    )
    projector = stack.start(PROJECTOR, AR_PROJECTOR_MAX_RECORDS="500")
    publishing = asyncio.create_task(stack.publish(events))
    rng = random.Random(3)
    kills = 0
    while not publishing.done() or kills < 4:
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        projector.kill()  # SIGKILL, wherever it is: in a batch, between batches
        kills += 1
        projector = stack.start(PROJECTOR, AR_PROJECTOR_MAX_RECORDS="500")
    await publishing
    # And every event published a second time (same event ids, new offsets).
    await stack.publish(events)
    await stack.wait_caught_up(timeout=180)
    assert kills >= 4
    assert await stack.stats() == expected_figures(events)
    (row,) = await stack.fetch("SELECT count(*) AS n FROM readmodel.dead_letters")
    assert row["n"] == 0


async def test_two_instances_share_the_partitions_and_stay_exact_when_one_is_killed(
    stack: Stack,
) -> None:
    councils = [f"T{i:02d}" for i in range(30)]
    events = [council(c, "County") for c in councils] + list(
        random_casework(councils, 20_000, seed=11)
    )
    first = stack.start(PROJECTOR, AR_PROJECTOR_MAX_RECORDS="300")
    stack.start(PROJECTOR, AR_PROJECTOR_MAX_RECORDS="300")
    publishing = asyncio.create_task(stack.publish(events))
    await asyncio.sleep(2.0)
    first.kill()  # mid-stream: its partitions move to the survivor
    await publishing
    await stack.wait_caught_up(timeout=180)
    assert await stack.stats() == expected_figures(events)


async def close_2019(stack: Stack) -> None:
    async with stack.publisher() as p:
        await p.close_year(
            {
                "financial_year": "2019-20",
                "letter_date": "2020-07-22",
                "publication_date": "2020-07-29",
                "signatory": {"name": "Michael King", "titles": ["Ombudsman"]},
            },
            producer="tests",
        )


async def test_a_closed_years_snapshot_holds_every_event_before_the_close_and_none_after(
    stack: Stack,
) -> None:
    councils = [f"Y{i:02d}" for i in range(12)]
    before = [council(c, "District" if i % 2 else "Unitary") for i, c in enumerate(councils)]
    before += list(random_casework(councils, 3_000, seed=5, years=(2019,)))
    after = list(random_casework(councils, 500, seed=6, years=(2019,)))
    stack.start(PROJECTOR)
    await stack.publish(before)
    await close_2019(stack)
    await stack.publish(after)  # late: same year, published after the close
    await stack.wait_caught_up()

    (close,) = await stack.fetch("SELECT * FROM readmodel.year_closes")
    assert close["completed_at"] is not None
    snapshot = {
        (r["council"], r["financial_year"]): {k: r[k] for k in zeros()}
        for r in await stack.fetch("SELECT * FROM readmodel.year_snapshot_councils")
    }
    expected_before = expected_figures(before)
    assert snapshot == {k: expected_before.get(k, zeros()) for k in snapshot}
    assert {c for c, _ in snapshot} == set(councils)  # every council of the year
    assert await stack.stats() == expected_figures(before + after)  # live figures move on
    (late,) = await stack.fetch("SELECT count(*) AS n FROM readmodel.late_events")
    assert late["n"] == len(after)
    # The averages were computed from the snapshot, exactly.
    groups = await stack.fetch("SELECT * FROM readmodel.year_snapshot_groups")
    assert {g["comparison_group"] for g in groups} == {"District", "Unitary"}
    district = [v for (c, _), v in snapshot.items() if councils.index(c) % 2]
    mean = sum(
        Fraction(v["upheld"], v["upheld"] + v["not_upheld"])
        for v in district
        if v["upheld"] + v["not_upheld"]
    ) / len([v for v in district if v["upheld"] + v["not_upheld"]])
    (d,) = [g for g in groups if g["comparison_group"] == "District"]
    assert Fraction(int(d["uphold_num"]), int(d["uphold_den"])) == mean


async def test_a_rebuild_while_events_arrive_ends_identical_and_queries_never_stop(
    stack: Stack,
) -> None:
    from services.projector.config import ProjectorSettings
    from services.projector.rebuild import rebuild

    councils = [f"R{i:02d}" for i in range(20)]
    first = [council(c, "London Borough") for c in councils]
    first += list(random_casework(councils, 20_000, seed=21))
    stack.start(PROJECTOR)
    await stack.publish(first)
    await stack.wait_caught_up()
    more = list(random_casework(councils, 10_000, seed=22))

    answered, failed = 0, 0
    stop = asyncio.Event()

    async def query_all_the_time() -> None:
        nonlocal answered, failed
        conn = await stack.connect()
        try:
            while not stop.is_set():
                try:
                    await conn.fetchval("SELECT sum(upheld) FROM readmodel.council_year_stats")
                    answered += 1
                except Exception:
                    failed += 1
                await asyncio.sleep(0.01)
        finally:
            await conn.close()

    reader = asyncio.create_task(query_all_the_time())
    publishing = asyncio.create_task(stack.publish(more))
    report = await rebuild(stack.settings, ProjectorSettings(max_records=2000))
    await publishing
    await stack.wait_caught_up()
    stop.set()
    await reader

    assert report is not None and report.identical, report
    assert report.version == 2
    assert {c.table for c in report.comparison} >= {"council_year_stats", "cases", "councils"}
    (active,) = await stack.fetch(
        "SELECT schema_name FROM projection_versions WHERE status = 'active'"
    )
    assert active["schema_name"] == "rm_v2"
    # The live projector carried on in the new version: every event counted once.
    assert await stack.stats() == expected_figures(first + more)
    assert failed == 0 and answered > 50
