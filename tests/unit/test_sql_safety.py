"""Every SQL statement in services/ and contracts/ passes its values as parameters ($1, $2...).

The statements are read from the source (AST), not from a list: any f-string, ``%``, ``+`` or
``.format()`` that builds SQL may interpolate only

- a read-model version schema name (``rm_v<N>``): ``schema_of()`` builds it from an int, the
  database holds every name it hands back to ``CHECK (schema_name ~ '^rm_v[0-9]+$')``
  (projector/0002) and ``project_batch`` checks ``^rm_v\\d+$`` again;
- an identifier listed below for its file: column or table names from module constants, a
  list of ``$n`` placeholders, or a name checked against a regular expression first;
- ``"sep".join(...)`` over a module constant (an ALL_CAPS name) or such a listed name.

Anything else fails here: pass it as a parameter, or add it below with the reason it is safe.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "contracts")
SQL = re.compile(
    r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|CREATE|DROP|ALTER|GRANT|REVOKE|TRUNCATE|"
    r"SET LOCAL|FROM|WHERE|VALUES|RETURNING)\b"
)
SCHEMA_NAMES = {"schema", "live", "rebuilt", "current", "live_schema", "r['schema_name']"}
ALLOWED: dict[str, dict[str, str]] = {
    "services/platform/namespace.py": {
        "name": "the namespace's database name, checked against _NAME (^[a-z][a-z0-9_]{2,40}$)",
    },
    "services/readmodel/versions.py": {"name": "a view name from the READ_MODELS constant"},
    "services/readmodel/comparison.py": {
        "table": "a table name: a key of the COMPARED constant",
        "cols": "a column list: a value of the COMPARED constant",
    },
    "services/readmodel/casework.py": {
        "columns": "[*COUNTERS, 'late_events']: column names",
        "placeholders": "'$3::int[], $4::int[], ...' built from range(len(columns))",
        "names": "'v0, v1, ...' built from range(len(columns))",
        "len(columns) + 4": "a placeholder number",
    },
    "services/letters/outbox.py": {
        "extra": "', ' + the SET list of a transition: a string literal at every caller of _move",
    },
    "services/readmodel/snapshots.py": {
        "sums": "sum(<column>)::integer AS <column> for each column of COUNTERS",
        "columns": "the snapshot's column names: constants and COUNTERS",
        "values": "'$1, $2::jsonb, ...' built from range(len(names)) of those columns",
        "updates": "'<column> = excluded.<column>' for those columns",
    },
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    piece: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: SQL built from `{self.piece}`"


def _literal_text(node: ast.AST) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal_text(v) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _literal_text(node.left) + _literal_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _literal_text(node.func.value)
    return ""


def _pieces(node: ast.AST) -> list[ast.expr]:
    """The interpolated (non-constant) parts of a string-building expression."""
    if isinstance(node, ast.Constant):
        return []
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _pieces(node.left) + _pieces(node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        right = node.right
        return list(right.elts) if isinstance(right, ast.Tuple) else [right]
    assert isinstance(node, ast.expr)
    return [node]


def _constant_like(node: ast.expr, allowed: dict[str, str], loop_vars: Set[str]) -> bool:
    source = ast.unparse(node)
    if source in SCHEMA_NAMES or source in allowed or source in loop_vars:
        return True
    if isinstance(node, ast.Name) and node.id.isupper():
        return True  # a module constant
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("enumerate", "range", "len")
    ):
        return all(_constant_like(a, allowed, loop_vars) for a in node.args)
    return isinstance(node, ast.Constant) and isinstance(node.value, int)


def _safe(node: ast.expr, allowed: dict[str, str], loop_vars: Set[str] = frozenset()) -> bool:
    if _constant_like(node, allowed, loop_vars):
        return True
    # "sep".join(CONSTANT) or "sep".join(<f-string of loop variables> for ... in CONSTANT)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and isinstance(node.func.value, ast.Constant)
        and len(node.args) == 1
    ):
        arg = node.args[0]
        if isinstance(arg, ast.GeneratorExp | ast.ListComp):
            bound = set(loop_vars)
            for gen in arg.generators:
                if gen.ifs or not _constant_like(gen.iter, allowed, bound):
                    return False
                bound |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
            return all(_safe(p, allowed, bound) for p in _pieces(arg.elt))
        return _constant_like(arg, allowed, loop_vars)
    return False


def sql_findings(source: str, path: str) -> list[Finding]:
    """The interpolations into SQL in ``source`` that are not known to be safe."""
    allowed = ALLOWED.get(path, {})
    found: list[Finding] = []
    seen: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if id(node) in seen:
            continue
        is_format = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
        )
        builds = isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod)
        )
        if not (builds or is_format) or not SQL.search(_literal_text(node)):
            continue
        # A chain a + b + c is one statement: do not report its inner BinOps again.
        seen.update(id(n) for n in ast.walk(node) if isinstance(n, ast.BinOp))
        if is_format:
            assert isinstance(node, ast.Call)
            pieces = [*node.args, *(k.value for k in node.keywords)]
        else:
            pieces = _pieces(node)
        for piece in pieces:
            if not _safe(piece, allowed):
                found.append(Finding(path, piece.lineno, ast.unparse(piece)))
    return found


def _sources() -> list[Path]:
    return sorted(p for root in SCANNED for p in (ROOT / root).rglob("*.py"))


def test_services_and_contracts_build_no_sql_from_values() -> None:
    findings = [
        f
        for path in _sources()
        for f in sql_findings(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert not findings, "\n".join(map(str, findings))


def test_the_scan_finds_the_interpolated_sql_there_is() -> None:
    """It really looks: the known, allowed interpolations are in the files listed."""
    scanned = {str(p.relative_to(ROOT)) for p in _sources()}
    assert set(ALLOWED) <= scanned
    flagged_without_allowance = [
        f
        for path in ALLOWED
        for f in sql_findings((ROOT / path).read_text(encoding="utf-8"), "elsewhere.py")
    ]
    assert {f.piece for f in flagged_without_allowance} >= {"name", "table", "cols"}


@pytest.mark.parametrize(
    "code",
    [
        "conn.execute(f\"SELECT * FROM councils WHERE code = '{code}'\")",
        'conn.execute("DELETE FROM outbox WHERE id = %s" % row_id)',
        'conn.execute("UPDATE councils SET name = \'" + name + "\'")',
        'conn.execute("SELECT {} FROM councils".format(column))',
        'conn.execute("SELECT " + ", ".join(requested) + " FROM councils")',
        "conn.execute(f\"INSERT INTO t VALUES ({', '.join(v for v in values)})\")",
        'conn.execute(f"SELECT * FROM {table_from_user}")',
    ],
)
def test_values_interpolated_into_sql_are_flagged(code: str) -> None:
    assert sql_findings(code, "services/example.py")


@pytest.mark.parametrize(
    "code",
    [
        'conn.execute("SELECT * FROM councils WHERE code = $1", code)',
        'conn.execute(f"SET LOCAL search_path TO {schema}, public")',
        'conn.execute("SELECT " + ", ".join(f"s.{k}" for k in COUNTS) + " FROM s")',
        "conn.execute(f\"SELECT {', '.join(COUNT_COLUMNS)} FROM s\")",
        'log.info(f"applied {n} events for {council}")',
    ],
)
def test_parameters_schema_names_and_constants_pass(code: str) -> None:
    assert sql_findings(code, "services/example.py") == []
