"""Hostile input: more than 10,000 malformed or invalid messages mixed into a valid stream.

One projector process from start to end: it must never stop. Every bad message must be in
the dead-letter table and on the dead-letter topic with the reason it deserves, the valid
events must give the oracle's figures, and applied plus dead-lettered must equal published.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from contracts.envelope import Envelope
from contracts.events import CouncilRegistered, DecisionRecorded
from services.simulator import simulate_year
from tests.reliability.hostile import (
    PARKED,
    Bad,
    conflicts,
    context_free,
    oversized_at_the_broker_limit,
)
from tests.reliability.support import (
    applied_event_ids,
    audit_facts,
    compare,
    dead_letter_rows,
    dead_letter_topic,
    expected_figures,
    publish_raw_many,
)
from tests.support.stack import Service, Stack

VALID = 20_000
BAD = 10_200
CONFLICTS = 600
CHUNK = 1_000


async def interleave(
    stack: Stack, valid: Sequence[Envelope[Any]], bad: Sequence[Bad], projector: Service
) -> dict[tuple[int, int], Bad]:
    """Valid chunks and bad chunks in turn; returns where each bad message landed."""
    landed: dict[tuple[int, int], Bad] = {}
    chunks = max(1, len(valid) // CHUNK)
    per_chunk = -(-len(bad) // chunks)
    async with stack.publisher() as p:
        for i in range(chunks):
            await p.publish_many(valid[i * CHUNK : (i + 1) * CHUNK if i < chunks - 1 else None])
            some = bad[i * per_chunk : (i + 1) * per_chunk]
            positions = await publish_raw_many(p, [(b.key, b.value) for b in some])
            landed.update(
                {(pos.partition, pos.offset): b for pos, b in zip(positions, some, strict=True)}
            )
            assert projector.alive(), f"the projector stopped:\n{projector.tail()}"
    return landed


async def test_ten_thousand_hostile_messages_are_each_dead_lettered_with_their_reason_and_the_projector_never_stops(  # noqa: E501
    stack: Stack, figures: dict[str, Any]
) -> None:
    rng = random.Random(404)
    items = [
        i
        for i in simulate_year("2019-20", events=VALID, seed=404, councils=30, invalid_share=0)
        if isinstance(i, Envelope)
    ]
    councils = [e.council or "" for e in items if isinstance(e.data, CouncilRegistered)]
    first, second = items[: len(items) // 2], items[len(items) // 2 :]
    projector = stack.start("services.projector", AR_PROJECTOR_MAX_RECORDS="1000")
    started = time.monotonic()

    # Phase 1: messages refused whatever came before them.
    bad = list(context_free(rng, councils, BAD // 2))
    landed = await interleave(stack, first, bad, projector)
    await stack.wait_caught_up(timeout=120)
    # Phase 2: more of them, decisions about cases of other councils (the cases now exist),
    # and one message at the broker's size limit.
    cases = [
        (e.data.case_reference, e.council or "")
        for e in first
        if isinstance(e.data, DecisionRecorded)
    ]
    bad = list(context_free(rng, councils, BAD - BAD // 2 - CONFLICTS - 1))
    bad += list(conflicts(rng, cases, councils, CONFLICTS))
    bad.append(oversized_at_the_broker_limit(rng, councils))
    rng.shuffle(bad)
    landed |= await interleave(stack, second, bad, projector)
    await stack.wait_caught_up(timeout=90)
    caught_up = time.monotonic()

    log = await audit_facts(stack)
    expected = expected_figures(log.first_occurrences())
    actual = await stack.stats()
    lost_counts, double_counted = compare(actual, expected)
    applied = await applied_event_ids(stack)
    dead = await dead_letter_rows(stack)
    dead_topic = await dead_letter_topic(stack)
    on_topic = {
        (int(m.headers["original-partition"]), int(m.headers["original-offset"])): m.headers[
            "dead-letter-reason"
        ].decode()
        for m in dead_topic
    }
    in_context = {p for p, b in landed.items() if b.reason == "conflict"}
    refused_ids = {e.event_id for m, e in log.valid if (m.partition, m.offset) in in_context}
    wanted = {e.event_id for e in log.first_occurrences()} - refused_ids
    # Events for councils never registered are applied and parked, not dead-lettered.
    parked_at = {p for p, b in landed.items() if b.reason == PARKED}
    refused = {p: b for p, b in landed.items() if p not in parked_at}
    parked = {
        (r["partition"], r["offset"])
        for r in await stack.fetch('SELECT partition, "offset" FROM readmodel.parked_events')
    }
    wrong_reason = {
        p: (b.kind, b.reason, dead.get(p))
        for p, b in refused.items()
        if dead.get(p) != (b.reason or log.rejected.get(p))
    }
    figures.update(
        fault="malformed and invalid messages mixed into a valid stream",
        injection=f"{len(landed):,} bad messages of {len({b.kind for b in landed.values()})} "
        f"kinds published raw between {len(items):,} valid events (simulated), in 1,000-event "
        f"chunks; decisions about another council's cases after those cases exist",
        events_published=log.published,
        valid_events=len(wanted),
        bad_messages=len(landed),
        times=f"{len(landed):,} bad messages",
        bad_kinds=dict(sorted(Counter(b.kind for b in landed.values()).items())),
        applied=len(applied),
        dead_lettered=len(dead),
        parked=len(parked),
        dead_letter_reasons=dict(sorted(Counter(dead.values()).items())),
        dead_letter_topic_messages=len(dead_topic),
        bad_without_the_right_reason=len(wrong_reason),
        lost_events=len(wanted - applied),
        lost_counts=lost_counts,
        double_counted=double_counted,
        projector_processes=len(stack.services),
        projector_alive_at_end=projector.alive(),
        seconds_to_apply_everything=round(caught_up - started, 1),
        figures_equal_oracle=actual == expected,
    )

    assert projector.alive() and len(stack.services) == 1, "the projector stopped"
    assert len(landed) >= 10_000
    assert wrong_reason == {}, list(wrong_reason.items())[:10]
    assert set(dead) == set(refused)  # dead letters are exactly the bad messages
    assert parked == parked_at  # and the events of councils never registered are parked
    assert on_topic == dead  # and each is on the dead-letter topic with the same reason
    assert actual == expected == expected_figures(items)
    assert (lost_counts, double_counted) == (0, 0)
    assert applied == wanted
    # The message as large as the broker takes: whole in the table, its head on the topic.
    ((part, offset),) = [p for p, b in landed.items() if "(1 MiB" in b.kind]
    (row,) = await stack.fetch(
        "SELECT length(value) AS n FROM readmodel.dead_letters "
        'WHERE partition = $1 AND "offset" = $2',
        part,
        offset,
    )
    assert row["n"] == len(landed[(part, offset)].value or b"")
    (copy,) = [m for m in dead_topic if m.headers["original-offset"] == str(offset).encode()
               and m.headers["original-partition"] == str(part).encode()]  # fmt: skip
    assert b"whole in the table" in copy.headers["dead-letter-value-truncated"]
    assert len(applied) + len(dead) == log.published
