"""Values PostgreSQL cannot store: U+0000 in every string field of every event type.

PostgreSQL refuses U+0000 in `text` and `jsonb`. Before the contract refused it, one such
value failed the projector's batch transaction, which was retried for ever: nothing after
it was applied. Here, on the real servers, a NUL goes into each string of each event type's
documented example (envelope and payload, nested ones too) and into a malformed message's
`type` and `council` (which a dead letter's text columns keep): every one must be
dead-lettered with its reason, the projector must catch up within seconds, and the valid
events around them must give the oracle's figures.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

from contracts.codec import RejectedMessage, decode
from contracts.envelope import Envelope
from contracts.examples import example_json, examples
from services.simulator import simulate_year
from tests.reliability.support import (
    applied_event_ids,
    compare,
    dead_letter_rows,
    dead_letter_topic,
    expected_figures,
    publish_raw_many,
)
from tests.support.stack import Stack

VALID = 4_000
NUL = "\x00"


def string_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where ``value`` (parsed JSON) holds a string: every key path, lists included."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from string_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from string_paths(v, (*path, i))


def with_nul(event: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    spoiled = copy.deepcopy(event)
    *parents, last = path
    holder: Any = spoiled
    for p in parents:
        holder = holder[p]
    text = holder[last]
    holder[last] = text[:1] + NUL + text[1:]  # as long as it was, plus one: within limits
    return spoiled


def poison() -> list[tuple[str, bytes | None, bytes, str]]:
    """(what, key, value, the reason the contract gives) for every NUL message."""
    made = []
    for event_type in examples():
        event = example_json(event_type)
        for path in string_paths(event):
            spoiled = with_nul(event, path)
            value = json.dumps(spoiled).encode()
            try:
                decode(value)
            except RejectedMessage as rejection:
                reason = rejection.reason.value
            else:
                raise AssertionError(f"{event_type} {path}: a NUL was accepted")
            key = event["council"].encode() if event.get("council") else None
            made.append((f"{event_type}.{'.'.join(map(str, path))}", key, value, reason))
    # Malformed messages whose hints (type, council) hold a NUL, a bidi control, a zero-width
    # space: the dead letter keeps them in its text columns, escaped.
    broken = {**example_json("DecisionRecorded"), "type": "Decision\x00Recorded"}
    made.append(("malformed: NUL in type", b"MAN", json.dumps(broken).encode(), "unknown_type"))
    for council in ("MA\x00N", "MAN\u202e", "M\u200bAN"):
        broken = {**example_json("DecisionRecorded"), "council": council}
        broken.pop("schema_version")
        made.append((f"malformed: {council!r} council", council.encode(),
                     json.dumps(broken).encode(), "bad_envelope"))  # fmt: skip
    return made


async def test_a_nul_in_any_string_of_any_event_is_dead_lettered_and_nothing_stalls(
    stack: Stack, figures: dict[str, Any]
) -> None:
    items = [
        i
        for i in simulate_year("2019-20", events=VALID, seed=17, councils=12, invalid_share=0)
        if isinstance(i, Envelope)
    ]
    bad = poison()
    projector = stack.start("services.projector", AR_PROJECTOR_MAX_RECORDS="500")
    half = len(items) // 2
    await stack.publish(items[:half])
    async with stack.publisher() as p:
        landed = await publish_raw_many(p, [(k, v) for _, k, v, _ in bad])
    await stack.publish(items[half:])
    published = time.monotonic()
    await stack.wait_caught_up(timeout=60)
    caught_up = time.monotonic() - published

    at = {(pos.partition, pos.offset): b for pos, b in zip(landed, bad, strict=True)}
    dead = await dead_letter_rows(stack)
    rows = await stack.fetch(
        'SELECT partition, "offset", reason, detail, event_type, council, value '
        "FROM readmodel.dead_letters WHERE topic = $1",
        stack.facts,
    )
    by_position = {(r["partition"], r["offset"]): r for r in rows}
    on_topic = {
        (int(m.headers["original-partition"]), int(m.headers["original-offset"])): m
        for m in await dead_letter_topic(stack)
    }
    wrong = {b[0]: (b[3], dead.get(p)) for p, b in at.items() if dead.get(p) != b[3]}
    actual, expected = await stack.stats(), expected_figures(items)
    applied = await applied_event_ids(stack)
    lost_counts, double_counted = compare(actual, expected)
    figures.update(
        fault="U+0000 in every string field of every event type, and in a malformed "
        "message's type and council (bidi and zero-width there too)",
        injection=f"{len(bad)} messages published raw in the middle of {len(items):,} valid events",
        times=f"{len(bad)} messages",
        events_published=len(items) + len(bad),
        poisoned_fields=len(bad),
        dead_lettered=len(dead),
        dead_letter_topic_messages=len(on_topic),
        wrong_reason=len(wrong),
        seconds_to_lag_zero_after_the_last_publish=round(caught_up, 1),
        applied=len(applied),
        lost_events=len({e.event_id for e in items} - applied),
        lost_counts=lost_counts,
        double_counted=double_counted,
        figures_equal_oracle=actual == expected,
        projector_alive_at_end=projector.alive(),
    )
    assert projector.alive(), projector.tail()
    assert wrong == {}
    assert set(dead) == set(at)  # exactly the poisoned messages, each with its reason
    assert actual == expected  # the valid events around them, all counted
    assert applied == {e.event_id for e in items}
    assert caught_up < 30
    for position, (what, _, value, reason) in at.items():
        row = by_position[position]
        assert bytes(row["value"]) == value, what  # the bytes kept exactly, for a re-drive
        for column in ("detail", "event_type", "council"):
            text = row[column] or ""
            assert text.isprintable(), (what, column, text)
        assert on_topic[position].headers["dead-letter-reason"].decode() == reason
        assert on_topic[position].value == value
    escaped = {r["event_type"] for r in rows} | {r["council"] for r in rows}
    assert {"Decision\\u0000Recorded", "MA\\u0000N", "MAN\\u202e", "M\\u200bAN"} <= escaped
