"""The project's own council CSV: one row per council, every detail a letter needs.

Columns (header row required, order free, documented in docs/cli.md)::

    code,name,comparison_group,existed_from,existed_until,population,population_year,
    chief_executive_name,chief_executive_job_title,chief_executive_salutation,
    chief_executive_email[,latitude,longitude]
    [,copy_to_1_name,copy_to_1_role,copy_to_1_email,...copy_to_10_*]

``latitude``, ``longitude``: where the council is (degrees, within England), for the public
site's map; optional, given together.

``copy_to_<n>_*``: who the letters are copied to (Cc), such as the leader of the council and
the chair of the scrutiny committee; up to 10, each three cells given together.
"""

from __future__ import annotations

from pydantic import ValidationError

from contracts.codec import describe
from contracts.events import CouncilRegistered
from contracts.groups import ComparisonGroup
from contracts.values import MAX_COPY_RECIPIENTS
from services.councils.model import CouncilRecord
from services.councils.rows import RowError, optional_date, optional_float, optional_int

COLUMNS = (
    "code",
    "name",
    "comparison_group",
    "existed_from",
    "existed_until",
    "population",
    "population_year",
    "chief_executive_name",
    "chief_executive_job_title",
    "chief_executive_salutation",
    "chief_executive_email",
    "latitude",
    "longitude",
)
_COPY = ("name", "role", "email")
COPY_COLUMNS = tuple(
    f"copy_to_{n}_{part}" for n in range(1, MAX_COPY_RECIPIENTS + 1) for part in _COPY
)
REQUIRED = ("code", "name", "comparison_group")
_CHIEF = ("name", "job_title", "salutation", "email")

# "District", "District Councils", "district council", "metropolitan_borough"...
_GROUPS: dict[str, ComparisonGroup] = {}
for _g in ComparisonGroup:
    for _alias in (_g.value, _g.plural_name, _g.plural_name.removesuffix("s"), _g.name):
        _GROUPS[_alias.lower().replace("_", " ")] = _g


def parse_group(text: str) -> ComparisonGroup:
    group = _GROUPS.get(" ".join(text.lower().replace("_", " ").split()))
    if group is None:
        known = ", ".join(g.value for g in ComparisonGroup)
        raise RowError(f"comparison_group: {text!r} is not one of {known}")
    return group


def missing_columns(header: list[str]) -> list[str]:
    return [c for c in REQUIRED if c not in header]


def unknown_columns(header: list[str]) -> list[str]:
    return [c for c in header if c and c not in COLUMNS and c not in COPY_COLUMNS]


def copy_recipients(row: dict[str, str]) -> list[dict[str, str]]:
    """The ``copy_to_<n>_*`` cells, in order of n; each recipient's three cells together."""
    out = []
    for n in range(1, MAX_COPY_RECIPIENTS + 1):
        cells = {part: row.get(f"copy_to_{n}_{part}", "") for part in _COPY}
        given = [p for p, v in cells.items() if v]
        if not given:
            continue
        if len(given) != len(_COPY):
            missing = ", ".join(f"copy_to_{n}_{p}" for p in _COPY if p not in given)
            raise RowError(f"copy recipient {n} is incomplete: {missing} empty")
        out.append(cells)
    return out


def parse_row(row: dict[str, str], line: int) -> CouncilRecord:
    code = row.get("code", "").upper()
    for column in REQUIRED:
        if not row.get(column):
            raise RowError(f"{column} is empty")
    chief_cells = {part: row.get(f"chief_executive_{part}", "") for part in _CHIEF}
    given = [p for p, v in chief_cells.items() if v]
    if given and len(given) != len(_CHIEF):
        missing = ", ".join(f"chief_executive_{p}" for p in _CHIEF if p not in given)
        raise RowError(f"the chief executive is incomplete: {missing} empty")
    try:
        details = CouncilRegistered.model_validate(
            {
                "name": row["name"],
                "comparison_group": parse_group(row["comparison_group"]),
                "existed_from": optional_date(row, "existed_from"),
                "existed_until": optional_date(row, "existed_until"),
                "population": optional_int(row, "population"),
                "population_year": optional_int(row, "population_year"),
                "chief_executive": chief_cells if given else None,
                "copy_to": copy_recipients(row),
                "latitude": optional_float(row, "latitude"),
                "longitude": optional_float(row, "longitude"),
            }
        )
    except ValidationError as e:
        raise RowError(describe(e)) from None
    return CouncilRecord(code=checked_code(code), details=details, line=line)


def checked_code(code: str) -> str:
    if not (3 <= len(code) <= 10 and code.isascii() and code.isalnum()):
        raise RowError(f"code: {code!r} must be 3 to 10 letters or digits (e.g. MAN)")
    return code
