"""services/letters/outbox.py owns the outbox: every SQL statement on ``letters.outbox`` and
``letters.closes_handled`` in the shipped code is written there, and every statement on
``letters.events`` in services/letters/letter_events.py.

Read from the source (AST), as test_read_model_ownership does, so a statement added anywhere
else fails here with its file and line. The benchmarks (bench/) seed and watch the tables
directly and are not shipped, so they are not scanned.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "contracts", "tools")
OWNERS = {
    "outbox": ROOT / "services" / "letters" / "outbox.py",
    "closes_handled": ROOT / "services" / "letters" / "outbox.py",
    "events": ROOT / "services" / "letters" / "letter_events.py",
}
ON_LETTERS_TABLE = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+letters\.(outbox|closes_handled|events)\b"
    r"|to_regclass\('letters\.(outbox|closes_handled|events)'\)",
    re.IGNORECASE,
)


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def _statements() -> list[tuple[Path, int, str]]:
    found = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            for line, text in _strings(path):
                for m in ON_LETTERS_TABLE.finditer(text):
                    found.append((path, line, m.group(1) or m.group(2)))
    return found


def test_every_statement_on_the_letters_tables_is_in_its_owner() -> None:
    elsewhere = [
        f"{path.relative_to(ROOT)}:{line} ({table})"
        for path, line, table in _statements()
        if path != OWNERS[table]
    ]
    assert not elsewhere, f"SQL on a letters table outside its owner: {elsewhere}"


def test_the_scan_sees_the_owners_statements() -> None:
    # The pattern would pass vacuously if it matched nothing: each owner has its statements.
    tables = {table for path, _, table in _statements() if path == OWNERS[table]}
    assert tables == set(OWNERS)
