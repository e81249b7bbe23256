"""The site keeps serving what was published while the database is away, and says it is not
ready; it reloads only when the published data changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.web import published_reads
from services.web.content import load_content
from services.web.published_reads import Published
from services.web.site import Site


class FakePool:
    """acquire() yields a connection, or raises while ``down``."""

    def __init__(self) -> None:
        self.down = False

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[object]:
        if self.down:
            raise OSError("connection refused")
        yield object()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"version": (0,), "loads": 0}

    async def data_version(conn: object) -> tuple[Any, ...]:
        return state["version"]  # type: ignore[no-any-return]

    async def load_published(conn: object) -> Published:
        state["loads"] += 1
        return Published([], [], [], [])

    monkeypatch.setattr(published_reads, "data_version", data_version)
    monkeypatch.setattr(published_reads, "load_published", load_published)
    return state


async def test_reloads_only_when_the_published_data_changed(published: dict[str, Any]) -> None:
    site = Site(FakePool(), load_content(), refresh_s=0)
    first = await site.catalogue()
    assert await site.catalogue() is first and published["loads"] == 1
    published["version"] = (1,)
    assert await site.catalogue() is not first and published["loads"] == 2


async def test_a_database_outage_keeps_the_published_pages_and_fails_readiness(
    published: dict[str, Any],
) -> None:
    pool = FakePool()
    site = Site(pool, load_content(), refresh_s=0)
    first = await site.catalogue()
    pool.down = True
    assert await site.catalogue() is first
    assert not await site.ready()
    pool.down = False
    assert await site.ready()


async def test_without_anything_loaded_an_outage_is_an_error(published: dict[str, Any]) -> None:
    pool = FakePool()
    pool.down = True
    site = Site(pool, load_content(), refresh_s=0)
    with pytest.raises(OSError):
        await site.catalogue()
