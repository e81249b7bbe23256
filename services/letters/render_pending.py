"""Rendering the pending letters of the outbox, a batch at a time: each letter rendered,
stored with its digests, its case list (services/letters/case_list.py) and its LetterIssued
event, or failed when it (or its case list) cannot be rendered."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from services.domain.case_list import CaseListMismatch
from services.domain.letter_lifecycle import LetterState
from services.letters import metrics, outbox
from services.letters.case_list import letter_case_list_files
from services.letters.faults import crash_point
from services.letters.render_pool import RenderPool, RenderRefused

log = structlog.get_logger(__name__)


async def render_pending(pool: asyncpg.Pool, renderer: RenderPool, limit: int = 16) -> int:
    """Render up to ``limit`` pending letters in one transaction; returns how many were taken.

    A transient failure of any render (a worker process died) stores nothing of the batch:
    its letters stay pending and are rendered again later."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await outbox.claim(conn, LetterState.PENDING, limit)
        if not rows:
            return 0
        crash_point("during_render")
        results = await asyncio.gather(
            *(renderer.render(r.inputs.to_json(), r.version) for r in rows),
            return_exceptions=True,
        )
        transient = [r for r in results if isinstance(r, BaseException)
                     and not isinstance(r, RenderRefused)]  # fmt: skip
        if transient:
            raise transient[0]
        seconds: list[float] = []  # of each letter rendered and stored
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, RenderRefused):
                log.error("letter cannot be rendered: failed, for an operator",
                          council=row.council, reason=str(result)[:300])  # fmt: skip
                await outbox.mark_render_refused(conn, row, str(result))
                continue
            assert not isinstance(result, BaseException)
            template_version, text, html, pdf, sha, _ = result
            try:
                files = await letter_case_list_files(conn, row.inputs, row.version,
                                                     at_cut=row.at_cut)  # fmt: skip
            except CaseListMismatch as refused:
                # A case list that is not its letter's figures cannot be right: the letter
                # is not sent with it (nor without it), an operator looks.
                log.error("case list refused: letter failed, for an operator",
                          council=row.council, reason=str(refused)[:300])  # fmt: skip
                await outbox.mark_render_refused(conn, row, f"case list: {refused}")
                continue
            await outbox.mark_rendered(
                conn, row, template_version=template_version, text=text, html=html, pdf=pdf,
                sha=sha, case_list=files,
            )  # fmt: skip
            seconds.append(result[-1])
    for took in seconds:  # committed: each render counts once
        metrics.rendered(took)
    log.info("letters rendered", count=len(rows))
    return len(rows)
