"""Crash: the projector is SIGKILLed at random moments while a publisher streams a year.

The figures at the end are compared with the simulator's oracle computed from what is
really in the log, read back message by message: nothing lost, nothing counted twice, every
invalid message dead-lettered exactly once in the table.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from contracts.envelope import Envelope
from contracts.topics import FACTS
from services.simulator import simulate_year
from tests.reliability.support import (
    PublishReport,
    StreamPublisher,
    applied_event_ids,
    audit_facts,
    close_year,
    compare,
    dead_letter_rows,
    dead_letter_topic,
    expected_figures,
)
from tests.support.stack import COUNT_KEYS, Stack

PROJECTOR = "services.projector"
EVENTS = 100_000
KILLS = 10
PUBLISH_SECONDS = 45.0


async def lag(stack: Stack) -> int:
    ends = await stack.end_offsets()
    done = await stack.positions()
    return sum(max(0, o - done.get(p, 0)) for p, o in ends.items())


async def applied_so_far(stack: Stack) -> int:
    return sum((await stack.positions()).values())


async def test_a_projector_killed_at_random_moments_while_a_year_streams_in_loses_nothing_and_counts_nothing_twice(  # noqa: E501
    stack: Stack, figures: dict[str, Any]
) -> None:
    items = list(
        simulate_year("2019-20", events=EVENTS, seed=2024, councils=60, invalid_share=0.01)
    )
    intended = [i for i in items if isinstance(i, Envelope)]
    figures.update(
        fault="projector killed (SIGKILL) at random moments while events stream in",
        injection=f"Service.kill() = SIGKILL of the process group, at a random 0-0.8 s after "
        f"the restarted projector has applied its first batch; {EVENTS:,} simulated events "
        f"(1% invalid) published at ~{EVENTS / PUBLISH_SECONDS:,.0f}/s in 500-event chunks, "
        f"the year closed halfway (its snapshot taken by projectors being killed)",
    )
    rng = random.Random(20240601)
    env = {"AR_PROJECTOR_MAX_RECORDS": "1000"}
    projector = stack.start(PROJECTOR, **env)
    rate = EVENTS / PUBLISH_SECONDS
    started = time.monotonic()

    async def stream() -> PublishReport:
        """The year's first half, its close (a marker on every partition), the second half:
        the snapshot is taken by projectors that keep being killed."""
        first = await StreamPublisher(stack, chunk=500, rate=rate).run(items[: len(items) // 2])
        await close_year(stack)
        second = await StreamPublisher(stack, chunk=500, rate=rate).run(items[len(items) // 2 :])
        return PublishReport(
            events=first.events + second.events,
            chunk_retries=first.chunk_retries + second.chunk_retries,
            errors=first.errors + second.errors,
        )

    publishing = asyncio.create_task(stream())
    kills: list[dict[str, Any]] = []
    while len(kills) < KILLS or not publishing.done():
        mark = await applied_so_far(stack)
        restarted = time.monotonic()
        while await applied_so_far(stack) == mark and time.monotonic() - restarted < 30:
            if publishing.done() and await lag(stack) == 0:
                break  # nothing left to apply: kill it idle
            await asyncio.sleep(0.05)
        await asyncio.sleep(rng.uniform(0.0, 0.8))
        behind = await lag(stack)
        projector.kill()  # SIGKILL, wherever it is: mid-transaction, mid-fetch, between
        kills.append({"at_s": round(time.monotonic() - started, 1), "lag": behind})
        projector = stack.start(PROJECTOR, **env)
    report = await publishing
    published_at = time.monotonic()
    await stack.wait_caught_up(timeout=180)
    caught_up_at = time.monotonic()

    log = await audit_facts(stack)
    expected = expected_figures(log.first_occurrences())
    actual = await stack.stats()
    lost_counts, double_counted = compare(actual, expected)
    applied = await applied_event_ids(stack)
    wanted = {e.event_id for e in log.first_occurrences()}
    dead = await dead_letter_rows(stack)
    dead_topic = await dead_letter_topic(stack)
    # The snapshot: each council's figures from exactly the events before the close's marker
    # on its partition (all of a council's events are on one partition).
    markers: dict[int, int] = {}
    for m, e in log.valid:
        if e.type == "FinancialYearClosed":
            markers[m.partition] = min(markers.get(m.partition, m.offset), m.offset)
    before = {e.event_id for m, e in log.valid if m.offset < markers.get(m.partition, -1)}
    expected_snapshot = {
        key: counts
        for key, counts in expected_figures(
            [e for e in log.first_occurrences() if e.event_id in before]
        ).items()
        if key[1] == 2019
    }
    snapshot = {
        (r["council"], r["financial_year"]): {k: r[k] for k in COUNT_KEYS}
        for r in await stack.fetch("SELECT * FROM readmodel.year_snapshot_councils")
        if any(r[k] for k in COUNT_KEYS)
    }
    (close,) = await stack.fetch("SELECT completed_at FROM readmodel.year_closes")
    figures.update(
        events_published=log.published,
        valid_messages=len(log.valid),
        invalid_messages=len(log.rejected),
        duplicate_messages=log.duplicates,
        applied=len(applied),
        dead_lettered=len(dead),
        dead_letter_topic_messages=len(dead_topic),
        lost_events=len(wanted - applied),
        lost_counts=lost_counts,
        double_counted=double_counted,
        kills=len(kills),
        times=f"{len(kills)} SIGKILLs, {sum(1 for k in kills if k['lag'] > 0)} of them "
        "with records waiting",
        kills_with_work_in_hand=sum(1 for k in kills if k["lag"] > 0),
        kill_times=kills,
        publisher_chunk_retries=report.chunk_retries,
        publish_seconds=round(published_at - started, 1),
        catch_up_after_publish_seconds=round(caught_up_at - published_at, 1),
        figures_equal_oracle=actual == expected,
        year_closed_mid_stream=close["completed_at"] is not None,
        snapshot_council_years=len(snapshot),
        snapshot_equals_oracle_of_events_before_the_close=snapshot == expected_snapshot,
    )

    assert len(kills) >= KILLS
    assert log.published >= EVENTS
    assert expected == expected_figures(intended)  # the log holds what was meant, once
    assert actual == expected
    assert (lost_counts, double_counted) == (0, 0)
    assert applied == wanted  # every valid event applied, by id, and nothing else
    assert dead == log.rejected  # every invalid message: one row, with the contract's reason
    dead_positions = {
        (int(m.headers["original-partition"]), int(m.headers["original-offset"]))
        for m in dead_topic
    }
    assert dead_positions == set(log.rejected)  # and on the topic, at least once
    assert len(applied) + len(dead) + log.duplicates == log.published
    assert len(markers) == FACTS.partitions and close["completed_at"] is not None
    assert snapshot == expected_snapshot  # the close, taken by killed projectors, is exact
