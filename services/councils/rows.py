"""Reading CSV rows with the line each starts on, and parsing their cells."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from typing import TextIO


class RowError(ValueError):
    """A row that cannot become a council; the message says which cell and why."""


def rows_with_lines(stream: TextIO) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header, and each following row with the 1-based line it starts on.

    Quoted cells may span lines, so the line is taken from the reader, not counted.
    """
    reader = csv.reader(stream)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], iter(())

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        start = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                if len(cells) > len(header):
                    extra = len(cells) - len(header)
                    yield start, {"__error__": f"{extra} more cell(s) than the header has"}
                else:
                    padded = cells + [""] * (len(header) - len(cells))
                    yield start, {h: c.strip() for h, c in zip(header, padded, strict=True)}
            start = reader.line_num + 1

    return header, rows()


def optional_date(row: dict[str, str], column: str) -> date | None:
    text = row.get(column, "")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowError(f"{column}: {text!r} is not a date in the form YYYY-MM-DD") from None


def optional_int(row: dict[str, str], column: str) -> int | None:
    text = row.get(column, "").replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"{column}: {text!r} is not a number") from None
    if not value.is_integer():
        raise RowError(f"{column}: {text!r} is not a whole number")
    return int(value)


def optional_float(row: dict[str, str], column: str) -> float | None:
    text = row.get(column, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"{column}: {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise RowError(f"{column}: {text!r} is not a finite number")
    return value
