"""Tools of the fault-injection suite.

- ``read_topic`` / ``audit``: what is really in the facts topic after the faults (not what a
  test meant to publish), decoded the way the contract says, duplicates counted;
- ``expected_figures``: the simulator's independent oracle run over the log's valid events;
- ``compare``: counts lost and counts double-counted against it;
- ``StreamPublisher``: publishes a stream in chunks, paced, through broker outages (a chunk
  that fails is sent again from its start: a producer retry, same event ids);
- ``Servers``: stop and start this checkout's Kafka broker and PostgreSQL with the infra
  scripts, refusing to touch servers the tests are not using;
- ``Mailbox``: the local SMTP server and its Maildir, which can be stopped and made slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import mailbox
import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiosmtpd.controller import Controller

from contracts.codec import RejectedMessage, decode
from contracts.envelope import Envelope
from contracts.topics import DEAD_LETTERS, FACTS
from services.letters.narratives import SHIPPED_YEARS
from services.letters.smtp_server import MaildirHandler
from services.platform.kafka.publisher import EventPublisher, Position
from services.platform.kafka.security import client_kwargs
from services.platform.settings import Settings
from services.simulator.oracle import oracle
from tests.support.narratives import register_test_narrative
from tests.support.polling import eventually
from tests.support.stack import COUNT_KEYS, REPO, Stack

Figures = dict[tuple[str, int], dict[str, int]]


# --- what is in the log ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    timestamp: int  # ms, the producer's create time


async def read_topic(
    settings: Settings, topic: str, partitions: int, timeout: float = 120.0
) -> list[Message]:
    """Every message of ``topic`` from offset 0 to its end offsets at the time of the call."""
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            if not behind:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}: still behind on {behind}")
            batch = await consumer.getmany(*behind, timeout_ms=1000, max_records=20_000)
            for tp, records in batch.items():
                out.extend(
                    Message(tp.partition, r.offset, r.key, r.value, dict(r.headers), r.timestamp)
                    for r in records
                    if r.offset < ends[tp]
                )
        return sorted(out, key=lambda m: (m.partition, m.offset))
    finally:
        await consumer.stop()


@dataclass
class LogAudit:
    """The facts topic, message by message, as the contract sees it."""

    messages: list[Message]
    valid: list[tuple[Message, Envelope[Any]]] = field(default_factory=list)
    rejected: dict[tuple[int, int], str] = field(default_factory=dict)  # position -> reason
    duplicates: int = 0  # valid messages whose event id is already earlier in the log

    @property
    def published(self) -> int:
        return len(self.messages)

    def first_occurrences(self) -> list[Envelope[Any]]:
        """The valid events, each once, in log order (what a correct projector applies):
        each partition in offset order, the partitions merged by publication time, so an
        event about another council's case comes after that case, as it was published."""
        partitions: dict[int, list[tuple[Message, Envelope[Any]]]] = {}
        for m, e in self.valid:
            partitions.setdefault(m.partition, []).append((m, e))
        merged = heapq.merge(*partitions.values(), key=lambda me: me[0].timestamp)
        seen: set[UUID] = set()
        out = []
        for _, event in merged:
            if event.event_id not in seen:
                seen.add(event.event_id)
                out.append(event)
        return out

    def positions_of(self, event_ids: Iterable[UUID]) -> set[tuple[int, int]]:
        wanted = set(event_ids)
        return {(m.partition, m.offset) for m, e in self.valid if e.event_id in wanted}


def audit(messages: Sequence[Message]) -> LogAudit:
    result = LogAudit(list(messages))
    seen: set[UUID] = set()
    for m in result.messages:
        try:
            event = decode(m.value)
        except RejectedMessage as rejected:
            result.rejected[(m.partition, m.offset)] = rejected.reason.value
            continue
        result.valid.append((m, event))
        if event.event_id in seen:
            result.duplicates += 1
        seen.add(event.event_id)
    return result


async def audit_facts(stack: Stack) -> LogAudit:
    return audit(await read_topic(stack.settings, stack.facts, FACTS.partitions))


async def dead_letter_topic(stack: Stack) -> list[Message]:
    return await read_topic(stack.settings, stack.settings.topic(DEAD_LETTERS), 1)


# --- what the figures must be --------------------------------------------------------------


def expected_figures(events: Iterable[Envelope[Any]]) -> Figures:
    """The simulator's oracle (services/simulator/oracle.py), in the projector's terms."""
    return {
        (code, year.start_year): counts.as_dict()
        for (code, year), counts in oracle(events).items()
        if any(counts.as_dict().values())
    }


def compare(actual: Figures, expected: Figures) -> tuple[int, int]:
    """(counts lost, counts double-counted): the oracle's counts missing from the figures,
    and the figures' counts beyond the oracle, summed over every council-year and column."""
    lost = surplus = 0
    for key in actual.keys() | expected.keys():
        a, e = actual.get(key, {}), expected.get(key, {})
        for column in COUNT_KEYS:
            diff = a.get(column, 0) - e.get(column, 0)
            lost += max(0, -diff)
            surplus += max(0, diff)
    return lost, surplus


async def applied_event_ids(stack: Stack) -> set[UUID]:
    """The ids in the active version's ``applied_events`` (no reader view exists for it)."""
    (active,) = await stack.fetch(
        "SELECT schema_name FROM projection_versions WHERE status = 'active'"
    )
    schema = active["schema_name"]
    assert re.fullmatch(r"rm_v\d+", schema), schema
    rows = await stack.fetch(f"SELECT event_id FROM {schema}.applied_events")
    return {r["event_id"] for r in rows}


async def dead_letter_rows(stack: Stack) -> dict[tuple[int, int], str]:
    rows = await stack.fetch(
        'SELECT partition, "offset", reason FROM readmodel.dead_letters WHERE topic = $1',
        stack.facts,
    )
    return {(r["partition"], r["offset"]): r["reason"] for r in rows}


# --- publishing through faults ---------------------------------------------------------------


@dataclass
class PublishReport:
    events: int = 0  # events handed to the publisher
    chunks: int = 0
    chunk_retries: int = 0  # chunks sent again after an error: their events may be twice
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


class StreamPublisher:
    """Publishes events in chunks at ``rate`` events per second (None: as fast as it can),
    as a careful case management system would: when a chunk fails, reconnect with backoff
    and send the whole chunk again."""

    def __init__(self, stack: Stack, *, chunk: int = 1000, rate: float | None = None) -> None:
        self.stack = stack
        self.chunk = chunk
        self.rate = rate
        self.report = PublishReport()
        self.progress = 0  # events acknowledged so far

    async def run(self, events: Sequence[Envelope[Any] | dict[str, Any]]) -> PublishReport:
        started = time.monotonic()
        publisher = None
        try:
            for i in range(0, len(events), self.chunk):
                chunk = events[i : i + self.chunk]
                if self.rate:
                    due = started + i / self.rate
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                attempt = 0
                while True:
                    try:
                        if publisher is None:
                            publisher = self.stack.publisher()
                            await asyncio.wait_for(publisher.__aenter__(), 30)
                        await asyncio.wait_for(_publish_chunk(publisher, chunk), 60)
                        break
                    except Exception as exc:  # the broker is away: reconnect, resend
                        attempt += 1
                        self.report.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                        if attempt > 30:
                            raise
                        if attempt == 1:
                            self.report.chunk_retries += 1
                        await _close_quietly(publisher)
                        publisher = None
                        await asyncio.sleep(min(5.0, 0.25 * 2**attempt))
                self.report.chunks += 1
                self.report.events += len(chunk)
                self.progress += len(chunk)
        finally:
            await _close_quietly(publisher)
            self.report.seconds = round(time.monotonic() - started, 1)
        return self.report


async def _publish_chunk(
    publisher: EventPublisher, chunk: Sequence[Envelope[Any] | dict[str, Any]]
) -> None:
    """Valid events through the validating publisher; the simulator's invalid ones (dicts)
    as raw JSON, keyed by their council like everything else."""
    await publisher.publish_many([e for e in chunk if isinstance(e, Envelope)])
    await asyncio.gather(
        *(
            publisher.publish_raw(json.dumps(e).encode(), key=_key(e))
            for e in chunk
            if not isinstance(e, Envelope)
        )
    )


def _key(item: dict[str, Any]) -> bytes | None:
    council = item.get("council")
    return council.encode() if isinstance(council, str) else None


async def _close_quietly(publisher: Any) -> None:
    if publisher is None:
        return
    # A producer of a dead connection: nothing to flush, nothing to report.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(publisher.__aexit__(None, None, None), 10)


async def publish_raw_many(
    publisher: EventPublisher, values: Sequence[tuple[bytes | None, bytes | None]]
) -> list[Position]:
    """Raw bytes, unvalidated, pipelined (sent together, each acknowledged): where each one
    landed, in the order given."""
    return list(
        await asyncio.gather(*(publisher.publish_raw(v, key=k) for k, v in values))  # type: ignore[arg-type]
    )


# --- the servers of this checkout ----------------------------------------------------------


class NotOurServers(RuntimeError):
    """The servers the tests use are not this checkout's: restarting them is refused."""


class Servers:
    """This checkout's broker and PostgreSQL (infra/kafka/kafka.sh, infra/postgres/pg.sh).

    The ports come from the settings the tests use (``make test`` runs them through
    infra/ctl.sh, which exports them); before anything is stopped, the scripts must report
    that the checkout's own servers are running on exactly those ports.
    """

    def __init__(self, settings: Settings, root: Path = REPO) -> None:
        self.root = root
        self.kafka_port = int(settings.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])
        pg_port = urlsplit(settings.database_url).port
        self.pg_port = pg_port or 5432
        self.log: list[str] = []

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "KAFKA_PORT": str(self.kafka_port), "AR_PG_PORT": str(self.pg_port)}
        controller = os.environ.get("KAFKA_CONTROLLER_PORT") or self._controller_port()
        if controller:
            env["KAFKA_CONTROLLER_PORT"] = controller
        return env

    def _controller_port(self) -> str | None:
        props = self.root / ".local/kafka/server.properties"
        text = props.read_text() if props.is_file() else ""
        m = re.search(r"^controller\.quorum\.voters=\d+@[^:\s]+:(\d+)", text, re.M)
        return m.group(1) if m else None

    def _run(self, script: str, command: str, timeout: float = 180.0) -> str:
        started = time.monotonic()
        done = subprocess.run(
            [str(self.root / script), command],
            cwd=self.root,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        out = (done.stdout + done.stderr).strip()
        self.log.append(f"{script} {command} ({time.monotonic() - started:.1f}s): {out[-300:]}")
        if done.returncode != 0:
            raise RuntimeError(f"{script} {command} failed ({done.returncode}):\n{out}")
        return out

    def check_ours(self) -> None:
        """Refuse unless this checkout's servers run on the ports the tests use."""
        props = self.root / ".local/kafka/server.properties"
        listeners = props.read_text() if props.is_file() else ""
        if not re.search(rf"^advertised\.listeners=.*:{self.kafka_port}\b", listeners, re.M):
            raise NotOurServers(
                f"the broker on port {self.kafka_port} is not this checkout's "
                f"({props} does not listen there): not restarting it"
            )
        for script in ("infra/kafka/kafka.sh", "infra/postgres/pg.sh"):
            try:
                self._run(script, "status", timeout=30)
            except RuntimeError as exc:
                raise NotOurServers(
                    f"{script} status: this checkout's server is not the one running on the "
                    f"test ports ({exc}): not restarting it"
                ) from None
        base = Path(self._run("infra/postgres/pg.sh", "dir", timeout=30).splitlines()[-1])
        pid_file = base / "data" / "postmaster.pid"
        lines = pid_file.read_text().splitlines() if pid_file.is_file() else []
        if len(lines) < 4 or lines[3].strip() != str(self.pg_port):
            raise NotOurServers(
                f"this checkout's PostgreSQL ({pid_file}) does not run on port {self.pg_port}: "
                "not restarting it"
            )

    def stop_kafka(self) -> None:
        self._run("infra/kafka/kafka.sh", "stop")

    def start_kafka(self) -> None:
        self._start("infra/kafka/kafka.sh")

    def stop_postgres(self) -> None:
        self._run("infra/postgres/pg.sh", "stop")

    def start_postgres(self) -> None:
        self._start("infra/postgres/pg.sh")

    def _start(self, script: str, attempts: int = 4) -> None:
        """Start, trying again a few times: while a server is down its clients keep
        connecting to its port, and when that port lies in the ephemeral range
        (ip_local_port_range, e.g. 49092) a client can connect to itself on it for a moment
        (a TCP self-connect), and the server's bind then fails with "Address already in use".
        The default ports (19092, 15432) are below that range."""
        for attempt in range(1, attempts + 1):
            try:
                self._run(script, "start")
                return
            except RuntimeError:
                if attempt == attempts:
                    raise
                time.sleep(2.0 * attempt)

    def ensure_running(self) -> None:
        """Start whatever is stopped (both scripts are harmless when already running)."""
        errors = []
        for script in ("infra/postgres/pg.sh", "infra/kafka/kafka.sh"):
            try:
                self._start(script)
            except Exception as exc:
                errors.append(str(exc))
        if errors:
            raise RuntimeError("could not bring the servers back:\n" + "\n".join(errors))


# --- waiting -----------------------------------------------------------------------------


# --- a real SMTP server that can be taken away ---------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SlowMaildirHandler(MaildirHandler):
    """Takes ``delay_s`` over each message before accepting it: letters stay in the SMTP
    conversation long enough for a fault to land in the middle of it."""

    def __init__(self, maildir: Path, *, delay_s: float) -> None:
        super().__init__(maildir)
        self.delay_s = delay_s

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay_s)
        return await super().handle_DATA(server, session, envelope)


class Mailbox:
    """The local aiosmtpd server (services/letters/smtp_server.py) on a fixed port, with its
    Maildir: what it accepted is what was sent. It can be stopped and started again."""

    def __init__(self, path: Path, *, accept_delay_s: float = 0.0) -> None:
        self.path = path
        self.port = free_port()
        self.accept_delay_s = accept_delay_s
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is None:
            handler = (
                SlowMaildirHandler(self.path, delay_s=self.accept_delay_s)
                if self.accept_delay_s
                else MaildirHandler(self.path)
            )
            self._controller = Controller(handler, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def emails_per_letter(self) -> Counter[str]:
        """Accepted emails per letter, ``council/year/kind/version``."""
        if not self.path.exists():
            return Counter()
        box = mailbox.Maildir(self.path, create=False)
        return Counter(str(m["X-Annual-Review-Letter"]) for m in box)

    def emails_per_council_year(self) -> Counter[tuple[str, str]]:
        out: Counter[tuple[str, str]] = Counter()
        for letter, n in self.emails_per_letter().items():
            council, year = letter.split("/")[:2]
            out[(council, year)] += n
        return out

    def env(self, **extra: str) -> dict[str, str]:
        """Settings of a letter service sending here, with this Maildir as its archive."""
        return {
            "AR_SMTP_PORT": str(self.port),
            "AR_LETTERS_RECONCILE_MAILDIR": str(self.path),
            "AR_LETTERS_RENDER_WORKERS": "1",
            **extra,
        }


async def close_year(stack: Stack, label: str = "2019-20") -> None:
    """Close a financial year (its letters dated the July after it ends), registering a test
    narrative first for a letter year the project ships none for."""
    end = int(label[:4]) + 1
    if end not in SHIPPED_YEARS:
        await register_test_narrative(stack.settings, end)
    async with stack.publisher() as p:
        await p.close_year(
            {
                "financial_year": label,
                "letter_date": f"{end}-07-22",
                "publication_date": f"{end}-07-29",
                "signatory": {"name": "Michael King", "titles": ["Ombudsman"]},
            },
            producer="tests",
        )


def reap(service: Any) -> None:
    """SIGKILL what is left of a service's process group: a service that crashed on its own
    (os._exit at a crash point) leaves its render worker processes behind."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(service.process.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        service.process.wait(10)


async def outbox_states(stack: Stack) -> dict[str, int]:
    rows = await stack.fetch("SELECT state, count(*) AS n FROM letters.outbox GROUP BY 1")
    return {r["state"]: r["n"] for r in rows}


def distribution(emails: Counter[tuple[str, str]]) -> dict[str, int]:
    """How many council-years got 1, 2... emails: {"1 email(s)": N} is the only right answer
    (a council-year with none is missing from ``emails``: compare with the expected ones)."""
    return {f"{n} email(s)": m for n, m in sorted(Counter(emails.values()).items())}


def log_lines(service: Any, needle: str) -> int:
    """How many lines of a service's log contain ``needle``."""
    return sum(1 for line in service.log.read_text(errors="replace").splitlines() if needle in line)


# --- after the faults: the whole outcome, checked the same way by every fault test ---------


async def every_letter_sent(
    stack: Stack,
    mail: Mailbox,
    councils: Collection[str | None],
    figures: dict[str, Any],
    *,
    timeout: float,
) -> None:
    """The projector caught up, then every council's letter sent (and a second more, for
    anything that would arrive twice); the mailbox stopped; the outbox's states recorded in
    ``figures`` whatever happened."""
    try:
        await stack.wait_caught_up(timeout=180)

        async def letters_sent() -> bool:
            return await outbox_states(stack) == {"sent": len(councils)}

        await eventually(letters_sent, timeout=timeout, what="every letter sent")
        await asyncio.sleep(1.0)  # and nothing more arrives
    finally:
        mail.stop()
        figures["outbox"] = await outbox_states(stack)


@dataclass
class Outcome:
    """What the faults left: the log as it is, the oracle's figures over it, the projector's
    figures, the events applied, the dead letters and the e-mails accepted."""

    log: LogAudit
    expected: Figures
    actual: Figures
    lost_counts: int
    double_counted: int
    applied: set[UUID]
    dead: dict[tuple[int, int], str]
    emails: Counter[tuple[str, str]]

    def figures(self) -> dict[str, Any]:
        """The numbers every fault test's report prints."""
        return {
            "events_published": self.log.published,
            "valid_messages": len(self.log.valid),
            "duplicate_messages": self.log.duplicates,
            "applied": len(self.applied),
            "dead_lettered": len(self.dead),
            "lost_events": len({e.event_id for e in self.log.first_occurrences()} - self.applied),
            "lost_counts": self.lost_counts,
            "double_counted": self.double_counted,
            "emails": sum(self.emails.values()),
            "emails_per_council_year": distribution(self.emails),
            "figures_equal_oracle": self.actual == self.expected,
        }

    def assert_exact(
        self,
        intended: Iterable[Envelope[Any]],
        councils: Collection[str | None],
        year: str = "2019-20",
    ) -> None:
        """Nothing lost, nothing counted twice, every intended event in the log, each
        council's letter e-mailed once."""
        assert self.expected == expected_figures(intended)  # every intended event is in the log
        assert self.actual == self.expected
        assert (self.lost_counts, self.double_counted) == (0, 0)
        assert self.applied == {e.event_id for e in self.log.first_occurrences()}
        assert self.emails == {(c, year): 1 for c in councils}


async def outcome(stack: Stack, mail: Mailbox) -> Outcome:
    log = await audit_facts(stack)
    expected = expected_figures(log.first_occurrences())
    actual = await stack.stats()
    lost_counts, double_counted = compare(actual, expected)
    return Outcome(
        log=log,
        expected=expected,
        actual=actual,
        lost_counts=lost_counts,
        double_counted=double_counted,
        applied=await applied_event_ids(stack),
        dead=await dead_letter_rows(stack),
        emails=mail.emails_per_council_year(),
    )
