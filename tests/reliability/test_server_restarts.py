"""Restarts: the Kafka broker, then PostgreSQL, stopped and started again mid-stream.

The services are left alone: the same processes must ride both outages out by themselves
(bounded, backed-off retries, saying so in their logs), the figures must converge to the
oracle, and the year's letters must still go exactly once. The servers restarted are this
checkout's (infra/kafka/kafka.sh, infra/postgres/pg.sh), and they are started again in a
``finally``, whatever happens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contracts.envelope import Envelope
from services.simulator import simulate_year
from tests.reliability.support import (
    Mailbox,
    Servers,
    StreamPublisher,
    close_year,
    every_letter_sent,
    log_lines,
    outbox_states,
    outcome,
)
from tests.support.polling import eventually
from tests.support.stack import Service, Stack

EVENTS = 40_000
PUBLISH_SECONDS = 30.0
DOWN_SECONDS = 6.0
ACCEPT_DELAY_S = 2.0


async def applied_so_far(stack: Stack) -> int:
    return sum((await stack.positions()).values())


async def outage(
    name: str,
    stop: Callable[[], None],
    start: Callable[[], None],
    stack: Stack,
    services: list[Service],
) -> dict[str, Any]:
    """Stop a server while the projector is busy, keep it down, start it, and time how long
    the projector takes to apply records again; the services must stay up throughout."""
    before = await applied_so_far(stack)
    t0 = time.monotonic()
    await asyncio.to_thread(stop)
    stopped = time.monotonic()
    while time.monotonic() - stopped < DOWN_SECONDS:
        assert all(s.alive() for s in services), f"a service exited while {name} was down"
        await asyncio.sleep(0.25)
    await asyncio.to_thread(start)
    started = time.monotonic()

    async def moving() -> bool:
        return await applied_so_far(stack) > before

    await eventually(moving, timeout=120, what=f"projector applying again after the {name} restart")
    recovered = time.monotonic()
    return {
        "server": name,
        "stop_s": round(stopped - t0, 1),
        "down_s": round(started - stopped, 1),
        "recovered_after_start_s": round(recovered - started, 1),
    }


async def test_the_services_ride_out_a_broker_restart_then_a_database_restart_and_converge_to_the_oracle(  # noqa: E501
    stack: Stack, figures: dict[str, Any], tmp_path: Path
) -> None:
    servers = Servers(stack.settings)
    servers.check_ours()
    # Each email takes the SMTP server a moment: the database outage lands mid-conversation.
    mail = Mailbox(tmp_path / "maildir", accept_delay_s=ACCEPT_DELAY_S)
    mail.start()
    items = list(simulate_year("2019-20", events=EVENTS, seed=77, invalid_share=0))
    intended = [i for i in items if isinstance(i, Envelope)]
    councils = {e.council for e in intended if e.type == "CouncilRegistered"}
    figures.update(
        fault="Kafka broker, then PostgreSQL, stopped and started mid-stream",
        injection=f"infra/kafka/kafka.sh stop, {DOWN_SECONDS:.0f} s, start, while "
        f"{EVENTS:,} simulated events stream in at ~{EVENTS / PUBLISH_SECONDS:,.0f}/s; then "
        f"the year is closed and, while letters are in the SMTP conversation (the server "
        f"takes {ACCEPT_DELAY_S} s per email), infra/postgres/pg.sh stop (fast shutdown), "
        f"{DOWN_SECONDS:.0f} s, start; the projector and the letter service are left alone",
    )
    projector = stack.start("services.projector", AR_PROJECTOR_MAX_RECORDS="1000")
    letters = stack.start("services.letters", **mail.env())
    services = [projector, letters]
    # The stream in two parts: the first runs through the broker's restart; the second starts
    # when the letters are in the SMTP conversation and runs through PostgreSQL's.
    cut = len(items) * 7 // 10
    rate = EVENTS / PUBLISH_SECONDS
    started = time.monotonic()
    outages: list[dict[str, Any]] = []
    try:
        publishing = asyncio.create_task(
            StreamPublisher(stack, chunk=500, rate=rate).run(items[:cut])
        )

        async def busy() -> bool:
            return await applied_so_far(stack) > EVENTS // 8

        await eventually(busy, timeout=60, what="projector under way")
        outages.append(
            await outage("kafka", servers.stop_kafka, servers.start_kafka, stack, services)
        )
        first = await publishing
        await close_year(stack)

        async def sending() -> bool:
            return (await outbox_states(stack)).get("sending", 0) > 0

        await eventually(sending, timeout=120, every=0.05, what="letters in the SMTP conversation")
        publishing = asyncio.create_task(
            StreamPublisher(stack, chunk=500, rate=rate).run(items[cut:])
        )
        outages.append(
            await outage("postgres", servers.stop_postgres, servers.start_postgres, stack, services)
        )
        second = await publishing
    finally:
        servers.ensure_running()
        figures["outages"] = outages
        figures["times"] = " + ".join(f"1 {o['server']} restart" for o in outages)
        figures["server_commands"] = servers.log
    await every_letter_sent(stack, mail, councils, figures, timeout=120)

    result = await outcome(stack, mail)
    figures.update(
        result.figures(),
        invalid_messages=len(result.log.rejected),
        publisher_chunk_retries=first.chunk_retries + second.chunk_retries,
        publisher_errors=(first.errors + second.errors)[:3] or "none",
        services_alive_at_end=all(s.alive() for s in services),
        projector_log_lines=log_lines(projector, ""),
        projector_retry_lines=log_lines(projector, "retrying"),
        letters_log_lines=log_lines(letters, ""),
        letters_retry_lines=log_lines(letters, "retrying"),
        # services/platform/retry.py's line when an outbox update commits after retries.
        letters_recorded_after_the_database_came_back=log_lines(
            letters, "succeeded after retrying"
        ),
        councils=len(councils),
        seconds=round(time.monotonic() - started, 1),
    )

    assert all(s.alive() for s in services), "a service exited instead of recovering"
    result.assert_exact(intended, councils)
    assert result.dead == result.log.rejected == {}
    # Clear logs: each retry said so, recovery said so, and no flood (a few hundred lines).
    assert log_lines(projector, "batch applied after retrying") >= 1
    assert log_lines(letters, "retrying") >= 1
    assert log_lines(projector, "") < 300 and log_lines(letters, "") < 300
