"""The running site's state: its database pool, what is published (reloaded when it
changes), the rendered pages of the current data, and the letters already fetched.

What is published only grows (a year is published once; a re-issued letter adds a version),
so a cached page is dropped only when the data changes. The check is one small query at most
every ``refresh_s``: a year published at 00:00 shows within that many seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from contracts.financial_year import FinancialYear
from services.web import published_reads
from services.web.catalogue import Catalogue, build_catalogue
from services.web.content import Content

log = structlog.get_logger(__name__)
PAGE_CACHE_SIZE = 4096
LETTER_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    media_type: str
    etag: str


class Site:
    def __init__(
        self, pool: asyncpg.Pool, content: Content, refresh_s: float, page_cache: bool = True
    ) -> None:
        self.pool = pool
        self.page_cache = page_cache
        self.content = content
        self.refresh_s = refresh_s
        self._catalogue: Catalogue | None = None
        self._key: tuple[Any, ...] | None = None
        self._checked = float("-inf")
        self._lock = asyncio.Lock()
        self._pages: OrderedDict[str, Rendered] = OrderedDict()
        self._letters: OrderedDict[tuple[str, int, int, str], bytes | str | None] = OrderedDict()

    @property
    def loaded(self) -> bool:
        return self._catalogue is not None

    async def catalogue(self) -> Catalogue:
        """What is published now (checked for changes at most every ``refresh_s``)."""
        if self._catalogue is None or time.monotonic() - self._checked >= self.refresh_s:
            async with self._lock:
                if self._catalogue is None or time.monotonic() - self._checked >= self.refresh_s:
                    try:
                        await self._refresh()
                    except (OSError, asyncpg.PostgresError) as exc:
                        if self._catalogue is None:
                            raise
                        # What was published stays published: keep serving it while the
                        # database is away (readiness says so), and look again later.
                        log.warning("cannot check for newly published data", error=str(exc))
                        self._checked = time.monotonic()
        assert self._catalogue is not None
        return self._catalogue

    async def _refresh(self) -> None:
        async with self.pool.acquire() as conn:
            key = await published_reads.data_version(conn)
            if key != self._key or self._catalogue is None:
                published = await published_reads.load_published(conn)
                self._catalogue = build_catalogue(published, key)
                self._key = key
                self._pages.clear()
                self._letters.clear()
        self._checked = time.monotonic()

    def page(self, key: str) -> Rendered | None:
        found = self._pages.get(key)
        if found is not None:
            self._pages.move_to_end(key)
        return found

    def keep(self, key: str, rendered: Rendered) -> Rendered:
        if not self.page_cache:
            return rendered
        self._pages[key] = rendered
        if len(self._pages) > PAGE_CACHE_SIZE:
            self._pages.popitem(last=False)
        return rendered

    async def letter(self, council: str, year: FinancialYear, version: int, kind: str) -> Any:
        """A sent letter's HTML (str) or PDF (bytes); None when it is not published."""
        key = (council, year.start_year, version, kind)
        if key in self._letters:
            self._letters.move_to_end(key)
            return self._letters[key]
        fetch: Callable[..., Awaitable[Any]] = (
            published_reads.letter_html if kind == "html" else published_reads.letter_pdf
        )
        async with self.pool.acquire() as conn:
            found = await fetch(conn, council, year, version)
        self._letters[key] = found
        if len(self._letters) > LETTER_CACHE_SIZE:
            self._letters.popitem(last=False)
        return found

    async def ready(self) -> bool:
        """The database answers through the web's views."""
        try:
            async with self.pool.acquire() as conn:
                await published_reads.data_version(conn)
        except (OSError, asyncpg.PostgresError):
            return False
        return True
