"""A record the database refuses never stalls the projector; a database away never costs one.

On the real PostgreSQL, through the live projector's apply step (services/projector/apply.py):
a batch holding a record PostgreSQL refuses for a reason the contract does not know is split,
the record dead-lettered as ``store_refused`` with the database's error, the rest applied;
a connection lost mid-batch is retried without dead-lettering anything. And a property test:
arbitrary strings (NUL, any script, huge ones) in every string field of every event type
never leave a batch failing: every record ends applied or dead-lettered, positions advance.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import time
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contracts.codec import encode
from contracts.examples import example_json, examples
from services.domain.statistics import AveragingRule
from services.platform.namespace import create_namespace, drop_namespace
from services.platform.office_signature import OfficeAuthority, OfficeSigner
from services.platform.settings import Settings
from services.projector import rebuild
from services.projector.apply import apply_batch
from services.projector.batch import BatchResult, DeadLetter, Record, project_batch
from services.projector.config import ProjectorSettings
from services.readmodel.versions import create_version, ensure_active_version, schema_of
from tests.support.casework import council, decided
from tests.support.fakes import FakeRecord
from tests.support.stack import Stack

# The register's events are the office's: signed, as the CLI signs them, so that they reach
# the store (an unsigned one would be refused before it: not_authorised).
OFFICE = OfficeSigner(Ed25519PrivateKey.generate())
AUTHORITY = OfficeAuthority([OFFICE.key.public_key()])


def signed(partition: int, offset: int, key: bytes, value: bytes) -> FakeRecord:
    return FakeRecord(TOPIC, partition, offset, key, value, headers=(OFFICE.header(value),))


TOPIC = "facts"
DAY = date(2019, 10, 1)


@pytest_asyncio.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(stack.settings.database_url, min_size=1, max_size=3)
    async with p.acquire() as conn:
        await ensure_active_version(conn)
    try:
        yield p
    finally:
        await p.close()


@functools.cache
def _casework() -> tuple[FakeRecord, ...]:
    return tuple(casework_records())


def casework() -> list[FakeRecord]:
    """The same records every time (a replay reads the same log)."""
    return list(_casework())


def casework_records() -> list[FakeRecord]:
    """Two councils, one per partition, and eight decisions each, in log order."""
    records = []
    for partition, code in ((0, "AAA"), (1, "BBB")):
        events = [council(code, "District")] + [
            decided(code, f"19 {partition:03d} {n:03d}", DAY, "upheld") for n in range(8)
        ]
        records += [
            signed(partition, offset, code.encode(), encode(e)) for offset, e in enumerate(events)
        ]
    # As Kafka hands a batch over: partitions interleaved.
    return sorted(records, key=lambda r: (r.offset, r.partition))


POISONED = (1, 5)  # BBB's fifth decision


def refusing_step(tried: list[list[tuple[int, int]]]) -> Any:
    """The real batch step, then what PostgreSQL says of a value it cannot hold, for any
    chunk holding the POISONED record (here a NUL, which the contract now refuses: any value
    a column refuses does the same)."""

    async def refusing(conn: Any, schema: str, records: Sequence[Record], **kw: Any) -> BatchResult:
        tried.append([(r.partition, r.offset) for r in records])
        # One transaction with the batch step's (the rebuild calls it outside one).
        async with conn.transaction():
            result = await project_batch(conn, schema, records, **kw)
            if any((r.partition, r.offset) == POISONED for r in records):
                await conn.execute("SELECT $1::text", "refused\x00")
        return result

    return refusing


async def upheld(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT council, upheld FROM readmodel.council_year_stats")
    return {r["council"]: r["upheld"] for r in rows}


async def positions(conn: asyncpg.Connection) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM readmodel.positions WHERE topic = $1", TOPIC
    )
    return {r["partition"]: r["next_offset"] for r in rows}


async def test_a_record_the_database_refuses_is_dead_lettered_with_its_error_and_the_rest_applied(
    pool: asyncpg.Pool,
) -> None:
    poisoned = POISONED
    tried: list[list[tuple[int, int]]] = []
    refusing = refusing_step(tried)

    published: list[DeadLetter] = []

    async def sink(dead: Sequence[DeadLetter]) -> None:
        published.extend(dead)

    result = await apply_batch(
        pool, casework(), rule=AveragingRule.MEAN_OF_RATES, dead_letter_sink=sink,
        authority=AUTHORITY, stopping=lambda: False, project=refusing,
    )  # fmt: skip
    assert result.applied == 17 and result.dead_lettered == 1
    async with pool.acquire() as conn:
        (row,) = await conn.fetch(
            'SELECT partition, "offset", reason, detail, event_type, council, financial_year '
            "FROM readmodel.dead_letters"
        )
        assert (row["partition"], row["offset"]) == poisoned
        assert row["reason"] == "store_refused"
        assert row["detail"].startswith(
            "the database refused to store this event (SQLSTATE 22021): "
            "CharacterNotInRepertoireError: invalid byte sequence"
        )
        assert (row["event_type"], row["council"], row["financial_year"]) == (
            "DecisionRecorded", "BBB", 2019,
        )  # fmt: skip
        assert await upheld(conn) == {"AAA": 8, "BBB": 7}  # every other decision counted
        assert await positions(conn) == {0: 9, 1: 9}  # past the refused record
    assert [(d.record.partition, d.record.offset) for d in published] == [poisoned]
    assert len(tried[0]) == 18 and tried.count([poisoned]) == 2  # whole, halves, twice alone


async def test_the_rebuild_reaches_the_same_store_refused_dead_letter_in_other_batches(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[list[tuple[int, int]]] = []
    await apply_batch(
        pool, casework(), rule=AveragingRule.MEAN_OF_RATES, dead_letter_sink=None,
        authority=AUTHORITY, stopping=lambda: False, project=refusing_step(tried),
    )  # fmt: skip
    # The rebuild's batch step (rebuild._project), with the same refusal, in other batches.
    monkeypatch.setattr(rebuild, "project_batch", refusing_step(tried))
    in_order = sorted(casework(), key=lambda r: (r.partition, r.offset))
    async with pool.acquire() as conn:
        schema = schema_of(await create_version(conn, "building"))
        for chunk in (in_order[:5], in_order[5:12], in_order[12:]):
            await rebuild._project(conn, schema, chunk, ProjectorSettings(), AUTHORITY)
        dead = 'SELECT partition, "offset", reason, detail, event_id FROM {}.dead_letters'
        live = await conn.fetch(dead.format("readmodel"))
        rebuilt = await conn.fetch(dead.format(schema))
        stats = "SELECT council, upheld FROM {}.council_year_stats ORDER BY council"
        assert [dict(r) for r in rebuilt] == [dict(r) for r in live]
        assert len(live) == 1 and live[0]["reason"] == "store_refused"
        assert await conn.fetch(stats.format(schema)) == await conn.fetch(stats.format("readmodel"))


async def test_a_connection_lost_mid_batch_is_retried_and_nothing_is_dead_lettered(
    pool: asyncpg.Pool, stack: Stack
) -> None:
    killer = await asyncpg.connect(stack.settings.database_url)
    attempts = 0
    sizes: list[Any] = []

    async def losing_connection(
        conn: Any, schema: str, records: Sequence[Record], **kw: Any
    ) -> BatchResult:
        chunk = records
        nonlocal attempts
        attempts += 1
        sizes.append(len(chunk))
        if attempts <= 2:  # the server ends this session: as a restart or a network cut does
            await killer.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
        return await project_batch(conn, schema, chunk, **kw)

    delays: list[float] = []

    async def sleep(s: float) -> None:
        delays.append(s)

    try:
        result = await apply_batch(
            pool, casework(), rule=AveragingRule.MEAN_OF_RATES, dead_letter_sink=None,
            authority=AUTHORITY, stopping=lambda: False, project=losing_connection, sleep=sleep,
        )  # fmt: skip
    finally:
        await killer.close()
    assert result.applied == 18 and result.dead_lettered == 0
    assert (attempts, len(delays)) == (3, 2), sizes  # whole, twice again after a pause
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM readmodel.dead_letters") == 0
        assert await upheld(conn) == {"AAA": 8, "BBB": 8}
        assert await positions(conn) == {0: 9, 1: 9}


# --- property: arbitrary strings in every field --------------------------------------------


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_paths(v, (*path, i))]
    return []


FIELDS = [(t, p) for t in examples() for p in _string_paths(example_json(t))]
# Any code point but lone surrogates (not UTF-8: no JSON text can hold one), NUL included.
CHARS = st.characters(exclude_categories=["Cs"])
TEXT = st.one_of(
    st.text(CHARS, max_size=40),
    st.text(st.sampled_from("\x00\r\n\t\u202e\u200b\ufeff\x85 aé"), max_size=12),
    st.builds(lambda c, n: c * n, CHARS, st.integers(200, 70_000)),  # huge
)
SPOILED = st.lists(st.tuples(st.sampled_from(FIELDS), TEXT), min_size=1, max_size=4)


def spoil(event_type: str, path: tuple[Any, ...], text: str) -> bytes:
    event = copy.deepcopy(example_json(event_type))
    holder: Any = event
    for p in path[:-1]:
        holder = holder[p]
    holder[path[-1]] = text
    return json.dumps(event).encode()


class Namespace:
    """One database for every example; each example's records continue the offsets."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.next_offset = 0
        self.examples = 0
        self.records = 0
        self.seconds = 0.0


@pytest.fixture(scope="module")
def namespace() -> Any:
    base = Settings()
    ns = Namespace()
    name = f"ar_t_prop_{time.time_ns() % 10**9}"
    ns.settings = asyncio.run(create_namespace(base, name))
    yield ns
    asyncio.run(drop_namespace(base, ns.settings))


@hypothesis_settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
    HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
@given(spoiled=SPOILED)
def test_arbitrary_strings_in_any_field_never_leave_a_batch_failing(
    namespace: Namespace, spoiled: list[tuple[tuple[str, tuple[Any, ...]], str]]
) -> None:
    assert namespace.settings is not None
    records = []
    for (event_type, path), text in spoiled:
        records.append(signed(0, namespace.next_offset, b"MAN", spoil(event_type, path, text)))
        namespace.next_offset += 1
    # And a valid decision after them, on the same partition: it must be applied.
    valid = decided("MAN", f"77 {namespace.next_offset // 1000:03d} "
                    f"{namespace.next_offset % 1000:03d}", DAY, "upheld")  # fmt: skip
    records.append(FakeRecord(TOPIC, 0, namespace.next_offset, b"MAN", encode(valid)))
    namespace.next_offset += 1

    async def run() -> tuple[BatchResult, int, bool]:
        assert namespace.settings is not None
        pool = await asyncpg.create_pool(namespace.settings.database_url, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                await ensure_active_version(conn)

            async def no_sleep(_: float) -> None:
                raise AssertionError("a batch failed: it would have been retried")

            result = await apply_batch(
                pool, records, rule=AveragingRule.MEAN_OF_RATES, dead_letter_sink=None,
                authority=AUTHORITY, stopping=lambda: False, sleep=no_sleep,
            )  # fmt: skip
            async with pool.acquire() as conn:
                position = (await positions(conn))[0]
                is_applied = await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM readmodel.dead_letters WHERE event_id = $1)",
                    str(valid.event_id),
                )
            return result, position, not is_applied
        finally:
            await pool.close()

    started = time.perf_counter()
    result, position, valid_not_dead = asyncio.run(run())
    namespace.seconds += time.perf_counter() - started
    namespace.examples += 1
    namespace.records += len(records)
    # Every record applied or dead-lettered (none skipped: all are new), the position past
    # the last, and the valid decision after them applied.
    done = result.applied + result.dead_lettered + result.skipped_duplicate
    assert done == len(records), result
    assert position == namespace.next_offset
    assert valid_not_dead and result.applied >= 1
