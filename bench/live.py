"""A live system: end-to-end latency at a steady publish rate, then a year's letters.

Latency: councils are registered and the real projector is started and caught up; then
the real ``EventPublisher`` publishes simulated casework at a fixed rate (a burst every
10 ms). A poller in its own thread reads the stored positions every 2 ms: an event is
visible when its partition's stored position has passed its offset, since the position
commits in the same transaction as the figures. Latency = visible - publish call.

Letters: the same system's year is closed with ``EventPublisher.close_year``; the real
letter service (a process, rendering with its process pool) turns the projector's
snapshot into one letter per council and sends each to a local aiosmtpd server (a
Maildir). Timed from the close to the last letter accepted by the SMTP server.
"""

from __future__ import annotations

import asyncio
import bisect
import mailbox
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, cast

import asyncpg

from bench.dataset import YEAR
from bench.infra import Skip, Slice, ensure_prefixed_topics, start_process, stored_positions
from contracts.envelope import Envelope
from services.platform.kafka.publisher import event_publisher
from services.simulator import simulate_year

TICK_S = 0.01
POLL_S = 0.002


class PositionPoller(threading.Thread):
    """Polls the stored positions in its own thread and event loop; keeps the changes."""

    def __init__(self, dsn: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.dsn, self.topic = dsn, topic
        self.changes: dict[int, list[tuple[int, float]]] = {}  # partition -> (next, seen at)
        self.samples: list[tuple[float, int]] = []  # (time, sum of positions)
        self.stop_flag = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._poll())
        except BaseException as e:  # reported by the caller
            self.error = e

    async def _poll(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        last: dict[int, int] = {}
        try:
            while not self.stop_flag.is_set():
                positions = await stored_positions(conn, self.topic)
                now = time.perf_counter()
                for p, o in positions.items():
                    if last.get(p) != o:
                        self.changes.setdefault(p, []).append((o, now))
                        last[p] = o
                self.samples.append((now, sum(positions.values())))
                await asyncio.sleep(POLL_S)
        finally:
            await conn.close()


class KafkaWatcher(threading.Thread):
    """The reference: when a bare consumer (own thread, own loop) receives each record, so
    the projector's latency can be read against what Kafka alone takes on this machine in
    the same seconds."""

    def __init__(self, settings: Any, topic: str) -> None:
        super().__init__(daemon=True)
        self.settings, self.topic = settings, topic
        self.seen: dict[tuple[int, int], float] = {}
        self.ready = threading.Event()
        self.stop_flag = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._watch())
        except BaseException as e:  # reported by the caller
            self.error = e
        finally:
            self.ready.set()

    async def _watch(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        from contracts.topics import FACTS
        from services.platform.kafka.security import client_kwargs

        consumer = AIOKafkaConsumer(**client_kwargs(self.settings), group_id=None,
                                    enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        try:
            parts = [TopicPartition(self.topic, p) for p in range(FACTS.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_end(*parts)
            for tp in parts:
                await consumer.position(tp)
            self.ready.set()
            while not self.stop_flag.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for tp, records in batch.items():
                    for r in records:
                        self.seen[(tp.partition, r.offset)] = now
        finally:
            await consumer.stop()


async def wait_positions(s: Slice, target: int, limit_s: float, process: Any) -> None:
    conn = await s.connect()
    deadline = time.monotonic() + limit_s
    try:
        while sum((await stored_positions(conn, s.facts)).values()) < target:
            if not process.alive():
                raise RuntimeError(f"projector exited:\n{process.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"projector did not reach {target}:\n{process.tail()}")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def start_live(s: Slice, *, councils: int, max_records: int) -> tuple[Any, int]:
    """Register the councils and start the projector; returns it and the records so far."""
    await ensure_prefixed_topics(s.settings)
    registrations = list(
        simulate_year(YEAR, councils=councils, events=0, invalid_share=0.0, mansfield_real=False)
    )
    async with event_publisher(s.settings) as publisher:
        # invalid_share=0.0: every item is an Envelope, none an invalid raw dict
        await publisher.publish_many(cast("list[Envelope[Any]]", registrations))
    projector = start_process(
        "projector-live",
        ["-m", "services.projector"],
        s.env(AR_PROJECTOR_MAX_RECORDS=str(max_records)),
    )
    await wait_positions(s, len(registrations), 120, projector)
    return projector, len(registrations)


async def latency(
    s: Slice, projector: Any, base: int, *, councils: int, rate: int, seconds: float, rep: int
) -> dict[str, Any]:
    """One latency run on the live system; ``base``: records in the topic before it.
    Repetition ``rep`` simulates financial year 2019-20 + rep, so its cases are new."""
    year = f"{2019 + rep}-{(20 + rep) % 100:02d}"
    n = int(rate * seconds)
    events = [
        e
        for e in simulate_year(
            year,
            councils=councils,
            events=n,
            seed=7 + rep,
            invalid_share=0.0,
            include_registrations=False,
            mansfield_real=False,
        )
        if isinstance(e, Envelope)
    ]
    per_tick = max(1, round(rate * TICK_S))
    poller = PositionPoller(s.settings.database_url, s.facts)
    poller.start()
    watcher = KafkaWatcher(s.settings, s.facts)
    watcher.start()
    watcher.ready.wait(30)
    sent: list[tuple[float, asyncio.Task[Any]]] = []
    async with event_publisher(
        s.settings
    ) as publisher:  # the publisher the case management system uses
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        for k, i in enumerate(range(0, len(events), per_tick)):
            due = started + k * TICK_S
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            t_send = time.perf_counter()
            chunk = events[i : i + per_tick]
            sent.append((t_send, asyncio.create_task(publisher.publish_many(chunk))))
        publish_seconds = time.perf_counter() - started
        positions = [(t, await task) for t, task in sent]
    await wait_positions(s, base + len(events), 120, projector)
    await asyncio.sleep(0.05)
    poller.stop_flag.set()
    poller.join(10)
    watcher.stop_flag.set()
    watcher.join(10)
    if poller.error:
        raise poller.error
    kafka_lat = sorted(
        watcher.seen[(pos.partition, pos.offset)] - t_send
        for t_send, written in positions
        for pos in written
        if (pos.partition, pos.offset) in watcher.seen
    )
    lat: list[float] = []
    per_event: list[tuple[float, float]] = []  # (sent at, latency)
    index = {p: ([o for o, _ in ch], [t for _, t in ch]) for p, ch in poller.changes.items()}
    for t_send, written in positions:
        for pos in written:
            offs, times = index[pos.partition]
            i = bisect.bisect_right(offs, pos.offset)  # first stored position > offset
            latency_s = times[i] - t_send
            lat.append(latency_s)
            per_event.append((t_send, latency_s))
    lat.sort()
    third = len(per_event) // 3
    first = [x for _, x in per_event[:third]] or [0.0]
    last = [x for _, x in per_event[-third:]] or [0.0]
    # Backlog: published (send called) but not yet visible, sampled at every poll.
    send_times = sorted(t for t, _ in per_event)
    backlog = [
        bisect.bisect_right(send_times, t) - max(0, total - base)
        for t, total in poller.samples
        if send_times and send_times[0] <= t <= send_times[-1]
    ]
    result = {
        "events": len(lat),
        "target_rate": rate,
        "achieved_rate": len(lat) / publish_seconds if publish_seconds else 0.0,
        "p50_ms": _pct(lat, 0.50) * 1000,
        "p90_ms": _pct(lat, 0.90) * 1000,
        "p99_ms": _pct(lat, 0.99) * 1000,
        "max_ms": lat[-1] * 1000,
        "p99_first_third_ms": _pct(sorted(first), 0.99) * 1000,
        "p99_last_third_ms": _pct(sorted(last), 0.99) * 1000,
        "max_backlog_events": max(backlog, default=0),
        "mean_backlog_events": statistics.fmean(backlog) if backlog else 0.0,
        "lag_bounded": _bounded(backlog, rate),
        "poll_interval_ms": POLL_S * 1000,
        # The same events, received by a bare consumer: what Kafka alone takes here.
        "kafka_p50_ms": _pct(kafka_lat, 0.50) * 1000,
        "kafka_p99_ms": _pct(kafka_lat, 0.99) * 1000,
        "kafka_events_seen": len(kafka_lat),
        "load_average": os.getloadavg(),
    }
    return result


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _bounded(backlog: list[int], rate: int) -> bool:
    """Bounded: the backlog never exceeds one second of publishing, and the last third's
    mean is not above the first third's by more than a tenth of a second's worth."""
    if not backlog:
        return True
    third = max(1, len(backlog) // 3)
    head, tail = statistics.fmean(backlog[:third]), statistics.fmean(backlog[-third:])
    return max(backlog) <= rate and tail <= head + rate / 10


# --- letters -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def letters(s: Slice, *, render_workers: int, limit_s: float) -> dict[str, Any]:
    """Close the year of the running system; time every council's letter to the SMTP server."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as e:
        raise Skip(f"WeasyPrint cannot load ({e}): install Pango (make setup)") from None
    from services.letters.smtp_server import start as start_smtp

    maildir = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    port = free_port()
    controller, _handler = start_smtp(maildir / "mail", port=port)
    service = start_process(
        "letters",
        ["-m", "services.letters"],
        s.env(
            AR_SMTP_PORT=str(port),
            AR_LETTERS_RECONCILE_MAILDIR=str(maildir / "mail"),
            AR_LETTERS_RENDER_WORKERS=str(render_workers),
            AR_LOG_LEVEL="INFO",
        ),
    )
    conn = await s.connect()
    try:
        deadline = time.monotonic() + 120
        while "letter service started" not in service.log.read_text(errors="replace"):
            if not service.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"letter service did not start:\n{service.tail()}")
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the consumer joins its group
        t_close = time.perf_counter()
        async with event_publisher(s.settings) as publisher:
            await publisher.close_year(
                {
                    "financial_year": YEAR,
                    "letter_date": "2020-07-22",
                    "publication_date": "2020-07-29",
                    "signatory": {
                        "name": "Michael King",
                        "titles": ["Local Government and Social Care Ombudsman"],
                    },
                },
                producer="bench",
            )
        marks: dict[str, float] = {}
        expected: int | None = None
        deadline = time.monotonic() + limit_s
        while True:
            if expected is None:
                expected = (
                    await conn.fetchval("SELECT letters FROM letters.closes_handled LIMIT 1")
                    if await _has_outbox(conn)
                    else None
                )
                if expected is not None:
                    marks["queued"] = time.perf_counter()
            if expected is not None:
                rows = await conn.fetch(
                    "SELECT state, count(*) AS n FROM letters.outbox GROUP BY 1"
                )
                states = {r["state"]: r["n"] for r in rows}
                if states.get("pending", 0) == 0 and "rendered" not in marks:
                    marks["rendered"] = time.perf_counter()
                if states.get("sent", 0) >= expected:
                    marks["sent"] = time.perf_counter()
                    break
                if states.get("failed") or states.get("held") or states.get("uncertain"):
                    raise RuntimeError(f"letters not all sendable: {states}\n{service.tail()}")
            if not service.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"letters not sent in time:\n{service.tail()}")
            await asyncio.sleep(0.05)
        contexts = [
            r["context"]
            for r in await conn.fetch("SELECT context FROM letters.outbox ORDER BY id LIMIT 5")
        ]
    finally:
        await conn.close()
        service.stop()
        controller.stop()
    accepted = len(mailbox.Maildir(maildir / "mail", create=False))
    assert expected is not None
    dispatch_s = marks["sent"] - marks["queued"]
    return {
        "letters": expected,
        "accepted_by_smtp": accepted,
        "render_workers": render_workers,
        "close_to_sent_seconds": marks["sent"] - t_close,
        "close_to_queued_seconds": marks["queued"] - t_close,
        "queued_to_rendered_seconds": marks["rendered"] - marks["queued"],
        "queued_to_sent_seconds": dispatch_s,
        "letters_per_second": expected / dispatch_s if dispatch_s else 0.0,
        "render_ms_per_letter": render_profile(contexts),
    }


async def _has_outbox(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass('letters.closes_handled') IS NOT NULL"))


def render_profile(contexts: list[str]) -> dict[str, float]:
    """Single-process cost of each artefact, median over a few of the year's letters, each
    timed as a render worker makes it (the PDF from its own page with SVG charts, tagged)."""
    from services.domain.letter_inputs import LetterInputs
    from services.letters.render import render_html, render_pdf, render_text

    times: dict[str, list[float]] = {"text": [], "html": [], "pdf": []}
    for ctx in contexts:
        letter = LetterInputs.from_json(ctx).letter(1)
        t0 = time.perf_counter()
        render_text(letter)
        t1 = time.perf_counter()
        render_html(letter)
        t2 = time.perf_counter()
        render_pdf(letter)
        t3 = time.perf_counter()
        times["text"].append(t1 - t0)
        times["html"].append(t2 - t1)
        times["pdf"].append(t3 - t2)
    return {k: statistics.median(v) * 1000 for k, v in times.items() if v}
