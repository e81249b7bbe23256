"""The shared health server (services/platform/health.py) and the two services' readiness
checks, on fakes and a fake clock; the HTTP server is real (loopback, any free port)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.domain.letter_lifecycle import LetterState
from services.letters import metrics as letter_metrics
from services.letters.readiness import LettersReadiness
from services.platform.health import Health, NotReady, Stall, main, serve_health
from services.projector.metrics import FailureStreak
from services.projector.readiness import ProjectorReadiness


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def ok_check() -> str:
    return "fine"


async def refusing_check() -> str:
    raise NotReady("the database does not answer")


async def broken_check() -> str:
    raise ConnectionRefusedError("connect call failed")


async def hanging_check() -> str:
    await asyncio.sleep(60)
    return "never"


# --- readiness and liveness ------------------------------------------------------------


async def test_ready_only_after_every_check_passed_on_a_recent_round() -> None:
    clock = Clock()
    health = Health("svc", [("a", ok_check), ("b", ok_check)], interval_s=5, clock=clock)
    starting = health.readiness()
    assert not starting.ok
    assert starting.body["checks"]["a"]["detail"] == "not checked yet (starting)"
    await health.check_once()
    ready = health.readiness()
    assert ready.ok and ready.body["status"] == "up"
    assert ready.body["checks"]["a"] == {"ok": True, "detail": "fine", "age_s": 0.0}
    clock.now += 60  # no round since (the loop runs, but the checks do not)
    health.last_beat = clock.now
    stale = health.readiness()
    assert not stale.ok
    assert stale.body["checks"]["a"]["detail"].startswith("last checked 60 s ago")


@pytest.mark.parametrize(
    ("check", "detail"),
    [
        (refusing_check, "the database does not answer"),
        (broken_check, "ConnectionRefusedError: connect call failed"),
        (hanging_check, "no answer within 0.05 s"),
    ],
)
async def test_a_failing_check_makes_the_service_not_ready_and_says_why(
    check: Any, detail: str
) -> None:
    health = Health("svc", [("ok", ok_check), ("bad", check)], timeout_s=0.05)
    await health.check_once()
    report = health.readiness()
    assert not report.ok and report.body["status"] == "down"
    assert report.body["checks"]["bad"]["detail"] == detail
    assert report.body["checks"]["ok"]["ok"] is True
    assert health.liveness().ok  # a dependency down is never a liveness failure


async def test_liveness_fails_only_when_the_loop_has_not_beaten_for_the_stall_time() -> None:
    clock = Clock()
    health = Health("svc", [("bad", refusing_check)], loop_stall_s=30, clock=clock)
    await health.check_once()
    clock.now += 29
    assert health.liveness().ok
    clock.now += 2
    stuck = health.liveness()
    assert not stuck.ok
    assert stuck.body["detail"] == "the event loop has not run for 31 s"
    assert not health.readiness().ok


def test_the_server_answers_503_while_the_loop_is_stuck_and_200_again_after() -> None:
    async def scenario() -> list[tuple[str, int]]:
        health = Health("svc", [("ok", ok_check)], loop_stall_s=0.3, interval_s=0.05)
        server = serve_health(health, "127.0.0.1", 0)
        task = asyncio.create_task(health.run())
        seen: list[tuple[str, int]] = []
        try:
            await asyncio.sleep(0.2)
            seen.append(("before", get(server.port, "/health/live")[0]))

            def probe_during_the_block() -> None:
                time.sleep(0.8)
                seen.append(("stuck", get(server.port, "/health/live")[0]))
                seen.append(("stuck-ready", get(server.port, "/health/ready")[0]))

            prober = threading.Thread(target=probe_during_the_block)
            prober.start()
            time.sleep(1.2)  # noqa: ASYNC251 - the point: the loop blocked, no beat, no check
            prober.join()
            await asyncio.sleep(1.2)  # a beat and a round
            seen.append(("after", get(server.port, "/health/live")[0]))
            seen.append(("after-ready", get(server.port, "/health/ready")[0]))
        finally:
            task.cancel()
            server.close()
        return seen

    assert asyncio.run(scenario()) == [
        ("before", 200), ("stuck", 503), ("stuck-ready", 503), ("after", 200),
        ("after-ready", 200),
    ]  # fmt: skip


async def test_the_paths_health_is_the_readiness_alias_and_metrics_is_prometheus() -> None:
    health = Health("svc", [("bad", refusing_check)])
    await health.check_once()
    server = serve_health(health, "127.0.0.1", 0)
    try:
        ready = await asyncio.to_thread(get, server.port, "/health/ready")
        alias = await asyncio.to_thread(get, server.port, "/health")
        assert ready[0] == alias[0] == 503
        assert json.loads(alias[1])["checks"] == json.loads(ready[1])["checks"]
        live = await asyncio.to_thread(get, server.port, "/health/live/")
        assert live[0] == 200 and json.loads(live[1])["status"] == "up"
        status, text = await asyncio.to_thread(get, server.port, "/metrics")
        assert status == 200 and "# TYPE" in text
        assert (await asyncio.to_thread(get, server.port, "/other"))[0] == 404
    finally:
        server.close()


# --- lag with nothing applied ------------------------------------------------------------


def test_a_stall_is_waiting_work_with_no_progress_for_longer_than_the_limit() -> None:
    clock = Clock()
    stall = Stall(300, "event(s)", "AR_X", clock)
    assert stall.check(0) == "no event(s) waiting"
    clock.now += 1000  # idle with nothing to do is fine, and starts no clock
    assert stall.check(0) == "no event(s) waiting"
    clock.now += 200
    assert stall.check(5) == "5 event(s) waiting; last progress 200 s ago"
    clock.now += 101
    with pytest.raises(NotReady, match=r"5 event\(s\) waiting and nothing applied for 301 s "):
        stall.check(5)
    stall.progressed()
    assert stall.check(5) == "5 event(s) waiting; last progress 0 s ago"


class Fake:
    """A value the check reads, or an error it raises."""

    def __init__(self, value: Any) -> None:
        self.value = value

    async def __call__(self) -> Any:
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


async def test_the_projector_is_not_ready_when_events_wait_and_no_position_moves() -> None:
    clock = Clock()
    ends, positions = Fake({0: 10, 1: 5}), Fake({0: 4})
    readiness = ProjectorReadiness(
        ping_database=Fake(None), end_offsets=ends, stored_positions=positions,
        max_lag_s=300, clock=clock,
    )  # fmt: skip
    assert await readiness.kafka() == "answers: 2 partitions, 15 records"
    assert await readiness.progress() == "11 event(s) waiting; last progress 0 s ago"
    clock.now += 200
    positions.value = {0: 8, 1: 1}  # applied: the clock starts again
    assert await readiness.progress() == "6 event(s) waiting; last progress 0 s ago"
    clock.now += 301
    with pytest.raises(NotReady, match=r"6 event.* nothing applied for 301 s"):
        await readiness.progress()
    positions.value = {0: 10, 1: 5}
    assert await readiness.progress() == "no event(s) waiting"


async def test_the_projector_reports_kafka_down_and_failing_batches() -> None:
    clock = Clock()
    readiness = ProjectorReadiness(
        ping_database=Fake(None), end_offsets=Fake(NotReady("Kafka at x does not answer")),
        stored_positions=Fake({}), max_lag_s=300, clock=clock,
    )  # fmt: skip
    with pytest.raises(NotReady, match="Kafka at x does not answer"):
        await readiness.kafka()
    with pytest.raises(NotReady, match="lag unknown: Kafka did not answer"):
        await readiness.progress()
    readiness.end_offsets = Fake({0: 0})
    await readiness.kafka()
    FailureStreak.failing_since = clock.now - 301
    try:
        with pytest.raises(NotReady, match="batches have failed and been retried for 301 s"):
            await readiness.progress()
    finally:
        FailureStreak.succeeded()
    assert await readiness.progress() == "no event(s) waiting"


async def test_the_letter_service_waits_on_closes_and_due_letters_not_on_held_ones() -> None:
    clock = Clock()
    counts = {state: 0 for state in LetterState} | {LetterState.HELD: 4}
    letters = Fake((counts, 0))
    readiness = LettersReadiness(
        ping_database=Fake(None), end_offsets=Fake({0: 3}), committed_offsets=Fake({0: 2}),
        letter_counts=letters, max_lag_s=300, clock=clock,
    )  # fmt: skip
    assert await readiness.kafka() == "answers: 1 year-end close(s) not handled yet"
    assert await readiness.progress() == "1 close(s) or letter(s) waiting; last progress 0 s ago"
    assert REGISTRY.get_sample_value("letters_by_state", {"state": "held"}) == 4
    clock.now += 301
    with pytest.raises(NotReady, match=r"1 close.* nothing applied for 301 s"):
        await readiness.progress()
    letter_metrics.close_handled()  # work done: progress
    readiness.committed_offsets = Fake({0: 3})
    letters.value = (counts | {LetterState.PENDING: 2}, 2)
    await readiness.kafka()
    assert await readiness.progress() == "2 close(s) or letter(s) waiting; last progress 0 s ago"
    letters.value = (counts, 0)  # held letters wait for an operator, not for the service
    assert await readiness.progress() == "no close(s) or letter(s) waiting"


async def test_the_container_healthcheck_exits_0_on_200_and_1_otherwise() -> None:
    health = Health("svc", [("bad", refusing_check)])
    await health.check_once()
    server = serve_health(health, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert await asyncio.to_thread(main, [f"{base}/health/live"]) == 0
        assert await asyncio.to_thread(main, [f"{base}/health/ready"]) == 1  # 503
    finally:
        server.close()
    assert main([f"{base}/health/live"]) == 1  # nothing listens any more
    assert main(["not-a-url"]) == 2
