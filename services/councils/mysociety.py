"""mySociety's register of UK local authorities (``uk_local_authorities_current.csv``).

Only English councils of the Ombudsman's five comparison groups are read; combined
authorities and councils of the other nations are skipped with the reason counted.
The register names no chief executive: each council gets a placeholder addressee
(:func:`services.councils.model.placeholder_chief_executive`).

End dates. The register marks most reorganisations with the successor's first day as the
old council's end date (Cumbria County Council: ``2023-04-01``, Cumberland Council starts
``2023-04-01``), and a few with the last day (Dorset County Council: ``2019-03-31``). A
council and the council that replaced it never existed on the same day, so when the end date
equals the start date of a council in its ``replaced-by`` list, the last day is the day
before. Without this, the 20 councils abolished on 31 March 2023 would count in 2023-24.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from pydantic import ValidationError

from contracts.codec import describe
from contracts.events import CouncilRegistered
from contracts.groups import ComparisonGroup
from services.councils.model import CouncilRecord, placeholder_chief_executive
from services.councils.project_csv import checked_code
from services.councils.rows import RowError, optional_date, optional_float, optional_int

CODE = "local-authority-code"
REQUIRED = (CODE, "official-name", "nation", "local-authority-type", "start-date", "end-date")
POPULATION_COLUMN = "pop-2020"
POPULATION_YEAR = 2020
# Where the council is, for the public site's map: optional (a row without them is imported
# without a place on the map; outside England, refused by the contract).
LATITUDE_COLUMN = "lat"
LONGITUDE_COLUMN = "long"

TYPE_TO_GROUP: dict[str, ComparisonGroup] = {
    "CTY": ComparisonGroup.COUNTY,
    "NMD": ComparisonGroup.DISTRICT,
    "MD": ComparisonGroup.METROPOLITAN_BOROUGH,
    "UA": ComparisonGroup.UNITARY,
    "LBO": ComparisonGroup.LONDON_BOROUGH,
    "CC": ComparisonGroup.LONDON_BOROUGH,
    "SRA": ComparisonGroup.UNITARY,
}


def missing_columns(header: list[str]) -> list[str]:
    return [c for c in REQUIRED if c not in header]


def skip_reason(row: dict[str, str]) -> str | None:
    """Why a row is outside the annual review, or None when it is a council to import."""
    nation = row.get("nation", "")
    if nation != "England":
        return f"not in England ({nation or 'no nation'})"
    kind = row.get("local-authority-type", "")
    if kind == "COMB":
        return "combined authority (COMB)"
    if kind not in TYPE_TO_GROUP:
        return f"type {kind or '(empty)'} is not in a comparison group"
    return None


def start_dates(rows: Iterable[tuple[int, dict[str, str]]]) -> dict[str, date | None]:
    """Every code's start date, to find where a successor begins."""
    out: dict[str, date | None] = {}
    for _line, row in rows:
        try:
            out[row.get(CODE, "")] = optional_date(row, "start-date")
        except RowError:
            continue
    return out


def last_day(row: dict[str, str], starts: dict[str, date | None]) -> date | None:
    end = optional_date(row, "end-date")
    if end is None:
        return None
    successors = [c.strip() for c in row.get("replaced-by", "").split(",") if c.strip()]
    if any(starts.get(s) == end for s in successors):
        return end - timedelta(days=1)
    return end


def parse_row(row: dict[str, str], line: int, starts: dict[str, date | None]) -> CouncilRecord:
    code = checked_code(row.get(CODE, "").upper())
    name = row.get("official-name", "")
    if not name:
        raise RowError("official-name is empty")
    population = optional_int(row, POPULATION_COLUMN)
    try:
        details = CouncilRegistered(
            name=name,
            comparison_group=TYPE_TO_GROUP[row["local-authority-type"]],
            existed_from=optional_date(row, "start-date"),
            existed_until=last_day(row, starts),
            population=population,
            population_year=POPULATION_YEAR if population is not None else None,
            chief_executive=placeholder_chief_executive(code, row.get("gov-uk-slug")),
            latitude=optional_float(row, LATITUDE_COLUMN),
            longitude=optional_float(row, LONGITUDE_COLUMN),
        )
    except ValidationError as e:
        raise RowError(describe(e)) from None
    return CouncilRecord(code=code, details=details, line=line)
