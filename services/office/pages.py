"""The workspace's pages: templates (Jinja2, autoescaped), the year board, and the pages that
say why something was refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.office.board import read_board
from services.office.guard import User, allowed, csrf_token, current_user, session_of
from services.office.proof_jobs import jobs_of, latest_proofs
from services.office.roles import Action, may

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().with_name("templates")),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
router = APIRouter()


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    title: str,
    status_code: int = 200,
) -> HTMLResponse:
    user = current_user(request)
    body = TEMPLATES.get_template(template).render(
        title=title,
        user=user,
        # Every form renders this in its hidden field; guard.allowed checks it on POST.
        csrf_token=csrf_token(request) if user else None,
        **context,
    )
    return HTMLResponse(body, status_code=status_code, headers={"cache-control": "no-store"})


@router.get("/")
async def board(
    request: Request, user: Annotated[User, Depends(allowed(Action.VIEW_BOARD))]
) -> Response:
    data = await read_board(request.app.state.pool, request.app.state.settings)
    jobs = jobs_of(request.app.state)  # the proofs jobs' folder (services/office/proof_jobs.py)
    for row in data.years:
        row.proofs = latest_proofs(jobs, row.year) or "none made yet"
    return page(
        request,
        "board.html.j2",
        {
            "board": data,
            "seen_at": session_of(request).data.get("board_seen_at"),
            "may_mark_seen": may(user.roles, Action.MARK_BOARD_SEEN),
        },
        title="Year board",
    )


@router.post("/board/seen")
async def mark_board_seen(
    request: Request, user: Annotated[User, Depends(allowed(Action.MARK_BOARD_SEEN))]
) -> Response:
    # The placeholder action (roles.Action.MARK_BOARD_SEEN): it records in the user's own
    # session when the board was last marked seen, and changes nothing else.
    session_of(request).data["board_seen_at"] = datetime.now(UTC).strftime("%H:%M:%S UTC")
    return RedirectResponse("/", status_code=303)
