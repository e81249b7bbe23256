"""In-memory stand-ins for asyncpg and aiokafka, for unit tests of the projector's use cases.

They record what was asked of them; a real database or broker is never needed. What SQL
means is tested on the real PostgreSQL (tests/integration); here only that a statement ran,
in which transaction, and in what order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from services.readmodel.versions import FORMAT


@dataclass(slots=True)
class FakeRecord:
    """A Kafka record as the projector sees it (services.projector.batch.Record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes | None = b"{}"
    timestamp: int = 0
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass(slots=True)
class Transaction:
    outcome: str = "open"  # then "committed" or "rolled back"
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


class FakeConnection:
    """Answers ``fetchval`` with ``active_schema`` and ``fetch`` with ``rows``; records the
    statements, each with the transaction it ran in."""

    def __init__(self, *, active_schema: str | None = "rm_v1", rows: list[Any] | None = None):
        self.active_schema = active_schema
        self.rows = rows or []
        self.transactions: list[Transaction] = []
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        self._current: Transaction | None = None

    def _ran(self, sql: str, args: tuple[Any, ...]) -> None:
        self.statements.append((sql, args))
        if self._current is not None:
            self._current.statements.append((sql, args))

    async def execute(self, sql: str, *args: Any) -> str:
        self._ran(sql, args)
        return "OK"

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self._ran(sql, args)
        if "read_model_format" in sql:  # the version's DDL format: the current one
            return True if "to_regclass" in sql else FORMAT
        return self.active_schema

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self._ran(sql, args)
        return self.rows

    def is_in_transaction(self) -> bool:
        return self._current is not None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        t = Transaction()
        self.transactions.append(t)
        self._current = t
        try:
            yield t
        except BaseException:
            t.outcome = "rolled back"
            raise
        else:
            t.outcome = "committed"
        finally:
            self._current = None


class FakePool:
    """Hands out one connection; the first ``unreachable`` acquisitions fail as a database
    that does not answer would."""

    def __init__(self, conn: FakeConnection, *, unreachable: int = 0) -> None:
        self.conn = conn
        self.unreachable = unreachable
        self.acquired = 0

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        self.acquired += 1
        if self.unreachable:
            self.unreachable -= 1
            raise ConnectionRefusedError("database not reachable")
        yield self.conn


class FakeConsumer:
    """Records the seeks of a rebalance (aiokafka's AIOKafkaConsumer.seek and
    seek_to_beginning)."""

    def __init__(self) -> None:
        self.seeks: dict[TopicPartition, int] = {}
        self.to_beginning: list[TopicPartition] = []

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks[partition] = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.to_beginning.extend(partitions)


class Sleeps:
    """A stand-in for asyncio.sleep: records the delays, runs ``during`` at each one."""

    def __init__(self, during: Callable[[], None] = lambda: None) -> None:
        self.delays: list[float] = []
        self.during = during

    async def __call__(self, delay: float) -> None:
        self.during()
        self.delays.append(delay)
