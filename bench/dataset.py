"""The log the benchmarks read: a simulated year of casework, published once per size.

``simulate_year`` (services/simulator) makes the events: a CouncilRegistered per council
(about 340), then decisions, corrections, withdrawals and compliance outcomes spread over
the year. They are published keyed by council with the same partitioner, headers and
bytes as ``EventPublisher``, but in producer batches (the publisher validates and sends
one at a time, which would make the set-up longer than the benchmarks). A data set is
reused by later runs when its manifest says it was published completely.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner

from bench.infra import WORK, end_offsets, ensure_prefixed_topics
from contracts.codec import encode
from contracts.envelope import Envelope
from contracts.topics import FACTS, TOPICS
from services.platform.kafka.publisher import headers_for
from services.platform.kafka.security import client_kwargs
from services.platform.office_signature import MissingOfficeKey, is_office_event, office_signer
from services.platform.settings import Settings
from services.simulator import simulate_year

YEAR = "2019-20"
COUNCILS = 344  # the 2019-20 review's councils
BATCH_BYTES = 512 * 1024


@dataclass(frozen=True)
class Dataset:
    prefix: str
    events: int  # casework events asked of the simulator
    records: int  # records in the topic (with registrations)
    bytes: int  # sum of the values' sizes
    seconds_to_publish: float | None

    @property
    def mean_event_bytes(self) -> float:
        return self.bytes / self.records if self.records else 0.0


def prefix_for(events: int, seed: int) -> str:
    return f"bench.n{events}.s{seed}."


def _manifest(prefix: str) -> Path:
    return WORK / "datasets" / f"{prefix.rstrip('.')}.json"


async def ensure_dataset(
    base: Settings, events: int, *, seed: int = 1, councils: int = COUNCILS, fresh: bool = False
) -> Dataset:
    """The data set of ``events`` casework events: reused if complete, else (re)published."""
    prefix = prefix_for(events, seed)
    settings = base.model_copy(update={"topic_prefix": prefix})
    topic = settings.topic(FACTS)
    manifest = _manifest(prefix)
    if manifest.exists() and not fresh:
        saved = json.loads(manifest.read_text())
        ends = await end_offsets(base.kafka_bootstrap, topic)
        # "signed": the register of a data set published before the office signed it would
        # be refused now; such a set is published again.
        if (
            sum(ends.values()) == saved["records"]
            and saved.get("councils") == councils
            and saved.get("signed")
        ):
            return Dataset(prefix, events, saved["records"], saved["bytes"], None)
    await _delete_topics(settings)
    await ensure_prefixed_topics(settings)
    started = time.monotonic()
    records, size = await publish_simulation(
        settings,
        simulate_year(YEAR, councils=councils, events=events, seed=seed, invalid_share=0.0),
    )
    seconds = time.monotonic() - started
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        json.dumps(
            {"records": records, "bytes": size, "councils": councils, "seed": seed, "signed": True}
        )
    )
    return Dataset(prefix, events, records, size, seconds)


async def _delete_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        names = [settings.topic(t) for t in TOPICS if settings.topic(t) in existing]
        if names:
            await admin.delete_topics(names)
            await asyncio.sleep(2)  # let the broker finish deleting before re-creating
    finally:
        await admin.close()


async def publish_simulation(settings: Settings, items: Any) -> tuple[int, int]:
    """Publish every valid event of ``items`` in batches; return (records, value bytes)."""
    producer = AIOKafkaProducer(
        **client_kwargs(settings),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    topic = settings.topic(FACTS)
    try:
        partitions = sorted(await producer.partitions_for(topic))
        partitioner = DefaultPartitioner()
        # The register is the office's: signed as EventPublisher signs it, or the projector
        # refuses it (services/platform/office_signature.py).
        signer = office_signer(settings)
        batches: dict[int, Any] = defaultdict(producer.create_batch)
        sizes: dict[int, int] = defaultdict(int)
        pending: list[Any] = []
        records = total = 0
        for item in items:
            if not isinstance(item, Envelope):
                continue
            value = encode(item)
            key = item.key
            p = partitioner(key, partitions, partitions)
            ts = int(item.occurred_at.timestamp() * 1000)
            headers = headers_for(item)
            if is_office_event(item):
                if signer is None:
                    raise MissingOfficeKey(f"{item.type} needs the office's signing key")
                headers.append(signer.header(value))
            batch = batches[p]
            if batch.append(key=key, value=value, timestamp=ts, headers=headers) is None:
                pending.append(await producer.send_batch(batch, topic, partition=p))
                batch = batches[p] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=ts, headers=headers)
                sizes[p] = 0
            sizes[p] += len(value)
            records += 1
            total += len(value)
            if sizes[p] >= BATCH_BYTES:
                pending.append(await producer.send_batch(batches.pop(p), topic, partition=p))
                sizes[p] = 0
            if len(pending) > 64:
                await asyncio.gather(*pending)
                pending.clear()
        for p, batch in batches.items():
            if batch.record_count():
                pending.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return records, total
