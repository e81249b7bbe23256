"""The pages of the close with four eyes (a year's close page: propose, sign off, reject,
withdraw) and of the audit trail (docs/office.md). Thin: every step is a use case of
services/office/closing.py; every route names its action (roles.PERMISSIONS)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from contracts.financial_year import FinancialYear, NotAFinancialYear
from services.audit.record import Actor
from services.domain.close_proposal import CloseRefused, NotYourStep, Person
from services.office import closing
from services.office.guard import MAX_FORM_BYTES, User, allowed, session_of
from services.office.pages import page
from services.office.roles import Action, may

router = APIRouter()
FLASH = "close_flash"


def _year(label: str) -> FinancialYear:
    try:
        return FinancialYear.parse(label)
    except (NotAFinancialYear, ValueError):
        raise HTTPException(404, f"{label[:20]!r} is not a financial year (e.g. 2019-20)") from None


async def _form(request: Request) -> dict[str, list[str]]:
    body = await request.body()  # read once by the CSRF check: Starlette keeps it
    if len(body) > MAX_FORM_BYTES:
        return {}
    return parse_qs(body.decode("utf-8", "replace"))


def _one(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name, [])
    return values[0].strip() if len(values) == 1 else ""


def _actor(user: User) -> tuple[Actor, Person]:
    name = user.name[:100]
    return Actor(name, "workspace"), Person(name, user.subject)


def _back(year: FinancialYear) -> Response:
    return RedirectResponse(f"/years/{year.label}/close", status_code=303)


async def _show(
    request: Request,
    user: User,
    year: FinancialYear,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        view = await closing.close_view(request.app.state.pool, request.app.state.settings, year)
    except closing.Unavailable as e:
        return page(
            request, "close.html.j2", {"year": year, "view": None, "error": str(e)},
            title=f"Close {year.label}", status_code=503,
        )  # fmt: skip
    flash = session_of(request).data.pop(FLASH, None)
    return page(
        request,
        "close.html.j2",
        {
            "year": year,
            "view": view,
            "error": error,
            "flash": flash,
            "subject": user.subject,
            "may_propose": may(user.roles, Action.PROPOSE_CLOSE),
            "may_sign_off": may(user.roles, Action.SIGN_OFF_CLOSE),
            "may_reject": may(user.roles, Action.REJECT_CLOSE),
            "may_withdraw": may(user.roles, Action.WITHDRAW_CLOSE),
        },
        title=f"Close {year.label}",
        status_code=status_code,
    )


async def _refused(request: Request, user: User, year: FinancialYear, e: Exception) -> Response:
    if isinstance(e, closing.Unavailable):
        status = 503
    elif isinstance(e, NotYourStep):
        status = 403
    else:
        status = 409
    return await _show(request, user, year, error=str(e), status_code=status)


@router.get("/years/{label}/close")
async def close_page(
    request: Request, label: str, user: Annotated[User, Depends(allowed(Action.VIEW_CLOSE))]
) -> Response:
    return await _show(request, user, _year(label))


@router.post("/years/{label}/close/propose")
async def propose(
    request: Request, label: str, user: Annotated[User, Depends(allowed(Action.PROPOSE_CLOSE))]
) -> Response:
    year = _year(label)
    form = await _form(request)
    titles = tuple(t for t in (_one(form, f"signatory_title_{i}") for i in range(1, 5)) if t)
    try:
        try:
            letter_date = date.fromisoformat(_one(form, "letter_date"))
            publication_date = date.fromisoformat(_one(form, "publication_date"))
        except ValueError:
            raise CloseRefused("give the letter and publication dates as YYYY-MM-DD") from None
        actor, person = _actor(user)
        _, mail_problem = await closing.propose(
            request.app.state.pool,
            request.app.state.settings,
            request.app.state.office,
            actor,
            person,
            year,
            closing.ProposalForm(
                letter_date, publication_date, _one(form, "signatory_name"), titles
            ),
        )
    except (CloseRefused, closing.Unavailable) as e:
        return await _refused(request, user, year, e)
    message = "Proposed: the close now waits for an approver's sign-off."
    session_of(request).data[FLASH] = message + (f" Note: {mail_problem}." if mail_problem else "")
    return _back(year)


@router.post("/years/{label}/close/{proposal_id}/sign-off")
async def sign_off(
    request: Request,
    label: str,
    proposal_id: str,
    user: Annotated[User, Depends(allowed(Action.SIGN_OFF_CLOSE))],
) -> Response:
    year = _year(label)
    actor, person = _actor(user)
    try:
        outcome = await closing.sign_off(
            request.app.state.pool, request.app.state.settings, actor, person, year, proposal_id
        )
    except (CloseRefused, closing.Unavailable) as e:
        return await _refused(request, user, year, e)
    if outcome.closed:
        session_of(request).data[FLASH] = f"Signed off: {year.label} is closed."
    else:
        session_of(request).data[FLASH] = (
            "The proposal lapsed, nothing was closed: " + "; ".join(outcome.reasons) + "."
        )
    return _back(year)


async def _end(request: Request, user: User, label: str, proposal_id: str, how: str) -> Response:
    year = _year(label)
    form = await _form(request)
    actor, person = _actor(user)
    step = closing.reject if how == "rejected" else closing.withdraw
    try:
        await step(
            request.app.state.settings, actor, person, year, proposal_id, _one(form, "reason")
        )
    except (CloseRefused, closing.Unavailable) as e:
        return await _refused(request, user, year, e)
    session_of(request).data[FLASH] = f"The proposal is {how}."
    return _back(year)


@router.post("/years/{label}/close/{proposal_id}/reject")
async def reject(
    request: Request,
    label: str,
    proposal_id: str,
    user: Annotated[User, Depends(allowed(Action.REJECT_CLOSE))],
) -> Response:
    return await _end(request, user, label, proposal_id, "rejected")


@router.post("/years/{label}/close/{proposal_id}/withdraw")
async def withdraw(
    request: Request,
    label: str,
    proposal_id: str,
    user: Annotated[User, Depends(allowed(Action.WITHDRAW_CLOSE))],
) -> Response:
    return await _end(request, user, label, proposal_id, "withdrawn")


@router.get("/audit")
async def audit(
    request: Request, user: Annotated[User, Depends(allowed(Action.VIEW_AUDIT))]
) -> Response:
    wanted = request.query_params.get("year") or ""
    year = None
    if wanted:
        try:
            year = FinancialYear.parse(wanted)
        except (NotAFinancialYear, ValueError):
            error = f"{wanted[:20]!r} is not a financial year (e.g. 2019-20)"
            context: dict[str, object] = {"entries": [], "years": [], "year": None, "error": error}
            return page(request, "audit.html.j2", context, title="Audit", status_code=400)
    try:
        entries, _ = await closing.read_trail_folded(request.app.state.settings)
    except closing.Unavailable as e:
        return page(
            request, "audit.html.j2", {"entries": [], "years": [], "year": year, "error": str(e)},
            title="Audit", status_code=503,
        )  # fmt: skip
    years = sorted({e.financial_year for e in entries if e.financial_year}, reverse=True)
    shown = [e for e in reversed(entries) if year is None or e.financial_year == year]
    return page(
        request,
        "audit.html.j2",
        {"entries": shown, "years": years, "year": year, "error": None},
        title="Audit",
    )
