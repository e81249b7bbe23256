"""The narrative pages (docs/office.md, "Narrative"): a letter year's narrative written in
the browser, checked (each problem with its line: services/domain/narrative.py, the checks of
``letters narrative check``), previewed as a council's letter from the live figures (the
renderer of ``letters proof``), registered as the next version (``letters narrative set``'s
use case, naming the person), every version listed, and the difference between two.

The draft being written lives in the user's session (server-side, services/office/sessions.py)
so the preview's letter and its PDF, which the browser fetches by address, print it.
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from contracts.financial_year import FinancialYear
from contracts.values import LETTER_FORMATS
from services.audit.record import Actor
from services.domain.letter_formats import UnsupportedLetterYear, format_for
from services.domain.narrative import NarrativeError, Problem, parse
from services.domain.narrative_book import NarrativeBook, NarrativeVersion
from services.letters.narrative_registry import load_book
from services.letters.proof import (
    DRAFT_VERSION,
    PLACEHOLDER_SIGNATORY,
    default_dates,
    proof_inputs,
)
from services.letters.render import render_html, render_pdf
from services.office.guard import MAX_FORM_BYTES, Refused, User, allowed, session_of
from services.office.narrative_actions import financial_year_of, register_narrative
from services.office.pages import page
from services.office.roles import Action, may
from services.projector.config import get_projector_settings
from services.readmodel.council_figures import registered_councils

router = APIRouter()
DRAFT = "narrative_draft"  # session key: {"year": int, "markdown": str, "council": str}
PREFERRED_COUNCIL = "MAS"  # Mansfield, the reference letter's council, when registered
# The letter's HTML is the e-mail's: its CSS is inline, which the workspace's own CSP forbids.
# It is shown in a sandboxed frame (no script, no form, no navigation, no pop-up) with a
# policy of its own that allows exactly that inline CSS and nothing else. The sandbox keeps
# the frame's origin (allow-same-origin) so the browser draws it in the page's own process;
# that is safe only because scripts stay forbidden (no allow-scripts, no script-src).
LETTER_FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-same-origin"
)
KAFKA_DOWN = "The narratives cannot be read: Kafka does not answer. Try again in a minute."


@dataclass(frozen=True, slots=True)
class CouncilChoice:
    code: str
    name: str


def letter_year_or_404(letter_year: int) -> int:
    try:
        format_for(letter_year, LETTER_FORMATS[-1])  # any format: only the year is checked
    except UnsupportedLetterYear:
        raise Refused(404, f"There are no letters for {letter_year}.") from None
    return letter_year


async def book_of(request: Request) -> NarrativeBook:
    try:
        return await load_book(request.app.state.settings)
    except (KafkaError, OSError, TimeoutError) as e:
        raise Refused(503, KAFKA_DOWN) from e


def draft_of(request: Request, letter_year: int) -> dict[str, Any] | None:
    draft = session_of(request).data.get(DRAFT)
    if isinstance(draft, dict) and draft.get("year") == letter_year:
        return draft
    return None


async def read_form(request: Request) -> dict[str, str]:
    """The URL-encoded form (the workspace's forms carry no files), one value per field."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, "The text is too long for one narrative (64 KB at most).")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if len(v) == 1}


async def councils_of(request: Request, year: FinancialYear) -> list[CouncilChoice]:
    async with request.app.state.pool.acquire() as conn:
        rows = await registered_councils(conn, year)
    return [
        CouncilChoice(r["code"], r["name"])
        for r in rows
        if year.overlaps(r["existed_from"], r["existed_until"])
    ]


def problems_of(markdown: str) -> list[Problem]:
    try:
        parse(markdown)
    except NarrativeError as e:
        return list(e.problems)
    return []


def letter_years(book: NarrativeBook, today: date) -> list[int]:
    """The years the page offers: every year with a narrative, and this year's letters."""
    current = FinancialYear.of(today).letter_year
    return sorted({*book.years(), current, current - 1}, reverse=True)


@router.get("/narrative")
async def narrative_index(
    request: Request, user: Annotated[User, Depends(allowed(Action.VIEW_NARRATIVE))]
) -> Response:
    book = await book_of(request)
    years = [
        (y, book.in_force(y)) for y in letter_years(book, datetime.now(UTC).date())
        if _has_letters(y)
    ]  # fmt: skip
    return page(request, "narrative_index.html.j2", {"years": years}, title="Narrative")


def _has_letters(letter_year: int) -> bool:
    try:
        letter_year_or_404(letter_year)
    except Refused:
        return False
    return True


async def narrative_page(
    request: Request,
    user: User,
    letter_year: int,
    *,
    markdown: str | None = None,
    council: str | None = None,
    checked: bool = False,
    preview: bool = False,
    note: str = "",
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    book = await book_of(request)
    in_force = book.in_force(letter_year)
    versions = list(reversed(book.versions.get(letter_year, [])))
    may_edit = may(user.roles, Action.EDIT_NARRATIVE)
    draft = draft_of(request, letter_year)
    if markdown is None:
        markdown = draft["markdown"] if draft else (in_force.markdown if in_force else "")
    year = financial_year_of(letter_year)
    councils = await councils_of(request, year) if may_edit else []
    codes = {c.code for c in councils}
    chosen = council or (draft or {}).get("council") or ""
    if chosen not in codes:
        chosen = PREFERRED_COUNCIL if PREFERRED_COUNCIL in codes else next(iter(codes), "")
    problems = problems_of(markdown) if (checked or preview) else []
    return page(
        request,
        "narrative.html.j2",
        {
            "letter_year": letter_year,
            "year": year,
            "in_force": in_force,
            "versions": versions,
            "markdown": markdown,
            "may_edit": may_edit,
            "may_register": may(user.roles, Action.REGISTER_NARRATIVE),
            "councils": councils,
            "council": chosen,
            "checked": checked or preview,
            "problems": problems,
            "preview": preview and not problems and bool(chosen),
            "note": note,
            "message": message,
            "registered": request.query_params.get("registered"),
        },
        title=f"The {letter_year} letters' narrative",
        status_code=status_code,
    )


@router.get("/narrative/{letter_year}")
async def narrative(
    request: Request,
    letter_year: int,
    user: Annotated[User, Depends(allowed(Action.VIEW_NARRATIVE))],
) -> Response:
    return await narrative_page(request, user, letter_year_or_404(letter_year))


@router.post("/narrative/{letter_year}/draft")
async def check_or_preview(
    request: Request,
    letter_year: int,
    user: Annotated[User, Depends(allowed(Action.EDIT_NARRATIVE))],
) -> Response:
    """Keep the draft in the session; *check* lists its problems, *preview* shows the chosen
    council's letter printing it (when it has none). Nothing is published."""
    letter_year_or_404(letter_year)
    form = await read_form(request)
    markdown = form.get("markdown", "").replace("\r\n", "\n")
    council = form.get("council", "").strip().upper()
    session_of(request).data[DRAFT] = {
        "year": letter_year,
        "markdown": markdown,
        "council": council,
    }
    return await narrative_page(
        request, user, letter_year, markdown=markdown, council=council,
        checked=True, preview=form.get("do") == "preview",
    )  # fmt: skip


@router.post("/narrative/{letter_year}/register")
async def register(
    request: Request,
    letter_year: int,
    user: Annotated[User, Depends(allowed(Action.REGISTER_NARRATIVE))],
) -> Response:
    """Register the text as the year's next version, in the person's name, with their note;
    a text with problems is refused with them listed, and nothing is published."""
    letter_year_or_404(letter_year)
    form = await read_form(request)
    markdown = form.get("markdown", "").replace("\r\n", "\n")
    note = " ".join(form.get("note", "").split())[:500] or None
    session_of(request).data[DRAFT] = {
        "year": letter_year, "markdown": markdown, "council": form.get("council", "")
    }  # fmt: skip
    if not markdown.strip() or problems_of(markdown):
        return await narrative_page(
            request, user, letter_year, markdown=markdown, checked=True, note=note or "",
            status_code=400, message="Nothing was registered: fix the problems below first."
            if markdown.strip() else "Nothing was registered: the narrative is empty.",
        )  # fmt: skip
    try:
        version, _ = await register_narrative(
            request.app.state.settings,
            Actor(user.name, "workspace"),
            letter_year,
            markdown,
            note=note,
        )
    except (KafkaError, OSError, TimeoutError) as e:
        raise Refused(503, "Nothing was registered: Kafka does not answer. Try again.") from e
    except UnsupportedLetterYear as e:
        raise Refused(400, str(e)) from e
    session_of(request).data.pop(DRAFT, None)
    return RedirectResponse(
        f"/narrative/{letter_year}?registered={version.version}#versions", status_code=303
    )


async def _draft_version(request: Request, letter_year: int) -> NarrativeVersion:
    draft = draft_of(request, letter_year)
    if draft is None:
        raise Refused(404, "There is no draft to preview: write one and press Preview.")
    markdown = draft["markdown"]
    if problems_of(markdown):
        raise Refused(400, "The draft has problems: check it, fix them, then preview.")
    return NarrativeVersion(letter_year, DRAFT_VERSION, format_for(letter_year), markdown)


async def _preview_letter(request: Request, letter_year: int, council: str) -> Any:
    narrative = await _draft_version(request, letter_year)
    year = financial_year_of(letter_year)
    codes = {c.code for c in await councils_of(request, year)}
    if council not in codes:
        raise Refused(404, f"No council {council} is registered for {year}.")
    letter_date, publication_date = default_dates(year, datetime.now(UTC).date())
    async with request.app.state.pool.acquire() as conn:
        [inputs] = await proof_inputs(
            conn, year, [council], narrative, get_projector_settings().averaging_rule,
            letter_date, publication_date, PLACEHOLDER_SIGNATORY,
        )  # fmt: skip
    return inputs.letter(proof=True)


@router.get("/narrative/{letter_year}/preview/{council}.html")
async def preview_html(
    request: Request,
    letter_year: int,
    council: str,
    user: Annotated[User, Depends(allowed(Action.EDIT_NARRATIVE))],
) -> Response:
    letter = await _preview_letter(request, letter_year_or_404(letter_year), council.upper())
    body = await asyncio.to_thread(render_html, letter)
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={"content-security-policy": LETTER_FRAME_CSP, "x-frame-options": "SAMEORIGIN"},
    )


@router.get("/narrative/{letter_year}/preview/{council}.pdf")
async def preview_pdf(
    request: Request,
    letter_year: int,
    council: str,
    user: Annotated[User, Depends(allowed(Action.EDIT_NARRATIVE))],
) -> Response:
    code = council.upper()
    letter = await _preview_letter(request, letter_year_or_404(letter_year), code)
    pdf = await asyncio.to_thread(render_pdf, letter)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="proof-{letter_year}-{code}.pdf"'},
    )


@router.get("/narrative/{letter_year}/versions/{number}")
async def version_text(
    request: Request,
    letter_year: int,
    number: int,
    user: Annotated[User, Depends(allowed(Action.VIEW_NARRATIVE))],
) -> Response:
    book = await book_of(request)
    found = book.version(letter_year_or_404(letter_year), number)
    if found is None:
        raise Refused(404, f"There is no version {number} of the {letter_year} narrative.")
    return page(
        request, "narrative_version.html.j2", {"letter_year": letter_year, "v": found},
        title=f"The {letter_year} narrative, version {number}",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "added", "removed", "context", "where"
    text: str


def difference(old: str, new: str, old_name: str, new_name: str) -> list[DiffLine]:
    """The unified difference of two texts, line by line (escaped by the template)."""
    kinds = {"+": "added", "-": "removed", " ": "context", "@": "where"}
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), old_name, new_name, lineterm="", n=2
    )
    return [
        DiffLine(kinds.get(line[:1], "context"), line)
        for line in lines
        if not line.startswith(("---", "+++"))
    ]


@router.get("/narrative/{letter_year}/diff")
async def diff(
    request: Request,
    letter_year: int,
    user: Annotated[User, Depends(allowed(Action.VIEW_NARRATIVE))],
) -> Response:
    book = await book_of(request)
    letter_year_or_404(letter_year)
    try:
        a, b = int(request.query_params["from"]), int(request.query_params["to"])
    except (KeyError, ValueError):
        raise Refused(400, "Choose two versions to compare.") from None
    old, new = book.version(letter_year, a), book.version(letter_year, b)
    if old is None or new is None:
        raise Refused(404, f"The {letter_year} narrative has no version {a if old is None else b}.")
    lines = difference(old.markdown, new.markdown, f"version {a}", f"version {b}")
    return page(
        request, "narrative_diff.html.j2",
        {"letter_year": letter_year, "old": old, "new": new, "lines": lines},
        title=f"The {letter_year} narrative: version {a} against {b}",
    )  # fmt: skip
