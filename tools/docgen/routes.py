"""Where each event type is published: its topic(s) and message key, as the docs say it."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import topics
from contracts.topics import FACTS, LETTERS, NARRATIVES, YEAR_END, TopicSpec


@dataclass(frozen=True, slots=True)
class Route:
    topic: TopicSpec
    key: str
    short_key: str = "council code"


_BY_COUNCIL = "the council code (the envelope's `council`)"
_SPECIAL_ROUTES: dict[str, tuple[Route, ...]] = {
    "FinancialYearClosed": (
        Route(
            FACTS,
            "none: one copy is written to every partition, chosen explicitly "
            "(`partition_count` copies sharing one `close_id`)",
            "none: a copy on every partition",
        ),
        Route(
            YEAR_END,
            "the financial year label, e.g. `2019-20`: one more copy, published after every "
            "partition's copy is acknowledged",
            "financial year",
        ),
    ),
    "NarrativeRegistered": (Route(NARRATIVES, "the letter year, e.g. `2026`", "letter year"),),
    "LetterIssued": (Route(LETTERS, _BY_COUNCIL),),
    "LetterDispatched": (Route(LETTERS, _BY_COUNCIL),),
    "LetterDispatchFailed": (Route(LETTERS, _BY_COUNCIL),),
    "LetterStateChanged": (Route(LETTERS, _BY_COUNCIL),),
    "LetterRendered": (Route(LETTERS, _BY_COUNCIL),),
}


def routes(event_type: str) -> tuple[Route, ...]:
    """Where an event type is published: its topic(s) and message key."""
    found = _SPECIAL_ROUTES.get(event_type, (Route(FACTS, _BY_COUNCIL),))
    named = {r.topic.name for r in found}
    # Any other topic whose declared purpose names the event type carries it too.
    extra = tuple(
        Route(t, "see the topic's purpose", "see the topic")
        for t in topics.TOPICS
        if t.name not in named and event_type in t.purpose
    )
    return found + extra
