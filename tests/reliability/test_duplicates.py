"""Duplicates: producer retries and the same events published again change nothing.

A producer that retries after a lost acknowledgement writes the same event (same id) at a new
offset, sometimes after later events about the same case; a case management system that
replays its history writes every event again. The projector must skip them by event id: the
figures, cases and councils stay exactly as they were, and no dead letter is made of them.
"""

from __future__ import annotations

import random
import time
from typing import Any

from contracts.envelope import Envelope
from services.simulator import simulate_year
from tests.reliability.support import (
    applied_event_ids,
    audit_facts,
    compare,
    dead_letter_rows,
    expected_figures,
)
from tests.support.stack import Stack

EVENTS = 20_000
CHUNK = 500
RETRIED_CHUNKS = 0.3  # share of chunks sent twice in a row (acknowledgement lost)
LATE_RETRIES = 2_000  # single events sent again later, after newer facts about their case

READ_MODELS = {
    "councils": "SELECT code, name, comparison_group, existed_from, existed_until, populations, "
    "chief_executive, copy_to, registry_partitions FROM readmodel.councils ORDER BY code",
    "cases": "SELECT * FROM readmodel.cases ORDER BY case_reference, partition",
    "council_year_stats": "SELECT * FROM readmodel.council_year_stats "
    "ORDER BY council, financial_year",
}


async def read_models(stack: Stack) -> dict[str, list[tuple[Any, ...]]]:
    return {name: [tuple(r) for r in await stack.fetch(sql)] for name, sql in READ_MODELS.items()}


async def test_producer_retries_and_the_same_events_published_again_change_nothing(
    stack: Stack, figures: dict[str, Any]
) -> None:
    rng = random.Random(55)
    events = [
        e
        for e in simulate_year("2019-20", events=EVENTS, seed=55, councils=20, invalid_share=0)
        if isinstance(e, Envelope)
    ]
    stack.start("services.projector", AR_PROJECTOR_MAX_RECORDS="1000")
    started = time.monotonic()

    # 1. The stream through a producer that retries: some chunks twice in a row, and single
    #    events again a while later (after newer corrections and withdrawals of their case).
    retried_chunks = late = 0
    async with stack.publisher() as p:
        for i in range(0, len(events), CHUNK):
            chunk = events[i : i + CHUNK]
            await p.publish_many(chunk)
            if rng.random() < RETRIED_CHUNKS:
                await p.publish_many(chunk)
                retried_chunks += 1
            if i >= 2 * CHUNK:
                again = rng.sample(events[: i + CHUNK], LATE_RETRIES * CHUNK // len(events))
                await p.publish_many(again)
                late += len(again)
    await stack.wait_caught_up(timeout=120)
    before = await read_models(stack)
    applied_before = await applied_event_ids(stack)

    # 2. Every event published again, in the same order.
    await stack.publish(events)
    await stack.wait_caught_up(timeout=120)
    after = await read_models(stack)

    log = await audit_facts(stack)
    expected = expected_figures(events)
    actual = await stack.stats()
    lost_counts, double_counted = compare(actual, expected)
    applied = await applied_event_ids(stack)
    dead = await dead_letter_rows(stack)
    figures.update(
        fault="duplicates: producer retries and the whole stream published again",
        injection=f"{len(events):,} simulated events in {CHUNK}-event chunks; "
        f"{retried_chunks} chunks sent twice in a row, {late:,} single events sent again "
        f"later (after newer facts about their case), then all {len(events):,} again",
        events_published=log.published,
        distinct_events=len(events),
        duplicate_messages=log.duplicates,
        times=f"{log.duplicates:,} duplicate messages",
        retried_chunks=retried_chunks,
        late_retries=late,
        applied=len(applied),
        skipped_as_duplicates=log.published - len(applied) - len(dead),
        dead_lettered=len(dead),
        lost_events=len({e.event_id for e in events} - applied),
        lost_counts=lost_counts,
        double_counted=double_counted,
        read_models_unchanged_by_the_replay=before == after,
        seconds=round(time.monotonic() - started, 1),
        figures_equal_oracle=actual == expected,
    )

    assert log.duplicates == log.published - len(events) > len(events)
    assert actual == expected == expected_figures(log.first_occurrences())
    assert (lost_counts, double_counted) == (0, 0)
    assert applied == applied_before == {e.event_id for e in events}
    assert dead == {}  # a duplicate is skipped, not refused
    assert after == before  # councils, cases and figures: not a row, not a value changed
