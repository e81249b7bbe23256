"""The council's case list as files: an XLSX workbook (openpyxl) and a CSV file, from the
pure tables of services/domain/case_list.py.

Both are deterministic: the same tables and the same ``written_at`` give the same bytes
(the workbook's document properties and every member of its zip carry ``written_at``, not
the clock), so a letter rendered again has the same case list and the same sha256.

No cell is ever read as a formula (docs/security.md, "Formula injection"): in the
workbook every text cell is written with the string type set explicitly (openpyxl would
otherwise make a text starting with ``=`` a formula); in the CSV, where a spreadsheet
guesses each cell's type, a text starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is prefixed with a single quote, as OWASP recommends.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from services.domain.case_list import SUMMARY, CaseList, Cell, Sheet

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv"

# What a spreadsheet may take as the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot carry (openpyxl refuses them): shown as U+FFFD.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_DATE_FORMAT = "yyyy-mm-dd"


@dataclass(frozen=True, slots=True)
class CaseListFiles:
    """The case list of one letter, as attached to its e-mail, with each file's sha256."""

    xlsx: bytes
    csv: bytes

    @property
    def xlsx_sha256(self) -> str:
        return hashlib.sha256(self.xlsx).hexdigest()

    @property
    def csv_sha256(self) -> str:
        return hashlib.sha256(self.csv).hexdigest()


def file_stem(council: str, year: str, version: int) -> str:
    """``case-list-2019-20-MAN-v1`` (the attachments' names, without extension)."""
    return f"case-list-{year}-{council}-v{version}"


def write(tables: CaseList, written_at: datetime) -> CaseListFiles:
    return CaseListFiles(xlsx=xlsx_bytes(tables, written_at), csv=csv_bytes(tables))


def csv_text(value: Cell) -> str:
    """A cell as CSV text: dates ISO 8601, a formula-looking text quoted with ``'``."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_bytes(tables: CaseList) -> bytes:
    """Every sheet in one CSV file, each row led by its sheet's name (so a program can
    take one sheet by the first column), UTF-8 with a byte-order mark (Excel then reads
    the names as UTF-8), CRLF line ends (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Sheet"])
    for sheet in tables.sheets:
        for row in sheet.rows:
            writer.writerow([sheet.name, *map(csv_text, row)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(tables: CaseList, written_at: datetime) -> bytes:
    """The workbook: the summary first, one sheet per statistic, the cases left out."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.writer.excel import ExcelWriter

    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for sheet in tables.sheets:
        ws = workbook.create_sheet(sheet.name)
        header_row = _header_row(sheet)
        for r, row in enumerate(sheet.rows, start=1):
            for c, value in enumerate(row, start=1):
                cell = ws.cell(row=r, column=c)
                _set(cell, value)
                if r == header_row or (sheet.name == SUMMARY and c == 1 and r < header_row):
                    cell.font = bold
        if header_row:
            ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        for c, width in _widths(sheet).items():
            ws.column_dimensions[_column_letter(c)].width = width
    props = workbook.properties
    props.creator = "annual-review"
    props.title = f"Case list: {tables.council} {tables.year}"
    naive = written_at.replace(tzinfo=None)
    props.created = naive
    props.modified = naive
    props.lastModifiedBy = "annual-review"
    raw = io.BytesIO()
    # openpyxl's save_workbook (Workbook.save) sets ``modified`` to the clock: its writer,
    # called directly, keeps ours.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()
    return _fixed_zip(raw.getvalue(), naive)


def _set(cell: object, value: Cell) -> None:
    # Typed as object: openpyxl's stubs are not installed; the attributes are its Cell's.
    if isinstance(value, str):
        cell.value = _ILLEGAL_XML.sub("\ufffd", value)  # type: ignore[attr-defined]
        # Always text: never a formula, whatever the text starts with.
        cell.data_type = "s"  # type: ignore[attr-defined]
    else:
        cell.value = value  # type: ignore[attr-defined]
        if isinstance(value, date):
            cell.number_format = _DATE_FORMAT  # type: ignore[attr-defined]


def _header_row(sheet: Sheet) -> int:
    """The 1-based row of the sheet's column headings (0: none)."""
    for i, row in enumerate(sheet.rows, start=1):
        if row and row[0] in ("Case reference", "Statistic"):
            return i
    return 0


def _widths(sheet: Sheet) -> dict[int, float]:
    widest: dict[int, int] = {}
    for row in sheet.rows:
        for c, value in enumerate(row, start=1):
            n = len(csv_text(value))
            widest[c] = max(widest.get(c, 0), n)
    return {c: min(max(n + 2, 10), 80) for c, n in widest.items()}


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


def _fixed_zip(data: bytes, written_at: datetime) -> bytes:
    """The same zip with every member dated ``written_at`` (zipfile dates members by the
    clock), so the same workbook is the same bytes."""
    stamp = max(written_at, datetime(1980, 1, 1)).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
