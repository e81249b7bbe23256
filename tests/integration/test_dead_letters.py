"""Dead letters are kept, listed, and re-driven once their cause is fixed; casework for a
council not registered yet is parked, not refused, and counts once it is registered."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.topics import FACTS
from services.platform.kafka.partitioner import crc32_partition, murmur2_partition
from services.platform.kafka.publisher import event_publisher
from services.projector.redrive import redrive
from services.readmodel.dead_letters import list_dead_letters, list_parked
from tests.support.casework import corrected, council, decided
from tests.support.stack import Stack

D = date(2019, 6, 1)


async def test_a_decision_for_a_council_registered_too_late_is_parked_then_counts_once(
    stack: Stack,
) -> None:
    stack.start("services.projector")
    early = decided("NEW", "N1", D, "upheld")
    await stack.publish([council("OLD", "District"), early])
    await stack.wait_caught_up()
    conn = await stack.connect()
    try:
        assert await list_dead_letters(conn) == []  # not refused
        (parked,) = await list_parked(conn)
        assert (parked["council"], parked["financial_year"], parked["event_id"]) == (
            "NEW", 2019, str(early.event_id),
        )  # fmt: skip
        assert "not registered" in parked["detail"]
        assert await stack.stats() == {}  # not in the figures while NEW is not registered

        await stack.publish([council("NEW", "District")])  # the fix: nothing to re-drive
        await stack.wait_caught_up()
        assert (await stack.stats())[("NEW", 2019)]["upheld"] == 1
        assert await list_parked(conn) == []
    finally:
        await conn.close()


async def test_a_refused_correction_redriven_goes_back_to_its_partition_and_counts_once(
    stack: Stack,
) -> None:
    """Published by a librdkafka-style producer (crc32): the correction reached the broker
    before its decision and was refused; re-driven after the decision, it must go back to
    the case's partition, not where the CLI's murmur2 would put the council's key."""
    code = next(
        c for c in (f"R{i:02d}" for i in range(100))
        if crc32_partition(c.encode(), FACTS.partitions)
        != murmur2_partition(c.encode(), FACTS.partitions)
    )  # fmt: skip
    home = crc32_partition(code.encode(), FACTS.partitions)
    stack.start("services.projector")
    await stack.publish([council(code, "District")])
    cms = stack.settings.model_copy(update={"kafka_partitioner": "crc32"})
    async with event_publisher(cms) as p:
        (refused,) = await p.publish_many([corrected(code, "R1", D, "not_upheld")])
        assert refused.partition == home
        await stack.wait_caught_up()
        conn = await stack.connect()
        try:
            (dead,) = await list_dead_letters(conn)
            assert dead["reason"] == "conflict" and dead["partition"] == home
            await p.publish_many([decided(code, "R1", D, "upheld")])  # the fix
            async with stack.publisher() as publisher:  # the CLI's: murmur2
                (done,) = await redrive(conn, publisher, [dead["id"]], "decision published")
            assert done["partition"] == home
            await stack.wait_caught_up()
            assert (await stack.stats())[(code, 2019)]["not_upheld"] == 1
            assert (await stack.stats())[(code, 2019)]["upheld"] == 0
            assert await list_dead_letters(conn) == []  # nothing open
            (row,) = await list_dead_letters(conn, state="redriven")
            assert "decision published" in row["status_note"]

            # Re-driving again is refused: it is no longer open.
            async with stack.publisher() as publisher:
                with pytest.raises(ValueError, match="redriven, not open"):
                    await redrive(conn, publisher, [dead["id"]], "again")
        finally:
            await conn.close()
    await stack.wait_caught_up()
    assert (await stack.stats())[(code, 2019)]["not_upheld"] == 1  # still once
