"""The outbox repository: every SQL statement on ``letters.outbox`` (and
``letters.closes_handled``), and nothing else. One row per letter, moved through its states
by short transactions.

Claims use ``FOR UPDATE SKIP LOCKED`` so several senders never take the same letter, and
a letter is marked ``sending`` (and committed) before the SMTP conversation starts: after
a crash, what is in ``sending`` is exactly what may or may not have gone, and is
reconciled before anything is sent again. Which move applies, and to which state it leads,
is services/domain/letter_lifecycle.py's to say, and whether a new letter is held is the
close's use case's (year_closed.py): each function here reads, or writes one of its
transitions. The events a transition emits go to ``letters.events`` in the same transaction
(letter_events.py).

Every transition is written by ``_insert`` (a new letter) or ``_move`` (an existing one),
and each of them records a LetterStateChanged with the letter's record as it then stands,
so the log holds every letter's latest record (and a new transition is covered with no more
code); the rendering itself goes to the log once, as LetterRendered. A restore of the
database writes both back (services/letters/restore.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from contracts.events import (
    LetterDispatched,
    LetterDispatchFailed,
    LetterIssued,
    LetterRecord,
    LetterRendered,
    LetterStateChanged,
)
from contracts.financial_year import FinancialYear
from services.domain.letter import LETTER_KIND
from services.domain.letter_inputs import LetterInputs
from services.domain.letter_lifecycle import TRANSITIONS, LetterState, Transition, target
from services.letters.case_list_files import CaseListFiles
from services.letters.email import message_id_for
from services.letters.letter_events import PRODUCER, record_event
from services.letters.year_closed import NewLetter
from services.platform.db import Conn


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    council: str
    year: FinancialYear
    version: int
    state: LetterState
    message_id: str
    recipient: str | None
    inputs: LetterInputs
    attempts: int
    source: str = "snapshot"  # "snapshot": a letter of the close; "live": a re-issue

    @property
    def at_cut(self) -> bool:
        """Whether the letter's figures are the year's snapshot at its cut."""
        return self.source == "snapshot"

    @classmethod
    def of(cls, r: asyncpg.Record) -> OutboxRow:
        return cls(
            id=r["id"], council=r["council"], year=FinancialYear(r["financial_year"]),
            version=r["version"], state=LetterState(r["state"]), message_id=r["message_id"],
            recipient=r["recipient"], inputs=LetterInputs.from_json(r["context"]),
            attempts=r["attempts"], source=r["source"],
        )  # fmt: skip


async def create_for_close(
    conn: Conn, close_id: UUID, year: FinancialYear, letters: Sequence[NewLetter],
    message_id_domain: str,
) -> int:  # fmt: skip
    """Version 1 of every council's letter for a close, in the state the close decided;
    existing rows are left alone."""
    async with conn.transaction():
        for new in letters:
            council = new.inputs.council
            message_id = message_id_for(council, year, LETTER_KIND, 1, message_id_domain)
            await _insert(
                conn,
                Transition.HOLD if new.state is LetterState.HELD else Transition.QUEUE,
                "INSERT INTO letters.outbox (council, financial_year, version, close_id, source, "
                "state, hold_reason, message_id, recipient, context) "
                "VALUES ($1, $2, 1, $3, 'snapshot', $4, $5, $6, $7, $8::jsonb) "
                "ON CONFLICT (council, financial_year, kind, version) DO NOTHING RETURNING *",
                council, year.start_year, close_id, new.state, new.hold_reason, message_id,
                new.inputs.recipient, new.inputs.to_json(),
            )  # fmt: skip
        await conn.execute(
            "INSERT INTO letters.closes_handled (close_id, financial_year, letters) "
            "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            close_id, year.start_year, len(letters),
        )  # fmt: skip
    return len(letters)


async def handled_closes(conn: Conn) -> list[tuple[UUID, FinancialYear]]:
    """The first close handled of each year whose letters were queued."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (financial_year) close_id, financial_year FROM letters.closes_handled "
        "ORDER BY financial_year, handled_at, close_id"
    )
    return [(r["close_id"], FinancialYear(r["financial_year"])) for r in rows]


async def without_letter(conn: Conn, year: FinancialYear, councils: Sequence[str]) -> list[str]:
    """Those of ``councils`` with no letter for the year yet."""
    rows = await conn.fetch(
        "SELECT DISTINCT council FROM letters.outbox WHERE financial_year = $1 "
        "AND council = ANY($2::text[]) AND kind = $3",
        year.start_year,
        list(councils),
        LETTER_KIND,
    )
    have = {r["council"] for r in rows}
    return [c for c in councils if c not in have]


async def replace_inputs(conn: Conn, row_id: int, inputs: LetterInputs) -> None:
    """What a letter not rendered yet will be made from (the caller holds its row lock)."""
    await conn.execute(
        "UPDATE letters.outbox SET context = $2::jsonb, recipient = $3, updated_at = now() "
        "WHERE id = $1 AND text_body IS NULL",
        row_id,
        inputs.to_json(),
        inputs.recipient,
    )


async def claim(conn: Conn, state: LetterState, limit: int) -> list[OutboxRow]:
    """Take up to ``limit`` rows in ``state`` that are due (the caller's transaction)."""
    rows = await conn.fetch(
        "SELECT * FROM letters.outbox WHERE state = $1 AND next_attempt_at <= now() "
        "ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
        state,
        limit,
    )
    return [OutboxRow.of(r) for r in rows]


async def state_counts(conn: Conn) -> dict[LetterState, int]:
    """How many letters are in each state (every state, zero included): the metrics."""
    rows = await conn.fetch("SELECT state, count(*) AS n FROM letters.outbox GROUP BY state")
    found = {LetterState(r["state"]): int(r["n"]) for r in rows}
    return {state: found.get(state, 0) for state in LetterState}


async def due_count(conn: Conn) -> int:
    """Letters the dispatcher should take now: pending, or rendered and due (a retry whose
    time has come). Held, sent, failed and uncertain letters wait for nobody but an operator."""
    n = await conn.fetchval(
        "SELECT count(*) FROM letters.outbox WHERE state = ANY($1::text[]) "
        "AND next_attempt_at <= now()",
        [LetterState.PENDING, LetterState.RENDERED],
    )
    return int(n)


async def mark_rendered(
    conn: Conn, row: OutboxRow, *, template_version: str, text: str, html: str, pdf: bytes,
    sha: tuple[str, str, str], case_list: CaseListFiles | None = None,
) -> None:  # fmt: skip
    moved = await _move(
        conn, row.id, Transition.RENDER,
        "template_version = $4, text_body = $5, html_body = $6, pdf = $7, text_sha256 = $8, "
        "html_sha256 = $9, pdf_sha256 = $10, case_list_xlsx = $11, case_list_csv = $12, "
        "case_list_xlsx_sha256 = $13, case_list_csv_sha256 = $14, rendered_at = now()",
        template_version, text, html, pdf, *sha,
        *((case_list.xlsx, case_list.csv, case_list.xlsx_sha256, case_list.csv_sha256)
          if case_list else (None, None, None, None)),
    )  # fmt: skip
    if moved is None:
        return
    await record_event(conn, row.council, LetterRendered(
        financial_year=row.year, version=row.version, message_id=row.message_id,
        template_version=template_version, text=text, html=html,
        pdf_base64=base64.b64encode(pdf).decode("ascii"), text_sha256=sha[0],
        html_sha256=sha[1], pdf_sha256=sha[2],
        recipients=tuple(a for a in (row.inputs.recipient, *row.inputs.copy_recipients) if a),
        case_list_xlsx_base64=_b64(case_list.xlsx) if case_list else None,
        case_list_csv_base64=_b64(case_list.csv) if case_list else None,
        case_list_xlsx_sha256=case_list.xlsx_sha256 if case_list else None,
        case_list_csv_sha256=case_list.csv_sha256 if case_list else None,
    ))  # fmt: skip
    await record_event(conn, row.council, LetterIssued(
        financial_year=row.year, version=row.version, message_id=row.message_id,
        template_version=template_version, text_sha256=sha[0], html_sha256=sha[1],
        pdf_sha256=sha[2],
    ))  # fmt: skip


async def mark_render_refused(conn: Conn, row: OutboxRow, reason: str) -> None:
    """The letter cannot be rendered for a reason no retry fixes: failed, with the reason."""
    moved = await _move(
        conn, row.id, Transition.RENDER_REFUSED, "last_error = $4", reason[:1000], note=reason
    )
    if moved is None:
        return
    await record_event(conn, row.council, LetterDispatchFailed(
        financial_year=row.year, version=row.version, message_id=row.message_id,
        reason=f"not rendered: {reason}"[:500], permanent=True,
    ))  # fmt: skip


async def mark_sending(conn: Conn, row_id: int) -> None:
    """Claimed: committed before the SMTP conversation starts."""
    await _move(conn, row_id, Transition.CLAIM, "attempts = attempts + 1, sending_at = now()")


async def mark_sent(
    conn: Conn, row: OutboxRow, response: str, by: Transition = Transition.ACCEPTED
) -> None:
    """Sent, ``by`` the SMTP server's acceptance or the archive's copy after a restart."""
    if target(by) is not LetterState.SENT:
        raise ValueError(f"{by} does not lead to {LetterState.SENT}")
    moved = await _move(
        conn, row.id, by, "smtp_response = $4, sent_at = now(), last_error = NULL",
        response[:1000], note=response,
    )  # fmt: skip
    if moved is None:
        return
    await record_event(conn, row.council, LetterDispatched(
        financial_year=row.year, version=row.version, message_id=row.message_id,
        recipient=row.recipient or "unknown",
    ))  # fmt: skip


async def mark_retry(conn: Conn, row: OutboxRow, error: str, delay_s: float) -> None:
    await _move(
        conn, row.id, Transition.RETRY,
        "last_error = $4, next_attempt_at = now() + make_interval(secs => $5)",
        error[:1000], delay_s, note=error,
    )  # fmt: skip


async def mark_failed(
    conn: Conn, row: OutboxRow, response: str, by: Transition = Transition.REFUSED
) -> None:
    """Failed, ``by`` the SMTP server's refusal (or attempts run out) or by the service's
    own (CANNOT_SEND: the settings forbid the send, or the message cannot be built)."""
    if target(by) is not LetterState.FAILED:
        raise ValueError(f"{by} does not lead to {LetterState.FAILED}")
    moved = await _move(
        conn, row.id, by, "smtp_response = $4, last_error = $4", response[:1000], note=response
    )
    if moved is None:
        return
    await record_event(conn, row.council, LetterDispatchFailed(
        financial_year=row.year, version=row.version, message_id=row.message_id,
        reason=response[:500] or "refused", permanent=True,
    ))  # fmt: skip


async def lock_state(conn: Conn, row_id: int) -> LetterState | None:
    """The letter's state, its row locked until the caller's transaction ends."""
    state: str | None = await conn.fetchval(
        "SELECT state FROM letters.outbox WHERE id = $1 FOR UPDATE", row_id
    )
    return None if state is None else LetterState(state)


async def in_sending(conn: Conn, older_than_s: float) -> list[OutboxRow]:
    """Letters in ``sending`` for longer than any live sender can take: their sender died.

    Younger ones may be in the middle of another instance's SMTP conversation."""
    rows = await conn.fetch(
        "SELECT * FROM letters.outbox WHERE state = $2 "
        "AND sending_at < now() - make_interval(secs => $1) FOR UPDATE SKIP LOCKED",
        older_than_s,
        LetterState.SENDING,
    )
    return [OutboxRow.of(r) for r in rows]


async def apply(
    conn: Conn, row_id: int, transition: Transition, note: str | None = None, *,
    by: str = PRODUCER, reset_attempts: bool = False,
) -> None:  # fmt: skip
    """Move a letter by a transition that changes nothing but its state (and the note; a
    resend starts the transient-failure allowance again: ``reset_attempts``); the caller
    has checked, under the row's lock, that it applies."""
    await _move(
        conn, row_id, transition,
        "last_error = coalesce($4, o.last_error), next_attempt_at = now(), "
        "attempts = CASE WHEN $5 THEN 0 ELSE o.attempts END",
        note, reset_attempts, by=by, note=note,
    )  # fmt: skip


async def add_version(
    conn: Conn, inputs: LetterInputs, reason: str, message_id_domain: str, *, by: str = PRODUCER
) -> tuple[int, int]:
    """A re-issue: the next version of a council's letter, from the given figures."""
    year = FinancialYear.parse(inputs.year)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{inputs.council}/{year}")
        version = await conn.fetchval(
            "SELECT coalesce(max(version), 0) + 1 FROM letters.outbox "
            "WHERE council = $1 AND financial_year = $2 AND kind = $3",
            inputs.council, year.start_year, LETTER_KIND,
        )  # fmt: skip
        row = await _insert(
            conn, Transition.REISSUE,
            "INSERT INTO letters.outbox (council, financial_year, version, source, state, "
            "reason, message_id, recipient, context) "
            "VALUES ($1, $2, $3, 'live', $8, $4, $5, $6, $7::jsonb) RETURNING *",
            inputs.council, year.start_year, version, reason,
            message_id_for(inputs.council, year, LETTER_KIND, version, message_id_domain),
            inputs.recipient, inputs.to_json(), target(Transition.REISSUE),
            by=by, note=reason,
        )  # fmt: skip
    assert row is not None  # a new version: nothing to conflict with under the lock
    return int(row["id"]), int(version)


def _sources(transition: Transition) -> list[str]:
    return sorted(TRANSITIONS[transition].sources)


# The one place a letter's state is written: each records the change, with the record.


async def _insert(
    conn: Conn, transition: Transition, sql: str, *args: Any, by: str = PRODUCER,
    note: str | None = None,
) -> asyncpg.Record | None:  # fmt: skip
    """A new letter (``sql``: an INSERT … RETURNING *); None if it was there already."""
    row: asyncpg.Record | None = await conn.fetchrow(sql, *args)
    if row is not None:
        await _record_change(conn, row, transition, None, by, note)
    return row


async def _move(
    conn: Conn, row_id: int, transition: Transition, sets: str = "", *args: Any,
    by: str = PRODUCER, note: str | None = None,
) -> asyncpg.Record | None:  # fmt: skip
    """Move letter ``row_id`` by ``transition`` if it is in one of the transition's source
    states, setting ``sets`` too (its parameters from $4 on; ``o`` is the row); None if it
    was not in such a state (nothing written)."""
    extra = f", {sets}" if sets else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"UPDATE letters.outbox o SET state = $2, updated_at = now(){extra} "  # noqa: S608
        "FROM (SELECT id, state AS previous_state FROM letters.outbox WHERE id = $1 FOR UPDATE) p "
        "WHERE o.id = p.id AND p.previous_state = ANY($3::text[]) "
        "RETURNING o.*, p.previous_state",
        row_id, target(transition), _sources(transition), *args,
    )  # fmt: skip
    if row is not None:
        await _record_change(conn, row, transition, LetterState(row["previous_state"]), by, note)
    return row


async def _record_change(
    conn: Conn, row: asyncpg.Record, transition: Transition, previous: LetterState | None,
    by: str, note: str | None,
) -> None:  # fmt: skip
    await record_event(conn, row["council"], LetterStateChanged(
        financial_year=FinancialYear(row["financial_year"]), kind=row["kind"],
        version=row["version"], message_id=row["message_id"], transition=transition.value,
        previous_state=previous.value if previous else None, state=row["state"], by=by,
        note=note[:20_000] if note else None, record=record_of(row),
    ), actor=None if by == PRODUCER else by)  # fmt: skip


RECORD_COLUMNS = tuple(f for f in LetterRecord.model_fields if f != "inputs")


def record_of(row: asyncpg.Record) -> LetterRecord:
    """The letter's record as the log carries it (no rendering: LetterRendered has it)."""
    return LetterRecord(inputs=_json_text(row["context"]), **{c: row[c] for c in RECORD_COLUMNS})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json_text(context: Any) -> str:
    return context if isinstance(context, str) else json.dumps(context)


# Reads and writes for the operators' commands (operations.py) and the CLI.


async def listing(
    conn: Conn, *, year: FinancialYear | None = None, state: str | None = None
) -> list[asyncpg.Record]:
    """Every letter (every version), optionally of one year and one state, without bodies."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, council, financial_year, kind, version, state, recipient, message_id, "
        "attempts, hold_reason, smtp_response, last_error, sent_at, reason, "
        "context->>'council_name' AS council_name FROM letters.outbox "
        "WHERE ($1::int IS NULL OR financial_year = $1) "
        "AND ($2::text IS NULL OR state = $2) ORDER BY financial_year, council, version",
        year.start_year if year else None,
        state,
    )
    return rows


async def letter(
    conn: Conn, council: str, year: FinancialYear, version: int | None = None
) -> asyncpg.Record | None:
    """A council's letter for the year, whole: the given version, or the latest."""
    return await conn.fetchrow(
        "SELECT * FROM letters.outbox WHERE council = $1 AND financial_year = $2 "
        "AND ($3::int IS NULL OR version = $3) ORDER BY version DESC LIMIT 1",
        council,
        year.start_year,
        version,
    )


async def rendered_letters(conn: Conn, year: FinancialYear | None = None) -> list[asyncpg.Record]:
    """Every rendered letter's bodies (council, financial_year, version, text, html, pdf)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT council, financial_year, version, text_body, html_body, pdf FROM letters.outbox "
        "WHERE text_body IS NOT NULL AND ($1::int IS NULL OR financial_year = $1) "
        "ORDER BY council, version",
        year.start_year if year else None,
    )
    return rows


@dataclass(frozen=True, slots=True)
class RenderedBodies:
    text: str
    html: str
    pdf: bytes
    case_list: CaseListFiles | None = None  # None: rendered before the case list existed


async def rendered_bodies(conn: Conn, row_id: int) -> RenderedBodies | None:
    """What the sender mails: the letter as it was rendered, with its case list."""
    r = await conn.fetchrow(
        "SELECT text_body, html_body, pdf, case_list_xlsx, case_list_csv "
        "FROM letters.outbox WHERE id = $1",
        row_id,
    )
    if r is None:
        return None
    files = None
    if r["case_list_xlsx"] is not None and r["case_list_csv"] is not None:
        files = CaseListFiles(bytes(r["case_list_xlsx"]), bytes(r["case_list_csv"]))
    return RenderedBodies(r["text_body"], r["html_body"], bytes(r["pdf"]), files)


async def exists(conn: Conn) -> bool:
    """Whether the outbox table is there yet (``status`` on a database not migrated)."""
    return bool(await conn.fetchval("SELECT to_regclass('letters.outbox') IS NOT NULL"))


async def count_in(conn: Conn, state: LetterState) -> int:
    """How many letters are in ``state``."""
    n = await conn.fetchval("SELECT count(*) FROM letters.outbox WHERE state = $1", state)
    return int(n)


async def latest_failed(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """The most recently failed letters with their reasons (council, financial_year, version,
    reason)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT council, financial_year, version, coalesce(last_error, smtp_response, '') "
        "AS reason FROM letters.outbox WHERE state = $1 ORDER BY updated_at DESC LIMIT $2",
        LetterState.FAILED, limit,
    )  # fmt: skip
    return rows


async def lock_latest(conn: Conn, council: str, year: FinancialYear) -> asyncpg.Record | None:
    """The council's latest letter for the year (id, state, source, context, rendered), its
    row locked until the caller's transaction ends."""
    return await conn.fetchrow(
        "SELECT id, state, source, context, text_body IS NOT NULL AS rendered "
        "FROM letters.outbox "
        "WHERE council = $1 AND financial_year = $2 ORDER BY version DESC LIMIT 1 FOR UPDATE",
        council,
        year.start_year,
    )


async def confirm_sent(conn: Conn, row_id: int, note: str, *, by: str = PRODUCER) -> None:
    """An operator checked that the letter went (CONFIRM_SENT): sent, with their note."""
    await _move(
        conn, row_id, Transition.CONFIRM_SENT, "sent_at = now(), smtp_response = $4", note,
        by=by, note=note,
    )  # fmt: skip


# A restore of the database from the letters topic (restore.py).


async def letters_present(conn: Conn) -> int:
    """How many rows the outbox and the closes handled hold (a restore needs none)."""
    n = await conn.fetchval(
        "SELECT (SELECT count(*) FROM letters.outbox) "
        "+ (SELECT count(*) FROM letters.closes_handled)"
    )
    return int(n)


async def forget_all(conn: Conn) -> None:
    """Empty the outbox and the closes handled (``restore --force``): the log has them."""
    await conn.execute("TRUNCATE letters.outbox, letters.closes_handled")


async def restore_row(
    conn: Conn, *, council: str, year: int, kind: str, version: int, state: str,
    message_id: str, record: LetterRecord, text: str | None, html: str | None,
    pdf: bytes | None, case_list: CaseListFiles | None = None,
) -> None:  # fmt: skip
    """A letter's row as its latest record on the letters topic states it, with its id."""
    rec = record
    await conn.execute(
        "INSERT INTO letters.outbox (id, council, financial_year, kind, version, close_id, "
        "source, state, hold_reason, reason, message_id, recipient, context, template_version, "
        "text_body, html_body, pdf, text_sha256, html_sha256, pdf_sha256, attempts, "
        "next_attempt_at, last_error, smtp_response, created_at, rendered_at, sending_at, "
        "sent_at, updated_at, case_list_xlsx, case_list_csv, case_list_xlsx_sha256, "
        "case_list_csv_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13::jsonb, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, "
        "$28, $29, $30, $31, $32, $33)",
        rec.id, council, year, kind, version, rec.close_id, rec.source, state,
        rec.hold_reason, rec.reason, message_id, rec.recipient, rec.inputs,
        rec.template_version, text, html, pdf, rec.text_sha256, rec.html_sha256,
        rec.pdf_sha256, rec.attempts, rec.next_attempt_at, rec.last_error, rec.smtp_response,
        rec.created_at, rec.rendered_at, rec.sending_at, rec.sent_at, rec.updated_at,
        case_list.xlsx if case_list else None, case_list.csv if case_list else None,
        rec.case_list_xlsx_sha256, rec.case_list_csv_sha256,
    )  # fmt: skip


async def restore_closes_handled(conn: Conn) -> None:
    """Each close's handling, from the letters it made in its first transaction (they share
    its creation time: the transaction's), and when."""
    await conn.execute(
        "INSERT INTO letters.closes_handled (close_id, financial_year, letters, handled_at) "
        "SELECT o.close_id, min(o.financial_year), count(*), min(o.created_at) "
        "FROM letters.outbox o WHERE o.close_id IS NOT NULL AND o.created_at = "
        "(SELECT min(f.created_at) FROM letters.outbox f WHERE f.close_id = o.close_id) "
        "GROUP BY o.close_id"
    )


async def continue_numbering(conn: Conn) -> None:
    """After rows written with their ids: new letters are numbered after the highest."""
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('letters.outbox', 'id'), "
        "greatest(coalesce((SELECT max(id) FROM letters.outbox), 0), 1))"
    )
