"""Health that tells the truth through real outages: this checkout's Kafka broker, then its
PostgreSQL, stopped and started again while the projector and the letter service run.

Readiness must fail while either is down (naming the check that failed) and come back by
itself once it is up; liveness must answer 200 throughout (restarting a process because its
broker is away would only add a restart loop to the outage); the processes stay up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from tests.reliability.support import Servers
from tests.support.casework import council, decided
from tests.support.http import probe, until_ready, until_status
from tests.support.mail import Mail, free_port, letters_env
from tests.support.stack import Service, Stack

PROBE_EVERY_S = 0.5


class LivenessWatch:
    """Polls /health/live of every service until stopped; keeps every answer but 200."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.answers = 0
        self.failures: list[tuple[str, Any]] = []

    async def run(self) -> None:
        while True:
            for name, port in self.ports.items():
                try:
                    status, body = await probe(port, "/health/live")
                except OSError as e:
                    status, body = 0, str(e)
                self.answers += 1
                if status != 200:
                    self.failures.append((name, body))
            await asyncio.sleep(PROBE_EVERY_S)


async def outage(
    server: str,
    failing_check: str,
    stop: Callable[[], None],
    start: Callable[[], None],
    ports: dict[str, int],
    services: list[Service],
) -> dict[str, Any]:
    """Stop a server, wait for every service to turn not ready on ``failing_check``, start
    it, wait for every service to be ready again; the seconds each took."""
    t0 = time.monotonic()
    await asyncio.to_thread(stop)
    stopped = time.monotonic()
    not_ready: dict[str, float] = {}
    details: dict[str, str] = {}
    for name, port in ports.items():
        body = await until_status(port, "/health/ready", 503, timeout=90)
        not_ready[name] = round(time.monotonic() - stopped, 1)
        check = body["checks"][failing_check]
        assert check["ok"] is False, body
        details[name] = check["detail"]
    assert all(s.alive() for s in services), f"a service exited while {server} was down"
    await asyncio.to_thread(start)
    started = time.monotonic()
    ready_again: dict[str, float] = {}
    for name, port in ports.items():
        await until_ready(port, timeout=120)
        ready_again[name] = round(time.monotonic() - started, 1)
    return {
        "server": server,
        "stop_s": round(stopped - t0, 1),
        "not_ready_after_stop_s": not_ready,
        "ready_after_start_s": ready_again,
        "reason": details,
    }


async def test_readiness_fails_while_kafka_or_postgresql_is_down_and_recovers_liveness_stays_up(
    stack: Stack, mail: Mail, figures: dict[str, Any]
) -> None:
    servers = Servers(stack.settings)
    servers.check_ours()
    ports = {"projector": free_port(), "letters": free_port()}
    fast = {"HEALTH_CHECK_INTERVAL_SECONDS": str(PROBE_EVERY_S)}
    projector = stack.start(
        "services.projector",
        AR_PROJECTOR_METRICS_PORT=str(ports["projector"]),
        **{f"AR_PROJECTOR_{k}": v for k, v in fast.items()},
    )
    letters = stack.start(
        "services.letters",
        **letters_env(mail, AR_LETTERS_METRICS_PORT=str(ports["letters"])),
        **{f"AR_LETTERS_{k}": v for k, v in fast.items()},
    )
    services = [projector, letters]
    figures.update(
        fault="Kafka broker, then PostgreSQL, stopped and started with the services running",
        injection="infra/kafka/kafka.sh stop; wait for /health/ready 503; start; wait for 200; "
        "then the same with infra/postgres/pg.sh; /health/live polled every "
        f"{PROBE_EVERY_S} s throughout",
    )
    await stack.publish(
        [council("HLT", "District")]
        + [decided("HLT", f"H-{i}", date(2019, 6, 1), "upheld") for i in range(5)]
    )
    await stack.wait_caught_up()
    for port in ports.values():
        await until_ready(port)

    watch = LivenessWatch(ports)
    watching = asyncio.create_task(watch.run())
    outages: list[dict[str, Any]] = []
    try:
        outages.append(
            await outage("kafka", "kafka", servers.stop_kafka, servers.start_kafka, ports, services)
        )
        outages.append(
            await outage(
                "postgres", "postgresql", servers.stop_postgres, servers.start_postgres, ports,
                services,
            )
        )  # fmt: skip
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        servers.ensure_running()
        figures["outages"] = outages
        figures["liveness_answers"] = watch.answers
        figures["liveness_failures"] = watch.failures[:5]
        figures["server_commands"] = servers.log

    # Back to work after both outages: new facts are applied and readiness says so.
    await stack.publish([decided("HLT", "H-after", date(2019, 6, 2), "upheld")])
    await stack.wait_caught_up()
    for port in ports.values():
        body = await until_ready(port)
        assert all(c["ok"] for c in body["checks"].values()), body
    assert watch.failures == []
    assert watch.answers > 20
    assert all(s.alive() for s in services)
    kafka, postgres = outages
    assert all("does not answer" in d for d in kafka["reason"].values()), kafka
    assert all(seconds < 60 for seconds in kafka["not_ready_after_stop_s"].values())
    assert all(seconds < 60 for seconds in postgres["not_ready_after_stop_s"].values())
