"""Parked casework: events of a council not registered yet, kept aside (``parking``) until
its CouncilRegistered is read, on whichever partition (docs/design-partitions.md).

The fold has already counted them; parking only records that their council is unknown so
that status and the dead-letter list show them, and releasing deletes those rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.domain.fold import Folded
from services.platform.db import Conn


async def park(conn: Conn, events: Sequence[Folded]) -> None:
    if not events:
        return
    await conn.execute(
        'INSERT INTO parking (partition, "offset", event_id, event_type, council, '
        "financial_year) SELECT * FROM unnest($1::int[], $2::bigint[], $3::uuid[], "
        "$4::text[], $5::text[], $6::int[]) ON CONFLICT DO NOTHING",
        [f.partition for f in events],
        [f.offset for f in events],
        [f.event.event_id for f in events],
        [f.event.type for f in events],
        [f.event.council for f in events],
        [f.financial_year for f in events],
    )


async def release_parked(conn: Conn, councils: Sequence[str]) -> None:
    """These councils are registered now: their parked events are no longer waiting."""
    if councils:
        await conn.execute("DELETE FROM parking WHERE council = ANY($1::text[])", list(councils))
