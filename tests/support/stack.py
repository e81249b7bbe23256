"""An isolated slice of the real servers for one test: its own database and topics.

Every test that runs services gets a fresh PostgreSQL database and a unique topic prefix
on the shared local broker, so tests never see each other's events or figures, and the
services run as real processes (SIGKILL means SIGKILL).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.envelope import Envelope
from contracts.topics import FACTS, TOPICS
from services.platform.kafka.admin import ensure_topics, open_admin
from services.platform.kafka.publisher import EventPublisher, Position, event_publisher
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.namespace import create_namespace, drop_namespace, service_env
from services.platform.settings import Principal, Settings
from services.readmodel.counters import COUNTERS
from tests.support.polling import NotYet, eventually

REPO = Path(__file__).resolve().parents[2]
# The principal each service runs as (the stack's own calls run as the caller: admin).
PRINCIPALS: dict[str, Principal] = {
    "services.projector": "projector",
    "services.projector.app": "projector",
    "services.letters": "letters",
    "services.letters.app": "letters",
    "services.web": "web",
    "services.publication": "publication",
}


@dataclasses.dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush; what was not committed is lost. The whole
        process group, so render workers of a service that died already go too."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclasses.dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    workdir: Path
    services: list[Service] = dataclasses.field(default_factory=list)

    @property
    def facts(self) -> str:
        return self.settings.topic(FACTS)

    def start(self, module: str, **extra_env: str) -> Service:
        """Run ``python -m <module>`` (services.projector, services.letters) as a process,
        authenticated as the service's own principal (docs/security.md)."""
        log = self.workdir / f"{module.rsplit('.', 1)[-1]}-{len(self.services)}.log"
        principal = PRINCIPALS.get(module)
        own = service_env(self.settings, principal) if principal else {}
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO,
            env={**os.environ, **self.env, **own, **extra_env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        service = Service(module, process, log)
        self.services.append(service)
        return service

    def publisher(self) -> EventPublisher:
        return event_publisher(self.settings)

    async def publish(self, events: Iterable[Envelope[Any]]) -> list[Position]:
        async with self.publisher() as p:
            return await p.publish_many(list(events))

    async def publish_raw(self, values: Sequence[tuple[bytes | None, bytes]]) -> None:
        async with self.publisher() as p:
            for key, value in values:
                await p.publish_raw(value, key=key)

    async def end_offsets(self) -> dict[int, int]:
        consumer = AIOKafkaConsumer(**client_kwargs(self.settings))
        await consumer.start()
        try:
            parts = [TopicPartition(self.facts, p) for p in range(FACTS.partitions)]
            ends = await consumer.end_offsets(parts)
            return {tp.partition: o for tp, o in ends.items()}
        finally:
            await consumer.stop()

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.settings.database_url)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.connect()
        try:
            return cast("list[asyncpg.Record]", await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def positions(self) -> dict[int, int]:
        try:
            rows = await self.fetch(
                "SELECT partition, next_offset FROM readmodel.positions WHERE topic = $1",
                self.facts,
            )
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return {}
        return {r["partition"]: r["next_offset"] for r in rows}

    async def wait_caught_up(self, timeout: float = 120.0) -> None:
        """Until the projector's stored positions reach the topic's end offsets."""
        ends = await self.end_offsets()

        async def caught_up() -> bool:
            done = await self.positions()
            if not all(done.get(p, 0) >= o for p, o in ends.items()):
                raise NotYet(f"positions {done} < ends {ends}")
            return True

        await eventually(
            caught_up,
            what="the projector caught up",
            timeout=timeout,
            every=0.2,
            not_yet=(),
            explain=self.service_tails,
        )

    def service_tails(self, lines: int = 20) -> str:
        """The last lines of every service's log: what a timed-out wait shows."""
        return "\n".join(f"--- {s.log.name}\n{s.tail(lines)}" for s in self.services)

    async def stats(self) -> dict[tuple[str, int], dict[str, int]]:
        rows = await self.fetch("SELECT * FROM readmodel.council_year_stats")
        return {
            (r["council"], r["financial_year"]): {k: r[k] for k in COUNT_KEYS}
            for r in rows
            if any(r[k] for k in COUNT_KEYS)
        }


COUNT_KEYS = COUNTERS  # the counter columns of council_year_stats


async def open_stack(base: Settings, workdir: Path) -> Stack:
    settings = await create_namespace(base, f"ar_t_{uuid.uuid4().hex[:10]}")
    env = {
        **service_env(settings),
        "AR_LOG_FORMAT": "json",
        "AR_PROJECTOR_METRICS_PORT": "0",
        "AR_LETTERS_METRICS_PORT": "0",
        # A killed member would hold up the next rebalance until its session times out.
        "AR_PROJECTOR_SESSION_TIMEOUT_MS": "6000",
        "AR_LETTERS_SESSION_TIMEOUT_MS": "6000",
        # Letters left in 'sending' by a killed sender are settled after this plus 5 s.
        "AR_LETTERS_SMTP_TIMEOUT_S": "5",
        "PYTHONPATH": str(REPO),
    }
    return Stack(settings=settings, env=env, workdir=workdir)


async def close_stack(stack: Stack, base: Settings) -> None:
    for s in stack.services:
        s.kill()
    await drop_namespace(base, stack.settings)


async def recreate_topics(settings: Settings) -> None:
    """The Kafka data lost: the namespace's topics deleted, then created again, empty."""
    names = {settings.topic(t) for t in TOPICS}
    admin = await open_admin(settings.kafka_bootstrap, **sasl_kwargs(settings))
    try:
        await admin.delete_topics(sorted(names))

        async def gone() -> bool:
            if names & set(await admin.list_topics()):
                raise NotYet("topics still listed")
            return True

        await eventually(gone, what="the topics deleted", timeout=60, every=0.2, not_yet=())
    finally:
        await admin.close()

    async def created() -> bool:
        try:
            await ensure_topics(
                settings.kafka_bootstrap,
                [t.__class__(settings.topic(t), t.partitions, dict(t.config)) for t in TOPICS],
                **sasl_kwargs(settings),
            )
        except RuntimeError as e:  # still being deleted on the broker: try again
            raise NotYet(str(e)) from e
        return True

    await eventually(created, what="the topics created again", timeout=60, every=0.5, not_yet=())
