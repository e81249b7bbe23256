"""The proofs pages (docs/office.md, "Proofs"): make the year's proofs in the background (the
inputs and renderer of ``letters proof``: services/letters/proof.py), follow the progress,
browse them by council, download every PDF as one ZIP (streamed).

Progress without JavaScript: the job's page shows how far it is and a *Refresh* link; with
the workspace's own script (static/proofs.js, allowed by ``script-src 'self'``) the bar moves
by itself and the page reloads when the job ends. (A ``<meta http-equiv=refresh>`` page would
refresh without script, but a timed refresh the user does not control fails WCAG 2.2.1.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.responses import Response

from contracts.financial_year import FinancialYear, NotAFinancialYear
from services.audit.record import Actor
from services.domain.letter_inputs import LetterInputs
from services.letters.proof import (
    PLACEHOLDER_SIGNATORY,
    councils_to_proof,
    default_dates,
    proof_inputs,
)
from services.office import proof_jobs
from services.office.guard import Refused, User, allowed
from services.office.narrative_actions import record_proofs_made
from services.office.narrative_pages import LETTER_FRAME_CSP, book_of
from services.office.pages import page
from services.office.proof_jobs import FILE_TYPES, ProofJob, ProofJobs
from services.office.roles import Action, may
from services.projector.config import get_projector_settings

router = APIRouter()


def jobs_of(request: Request) -> ProofJobs:
    return proof_jobs.jobs_of(request.app.state)


def year_or_404(label: str) -> FinancialYear:
    try:
        return FinancialYear.parse(label)
    except (NotAFinancialYear, ValueError):
        raise Refused(404, f"{label!r} is not a financial year (e.g. 2025-26).") from None


def job_or_404(request: Request, year: FinancialYear, job_id: str) -> ProofJob:
    jobs = jobs_of(request)
    try:
        return jobs.state_of(jobs.store.load(year, job_id))
    except LookupError:
        raise Refused(404, f"There is no proofs job {job_id} for {year}.") from None


@router.get("/proofs")
async def proofs_index(
    request: Request, user: Annotated[User, Depends(allowed(Action.VIEW_PROOFS))]
) -> Response:
    book = await book_of(request)
    jobs = jobs_of(request)
    years = {FinancialYear(y - 1) for y in book.years()} | set(jobs.store.years())
    rows = [(y, next(iter(jobs.store.jobs(y)), None)) for y in sorted(years, reverse=True)]
    rows = [(y, jobs.state_of(j) if j else None) for y, j in rows]
    return page(request, "proofs_index.html.j2", {"rows": rows}, title="Proofs")


@router.get("/proofs/{year_label}")
async def proofs_of_year(
    request: Request,
    year_label: str,
    user: Annotated[User, Depends(allowed(Action.VIEW_PROOFS))],
) -> Response:
    year = year_or_404(year_label)
    jobs = jobs_of(request)
    book = await book_of(request)
    return page(
        request,
        "proofs_year.html.j2",
        {
            "year": year,
            "jobs": [jobs.state_of(j) for j in jobs.store.jobs(year)],
            "narrative": book.in_force(year.letter_year),
            "running": jobs.running(year),
            "may_make": may(user.roles, Action.MAKE_PROOFS),
        },
        title=f"Proofs of {year}",
    )


@router.post("/proofs/{year_label}")
async def make_proofs(
    request: Request,
    year_label: str,
    user: Annotated[User, Depends(allowed(Action.MAKE_PROOFS))],
) -> Response:
    """Start the year's proofs job, printing the narrative in force; one job at a time."""
    year = year_or_404(year_label)
    jobs = jobs_of(request)
    if (running := jobs.running(year)) is not None:
        return RedirectResponse(f"/proofs/{year.label}/{running}", status_code=303)
    narrative = (await book_of(request)).in_force(year.letter_year)
    if narrative is None:
        raise Refused(
            409,
            f"No narrative is registered for the {year.letter_year} letters: write and "
            "register it first (Narrative).",
        )
    pool, settings = request.app.state.pool, request.app.state.settings
    async with pool.acquire() as conn:
        councils = await councils_to_proof(conn, year)
    if not councils:
        raise Refused(409, f"No council is registered for {year}: there is nothing to proof.")
    letter_date, publication_date = default_dates(year, datetime.now(UTC).date())
    actor = Actor(user.name, "workspace")

    async def inputs() -> list[LetterInputs]:
        async with pool.acquire() as conn:
            return await proof_inputs(
                conn, year, councils, narrative, get_projector_settings().averaging_rule,
                letter_date, publication_date, PLACEHOLDER_SIGNATORY,
            )  # fmt: skip

    async def finished(job: ProofJob) -> None:
        # Recorded once the proofs exist (services/audit/record.py: after the effect).
        await record_proofs_made(
            settings, actor, year, subject=f"proofs job {job.id}", councils=len(job.councils),
            narrative_version=job.narrative_version, narrative_sha256=job.narrative_sha256,
        )  # fmt: skip

    job = jobs.start(year, narrative, user.name, councils, inputs, finished)
    return RedirectResponse(f"/proofs/{year.label}/{job.id}", status_code=303)


@router.get("/proofs/{year_label}/{job_id}")
async def proofs_job(
    request: Request,
    year_label: str,
    job_id: str,
    user: Annotated[User, Depends(allowed(Action.VIEW_PROOFS))],
) -> Response:
    year = year_or_404(year_label)
    job = job_or_404(request, year, job_id)
    return page(request, "proofs_job.html.j2", {"job": job}, title=f"Proofs of {year}")


@router.get("/proofs/{year_label}/{job_id}/status.json")
async def proofs_job_status(
    request: Request,
    year_label: str,
    job_id: str,
    user: Annotated[User, Depends(allowed(Action.VIEW_PROOFS))],
) -> Response:
    job = job_or_404(request, year_or_404(year_label), job_id)
    return JSONResponse(
        {"state": job.state, "done": job.done, "total": job.total, "percent": job.percent,
         "last_council": job.last_council}
    )  # fmt: skip


@router.get("/proofs/{year_label}/{job_id}/proofs.zip")
async def proofs_zip(
    request: Request,
    year_label: str,
    job_id: str,
    user: Annotated[User, Depends(allowed(Action.VIEW_PROOFS))],
) -> Response:
    job = job_or_404(request, year_or_404(year_label), job_id)
    if job.state != "done":
        raise Refused(409, "This job has not finished: its ZIP is made when every proof is.")
    name = f"proofs-{job.financial_year}-{job.id}.zip"
    return StreamingResponse(
        jobs_of(request).store.zip_chunks(job),
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get("/proofs/{year_label}/{job_id}/{council}")
async def proof_of_council(
    request: Request,
    year_label: str,
    job_id: str,
    council: str,
    user: Annotated[User, Depends(allowed(Action.VIEW_PROOFS))],
) -> Response:
    job = job_or_404(request, year_or_404(year_label), job_id)
    if council not in job.councils:
        raise Refused(404, f"Job {job.id} has no proof of {council}.")
    pages = jobs_of(request).store.pages(job, council)
    return page(
        request, "proof_council.html.j2", {"job": job, "council": council, "pages": pages},
        title=f"Proof of {council}, {job.financial_year}",
    )  # fmt: skip


@router.get("/proofs/{year_label}/{job_id}/{council}/{name}")
async def proof_file(
    request: Request,
    year_label: str,
    job_id: str,
    council: str,
    name: str,
    user: Annotated[User, Depends(allowed(Action.VIEW_PROOFS))],
) -> Response:
    job = job_or_404(request, year_or_404(year_label), job_id)
    try:
        path = jobs_of(request).store.file(job, council, name)
    except LookupError as e:
        raise Refused(404, str(e)) from None
    headers = {"cache-control": "no-store"}
    if name == "letter.html":  # the e-mail's HTML: its inline CSS, nothing else
        headers |= {"content-security-policy": LETTER_FRAME_CSP, "x-frame-options": "SAMEORIGIN"}
    return FileResponse(
        path,
        media_type=FILE_TYPES.get(name, "image/png"),
        headers=headers,
        content_disposition_type="inline",
        filename=f"{council}-{job.financial_year}-{name}",
    )
