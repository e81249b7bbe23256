"""What operators do with letters: list, show, export, the case list, release, resend,
confirm, re-issue.

Every state change goes through the outbox (outbox.py holds the SQL), so the dispatcher
does the actual sending with its usual exactly-once care; nothing here talks to the SMTP
server. Which command applies to which letter is services/domain/letter_lifecycle.py's to
say.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg

from contracts.financial_year import FinancialYear
from services.domain import letter_lifecycle as lifecycle
from services.domain.letter_inputs import LetterInputs
from services.domain.letter_lifecycle import Transition
from services.domain.narrative_book import NarrativeVersion
from services.domain.statistics import AveragingRule
from services.letters import outbox
from services.letters.case_list import letter_case_list_files
from services.letters.case_list_files import CaseListFiles
from services.platform.db import Conn
from services.readmodel.letter_reads import live_inputs, snapshot_inputs


async def list_letters(
    conn: Conn, *, year: FinancialYear | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    rows = await outbox.listing(conn, year=year, state=state)
    return [{**dict(r), "financial_year": FinancialYear(r["financial_year"]).label} for r in rows]


async def get_letter(
    conn: Conn, council: str, year: FinancialYear, version: int | None = None
) -> asyncpg.Record:
    row = await outbox.letter(conn, council, year, version)
    if row is None:
        raise LookupError(f"no letter for {council} {year}" + (f" v{version}" if version else ""))
    return row


@dataclass(frozen=True, slots=True)
class LetterCaseList:
    council: str
    year: FinancialYear
    version: int
    files: CaseListFiles
    # True: the files attached to the letter (rendered with it); False: made now from the
    # read model, as the letter's render will make them (the letter is not rendered yet).
    stored: bool


async def case_list(
    conn: Conn, council: str, year: FinancialYear, version: int | None = None
) -> LetterCaseList:
    """A letter's case list: the one stored with it, else made from the read model."""
    row = await get_letter(conn, council, year, version)
    if row["case_list_xlsx"] is not None and row["case_list_csv"] is not None:
        files = CaseListFiles(bytes(row["case_list_xlsx"]), bytes(row["case_list_csv"]))
        return LetterCaseList(council, year, row["version"], files, stored=True)
    inputs = LetterInputs.from_json(row["context"])
    made = await letter_case_list_files(
        conn, inputs, row["version"], at_cut=row["source"] == "snapshot"
    )
    return LetterCaseList(council, year, row["version"], made, stored=False)


async def export(conn: Conn, out: Path, *, year: FinancialYear | None = None) -> list[Path]:
    """Write every rendered letter as .txt, .html and .pdf into ``out``."""
    rows = await outbox.rendered_letters(conn, year)
    return await asyncio.to_thread(_write, out, rows)


def _write(out: Path, rows: list[asyncpg.Record]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for r in rows:
        stem = f"{FinancialYear(r['financial_year']).label}-{r['council']}-v{r['version']}"
        for suffix, content in (("txt", r["text_body"]), ("html", r["html_body"])):
            path = out / f"{stem}.{suffix}"
            path.write_text(content, encoding="utf-8")
            written.append(path)
        path = out / f"{stem}.pdf"
        path.write_bytes(bytes(r["pdf"]))
        written.append(path)
    return written


FAILED_SHOWN = 20


async def summary(conn: Conn) -> dict[str, Any]:
    """Letters by state, and the failed ones with their reasons (``status``)."""
    if not await outbox.exists(conn):
        return {"by_state": {}, "failed": []}
    counts = await outbox.state_counts(conn)
    by_state = {state.value: n for state, n in counts.items() if n}
    failed = await outbox.latest_failed(conn, FAILED_SHOWN)
    return {
        "by_state": by_state,
        "failed": [
            {
                "council": r["council"],
                "financial_year": FinancialYear(r["financial_year"]).label,
                "version": r["version"],
                "reason": r["reason"][:300],
            }
            for r in failed
        ],
    }


NarrativeInForce: TypeAlias = Callable[[], Awaitable[NarrativeVersion | None]]


async def move(
    conn: Conn, action: Transition, council: str, year: FinancialYear, note: str,
    narrative_in_force: NarrativeInForce | None = None, *, by: str = "operator",
) -> int:  # fmt: skip
    """Apply an operator's command (release, resend, confirm-sent) to the council's latest
    letter for the year. A resend of a letter that was never rendered renders it again;
    if it failed for want of a narrative, it now prints the one in force (once registered)."""
    action = Transition(action)
    async with conn.transaction():
        row = await outbox.lock_latest(conn, council, year)
        if row is None:
            raise LookupError(f"no letter for {council} {year}")
        how = lifecycle.operator_command(action, rendered=row["rendered"])
        state = lifecycle.LetterState(row["state"])
        if not lifecycle.allows(how, state):
            raise ValueError(
                f"the {council} {year} letter is '{state}'; {action} applies to "
                + " or ".join(f"'{s}'" for s in sorted(lifecycle.applies_to(action)))
            )
        if how is Transition.CONFIRM_SENT:
            await outbox.confirm_sent(conn, row["id"], f"confirmed by an operator: {note}", by=by)
        else:
            if how is Transition.RERENDER and narrative_in_force is not None:
                await _attach_missing_narrative(conn, row, narrative_in_force)
            if how is Transition.RELEASE and row["source"] == "snapshot" and not row["rendered"]:
                await _reread_snapshot(conn, row, council, year)
            await outbox.apply(
                conn, row["id"], how, f"{action} by an operator: {note}", by=by,
                reset_attempts=action is Transition.RESEND,
            )  # fmt: skip
    return int(row["id"])


async def _attach_missing_narrative(
    conn: Conn, row: asyncpg.Record, narrative_in_force: NarrativeInForce
) -> None:
    inputs = LetterInputs.from_json(row["context"])
    if inputs.narrative is not None:
        return
    narrative = await narrative_in_force()
    if narrative is not None:
        await outbox.replace_inputs(conn, row["id"], inputs.with_narrative(narrative))


async def _reread_snapshot(
    conn: Conn, row: asyncpg.Record, council: str, year: FinancialYear
) -> None:
    """A held letter is released with the snapshot as it is now, not as it was when the
    letter was held: a council registered after the close has its details, a population
    registered since is printed (the figures and averages of the close do not change). The
    narrative stays the one the close pinned."""
    found = await snapshot_inputs(conn, year, [council])
    if found:
        pinned = LetterInputs.from_json(row["context"]).narrative
        await outbox.replace_inputs(conn, row["id"], replace(found[0], narrative=pinned))


async def reissue(
    conn: Conn, council: str, year: FinancialYear, *, reason: str, rule: AveragingRule,
    message_id_domain: str, letter_date: date | None = None,
    narrative: NarrativeVersion | None = None, by: str = "operator",
) -> tuple[int, int]:  # fmt: skip
    """A new, numbered version of a council's letter from the live figures (for example
    after a correction changed them), printing the narrative the previous version was made
    from unless ``narrative`` names another. Returns (outbox id, version)."""
    previous = await get_letter(conn, council, year)
    context = LetterInputs.from_json(previous["context"])
    inputs = await live_inputs(
        conn, council, year, rule,
        letter_date=letter_date or date.fromisoformat(context.letter_date),
        publication_date=date.fromisoformat(context.publication_date),
        signatory=context.signatory,
    )  # fmt: skip
    inputs = (
        inputs.with_narrative(narrative)
        if narrative is not None
        else replace(inputs, narrative=context.narrative)
    )
    return await outbox.add_version(conn, inputs, reason, message_id_domain, by=by)
