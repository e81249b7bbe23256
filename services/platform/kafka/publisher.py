"""The client the case management system (and the CLI) publishes events with.

Validated before sending, ``acks=all`` with the idempotent producer (a retried send is
written once), keyed by council so each council's facts stay in order, and every send
returns its position, so a caller can later ask whether the statistics reflect it.
``event_publisher(settings)`` makes one from the settings (bootstrap, topic names, security).

Every wait is bounded by the delivery timeout (AR_KAFKA_DELIVERY_TIMEOUT_MS): aiokafka's
idempotent producer never expires a batch, it retries until the partition's leader
acknowledges, so with the cluster's quorum lost a publish would wait for ever. Here it fails
with ``DeliveryTimeout`` instead, and the caller says which events were not acknowledged (a
record that timed out here may still be written while the producer lives: republishing is
safe, the projector skips event ids it has applied).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from contracts.codec import decode, encode
from contracts.envelope import Envelope, new_event
from contracts.events import FinancialYearClosed, NarrativeRegistered, OfficeActionTaken
from contracts.topics import (
    FACTS,
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_SCHEMA_VERSION,
    NARRATIVES,
    OFFICE_ACTIONS,
    YEAR_END,
)
from services.platform.kafka.connection import client_timeouts
from services.platform.kafka.partitioner import PartitionerName, aiokafka_partitioner
from services.platform.kafka.security import sasl_kwargs
from services.platform.office_signature import (
    MissingOfficeKey,
    OfficeSigner,
    is_office_event,
    office_signer,
)
from services.platform.settings import Settings

STOP_AFTER_TIMEOUT_S = 2.0


class DeliveryTimeout(KafkaTimeoutError):  # type: ignore[misc]  # aiokafka is untyped
    """Records not acknowledged by Kafka within the delivery timeout."""

    def __init__(self, records: int, seconds: float) -> None:
        super().__init__(
            f"{records:,} record(s) not acknowledged by Kafka within {seconds:g} s (acks=all:"
            " the partitions' leaders and min.insync.replicas in-sync replicas must answer)"
        )
        self.records = records
        self.seconds = seconds


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where an event was written: the projector reports progress in the same terms."""

    topic: str
    partition: int
    offset: int


def headers_for(event: Envelope[Any]) -> list[tuple[str, bytes]]:
    return [
        (HEADER_EVENT_TYPE, event.type.encode()),
        (HEADER_SCHEMA_VERSION, str(event.schema_version).encode()),
        (HEADER_EVENT_ID, str(event.event_id).encode()),
    ]


class EventPublisher:
    """``async with EventPublisher(bootstrap) as p: await p.publish(event)``."""

    def __init__(
        self,
        bootstrap: str,
        *,
        facts_topic: str = FACTS.name,
        year_end_topic: str = YEAR_END.name,
        narratives_topic: str = NARRATIVES.name,
        office_actions_topic: str = OFFICE_ACTIONS.name,
        signer: OfficeSigner | None = None,
        delivery_timeout_ms: int = 30_000,
        **kafka: Any,
    ) -> None:
        self._signer = signer
        self._delivery_s = delivery_timeout_ms / 1000
        self._timed_out = False
        self._facts = facts_topic
        self._year_end = year_end_topic
        self._narratives = narratives_topic
        self._office_actions = office_actions_topic
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
            **kafka,
        )

    async def __aenter__(self) -> Self:
        await self._producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        # stop() flushes: bounded, or records no broker will take keep it waiting for ever.
        # After a DeliveryTimeout the records left have been reported as not acknowledged:
        # waiting the whole timeout again for them would only delay the caller's exit.
        bound = STOP_AFTER_TIMEOUT_S if self._timed_out else self._delivery_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._producer.stop(), bound)

    async def _acknowledged(self, pending: Sequence[asyncio.Future[Any]]) -> list[Any]:
        """Every send's record metadata, or ``DeliveryTimeout`` after the delivery timeout."""
        try:
            return list(await asyncio.wait_for(asyncio.gather(*pending), self._delivery_s))
        except TimeoutError:
            self._timed_out = True
            raise DeliveryTimeout(len(pending), self._delivery_s) from None

    async def publish(self, event: Envelope[Any]) -> Position:
        (position,) = await self.publish_many([event])
        return position

    async def publish_many(self, events: Iterable[Envelope[Any]]) -> list[Position]:
        """Validate all, then send in order, pipelined; return each event's position once all
        are acknowledged. One invalid event and nothing is sent."""
        checked = []
        for event in events:
            raw = encode(event)
            decode(raw)  # the same check the projector makes: refuse before it is in the log
            checked.append((event, raw, self._headers(event, raw)))
        pending = [
            await self._producer.send(self._facts, raw, key=event.key, headers=headers)
            for event, raw, headers in checked
        ]
        written = await self._acknowledged(pending)
        return [Position(m.topic, m.partition, m.offset) for m in written]

    def _headers(self, event: Envelope[Any], raw: bytes) -> list[tuple[str, bytes]]:
        """The event's headers and, on an office event, the office's signature of ``raw``:
        without the office's key, an office event is refused here rather than dead-lettered
        by the projector."""
        headers = headers_for(event)
        if is_office_event(event):
            headers.append(self._signer_for(event.type).header(raw))
        return headers

    def _signer_for(self, event_type: str) -> OfficeSigner:
        if self._signer is None:
            raise MissingOfficeKey(
                f"{event_type} may be published only by the Ombudsman's office, signed with "
                "its key, and this process has none: run it as the operator (AR_PRINCIPAL="
                "operator with the secrets folder's office-signing.key) or set "
                "AR_OFFICE_SIGNING_KEY_FILE; a case management system publishes casework "
                "only (docs/security.md)"
            )
        return self._signer

    async def publish_narrative(self, event: Envelope[NarrativeRegistered]) -> Position:
        """A narrative registration, on the narratives topic (one partition), keyed by year."""
        raw = encode(event)
        decode(raw)
        (m,) = await self._acknowledged(
            [
                await self._producer.send(
                    self._narratives,
                    raw,
                    key=str(event.data.letter_year).encode(),
                    headers=headers_for(event),
                )
            ]
        )
        return Position(m.topic, m.partition, m.offset)

    async def publish_action(self, event: Envelope[OfficeActionTaken]) -> Position:
        """An action of the office, on the audit trail's topic (one partition, in order).
        It must name the person: an action nobody took is not an action."""
        if not event.actor:
            raise ValueError("an office action must name the person who took it (actor)")
        raw = encode(event)
        decode(raw)
        (m,) = await self._acknowledged(
            [await self._producer.send(self._office_actions, raw, headers=headers_for(event))]
        )
        return Position(m.topic, m.partition, m.offset)

    async def publish_raw(
        self,
        value: bytes,
        *,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> Position:
        """Unvalidated bytes: only for re-driving dead letters (to the ``partition`` they
        came from) and for hostile-input tests. Never signed: bytes that did not come from
        this publisher must not become the office's word."""
        (m,) = await self._acknowledged(
            [
                await self._producer.send(
                    self._facts, value, key=key, headers=list(headers), partition=partition
                )
            ]
        )
        return Position(m.topic, m.partition, m.offset)

    async def close_year(
        self, payload_without_partitions: dict[str, Any], *, producer: str
    ) -> list[Position]:
        """Close a year: one FinancialYearClosed marker on every partition of the facts topic,
        then one on the year-end topic for the letter service. Returns the markers'
        positions, the year-end copy last. Closing again is harmless: the first close of a
        year is the one that counts."""
        self._signer_for("FinancialYearClosed")  # refused before anything is sent
        partitions = sorted(await self._producer.partitions_for(self._facts))
        close = FinancialYearClosed.model_validate(
            {"close_id": uuid4(), **payload_without_partitions, "partition_count": len(partitions)}
        )
        sends = []
        for p in partitions:
            # Each copy is its own event (own id); the shared close_id ties them together.
            event = new_event(close, council=None, producer=producer)
            raw = encode(event)
            sends.append(
                await self._producer.send(
                    self._facts, raw, partition=p, headers=self._headers(event, raw)
                )
            )
        written = await self._acknowledged(sends)
        # Only after every marker is acknowledged: the trigger never overtakes the facts. The
        # same close, signed too: a reader of the year-end topic can check it the same way.
        announce = new_event(close, council=None, producer=producer)
        raw = encode(announce)
        (last,) = await self._acknowledged(
            [
                await self._producer.send(
                    self._year_end,
                    raw,
                    key=str(close.financial_year).encode(),
                    headers=self._headers(announce, raw),
                )
            ]
        )
        return [Position(m.topic, m.partition, m.offset) for m in [*written, last]]


def event_publisher(settings: Settings) -> EventPublisher:
    """The publisher of the settings' facts and year-end topics, as the settings' user, with
    the settings' partitioner (AR_KAFKA_PARTITIONER) and timeouts (connection.py)."""
    return EventPublisher(
        settings.kafka_bootstrap,
        facts_topic=settings.topic(FACTS),
        year_end_topic=settings.topic(YEAR_END),
        narratives_topic=settings.topic(NARRATIVES),
        office_actions_topic=settings.topic(OFFICE_ACTIONS),
        signer=office_signer(settings),
        partitioner=aiokafka_partitioner(PartitionerName(settings.kafka_partitioner)),
        delivery_timeout_ms=settings.kafka_delivery_timeout_ms,
        **sasl_kwargs(settings),
        **client_timeouts(settings),
    )
