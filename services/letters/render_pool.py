"""The processes that render letters: WeasyPrint is CPU-bound and not thread-safe, so each
PDF is made in a worker process (or in the service's own, with no workers configured).

A worker is started with WeasyPrint and its fonts loaded, and dies with the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import time
from concurrent.futures import Executor, ProcessPoolExecutor

import structlog

from services.domain.letter_inputs import LetterInputs
from services.letters.render import PERMANENT_RENDER_ERRORS, digests, render_letter, warm_up

log = structlog.get_logger(__name__)

# (template version, text, html, pdf, (text, html, pdf sha-256), seconds the render took)
Rendered = tuple[str, str, str, bytes, tuple[str, str, str], float]


class RenderRefused(RuntimeError):
    """A letter that cannot be rendered for a reason no retry fixes (one str argument, so it
    comes back whole from a worker process)."""


def render_inputs(context: str, version: int) -> Rendered:
    """Top level, so a worker process can run it: (template version, text, html, pdf, sha,
    seconds the render took in the worker: the metric, without the wait for a worker)."""
    started = time.perf_counter()
    try:
        rendered = render_letter(LetterInputs.from_json(context).letter(version))
    except PERMANENT_RENDER_ERRORS as refused:
        raise RenderRefused(str(refused) or type(refused).__name__) from None
    d = digests(rendered)
    return (
        rendered.template_version,
        rendered.text,
        rendered.html,
        rendered.pdf,
        (d.text_sha256, d.html_sha256, d.pdf_sha256),
        time.perf_counter() - started,
    )


def _die_with_parent() -> None:
    """A render worker must not outlive a letter service that was killed (SIGKILL gives the
    pool no chance to stop it): ask Linux to kill it with its parent."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _start_render_worker() -> None:
    """Each render process dies with the service, and loads WeasyPrint and its fonts before
    its first letter (about a second, which would otherwise delay a close's first letters)."""
    _die_with_parent()
    _warm_up()


def _warm_up() -> None:
    try:
        warm_up()
    except Exception:  # a letter's own render then fails with the reason, for that letter
        log.warning("render warm-up failed", exc_info=True)


def _noop() -> None:
    """Submitted once at start: the pool then starts its processes, which warm up."""


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("render processes did not start", error=repr(future.exception()))


class RenderPool:
    """``workers`` render processes (0: render in this process, in a thread)."""

    def __init__(self, workers: int) -> None:
        self.executor: Executor | None = (
            ProcessPoolExecutor(workers, initializer=_start_render_worker) if workers else None
        )

    def start(self) -> None:
        """Start the render processes (or load WeasyPrint here) now, while nothing waits."""
        warming = asyncio.get_running_loop().run_in_executor(
            self.executor, _warm_up if self.executor is None else _noop
        )
        warming.add_done_callback(_log_failure)

    async def render(self, context: str, version: int) -> Rendered:
        """One letter from its inputs (JSON); raises RenderRefused when no retry can help."""
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, render_inputs, context, version
        )

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
