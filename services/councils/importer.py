"""Read a council CSV in either format into council records, with a report of what was
skipped and which rows are invalid, and turn records into CouncilRegistered events."""

from __future__ import annotations

import enum
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from contracts.envelope import Envelope, new_event
from contracts.events import CouncilRegistered
from contracts.financial_year import FinancialYear
from services.councils import mysociety, project_csv
from services.councils.model import CouncilRecord
from services.councils.rows import RowError, rows_with_lines


class CsvFormat(enum.StrEnum):
    AUTO = "auto"
    PROJECT = "project"
    MYSOCIETY = "mysociety"


class CsvFileError(ValueError):
    """The file as a whole cannot be read (no header, unknown format, missing columns)."""


@dataclass(frozen=True, slots=True)
class InvalidRow:
    line: int
    reason: str
    code: str | None = None


@dataclass(slots=True)
class ImportReport:
    format: CsvFormat
    councils: list[CouncilRecord] = field(default_factory=list)
    invalid: list[InvalidRow] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    rows: int = 0

    def by_group(self) -> dict[str, int]:
        counts = Counter(c.group.value for c in self.councils)
        return dict(sorted(counts.items()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format.value,
            "rows": self.rows,
            "councils": len(self.councils),
            "by_group": self.by_group(),
            "skipped": dict(sorted(self.skipped.items())),
            "invalid": [{"line": r.line, "code": r.code, "reason": r.reason} for r in self.invalid],
        }


def detect_format(header: list[str]) -> CsvFormat:
    if mysociety.CODE in header:
        return CsvFormat.MYSOCIETY
    if "code" in header and "comparison_group" in header:
        return CsvFormat.PROJECT
    raise CsvFileError(
        "the header is neither the project's format (code,name,comparison_group,...) nor "
        f"mySociety's register ({mysociety.CODE},official-name,...); see docs/cli.md"
    )


def read_councils(
    source: Path | str | TextIO,
    *,
    fmt: CsvFormat = CsvFormat.AUTO,
    year: FinancialYear | None = None,
) -> ImportReport:
    """Parse a council CSV (a path, or an open text stream, or the CSV text itself when a
    ``str`` containing a newline). Raises CsvFileError when the file cannot be read at all."""
    if isinstance(source, Path):
        with source.open(newline="", encoding="utf-8-sig") as stream:
            return _read(stream, fmt, year)
    if isinstance(source, str):
        if "\n" in source:
            return _read(io.StringIO(source, newline=""), fmt, year)
        return read_councils(Path(source), fmt=fmt, year=year)
    return _read(source, fmt, year)


def _read(stream: TextIO, fmt: CsvFormat, year: FinancialYear | None) -> ImportReport:
    header, row_iter = rows_with_lines(stream)
    if not header:
        raise CsvFileError("the file is empty: expected a header row")
    found = detect_format(header) if fmt is CsvFormat.AUTO else fmt
    module_missing = (
        mysociety.missing_columns(header)
        if found is CsvFormat.MYSOCIETY
        else project_csv.missing_columns(header)
    )
    if module_missing:
        raise CsvFileError(
            f"the header lacks the column(s) {', '.join(module_missing)} of the {found.value} "
            f"format; header found: {','.join(header)[:200]}"
        )
    if found is CsvFormat.PROJECT:
        unknown = project_csv.unknown_columns(header)
        if unknown:
            raise CsvFileError(
                f"unknown column(s) {', '.join(unknown)}; the project format has "
                f"{','.join(project_csv.COLUMNS)} and copy_to_1_name,copy_to_1_role,"
                f"copy_to_1_email ... copy_to_10_email"
            )
    rows = list(row_iter)
    report = ImportReport(format=found, rows=len(rows))
    starts = mysociety.start_dates(rows) if found is CsvFormat.MYSOCIETY else {}
    seen: dict[str, int] = {}
    for line, row in rows:
        code = (row.get("code") or row.get(mysociety.CODE) or "").upper() or None
        if "__error__" in row:
            report.invalid.append(InvalidRow(line, row["__error__"], code))
            continue
        if found is CsvFormat.MYSOCIETY:
            reason = mysociety.skip_reason(row)
            if reason:
                report.skipped[reason] += 1
                continue
        try:
            record = (
                mysociety.parse_row(row, line, starts)
                if found is CsvFormat.MYSOCIETY
                else project_csv.parse_row(row, line)
            )
        except RowError as e:
            report.invalid.append(InvalidRow(line, str(e), code))
            continue
        if record.code in seen:
            report.invalid.append(
                InvalidRow(line, f"code {record.code} is already on line {seen[record.code]}", code)
            )
            continue
        seen[record.code] = line
        if year is not None and not record.existed_during(year):
            report.skipped[f"did not exist in {year}"] += 1
            continue
        report.councils.append(record)
    return report


def registration_events(
    councils: Iterable[CouncilRecord],
    *,
    producer: str,
    occurred_at: datetime | None = None,
    event_ids: Iterable[UUID] | None = None,
) -> list[Envelope[CouncilRegistered]]:
    """One CouncilRegistered per council, keyed by its code."""
    ids = iter(event_ids) if event_ids is not None else None
    return [
        new_event(
            c.details,
            council=c.code,
            producer=producer,
            occurred_at=occurred_at,
            event_id=next(ids) if ids is not None else None,
        )
        for c in councils
    ]
