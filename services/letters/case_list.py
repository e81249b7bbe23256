"""The council's case list of one letter: read the council-year's case histories from the
read model, explain them (the same pure explanation as ``annual-review explain``), make the
tables (services/domain/case_list.py) and write them (case_list_files.py).

Used by the render step (each letter's case list is made and stored with it) and by
``annual-review letters case-list`` (the operator's copy).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time

from contracts.financial_year import FinancialYear
from services.domain.case_list import CaseList, case_list
from services.domain.explanation import explain
from services.domain.letter import LETTER_KIND
from services.domain.letter_inputs import LetterInputs
from services.letters.case_list_files import CaseListFiles, write
from services.platform.db import Conn
from services.readmodel.explain_reads import council_year_inputs, service_areas


async def letter_case_list(
    conn: Conn, inputs: LetterInputs, version: int, *, at_cut: bool
) -> CaseList:
    """The tables of a letter made from ``inputs``: at the year's cut for a letter of the
    close (``at_cut``), from the live figures for a re-issue. Raises CaseListMismatch when
    the cases are not the letter's figures."""
    year = FinancialYear.parse(inputs.year)
    i = await council_year_inputs(conn, inputs.council, year)
    x = explain(
        inputs.council,
        year,
        i.history,
        cuts=i.cuts if at_cut else None,
        letter_counts=inputs.counts,
        refusals=i.refusals,
        parked=i.parked,
    )
    refs = sorted({m.state.case_reference for f in x.figures for m in f.members})
    return case_list(
        x,
        inputs.counts,
        council_name=inputs.council_name,
        reference=f"{inputs.council}/{year}/{LETTER_KIND}/v{version}",
        service_areas=await service_areas(conn, inputs.council, refs),
    )


def written_at(inputs: LetterInputs) -> datetime:
    """The case list's own date (in its document properties and zip): the letter's date,
    so that the same letter always makes the same bytes."""
    return datetime.combine(date.fromisoformat(inputs.letter_date), time(), tzinfo=UTC)


async def letter_case_list_files(
    conn: Conn, inputs: LetterInputs, version: int, *, at_cut: bool
) -> CaseListFiles:
    tables = await letter_case_list(conn, inputs, version, at_cut=at_cut)
    # Writing a large council's workbook takes a moment of CPU: off the event loop.
    return await asyncio.to_thread(write, tables, written_at(inputs))
