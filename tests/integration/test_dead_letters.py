"""Dead letters are kept, listed, and re-driven once their cause is fixed."""

from __future__ import annotations

from datetime import date

import pytest

from services.projector.redrive import redrive
from services.readmodel.dead_letters import list_dead_letters
from tests.support.casework import council, decided
from tests.support.stack import Stack

D = date(2019, 6, 1)


async def test_a_decision_for_a_council_registered_too_late_counts_once_redriven(
    stack: Stack,
) -> None:
    stack.start("services.projector")
    early = decided("NEW", "N1", D, "upheld")
    await stack.publish([council("OLD", "District"), early])
    await stack.wait_caught_up()
    conn = await stack.connect()
    try:
        (dead,) = await list_dead_letters(conn)
        assert dead["reason"] == "unknown_council" and dead["council"] == "NEW"
        assert await stack.stats() == {}

        await stack.publish([council("NEW", "District")])  # the fix
        async with stack.publisher() as publisher:
            (done,) = await redrive(conn, publisher, [dead["id"]], "registered late")
        assert done["id"] == dead["id"]
        await stack.wait_caught_up()
        assert (await stack.stats())[("NEW", 2019)]["upheld"] == 1
        assert await list_dead_letters(conn) == []  # nothing open
        (row,) = await list_dead_letters(conn, state="redriven")
        assert "registered late" in row["status_note"]

        # Re-driving again is refused: it is no longer open.
        async with stack.publisher() as publisher:
            with pytest.raises(ValueError, match="redriven, not open"):
                await redrive(conn, publisher, [dead["id"]], "again")
    finally:
        await conn.close()
    await stack.wait_caught_up()
    assert (await stack.stats())[("NEW", 2019)]["upheld"] == 1  # still once
