"""What a monitoring system sees of the projector and the letter service: /metrics,
/health/live, /health/ready and the /health alias."""

from __future__ import annotations

import asyncio
import re
from datetime import date

from services.readmodel.versions import VERSION_SWITCH_LOCK
from tests.support.casework import CLOSE_2019_20, council, decided
from tests.support.http import get, metrics, probe, until_ready, until_status
from tests.support.mail import Mail, free_port, letters_env, wait_states
from tests.support.stack import Stack


async def test_the_projectors_metrics_count_what_was_applied_and_it_is_live_and_ready(
    stack: Stack,
) -> None:
    port = free_port()
    stack.start(
        "services.projector",
        AR_PROJECTOR_METRICS_PORT=str(port),
        AR_PROJECTOR_HEALTH_CHECK_INTERVAL_SECONDS="0.5",
    )
    events = [council("OBS", "Unitary")]
    events += [decided("OBS", f"O{i}", date(2019, 6, 1), "upheld") for i in range(25)]
    await stack.publish(events)
    await stack.publish_raw([(b"OBS", b"not json")])
    await stack.wait_caught_up()
    ready = await until_ready(port)
    assert set(ready["checks"]) == {"postgresql", "kafka", "progress"}
    assert all(c["ok"] for c in ready["checks"].values()), ready

    body = await metrics(port)
    assert 'projector_events_total{outcome="applied"} 26.0' in body
    assert 'projector_events_total{outcome="dead_lettered"} 1.0' in body
    assert "projector_batch_seconds_count" in body
    await asyncio.sleep(1.0)  # a readiness round after the catch-up: no lag left
    lags = [
        float(line.rsplit(" ", 1)[1])
        for line in (await metrics(port)).splitlines()
        if line.startswith("projector_lag_events{")
    ]
    assert len(lags) == 6 and sum(lags) == 0

    status, live = await probe(port, "/health/live")
    assert (status, live["status"], live["service"]) == (200, "up", "projector")
    status, alias = await probe(port, "/health")
    assert (status, alias["status"], set(alias["checks"])) == (200, "up", set(ready["checks"]))
    status, _ = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/nothing-here")
    assert status == 404


async def test_the_letter_service_counts_letters_by_state_sends_and_render_time(
    stack: Stack, mail: Mail
) -> None:
    port = free_port()
    stack.start("services.projector")
    stack.start(
        "services.letters",
        **letters_env(
            mail,
            AR_LETTERS_METRICS_PORT=str(port),
            AR_LETTERS_HEALTH_CHECK_INTERVAL_SECONDS="0.5",
        ),
    )
    councils = ["M01", "M02", "M03"]
    await stack.publish(
        [council(c, "District") for c in councils]
        + [decided(c, f"{c}-1", date(2019, 6, 1), "upheld") for c in councils]
    )
    async with stack.publisher() as p:
        await p.close_year(CLOSE_2019_20, producer="tests")
    await wait_states(stack, {"sent": len(councils)})
    await asyncio.sleep(1.0)  # a readiness round refreshes the gauges
    ready = await until_ready(port)
    assert ready["service"] == "letters"
    assert "0 year-end close(s) not handled" in ready["checks"]["kafka"]["detail"]
    assert ready["checks"]["progress"]["detail"] == "no close(s) or letter(s) waiting"

    body = await metrics(port)
    assert 'letters_by_state{state="sent"} 3.0' in body
    assert 'letters_by_state{state="pending"} 0.0' in body
    assert "letters_send_attempts_total 3.0" in body
    assert "letters_sent_total 3.0" in body
    assert "letters_render_seconds_count 3.0" in body
    assert "letters_year_closes_total 1.0" in body
    assert 'letters_send_failures_total{kind="transient"}' not in body  # none failed
    status, live = await probe(port, "/health/live")
    assert (status, live["status"]) == (200, "up")


async def test_the_projector_is_not_ready_while_events_wait_and_nothing_is_applied(
    stack: Stack,
) -> None:
    """Kafka and PostgreSQL answer, but no batch can commit (the version-switch lock a
    rebuild takes is held): readiness fails on progress once the limit passes, liveness does
    not, and both are green again once batches go through."""
    port = free_port()
    stack.start(
        "services.projector",
        AR_PROJECTOR_METRICS_PORT=str(port),
        AR_PROJECTOR_HEALTH_CHECK_INTERVAL_SECONDS="0.5",
        AR_PROJECTOR_HEALTH_MAX_LAG_SECONDS="3",
    )
    await stack.publish([council("STK", "County")])
    await stack.wait_caught_up()
    await until_ready(port)
    blocker = await stack.connect()
    try:
        held = blocker.transaction()
        await held.start()
        await blocker.execute("SELECT pg_advisory_xact_lock($1)", VERSION_SWITCH_LOCK)
        await stack.publish([decided("STK", f"S{i}", date(2019, 6, 1), "upheld") for i in range(5)])
        stuck = await until_status(port, "/health/ready", 503, timeout=60)
        checks = stuck["checks"]
        assert checks["postgresql"]["ok"] and checks["kafka"]["ok"], checks
        assert re.fullmatch(
            r"5 event\(s\) waiting and nothing applied for \d+ s "
            r"\(more than AR_PROJECTOR_HEALTH_MAX_LAG_SECONDS=3\)",
            checks["progress"]["detail"],
        ), checks["progress"]
        status, live = await probe(port, "/health/live")
        assert (status, live["status"]) == (200, "up")
        await held.rollback()
    finally:
        await blocker.close()
    await stack.wait_caught_up()
    await until_ready(port)
