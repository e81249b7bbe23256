"""The workspace's dead letters and parked casework (docs/office.md, "Dead letters and parked
casework"): every role reads them, with the reasons and each message itself (escaped; pretty
JSON where it parses); the data officer re-drives one, or a filtered set after a confirmation
that says how many. The re-drive is the CLI's (`dlq redrive`), through the same use case
(services/office/letter_actions.py), recorded with the signed-in person."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from contracts.codec import REASON_HELP, Reason
from contracts.financial_year import FinancialYear
from services.office import letter_actions
from services.office.form import form_fields
from services.office.guard import User, allowed
from services.office.letters_pages import person, year_of
from services.office.pages import page
from services.office.roles import Action, may
from services.platform.kafka.publisher import event_publisher
from services.readmodel.dead_letters import (
    dead_letter,
    dead_letter_reasons,
    list_dead_letters,
    list_parked,
)

router = APIRouter()
STATES = ("open", "redriven", "resolved")
SHOWN = 500  # rows on one page; a filtered re-drive takes at most this many at once
MAX_NOTE = 500


def _filter(fields: dict[str, str]) -> dict[str, Any]:
    """The filter of a list or a re-drive, from a query or a form: only known values."""
    reason = fields.get("reason", "")
    council = fields.get("council", "").strip().upper()[:12]
    year = fields.get("year", "").strip()
    return {
        "reason": reason if reason in {r.value for r in Reason} else None,
        "council": council if council.isalnum() and council.isascii() else None,
        "financial_year": year_of(year) if year else None,
    }


async def _matching(request: Request, chosen: dict[str, Any], state: str | None) -> list[Any]:
    fy: FinancialYear | None = chosen["financial_year"]
    async with request.app.state.pool.acquire() as conn:
        return await list_dead_letters(
            conn, state=state, limit=SHOWN, reason=chosen["reason"], council=chosen["council"],
            financial_year=fy.start_year if fy else None,
        )  # fmt: skip


def _query(chosen: dict[str, Any]) -> dict[str, str]:
    fy = chosen["financial_year"]
    return {
        "reason": chosen["reason"] or "",
        "council": chosen["council"] or "",
        "year": fy.label if fy else "",
    }


@router.get("/dead-letters")
async def dead_letters(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.VIEW_DEAD_LETTERS))],
    state: str = "open",
    done: int | None = None,
) -> Response:
    chosen = _filter(dict(request.query_params))
    shown_state = state if state in STATES else None
    rows = await _matching(request, chosen, shown_state)
    async with request.app.state.pool.acquire() as conn:
        parked = await list_parked(conn, limit=SHOWN)
        reasons = await dead_letter_reasons(conn)
    return page(
        request,
        "dead_letters.html.j2",
        {
            "rows": [_shown(r) for r in rows],
            "parked": [_shown(p) for p in parked],
            "reasons": reasons,
            "states": STATES,
            "state": shown_state or "",
            "chosen": _query(chosen),
            "may_redrive": may(user.roles, Action.REDRIVE_DEAD_LETTERS),
            "done": done,
            "shown": SHOWN,
        },
        title="Dead letters and parked casework",
    )


def _shown(r: dict[str, Any]) -> dict[str, Any]:
    fy = r.get("financial_year")
    return {**r, "year_label": FinancialYear(fy).label if fy else "—"}


def _message(value: bytes | None) -> tuple[str, bool]:
    """The message as text to show: pretty JSON when it parses, else its text (undecodable
    bytes replaced); True when it was JSON. The template escapes it either way."""
    raw = bytes(value or b"")
    text = raw.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False), True
    except (ValueError, RecursionError):
        return text, False


@router.get("/dead-letters/{dead_id}")
async def one_dead_letter(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.VIEW_DEAD_LETTERS))],
    dead_id: int,
) -> Response:
    return await _dead_letter_page(request, user, dead_id)


async def _dead_letter_page(
    request: Request, user: User, dead_id: int, *, error: str | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    async with request.app.state.pool.acquire() as conn:
        row = await dead_letter(conn, dead_id)
    if row is None:
        raise HTTPException(404)
    message, is_json = _message(row.get("value"))
    help_ = REASON_HELP.get(Reason(row["reason"])) if row["reason"] in set(Reason) else None
    return page(
        request,
        "dead_letter.html.j2",
        {
            "row": _shown(row),
            "message": message,
            "is_json": is_json,
            "key": bytes(row["key"]).decode("utf-8", "replace") if row.get("key") else None,
            "help": help_,
            "may_redrive": may(user.roles, Action.REDRIVE_DEAD_LETTERS) and row["status"] == "open",
            "error": error,
            "max_note": MAX_NOTE,
        },
        title=f"Dead letter {dead_id}",
        status_code=status_code,
    )


def _note(value: str) -> str | None:
    text = " ".join(value.split())
    return text[:MAX_NOTE] if text else None


async def _redrive(request: Request, user: User, ids: list[int], note: str) -> list[Any]:
    async with (
        request.app.state.pool.acquire() as conn,
        event_publisher(request.app.state.settings) as publisher,
    ):
        return await letter_actions.redrive_dead_letters(conn, publisher, person(user), ids, note)


@router.post("/dead-letters/{dead_id}/redrive")
async def redrive_one(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.REDRIVE_DEAD_LETTERS))],
    dead_id: int,
) -> Response:
    note = _note((await form_fields(request)).get("note", ""))
    if note is None:
        return await _dead_letter_page(
            request, user, dead_id, status_code=400,
            error="Say what was fixed: the note is kept with the dead letter and on the audit "
            "trail.",
        )  # fmt: skip
    try:
        await _redrive(request, user, [dead_id], note)
    except (LookupError, ValueError) as e:
        return await _dead_letter_page(
            request, user, dead_id, error=f"Nothing was re-driven: {e}.", status_code=409
        )
    except (KafkaError, OSError, TimeoutError):
        return await _dead_letter_page(
            request, user, dead_id, status_code=503,
            error="Kafka did not answer: look at the dead letter's state before trying again.",
        )  # fmt: skip
    return RedirectResponse("/dead-letters?state=redriven&done=1", status_code=303)


@router.get("/dead-letters-redrive")
async def confirm_redrive(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.REDRIVE_DEAD_LETTERS))],
) -> Response:
    """The confirmation of a filtered re-drive: how many open dead letters it takes, which."""
    chosen = _filter(dict(request.query_params))
    rows = await _matching(request, chosen, "open")
    return _confirm_page(request, chosen, rows)


def _confirm_page(
    request: Request, chosen: dict[str, Any], rows: list[Any], *, error: str | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    return page(
        request,
        "dead_letters_redrive.html.j2",
        {
            "rows": [_shown(r) for r in rows], "chosen": _query(chosen), "error": error,
            "max_note": MAX_NOTE, "shown": SHOWN,
        },
        title="Re-drive dead letters",
        status_code=status_code,
    )  # fmt: skip


@router.post("/dead-letters-redrive")
async def redrive_set(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.REDRIVE_DEAD_LETTERS))],
) -> Response:
    """Re-drive the open dead letters the filter matches, if they are still exactly those the
    confirmation showed (their ids are in the form): otherwise nothing is re-driven."""
    fields = await form_fields(request)
    chosen = _filter(fields)
    rows = await _matching(request, chosen, "open")
    ids = [int(r["id"]) for r in rows]
    confirmed = fields.get("ids", "")
    note = _note(fields.get("note", ""))
    if confirmed != ",".join(map(str, ids)):
        return _confirm_page(
            request, chosen, rows, status_code=409,
            error=f"The dead letters matching this filter changed since the confirmation: "
            f"{len(ids)} match now. Nothing was re-driven; check the list below and confirm "
            "again.",
        )  # fmt: skip
    if note is None or not ids:
        return _confirm_page(
            request, chosen, rows, status_code=400,
            error="Say what was fixed: the note is kept with each dead letter and on the audit "
            "trail." if ids else "No open dead letter matches this filter.",
        )  # fmt: skip
    try:
        done = await _redrive(request, user, ids, note)
    except letter_actions.PartlyDone as e:
        return _confirm_page(request, chosen, await _matching(request, chosen, "open"),
                             error=str(e), status_code=409)  # fmt: skip
    except (LookupError, ValueError) as e:
        return _confirm_page(
            request, chosen, rows, error=f"Nothing was re-driven: {e}.", status_code=409
        )
    except (KafkaError, OSError, TimeoutError):
        return _confirm_page(
            request, chosen, await _matching(request, chosen, "open"), status_code=503,
            error="Kafka did not answer: look at the list before trying again.",
        )  # fmt: skip
    return RedirectResponse(f"/dead-letters?state=redriven&done={len(done)}", status_code=303)
