"""What a monitoring system sees of the projector: /metrics and /health."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from datetime import date

from tests.support.casework import council, decided
from tests.support.stack import Stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def test_metrics_count_what_was_applied_and_health_is_green_when_the_database_answers(
    stack: Stack,
) -> None:
    port = free_port()
    stack.start("services.projector", AR_PROJECTOR_METRICS_PORT=str(port))
    events = [council("OBS", "Unitary")]
    events += [decided("OBS", f"O{i}", date(2019, 6, 1), "upheld") for i in range(25)]
    await stack.publish(events)
    await stack.publish_raw([(b"OBS", b"not json")])
    await stack.wait_caught_up()
    for _ in range(50):
        try:
            status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics")
            break
        except OSError:
            await asyncio.sleep(0.2)
    assert status == 200
    assert 'projector_events_total{outcome="applied"} 26.0' in body
    assert 'projector_events_total{outcome="dead_lettered"} 1.0' in body
    assert "projector_batch_seconds_count" in body
    status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/health")
    assert (status, body) == (200, "ok")
