"""The workspace's letters pages (docs/office.md, "Letters"): the letters by year and state,
each letter with its HTML, PDF, inputs and hashes, and the decisions on it by role (release,
resend, re-issue, withdraw). Every decision calls the same use case as the CLI
(services/office/letter_actions.py) and is recorded with the signed-in person."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from contracts.financial_year import FinancialYear, NotAFinancialYear
from services.audit.record import Actor
from services.domain.letter_inputs import LetterInputs
from services.domain.letter_lifecycle import LetterState, Transition, applies_to
from services.domain.narrative_book import NarrativeVersion
from services.letters import operations
from services.letters.config import get_letters_settings
from services.letters.narrative_registry import load_book
from services.office import letter_actions
from services.office.form import form_fields
from services.office.guard import User, allowed
from services.office.pages import page
from services.office.roles import Action, may
from services.platform.kafka.publisher import event_publisher
from services.projector.config import get_projector_settings

router = APIRouter()
MAX_REASON = 500
# A letter's own HTML, shown on its own: no script, no request anywhere, its inline styles.
LETTER_HTML_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# What each decision's form is, who may take it, and what the page says after it.
DECISIONS: dict[str, tuple[Transition, Action, str]] = {
    "release": (Transition.RELEASE, Action.RELEASE_LETTER, "Released: the letter service "
                "renders and sends it now."),
    "resend": (Transition.RESEND, Action.RESEND_LETTER, "Sent back to the letter service: it "
               "tries the SMTP server again."),
    "withdraw": (Transition.WITHDRAW, Action.WITHDRAW_LETTER, "Withdrawn: this letter will "
                 "never be sent."),
    "reissue": (Transition.REISSUE, Action.REISSUE_LETTER, "A new version is queued from the "
                "live figures: the letter service renders and sends it."),
}  # fmt: skip


def person(user: User) -> Actor:
    """The signed-in user, as the audit trail names them."""
    return Actor(name=user.name, via="workspace")


def year_of(label: str) -> FinancialYear:
    try:
        return FinancialYear.parse(label)
    except (NotAFinancialYear, ValueError):
        raise HTTPException(404) from None


def council_of(code: str) -> str:
    code = code.upper()
    if not (1 <= len(code) <= 12 and code.isalnum() and code.isascii()):
        raise HTTPException(404)
    return code


@router.get("/letters")
async def letters(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.VIEW_LETTERS))],
    year: str = "",
    state: str = "",
    council: str = "",
) -> Response:
    """Every letter, newest year first, filtered by year, state and council (code or name)."""
    chosen_year = year_of(year) if year else None
    chosen_state = state if state in {s.value for s in LetterState} else None
    search = council.strip()[:60]
    async with request.app.state.pool.acquire() as conn:
        rows = await operations.list_letters(conn, year=chosen_year, state=chosen_state)
        years = sorted({r["financial_year"] for r in await operations.list_letters(conn)},
                       reverse=True)  # fmt: skip
    if search:
        needle = search.casefold()
        rows = [
            r for r in rows
            if needle in r["council"].casefold() or needle in (r["council_name"] or "").casefold()
        ]  # fmt: skip
    rows.sort(key=lambda r: (-FinancialYear.parse(r["financial_year"]).start_year, r["council"],
                             r["version"]))  # fmt: skip
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    return page(
        request,
        "letters.html.j2",
        {
            "rows": rows, "counts": counts, "years": years,
            "states": [s.value for s in LetterState],
            "chosen": {"year": chosen_year.label if chosen_year else "",
                       "state": chosen_state or "", "council": search},
        },
        title="Letters",
    )  # fmt: skip


async def _letter(request: Request, council: str, year: FinancialYear, version: int | None) -> Any:
    async with request.app.state.pool.acquire() as conn:
        try:
            row = await operations.get_letter(conn, council, year, version)
        except LookupError:
            raise HTTPException(404) from None
        versions = [
            r for r in await operations.list_letters(conn, year=year) if r["council"] == council
        ]
    return row, versions


@router.get("/letters/{council}/{year}")
async def letter(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.VIEW_LETTERS))],
    council: str,
    year: str,
    version: int | None = None,
    done: str = "",
) -> Response:
    return await _letter_page(request, user, council_of(council), year_of(year), version, done=done)


async def _letter_page(
    request: Request, user: User, council: str, year: FinancialYear, version: int | None, *,
    done: str = "", error: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    row, versions = await _letter(request, council, year, version)
    latest = max(v["version"] for v in versions)
    inputs = LetterInputs.from_json(row["context"])
    state = LetterState(row["state"])
    is_latest = row["version"] == latest
    # The decisions this user may take on this letter now (only the latest version moves).
    decisions = {
        name: may(user.roles, action)
        and is_latest
        and (transition is Transition.REISSUE or state in applies_to(transition))
        for name, (transition, action, _) in DECISIONS.items()
    }
    narrative = inputs.narrative or {}
    return page(
        request,
        "letter.html.j2",
        {
            "row": row,
            "year": year,
            "state": state.value,
            "inputs": inputs,
            "inputs_json": json.dumps(
                {k: v for k, v in json.loads(inputs.to_json()).items() if k != "narrative"},
                indent=2,
                ensure_ascii=False,
            ),
            "narrative": {k: narrative.get(k) for k in ("version", "sha256", "format")},
            "versions": versions,
            "is_latest": is_latest,
            "decisions": decisions,
            "done": DECISIONS[done][2] if done in DECISIONS else None,
            "error": error,
            "max_reason": MAX_REASON,
        },
        title=f"{inputs.council_name} {year.label} letter",
        status_code=status_code,
    )


def _file_name(council: str, year: FinancialYear, version: int, suffix: str) -> str:
    return f"{year.label}-{council}-v{version}.{suffix}"


@router.get("/letters/{council}/{year}/v{version}.html")
async def letter_html(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.VIEW_LETTERS))],
    council: str,
    year: str,
    version: int,
) -> Response:
    """The letter's HTML as it was (or will be) sent, from the outbox."""
    code, fy = council_of(council), year_of(year)
    row, _ = await _letter(request, code, fy, version)
    if row["html_body"] is None:
        raise HTTPException(404, "This letter is not rendered yet.")
    name = _file_name(code, fy, version, "html")
    return Response(
        row["html_body"],
        media_type="text/html; charset=utf-8",
        headers={
            "content-disposition": f'inline; filename="{name}"',
            "content-security-policy": LETTER_HTML_CSP,
        },
    )


@router.get("/letters/{council}/{year}/v{version}.pdf")
async def letter_pdf(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.VIEW_LETTERS))],
    council: str,
    year: str,
    version: int,
) -> Response:
    """The letter's PDF as it was (or will be) attached, from the outbox."""
    code, fy = council_of(council), year_of(year)
    row, _ = await _letter(request, code, fy, version)
    if row["pdf"] is None:
        raise HTTPException(404, "This letter is not rendered yet.")
    name = _file_name(code, fy, version, "pdf")
    return Response(
        bytes(row["pdf"]),
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _reason(value: str) -> str | None:
    text = " ".join(value.split())
    return text[:MAX_REASON] if text else None


async def _decide(
    request: Request, user: User, council: str, year: str, reason: str, name: str
) -> Response:
    code, fy = council_of(council), year_of(year)
    why = _reason(reason)
    if why is None:
        return await _letter_page(
            request, user, code, fy, None, status_code=400,
            error="Give a reason in words: it is kept with the letter and on the audit trail.",
        )  # fmt: skip
    transition = DECISIONS[name][0]
    settings = request.app.state.settings
    try:
        async with request.app.state.pool.acquire() as conn, event_publisher(settings) as publisher:
            if transition is Transition.REISSUE:
                await letter_actions.reissue_letter(
                    conn, publisher, person(user), code, fy, reason=why,
                    rule=get_projector_settings().averaging_rule,
                    message_id_domain=get_letters_settings().message_id_domain,
                )  # fmt: skip
            else:

                async def narrative_in_force() -> NarrativeVersion | None:
                    return (await load_book(settings)).in_force(fy.letter_year)

                await letter_actions.decide_letter(
                    conn, publisher, person(user), transition, code, fy, why, narrative_in_force
                )
    except (LookupError, ValueError) as e:
        return await _letter_page(
            request, user, code, fy, None, error=f"Nothing was changed: {e}.", status_code=409
        )
    except (KafkaError, OSError, TimeoutError):
        return await _letter_page(
            request, user, code, fy, None, status_code=503,
            error="Kafka did not answer, so the decision could not be recorded on the audit "
            "trail. Look at the letter's state before trying again.",
        )  # fmt: skip
    return RedirectResponse(f"/letters/{code}/{fy.label}?done={name}", status_code=303)


@router.post("/letters/{council}/{year}/release")
async def release(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.RELEASE_LETTER))],
    council: str,
    year: str,
) -> Response:
    reason = (await form_fields(request)).get("reason", "")
    return await _decide(request, user, council, year, reason, "release")


@router.post("/letters/{council}/{year}/resend")
async def resend(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.RESEND_LETTER))],
    council: str,
    year: str,
) -> Response:
    reason = (await form_fields(request)).get("reason", "")
    return await _decide(request, user, council, year, reason, "resend")


@router.post("/letters/{council}/{year}/withdraw")
async def withdraw(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.WITHDRAW_LETTER))],
    council: str,
    year: str,
) -> Response:
    reason = (await form_fields(request)).get("reason", "")
    return await _decide(request, user, council, year, reason, "withdraw")


@router.post("/letters/{council}/{year}/reissue")
async def reissue(
    request: Request,
    user: Annotated[User, Depends(allowed(Action.REISSUE_LETTER))],
    council: str,
    year: str,
) -> Response:
    reason = (await form_fields(request)).get("reason", "")
    return await _decide(request, user, council, year, reason, "reissue")
