"""The site's routes on a database that is not there (the queries are replaced): what an
address that cannot be a letter answers, and what a search does to the page cache."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.financial_year import FinancialYear
from services.platform.settings import Settings
from services.web import published_reads
from services.web import site as site_module
from services.web.app import create_app
from services.web.config import WebSettings
from services.web.content import load_content
from services.web.pages import letter_version
from services.web.published_reads import Published
from services.web.site import Site
from tests.unit.test_web_catalogue import PUBLISHED


class NoPool:
    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[object]:
        yield object()


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The versions the letter queries were asked for (version 1 and 2 of MAN exist); a
    version outside PostgreSQL's integer, as asyncpg would, raises."""
    versions: list[int] = []

    async def data_version(conn: object) -> tuple[Any, ...]:
        return (1,)

    async def load_published(conn: object) -> Published:
        return PUBLISHED

    async def letter(conn: object, council: str, year: FinancialYear, version: int) -> Any:
        versions.append(version)
        if not -(2**31) <= version < 2**31:
            raise OverflowError("value out of int32 range")
        return "<p>letter</p>" if council == "MAN" and version in (1, 2) else None

    monkeypatch.setattr(published_reads, "data_version", data_version)
    monkeypatch.setattr(published_reads, "load_published", load_published)
    monkeypatch.setattr(published_reads, "letter_html", letter)
    monkeypatch.setattr(published_reads, "letter_pdf", letter)
    return versions


@pytest.fixture
def client(asked: list[int]) -> Iterator[TestClient]:
    app = create_app(Settings(), WebSettings())
    app.state.site = Site(NoPool(), load_content(), refresh_s=3600)
    # Not entered as a context manager: no lifespan, so no database pool is made.
    yield TestClient(app, raise_server_exceptions=False)


def test_a_published_letter_is_served(client: TestClient) -> None:
    assert client.get("/councils/MAN/letters/2019-20/v2.html").status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "v٣.pdf",  # Arabic-Indic three: int() reads it as 3
        "v³.pdf",  # superscript three: isdigit() says yes, int() raises
        "v１.html",  # fullwidth one
        "v1001.pdf",  # above the highest version a LetterIssued may carry
        "v99999999999999999999.pdf",  # beyond PostgreSQL's integer
        "v" + "9" * 5000 + ".pdf",  # beyond int()'s digit limit
        "v0.pdf",
        "v01.pdf",  # one address per letter
        "v-1.pdf",
        "v.pdf",
        "version1.pdf",
    ],
)
def test_an_address_that_cannot_be_a_letter_version_is_404(
    client: TestClient, asked: list[int], name: str
) -> None:
    response = client.get(f"/councils/MAN/letters/2019-20/{name}")
    assert response.status_code == 404
    assert "There is no published letter" in response.text
    assert asked == []  # refused before any query


def test_letter_version_reads_ascii_digits_only() -> None:
    assert [letter_version(s) for s in ("v1", "v1000", "v1001", "v٣", "v³", "v")] == [
        1, 1000, None, None, None, None,
    ]  # fmt: skip


def test_searches_do_not_evict_the_sites_pages(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_module, "PAGE_CACHE_SIZE", 4)
    site: Site = client.app.state.site  # type: ignore[attr-defined]
    for path in ("/", "/councils/MAN", "/years/2019-20"):
        assert client.get(path).status_code == 200
    kept = set(site._pages)
    assert len(kept) == 3
    for n in range(50):
        response = client.get("/", params={"q": f"mansfield {n}"})
        assert response.status_code == 200
    assert client.get("/", params={"q": "Mansfield"}).text.count("Mansfield District Council")
    assert set(site._pages) == kept  # no search kept, no page pushed out
