"""Rendering the pending letters of the outbox, a batch at a time: each letter rendered,
stored with its digests and its LetterIssued event, or failed when it cannot be rendered."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from services.domain.letter_lifecycle import LetterState
from services.letters import metrics, outbox
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
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, RenderRefused):
                log.error("letter cannot be rendered: failed, for an operator",
                          council=row.council, reason=str(result)[:300])  # fmt: skip
                await outbox.mark_render_refused(conn, row, str(result))
                continue
            assert not isinstance(result, BaseException)
            template_version, text, html, pdf, sha, _ = result
            await outbox.mark_rendered(
                conn, row, template_version=template_version, text=text, html=html, pdf=pdf,
                sha=sha,
            )  # fmt: skip
    for result in results:  # committed: each render counts once
        if not isinstance(result, BaseException):
            metrics.rendered(result[-1])
    log.info("letters rendered", count=len(rows))
    return len(rows)
