"""What every benchmark needs: the servers, a database and topics of its own, processes.

Each measurement gets its own PostgreSQL database (``bench_<tag>``) and reads a topic
whose prefix names the data set (``bench.n1000000.s1.``), so runs never see the
project's or the tests' data. Services run as real processes (``python -m ...``), so
their peak memory is their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from contracts.topics import FACTS, TOPICS
from services.platform.kafka.admin import ensure_topics, wait_for_kafka
from services.platform.kafka.security import process_sasl_kwargs
from services.platform.settings import Settings, redact_url
from services.readmodel import status as read_model_status

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".local" / "bench"


class Skip(Exception):
    """A measurement cannot run here; the reason is printed and recorded, not a failure."""


async def check_servers(settings: Settings) -> None:
    """Raise Skip with what to do when PostgreSQL or Kafka does not answer."""
    try:
        conn = await asyncio.wait_for(asyncpg.connect(settings.database_url), 10)
        await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        raise Skip(
            f"PostgreSQL at {redact_url(settings.database_url)} is not reachable "
            f"({type(e).__name__}: {e}); run `make up` or set AR_DATABASE_URL"
        ) from None
    try:
        await wait_for_kafka(settings.kafka_bootstrap, wait_s=10)
    except TimeoutError as e:
        raise Skip(
            f"Kafka at {settings.kafka_bootstrap} is not reachable ({e}); run `make up` or "
            f"set AR_KAFKA_BOOTSTRAP"
        ) from None


def with_database(settings: Settings, name: str) -> Settings:
    parts = urlsplit(settings.database_url)
    return settings.model_copy(update={"database_url": urlunsplit(parts._replace(path=f"/{name}"))})


@dataclasses.dataclass
class Slice:
    """A database of its own on the real server, reading the topics of ``prefix``."""

    base: Settings
    settings: Settings
    database: str
    tag: str

    @property
    def facts(self) -> str:
        return self.settings.topic(FACTS)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "AR_DATABASE_URL": self.settings.database_url,
            "AR_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "AR_TOPIC_PREFIX": self.settings.topic_prefix,
            "AR_LOG_FORMAT": "json",
            "AR_LOG_LEVEL": "WARNING",
            "AR_PROJECTOR_METRICS_PORT": "0",
            "AR_LETTERS_METRICS_PORT": "0",
            "AR_PROJECTOR_GROUP_ID": f"bench-{self.tag}-projector",
            "AR_LETTERS_GROUP_ID": f"bench-{self.tag}-letters",
            "PYTHONPATH": str(REPO),
            **extra,
        }

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.settings.database_url)


@contextlib.asynccontextmanager
async def database_slice(
    base: Settings, prefix: str, *, keep: bool = False
) -> AsyncIterator[Slice]:
    tag = uuid.uuid4().hex[:8]
    name = f"bench_{tag}"
    admin = await asyncpg.connect(base.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    settings = with_database(base, name).model_copy(update={"topic_prefix": prefix})
    try:
        yield Slice(base, settings, name, tag)
    finally:
        if not keep:
            admin = await asyncpg.connect(base.database_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


async def ensure_prefixed_topics(settings: Settings) -> None:
    await ensure_topics(
        settings.kafka_bootstrap,
        [dataclasses.replace(t, name=settings.topic(t)) for t in TOPICS],
    )


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **process_sasl_kwargs()
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return {}
        parts = range(FACTS.partitions)
        try:
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        except KafkaError:
            return {}
        return {tp.partition: o for tp, o in ends.items()}
    finally:
        await consumer.stop()


async def stored_positions(conn: asyncpg.Connection, topic: str) -> dict[int, int]:
    try:
        return await read_model_status.stored_positions(conn, topic)
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return {}  # the projector has not created the read models yet


# --- processes -----------------------------------------------------------------------------


@dataclasses.dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    rss_samples: list[tuple[float, int]] = dataclasses.field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def status(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) in bytes, from /proc; empty once the process is gone."""
        out: dict[str, int] = {}
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return out
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
        return out

    def sample_rss(self, progress: float) -> None:
        rss = self.status().get("VmRSS")
        if rss:
            self.rss_samples.append((progress, rss))

    def peak_rss(self) -> int | None:
        return self.status().get("VmHWM")

    def stop(self, limit_s: float = 30) -> None:
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(limit_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(10)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_process(name: str, args: Sequence[str], env: dict[str, str]) -> Process:
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / f"{name}-{uuid.uuid4().hex[:6]}.log"
    popen = subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Process(name, popen, log)


@dataclasses.dataclass
class Progress:
    """What a poll of the stored positions saw: when the first batch landed, when done."""

    first_at: float | None = None
    first_total: int = 0
    done_at: float | None = None
    total: int = 0
    peak_rss: int | None = None


async def follow_positions(
    s: Slice,
    process: Process,
    target: int,
    *,
    limit_s: float,
    interval: float = 0.05,
    stop_after: float | None = None,
) -> Progress:
    """Poll the stored positions until their sum reaches ``target`` (or ``stop_after``
    seconds after the first batch landed). The rate counts from the first committed
    batch, so process start-up and the group join are not in it."""
    conn = await s.connect()
    progress = Progress()
    deadline = time.monotonic() + limit_s
    next_sample = 0.0
    try:
        while True:
            total = sum((await stored_positions(conn, s.facts)).values())
            now = time.monotonic()
            if total > 0 and progress.first_at is None:
                progress.first_at, progress.first_total = now, total
            progress.total = total
            if now >= next_sample:
                process.sample_rss(total / target if target else 0.0)
                next_sample = now + 0.5
            if total >= target:
                progress.done_at = now
                break
            if (
                stop_after is not None
                and progress.first_at is not None
                and now - progress.first_at >= stop_after
            ):
                progress.done_at = now
                break
            if not process.alive():
                raise RuntimeError(f"{process.name} exited early:\n{process.tail()}")
            if now > deadline:
                raise TimeoutError(
                    f"{process.name} reached {total:,} of {target:,} in {limit_s:.0f}s:\n"
                    f"{process.tail()}"
                )
            await asyncio.sleep(interval)
    finally:
        await conn.close()
    progress.peak_rss = process.peak_rss()
    return progress


def rate(p: Progress) -> float:
    assert p.first_at is not None and p.done_at is not None
    seconds = p.done_at - p.first_at
    return (p.total - p.first_total) / seconds if seconds > 0 else 0.0


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return float("nan")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def mb(n: int | None) -> float | None:
    return round(n / 1024 / 1024, 1) if n else None


def now_s() -> float:
    return time.monotonic()


def jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
