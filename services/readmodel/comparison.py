"""A rebuilt version compared with the live one, table by table (``EXCEPT ALL`` both ways)."""

from __future__ import annotations

from dataclasses import dataclass

from services.platform.db import Conn
from services.readmodel.counters import COUNTERS

_COUNTERS = ", ".join(COUNTERS)

# What must be equal between the live and the rebuilt version: every fact of the log and
# everything computed from them. Timestamps, the detail texts of refusals and operators'
# decisions are not facts of the log, so they are left out. The fold does not depend on the
# order partitions are read in (docs/design-partitions.md), so any difference is a defect.
COMPARED: dict[str, str] = {
    "council_facts": 'partition, "offset", council, event_id, occurred_at, event_type, fields',
    "councils": "code, name, comparison_group, existed_from, existed_until, populations, "
    "population, population_year, chief_executive, copy_to, registry_partitions",
    "cases": "case_reference, partition, council, financial_year, outcome, "
    "satisfactory_remedy, withdrawn, decision_date",
    "case_events": 'partition, "offset", event_id, event_type, case_reference, council, '
    "occurred_at, financial_year, decision_date, outcome, satisfactory_remedy, withdrawn, "
    "implemented",
    "council_year_contributions": f"council, financial_year, partition, {_COUNTERS}, late_events",
    "council_year_stats": f"council, financial_year, {_COUNTERS}",
    "parked_events": 'partition, "offset", event_id, event_type, council, financial_year',
    "dead_letters": 'topic, partition, "offset", reason, event_id, council, financial_year',
    "year_cuts": 'financial_year, partition, "offset", close_id',
    "year_cut_contributions": f"financial_year, partition, council, {_COUNTERS}",
    "year_closes": "financial_year, close_id, letter_date, publication_date, signatory, "
    "partition_count, requested_at",
    "year_snapshot_councils": "financial_year, council, name, comparison_group, existed_from, "
    f"existed_until, population, population_year, chief_executive, copy_to, "
    f"joined_after_close, {_COUNTERS}",
    "year_snapshot_groups": "financial_year, comparison_group, averaging_rule, councils, "
    "uphold_num, uphold_den, compliance_num, compliance_den, remedy_num, remedy_den, "
    "upheld_per_100k_num, upheld_per_100k_den",
    "late_events": "event_id, partition, council, financial_year, event_type",
    "applied_events": "event_id, partition, council, financial_year",
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
    """Every compared table of schema ``live`` against the same table of ``rebuilt``, on
    the compared columns both have (a live version of an older format lacks some: an
    upgrade reports what changed)."""
    columns = await _columns(conn, [live, rebuilt])
    out = []
    for table, wanted in COMPARED.items():
        names = [c.strip() for c in wanted.split(",")]
        both = [
            n
            for n in names
            if n.strip('"') in columns.get((live, table), set())
            and n.strip('"') in columns.get((rebuilt, table), set())
        ]
        out.append(await _compare(conn, table, live, rebuilt, both))
    return out


async def _columns(conn: Conn, schemas: list[str]) -> dict[tuple[str, str], set[str]]:
    # The catalogue, not information_schema: it lists columns whatever this role may read.
    rows = await conn.fetch(
        "SELECT n.nspname, c.relname, a.attname FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ANY($1::text[]) AND a.attnum > 0 AND NOT a.attisdropped",
        schemas,
    )
    out: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        out.setdefault((r["nspname"], r["relname"]), set()).add(r["attname"])
    return out


async def _compare(
    conn: Conn, table: str, live: str, rebuilt: str, columns: list[str]
) -> TableComparison:
    if not columns:  # a table the live version does not have: everything in it is new
        n = await conn.fetchval(f"SELECT count(*) FROM {rebuilt}.{table}")  # noqa: S608
        return TableComparison(table, 0, int(n), 0, int(n))
    cols = ", ".join(columns)
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
