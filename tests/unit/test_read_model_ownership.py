"""services/readmodel owns the read models: the counters are declared once and every SQL
statement on the read-model tables is written there.

Read from the source (AST), as test_sql_safety does, so a statement added anywhere else
fails here with its file and line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

from services.domain.statistics import CouncilYearCounts
from services.readmodel.counters import COUNTERS, OUTCOME_COUNTERS, as_dict, counts_of
from services.simulator.oracle import OracleCounts

ROOT = Path(__file__).resolve().parents[2]
TABLES_SQL = ROOT / "services" / "readmodel" / "tables.sql"
SCANNED = ("services", "bench", "contracts")
OWNER = ROOT / "services" / "readmodel"

READ_MODEL_TABLES = (
    "positions", "applied_events", "councils", "cases", "council_year_stats", "dead_letters",
    "year_closes", "year_snapshot_councils", "year_snapshot_groups", "late_events",
    "group_averages", "projection_versions", "council_facts", "council_year_contributions",
    "case_conflicts", "cross_partition_duplicates", "parked_events", "year_cuts",
    "year_cut_contributions", "read_model_format", "parking", "case_events",
)  # fmt: skip
# A statement naming a read-model table (bare, in a version schema, through the views) or
# the read-model schemas themselves.
ON_READ_MODEL = re.compile(
    r"\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+(?:(?:readmodel|public|rm_v\d+|\{\w+\})\.)?"
    rf"({'|'.join(READ_MODEL_TABLES)})\b"
    r"|'readmodel\.\w+'|search_path TO|pg_advisory_xact_lock(_shared)?\(\$1\)",
    re.IGNORECASE,
)


def _columns(table: str) -> dict[str, str]:
    """Column -> type of ``table`` in tables.sql."""
    ddl = TABLES_SQL.read_text()
    body = re.search(rf"CREATE TABLE {table} \((.*?)\n\);", ddl, re.DOTALL)
    assert body, f"no table {table} in {TABLES_SQL.name}"
    cols = {}
    for line in body.group(1).splitlines():
        m = re.match(r"\s+([a-z_]+)\s+([a-z]+)", line)
        if m and m.group(1) not in ("primary", "check", "unique"):
            cols[m.group(1)] = m.group(2)
    return cols


def _sql_strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal in the file (f-strings with their constant parts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{x}"
                for v in node.values
                if isinstance(v, ast.Constant | ast.FormattedValue)
            )
            found.append((node.lineno, text))
    return found


def test_the_counters_are_the_fields_of_the_domain_counts() -> None:
    assert tuple(f.name for f in fields(CouncilYearCounts)) == COUNTERS
    assert len(COUNTERS) == 9
    assert set(OUTCOME_COUNTERS) < set(COUNTERS)


def test_both_count_tables_have_an_integer_column_for_every_counter() -> None:
    for table in ("council_year_contributions", "year_cut_contributions", "year_snapshot_councils"):
        cols = _columns(table)
        assert {c: cols.get(c) for c in COUNTERS} == dict.fromkeys(COUNTERS, "integer"), table


def test_the_simulators_oracle_counts_the_same_counters() -> None:
    # An independent implementation on purpose; only its field names must agree.
    assert tuple(f.name for f in fields(OracleCounts)) == COUNTERS


def test_a_row_becomes_counts_and_counts_become_json_keys_in_counter_order() -> None:
    row = {c: i for i, c in enumerate(COUNTERS)} | {"council": "AAA"}
    counts = counts_of(row)
    assert counts.not_upheld == 1 and counts.compliance_implemented == 8
    assert list(as_dict(counts)) == list(COUNTERS)
    assert as_dict(counts) == as_dict(row)


def test_the_scan_recognises_statements_on_the_read_models() -> None:
    for sql in (
        "SELECT * FROM readmodel.year_closes WHERE financial_year = $1",
        "SELECT count(*) FROM {x}.applied_events",
        "UPDATE public.projection_versions SET status = 'retired'",
        "INSERT INTO council_year_stats (council) VALUES ($1)",
        "SELECT to_regclass('readmodel.councils') IS NOT NULL",
        "SELECT pg_advisory_xact_lock_shared($1)",
    ):
        assert ON_READ_MODEL.search(sql), sql
    for sql in ("SELECT * FROM letters.outbox", "the councils of a year", "partitions assigned"):
        assert not ON_READ_MODEL.search(sql), sql


def test_no_sql_on_the_read_models_outside_services_readmodel() -> None:
    elsewhere = [
        f"{path.relative_to(ROOT)}:{line}: {text.strip()[:80]}"
        for root in SCANNED
        for path in sorted((ROOT / root).rglob("*.py"))
        if OWNER not in path.parents
        for line, text in _sql_strings(path)
        if ON_READ_MODEL.search(text)
    ]
    assert not elsewhere, "\n".join(elsewhere)
