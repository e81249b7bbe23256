"""Losing the busiest broker of three, twice: while 100,000 events stream in, and while the
year's letters are being sent.

Each time the node that leads the most partitions of the test's topics (the admin client's
metadata) is SIGKILLed, the cluster elects new leaders among the other two (replication 3,
min.insync.replicas 2: writes go on), and the node is started again later and catches up.
The projector, the letter service and the publisher are left alone. Nothing may be lost,
nothing counted twice, the figures must be the simulator's oracle's, and every council must
get exactly one e-mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from contracts.envelope import Envelope
from contracts.topics import TOPICS
from services.simulator import simulate_year
from tests.cluster.support import Cluster
from tests.reliability.support import (
    Mailbox,
    StreamPublisher,
    close_year,
    every_letter_sent,
    log_lines,
    outbox_states,
    outcome,
)
from tests.support.polling import eventually
from tests.support.stack import Service, Stack

EVENTS = 100_000
PUBLISH_SECONDS = 50.0
DOWN_SECONDS = 25.0
ACCEPT_DELAY_S = 0.5


async def applied_so_far(stack: Stack) -> int:
    return sum((await stack.positions()).values())


async def lose_the_busiest_broker(
    cluster: Cluster, topics: list[str], services: list[Service], progress: Any
) -> dict[str, Any]:
    """SIGKILL the node leading the most partitions, time the election, keep it down, start it
    again and time until its replicas are back in sync; ``progress()`` must move meanwhile."""
    node, leaders = await cluster.busiest_leader(topics)
    before = await progress()
    t0 = time.monotonic()
    await asyncio.to_thread(cluster.kill, node)
    killed = time.monotonic()
    # Progress sampled through the outage: when did the work move again without the node?
    samples: list[tuple[float, int]] = []

    async def sample() -> None:
        while True:
            with contextlib.suppress(Exception):
                samples.append((round(time.monotonic() - killed, 1), await progress()))
            await asyncio.sleep(0.5)

    sampling = asyncio.create_task(sample())
    try:
        elected_s = await cluster.wait_leaders_without({node}, topics)
        while time.monotonic() - killed < DOWN_SECONDS:
            assert all(s.alive() for s in services), f"a service exited while node {node} was down"
            await asyncio.sleep(0.25)
        moved_while_down = await progress() - before
        await asyncio.to_thread(cluster.start_all)
        started = time.monotonic()
    finally:
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
    in_sync_s = await cluster.wait_fully_replicated(topics)
    first_move = next((t for t, n in samples if n > before), None)
    return {
        "node": node,
        "leaders_before": leaders,
        "kill_s": round(killed - t0, 1),
        "new_leaders_after_s": elected_s,
        "down_s": round(started - killed, 1),
        "progress_while_down": moved_while_down,
        "moving_again_after_kill_s": first_move,
        "progress_samples": samples[:: max(1, len(samples) // 12)],
        "in_sync_after_restart_s": in_sync_s,
        "leaders_after": (await cluster.busiest_leader(topics))[1],
    }


async def test_losing_the_busiest_broker_mid_stream_and_mid_letters_loses_nothing_and_counts_nothing_twice(  # noqa: E501
    stack: Stack, cluster: Cluster, figures: dict[str, Any], tmp_path: Path
) -> None:
    topics = [stack.settings.topic(t) for t in TOPICS]
    parts = await cluster.partitions(topics)
    assert {len(p["replicas"]) for p in parts} == {3}, parts  # replication factor 3 everywhere
    mail = Mailbox(tmp_path / "maildir", accept_delay_s=ACCEPT_DELAY_S)
    mail.start()
    items = list(simulate_year("2019-20", events=EVENTS, seed=2121, invalid_share=0))
    intended = [i for i in items if isinstance(i, Envelope)]
    councils = {e.council for e in intended if e.type == "CouncilRegistered"}
    figures.update(
        fault="the broker leading the most partitions SIGKILLed (3 brokers, replication 3, "
        "min.insync.replicas 2), twice",
        injection=f"infra/kafka/kafka.sh kill N while {EVENTS:,} simulated events stream in at "
        f"~{EVENTS / PUBLISH_SECONDS:,.0f}/s, {DOWN_SECONDS:.0f} s down, start; then the year is "
        f"closed and, while letters are in the SMTP conversation ({ACCEPT_DELAY_S} s per email), "
        f"the busiest broker again; the projector and the letter service are left alone",
    )
    projector = stack.start("services.projector", AR_PROJECTOR_MAX_RECORDS="2000")
    letters = stack.start("services.letters", **mail.env())
    services = [projector, letters]
    started = time.monotonic()
    losses: list[dict[str, Any]] = []
    publisher = StreamPublisher(stack, chunk=1000, rate=EVENTS / PUBLISH_SECONDS)
    try:
        publishing = asyncio.create_task(publisher.run(items))

        async def busy() -> bool:
            return await applied_so_far(stack) > EVENTS // 5

        await eventually(busy, timeout=120, what="projector under way")
        losses.append(
            await lose_the_busiest_broker(cluster, topics, services, lambda: applied_so_far(stack))
        )
        report = await publishing
        await close_year(stack)

        async def sending() -> bool:
            return (await outbox_states(stack)).get("sending", 0) > 0

        await eventually(sending, timeout=180, every=0.05, what="letters in the SMTP conversation")

        async def sent() -> int:
            return (await outbox_states(stack)).get("sent", 0)

        losses.append(await lose_the_busiest_broker(cluster, topics, services, sent))
    finally:
        await asyncio.to_thread(cluster.start_all)
        figures["losses"] = losses
        figures["cluster_commands"] = cluster.log
    await every_letter_sent(stack, mail, councils, figures, timeout=300)

    result = await outcome(stack, mail)
    figures.update(
        result.figures(),
        publisher_chunk_retries=report.chunk_retries,
        publisher_errors=report.errors[:3] or "none",
        publish_seconds=report.seconds,
        services_alive_at_end=all(s.alive() for s in services),
        projector_log_lines=log_lines(projector, ""),
        letters_log_lines=log_lines(letters, ""),
        councils=len(councils),
        seconds=round(time.monotonic() - started, 1),
    )

    assert all(s.alive() for s in services), "a service exited instead of riding it out"
    result.assert_exact(intended, councils)
    assert result.dead == {}
    for loss in losses:
        # The cluster moved the leadership in seconds, and the work went on without the node.
        assert loss["new_leaders_after_s"] < 30, loss
        assert loss["progress_while_down"] > 0, loss
