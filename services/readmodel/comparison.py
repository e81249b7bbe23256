"""A rebuilt version compared with the live one, table by table (``EXCEPT ALL`` both ways)."""

from __future__ import annotations

from dataclasses import dataclass

from services.readmodel.counters import COUNTERS
from services.readmodel.store import Conn

_COUNTERS = ", ".join(COUNTERS)

# What must be equal between the live and the rebuilt version (timestamps and operator
# notes are not facts of the log, so they are left out).
COMPARED: dict[str, str] = {
    "councils": "code, name, comparison_group, existed_from, existed_until, population, "
    "population_year, chief_executive, partition",
    "cases": "case_reference, council, financial_year, outcome, satisfactory_remedy, withdrawn",
    "council_year_stats": f"council, financial_year, {_COUNTERS}",
    "dead_letters": 'topic, partition, "offset", reason, event_id, council, financial_year',
    "year_closes": "financial_year, close_id, letter_date, publication_date, signatory, "
    "partition_count, partitions_closed",
    "year_snapshot_councils": f"financial_year, council, {_COUNTERS}",
    "year_snapshot_groups": "financial_year, comparison_group, averaging_rule, councils, "
    "uphold_num, uphold_den, compliance_num, compliance_den, remedy_num, remedy_den, "
    "upheld_per_100k_num, upheld_per_100k_den",
    "late_events": "event_id, council, financial_year, event_type",
    "applied_events": "event_id",
}


@dataclass(frozen=True, slots=True)
class TableComparison:
    table: str
    live_rows: int
    rebuilt_rows: int
    only_live: int
    only_rebuilt: int

    @property
    def identical(self) -> bool:
        return self.only_live == 0 and self.only_rebuilt == 0


async def compare_versions(conn: Conn, live: str, rebuilt: str) -> list[TableComparison]:
    """Every compared table of schema ``live`` against the same table of ``rebuilt``."""
    return [await _compare(conn, table, live, rebuilt) for table in COMPARED]


async def _compare(conn: Conn, table: str, live: str, rebuilt: str) -> TableComparison:
    cols = COMPARED[table]
    row = await conn.fetchrow(
        f"SELECT (SELECT count(*) FROM {live}.{table}) AS live_rows, "  # noqa: S608
        f"(SELECT count(*) FROM {rebuilt}.{table}) AS rebuilt_rows, "
        f"(SELECT count(*) FROM (SELECT {cols} FROM {live}.{table} EXCEPT ALL "
        f"SELECT {cols} FROM {rebuilt}.{table}) a) AS only_live, "
        f"(SELECT count(*) FROM (SELECT {cols} FROM {rebuilt}.{table} EXCEPT ALL "
        f"SELECT {cols} FROM {live}.{table}) b) AS only_rebuilt"
    )
    assert row is not None
    return TableComparison(table, row["live_rows"], row["rebuilt_rows"], row["only_live"],
                           row["only_rebuilt"])  # fmt: skip
