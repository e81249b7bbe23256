"""`stats --as-of`: the figures as the system knew them at a past moment.

A year is published in three stages, with pauses between them so that the broker's append
times of the stages differ. After each stage the live projector catches up and the test
records what it showed (`stats --json`) and where the log ended; a moment in the pause after
it is noted. Afterwards, `stats --as-of` at each moment must map to exactly the positions the
log had then, and give what the live projector showed then; and a replay stopped at those
positions (`stats --until-offsets`) must give the same.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.platform.kafka.security import client_kwargs
from tests.e2e.test_operator_flow import cli, cli_json
from tests.support.casework import complied, corrected, council, decided, withdrawn
from tests.support.stack import Stack

YEAR = "2023-24"
D = date(2023, 9, 1)
# Long enough that each moment lies strictly between two stages' append times, whatever
# the broker's millisecond clock does.
PAUSE_S = 1.5


def _figures(stats: dict[str, Any]) -> dict[str, Any]:
    """What the figures are, without the --as-of report of where they were read."""
    return {k: v for k, v in stats.items() if k != "as_of"}


async def test_stats_as_of_three_moments_equal_the_live_figures_then_and_a_cut_replay(
    stack: Stack,
) -> None:
    admin = AIOKafkaAdminClient(**client_kwargs(stack.settings))
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, stack.facts)]
        )
    finally:
        await admin.close()
    entries = {e[0]: e[1] for e in described[0].resources[0][4]}
    assert entries["message.timestamp.type"] == "LogAppendTime"

    stages = [
        [
            council("AAA", "District", 50_000),
            council("BBB", "District", 200_000),
            decided("AAA", "A1", D, "upheld", remedy=True),
            decided("AAA", "A2", D, "not_upheld"),
            decided("BBB", "B1", D, "upheld"),
        ],
        [
            decided("AAA", "A3", D, "upheld"),
            complied("AAA", "A1", D, implemented=True),
            decided("BBB", "B2", D, "not_upheld"),
        ],
        [  # figures that go down as well as up: a correction and a withdrawal
            corrected("AAA", "A1", D, "not_upheld"),
            withdrawn("AAA", "A2", D),
            decided("AAA", "A4", D, "upheld", remedy=True),
            complied("AAA", "A3", D, implemented=False),
        ],
    ]
    stack.start("services.projector")
    seen: list[tuple[datetime, dict[int, int], dict[str, Any]]] = []
    for events in stages:
        await stack.publish(events)
        await stack.wait_caught_up()
        live = cli_json(stack, "stats", "AAA", YEAR)
        ends = await stack.end_offsets()
        await asyncio.sleep(PAUSE_S)
        moment = datetime.now(UTC)
        await asyncio.sleep(PAUSE_S)
        seen.append((moment, ends, live))
    # The stages differ, so a wrong cut cannot pass by accident.
    assert len({str(live) for _, _, live in seen}) == 3

    for moment, ends, live in seen:
        as_of = cli_json(stack, "stats", "AAA", YEAR, "--as-of", moment.isoformat())
        assert as_of["as_of"] == {
            "moment": moment.isoformat(),
            "positions": {str(p): o for p, o in sorted(ends.items())},
        }
        assert _figures(as_of) == live
        offsets = ",".join(f"{p}={o}" for p, o in sorted(ends.items()))
        replayed = cli_json(stack, "stats", "AAA", YEAR, "--until-offsets", offsets)
        assert _figures(replayed) == live

    # Before anything was published: AAA did not exist.
    before = cli(stack, "stats", "AAA", YEAR, "--as-of", "2000-01-01T00:00:00Z", "--json")
    assert before.returncode != 0 and "no council AAA" in before.stderr + before.stdout

    # Every scratch version was dropped; the live version is the only schema left.
    versions = await stack.fetch("SELECT status, schema_name FROM public.projection_versions")
    assert [r["status"] for r in versions if r["status"] != "cancelled"] == ["active"]
    schemas = await stack.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname ~ '^rm_v[0-9]+$' ORDER BY nspname"
    )
    assert [r["nspname"] for r in schemas] == [
        r["schema_name"] for r in versions if r["status"] == "active"
    ]
    # The live figures are untouched by the scratch versions.
    assert cli_json(stack, "stats", "AAA", YEAR) == seen[-1][2]
