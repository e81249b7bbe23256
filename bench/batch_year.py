"""``python -m bench.batch_year``: a simulated year projected the way a rebuild does it,
without Kafka: the batch step alone, timed.

Simulates a year (registrations, casework with its invalid share, then a close marker on
every partition, the office's events signed), keeps the records in memory, and applies them
with ``project_batch`` in batches of ``--batch`` to a fresh database, each batch its own
transaction as in a rebuild. Prints the records per second, median of ``--reps`` runs. Used
to check that a refactoring of the batch step kept its speed (docs/benchmarks.md).

    infra/ctl.sh exec .venv/bin/python -m bench.batch_year --events 100000 --reps 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.infra import database_slice
from contracts import Envelope, new_event
from contracts.codec import encode
from contracts.examples import examples
from contracts.financial_year import FinancialYear
from contracts.topics import FACTS
from services.domain.statistics import AveragingRule
from services.platform.kafka.partitioner import murmur2_partition
from services.platform.migrations import apply_migrations, default_folders
from services.platform.office_signature import OfficeAuthority, OfficeSigner, is_office_event
from services.platform.settings import Settings
from services.projector.batch import project_batch
from services.readmodel.versions import ensure_active_version
from services.simulator.generator import simulate_year


@dataclass(slots=True)
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0
    headers: Any = ()


def year_records(year: FinancialYear, events: int, signer: OfficeSigner) -> list[Rec]:
    offsets = [0] * FACTS.partitions
    out: list[Rec] = []

    def add(value: bytes, key: bytes | None, partition: int, office: bool) -> None:
        headers = [signer.header(value)] if office else []
        out.append(Rec("facts", partition, offsets[partition], key, value, 0, headers))
        offsets[partition] += 1

    for item in simulate_year(year, councils=344, events=events, seed=18):
        council = item.council if isinstance(item, Envelope) else item.get("council")
        key = str(council).encode()
        raw = encode(item) if isinstance(item, Envelope) else json.dumps(item).encode()
        office = isinstance(item, Envelope) and is_office_event(item)
        add(raw, key, murmur2_partition(key, FACTS.partitions), office)
    close = examples()["FinancialYearClosed"].data.model_copy(
        update={"financial_year": year, "partition_count": FACTS.partitions, "close_id": uuid4()}
    )
    raw = encode(new_event(close, council=None, producer="bench"))
    for p in range(FACTS.partitions):
        add(raw, None, p, True)
    return out


async def run_once(base: Settings, records: list[Rec], batch: int, authority: Any) -> float:
    async with database_slice(base, "bench-batch-year") as s:
        conn = await s.connect()
        try:
            await apply_migrations(conn, default_folders())
            schema = await ensure_active_version(conn)
            started = time.perf_counter()
            for i in range(0, len(records), batch):
                await project_batch(
                    conn, schema, records[i : i + batch], rule=AveragingRule.MEAN_OF_RATES,
                    dead_letter_sink=None, authority=authority,
                )  # fmt: skip
            return time.perf_counter() - started
        finally:
            await conn.close()


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=5000)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    signer = OfficeSigner(Ed25519PrivateKey.generate())
    authority = OfficeAuthority([signer.key.public_key()])
    records = year_records(FinancialYear(2019), a.events, signer)
    seconds = [await run_once(Settings(), records, a.batch, authority) for _ in range(a.reps)]
    median = statistics.median(seconds)
    print(
        f"{len(records):,} records, batches of {a.batch}: median {median:.2f} s "
        f"({len(records) / median:,.0f} records/s) over {a.reps} runs: "
        + ", ".join(f"{s:.2f}" for s in seconds)
    )


if __name__ == "__main__":
    asyncio.run(main())
