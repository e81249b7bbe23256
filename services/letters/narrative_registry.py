"""The narratives topic, for the letter service and the operator's CLI: register a version,
read the whole book back (a small topic, read to its end each time: what was registered a
moment before is always there)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from contracts.codec import RejectedMessage, decode
from contracts.envelope import new_event
from contracts.events import NarrativeRegistered
from contracts.topics import NARRATIVES
from contracts.values import LetterFormat
from services.domain.narrative import parse
from services.domain.narrative_book import (
    NarrativeBook,
    NarrativeVersion,
    RefusedRegistration,
    Registration,
    fold,
)
from services.letters.narratives import SHIPPED_YEARS, shipped_markdown
from services.platform.kafka.publisher import Position, event_publisher
from services.platform.kafka.topic_reader import read_whole_topic
from services.platform.settings import Settings

PRODUCER = "annual-review-cli"


async def load_book(settings: Settings) -> NarrativeBook:
    records = await read_whole_topic(settings, NARRATIVES)
    registrations: list[Registration] = []
    unreadable: list[RefusedRegistration] = []
    for r in records:
        try:
            envelope = decode(r.value)
        except RejectedMessage as e:
            unreadable.append(_unreadable(r.key, f"offset {r.offset}: {e}"))
            continue
        if isinstance(envelope.data, NarrativeRegistered):
            registrations.append(Registration(envelope.data, envelope.occurred_at))
    book = fold(registrations, {y: shipped_markdown(y) for y in SHIPPED_YEARS})
    book.refused.extend(unreadable)
    return book


def _unreadable(key: bytes | None, reason: str) -> RefusedRegistration:
    year = int(key) if key and key.isdigit() else 0
    return RefusedRegistration(year, datetime.now(UTC), reason)


async def register(
    settings: Settings,
    letter_year: int,
    markdown: str,
    *,
    letter_format: LetterFormat | None = None,
    registered_by: str | None = None,
    note: str | None = None,
    producer: str = PRODUCER,
    actor: str | None = None,
) -> tuple[NarrativeVersion, Position]:
    """Check the document (NarrativeError lists every problem), publish it, and read the
    book back for the version number it was given. ``producer`` and ``actor``: the door
    and the person (the workspace's signed-in user), on the envelope."""
    parse(markdown)
    event = new_event(
        NarrativeRegistered(
            letter_year=letter_year,
            letter_format=letter_format,
            markdown=markdown,
            sha256=hashlib.sha256(markdown.encode("utf-8")).hexdigest(),
            registered_by=registered_by,
            note=note,
        ),
        council=None,
        producer=producer,
        actor=actor,
    )
    async with event_publisher(settings) as publisher:
        position = await publisher.publish_narrative(event)
    book = await load_book(settings)
    registered = book.in_force(letter_year)
    if registered is None or registered.sha256 != event.data.sha256:
        raise RuntimeError(f"the {letter_year} narrative was published but is not in force")
    return registered, position
