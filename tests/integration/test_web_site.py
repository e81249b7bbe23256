"""The public web site on the real servers: two years made by the real pipeline, published
by the publication job with its clock set, served by `python -m services.web` as ar_web.

The tests share one site (tests/support/web.py) and run in this order: the embargo first
(it unpublishes and publishes again), then what a published site shows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import asyncpg
import pytest

from contracts.financial_year import FinancialYear
from services.domain.letter_lifecycle import Transition
from services.domain.statistics import AveragingRule
from services.letters.operations import move, reissue
from services.web.opendata import COLUMNS
from tests.support.web import HELD, HOSTILE, HOSTILE_NAME, Y2019, Y2020, WebSite

MAN = "/councils/MAN"


def _council_codes(site: WebSite) -> set[str]:
    status, body = site.text("/api/councils")
    assert status == 200
    return {c["code"] for c in json.loads(body)}


async def test_nothing_of_a_year_is_served_before_midnight_uk_time_on_its_publication_date(
    web_site: WebSite,
) -> None:
    site = web_site
    await site.unpublish()
    # 29 July 2020 is summer time: 00:00 UK time is 23:00 UTC the day before.
    assert await site.publish(datetime(2020, 7, 28, 22, 59, 59, tzinfo=UTC)) == []
    for path in (
        "/years/2019-20",
        MAN,
        "/data/2019-20.csv",
        "/data/2019-20.json",
        "/api/years/2019-20",
        "/api/councils/MAN",
        "/councils/MAN/letters/2019-20/v1.html",
        "/councils/MAN/letters/2019-20/v1.pdf",
    ):
        status, _, body = site.get(path)
        assert status == 404, path
        assert b"50%" not in body
    assert site.text("/api/years") == (200, "[]")
    status, home = site.text("/")
    assert status == 200 and "Mansfield" not in home
    # The web's role sees nothing either, and the database refuses an early record.
    web = await site.connect("web")
    job = await site.connect("publication")
    try:
        assert await web.fetchval("SELECT count(*) FROM publication.web_council_years") == 0
        assert await web.fetchval("SELECT count(*) FROM publication.web_letters") == 0
        with pytest.raises(asyncpg.CheckViolationError):
            await job.execute(
                "INSERT INTO publication.published_years (financial_year, close_id, "
                "letter_date, publication_date, publishes_at, published_at) VALUES "
                "(2019, gen_random_uuid(), '2020-07-22', '2020-07-29', "
                "'2020-07-28 23:00Z', '2020-07-28 22:59:59Z')"
            )
    finally:
        await web.close()
        await job.close()

    # At 00:00 UK time the year is published; the next year is not.
    assert await site.publish(datetime(2020, 7, 28, 23, 0, tzinfo=UTC)) == [Y2019]
    status, page = site.text(MAN)
    assert status == 200
    assert "50% of complaints we investigated were upheld." in page.replace("<strong>", "").replace(
        "</strong>", ""
    )
    assert site.get("/years/2019-20")[0] == 200
    assert site.get("/years/2020-21")[0] == 404
    assert 'id="y2020-21"' not in page
    assert await site.publish(datetime(2021, 7, 27, 22, 59, tzinfo=UTC)) == []
    assert await site.publish(datetime(2021, 7, 27, 23, 0, tzinfo=UTC)) == [Y2020]
    # Once only (a moment after both dates; never one ahead of the database's clock).
    assert await site.publish(datetime(2025, 1, 1, tzinfo=UTC)) == []
    assert site.get("/years/2020-21")[0] == 200


async def test_the_web_role_can_read_only_the_publication_views(web_site: WebSite) -> None:
    web = await web_site.connect("web")
    try:
        assert await web.fetchval("SELECT current_user") == "ar_web"
        for forbidden in (
            "SELECT count(*) FROM letters.outbox",
            "SELECT count(*) FROM readmodel.councils",
            "SELECT count(*) FROM readmodel.year_snapshot_councils",
            "SELECT count(*) FROM rm_v1.council_year_stats",
            "SELECT count(*) FROM publication.published_years",
            "INSERT INTO publication.published_years (financial_year) VALUES (2030)",
            "DELETE FROM publication.web_years",
            "CREATE TABLE publication.x (a int)",
            "CREATE TABLE public.x (a int)",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await web.execute(forbidden)
        # The views never carry the addressee's e-mail address.
        inputs = await web.fetch("SELECT inputs::text AS i FROM publication.web_council_years")
        assert inputs and not any("@" in (r["i"] or "") for r in inputs)
    finally:
        await web.close()


def test_the_council_page_prints_the_letters_wording_every_year_and_the_group(
    web_site: WebSite,
) -> None:
    status, page = web_site.text(MAN)
    assert status == 200
    text = page.replace("<strong>", "").replace("</strong>", "")
    for sentence in (
        "50% of complaints we investigated were upheld.",
        "In 100% of cases we were satisfied the authority had successfully implemented our "
        "recommendations.",
        "In 0% of upheld cases we found the authority had provided a satisfactory remedy",
        "Statistics are based on a total of 2 detailed investigations for the period between "
        "1 April 2019 to 31 March 2020",
        "In 2020-21 we received and decided fewer complaints",  # the editable advice
    ):
        assert sentence in text, sentence
    # Both years in the year-by-year table, newest first; the group table marks Mansfield.
    assert text.index('href="#y2020-21"') < text.index('href="#y2019-20"')
    assert text.count("Mansfield District Council</strong> (this council)") == 0
    assert page.count("(this council)") == 2
    assert 'class="this-council"' in page
    # No rank numbers: no rank column, no "1st"/"2nd" positions.
    assert ">Rank" not in text and not re.search(r"\b\d+(st|nd|rd|th)\b", text)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"' in page
    assert "/councils/MAN/letters/2019-20/v1.pdf" in page
    # An abolished council says so.
    status, corby = web_site.text("/councils/COR")
    assert status == 200 and "This council was abolished" in corby
    # ... and links to its successors (CouncilAbolished.replaced_by) where they have pages.
    _, _, corby_page = web_site.get("/councils/COR")
    assert 'href="/councils/KEN">' in corby_page.decode()
    assert "NNT (no published figures yet)" in corby


def test_the_letter_as_sent_is_served_as_html_and_pdf(web_site: WebSite) -> None:
    status, headers, html = web_site.get("/councils/MAN/letters/2019-20/v1.html")
    assert status == 200 and b"Annual Review letter 2020" in html
    assert "script-src" not in headers["content-security-policy"]
    assert headers["content-security-policy"].startswith("default-src 'none'")
    status, headers, pdf = web_site.get("/councils/man/letters/2019-20/v1.pdf")
    assert status == 200 and pdf.startswith(b"%PDF")
    assert headers["content-type"] == "application/pdf"
    assert web_site.get("/councils/MAN/letters/2019-20/v9.pdf")[0] == 404
    # Not ASCII digits (Arabic-Indic one, which int() reads), or beyond PostgreSQL's integer
    # (which failed in the query): a 404, not a 500.
    for name in ("v%D9%A1.pdf", "v%C2%B9.html", "v99999999999.pdf", "v01.pdf"):
        assert web_site.get(f"/councils/MAN/letters/2019-20/{name}")[0] == 404, name


def test_names_from_events_are_escaped_everywhere(web_site: WebSite) -> None:
    for path in (f"/councils/{HOSTILE}", "/years/2019-20", "/?q=evil"):
        status, page = web_site.text(path)
        assert status == 200, path
        assert "<script>" not in page and "<b>Evil</b>" not in page, path
        assert "&lt;script&gt;" in page and "{{ 7*7 }}" in page, path
    status, _, body = web_site.get("/data/2019-20.csv")
    row = next(
        r for r in csv.DictReader(io.StringIO(body.decode())) if r["council_code"] == HOSTILE
    )
    assert row["council_name"] == HOSTILE_NAME  # data stays data in the CSV


def test_every_response_carries_the_security_headers(web_site: WebSite) -> None:
    for path in ("/", MAN, "/years/2019-20", "/data", "/data/2019-20.csv", "/api/years", "/nope"):
        _, headers, _ = web_site.get(path)
        h = {k.lower(): v for k, v in headers.items()}
        assert "script-src" not in h["content-security-policy"], path
        assert "default-src 'none'" in h["content-security-policy"], path
        assert "frame-ancestors 'none'" in h["content-security-policy"], path
        assert h["x-content-type-options"] == "nosniff", path
        assert h["x-frame-options"] == "DENY", path
        assert h["referrer-policy"] == "strict-origin-when-cross-origin", path
        assert "server" not in h, path


def test_unknown_councils_years_and_pages_get_a_helpful_404(web_site: WebSite) -> None:
    status, page = web_site.text("/councils/ZZZ")
    assert status == 404 and "ZZZ" in page and 'role="search"' in page
    assert 'href="/years/2019-20"' in page
    status, page = web_site.text("/years/2031-32")
    assert status == 404 and "2031-32" in page
    assert web_site.text("/years/not-a-year")[0] == 404
    assert web_site.text("/no/such/page")[0] == 404
    status, body = web_site.text("/api/councils/ZZZ")
    assert status == 404 and "ZZZ" in json.loads(body)["detail"]


def test_the_year_page_sorts_on_the_server(web_site: WebSite) -> None:
    status, page = web_site.text("/years/2019-20?sort=uphold&order=desc")
    assert status == 200 and 'aria-sort="descending"' in page
    _, body = web_site.text("/api/years/2019-20")
    rates = {
        c["council_code"]: c["uphold_rate_percent"]
        for c in json.loads(body)["councils"]
        if c["uphold_rate_percent"] is not None
    }
    order = [code for code in rates if f'href="/councils/{code}"' in page]
    shown = sorted(order, key=lambda code: page.index(f'href="/councils/{code}"'))
    assert [rates[c] for c in shown] == sorted((rates[c] for c in shown), reverse=True)
    status, district = web_site.text("/years/2019-20?group=District&sort=name")
    assert status == 200 and "/councils/KEN" not in district.split("Every council")[-1]
    # The five group averages.
    _, body = web_site.text("/api/years/2019-20")
    groups = {g["comparison_group"] for g in json.loads(body)["group_averages"]}
    assert groups == {"County", "District", "Metropolitan Borough", "Unitary", "London Borough"}


def test_open_data_has_the_documented_columns_and_the_credit(web_site: WebSite) -> None:
    status, headers, body = web_site.get("/data/2019-20.csv")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert list(rows[0]) == [c.name for c in COLUMNS]
    man = next(r for r in rows if r["council_code"] == "MAN")
    assert (man["uphold_rate_percent"], man["compliance_rate_percent"]) == ("50", "100")
    assert man["satisfactory_remedy_rate_percent"] == "0"
    assert man["letter_pdf_url"] == f"{web_site.url}/councils/MAN/letters/2019-20/v1.pdf"
    assert man["group_uphold_rate_percent"] != ""
    data = json.loads(web_site.get("/data/2019-20.json")[2])
    assert "mySociety" in data["attribution"] and "CC BY 4.0" in data["attribution"]
    assert set(data["columns"]) == {c.name for c in COLUMNS}
    assert len(data["councils"]) == len(rows)
    status, page = web_site.text("/data")
    assert status == 200 and "mySociety" in page
    for column in COLUMNS:
        assert f"<code>{column.name}</code>" in page
    spec = json.loads(web_site.get("/api/openapi.json")[2])
    assert {"/api/years", "/api/years/{financial_year}", "/api/councils/{code}"} <= set(
        spec["paths"]
    )


def test_a_conditional_request_gets_304_without_the_body(web_site: WebSite) -> None:
    status, headers, body = web_site.get(MAN)
    assert status == 200 and body
    etag, modified = headers["etag"], headers["last-modified"]
    status, _, body = web_site.get(MAN, {"If-None-Match": etag})
    assert status == 304 and body == b""
    status, _, body = web_site.get(MAN, {"If-Modified-Since": modified})
    assert status == 304 and body == b""
    assert web_site.get(MAN, {"If-None-Match": '"other"'})[0] == 200


def test_health_says_live_and_ready(web_site: WebSite) -> None:
    assert web_site.text("/health/live") == (200, '{"status":"ok"}')
    status, body = web_site.text("/health/ready")
    assert status == 200 and json.loads(body)["database"] is True


class _Undo(Exception):
    """Rolls a test's transaction back."""


async def test_a_withdrawn_letter_takes_its_council_year_off_the_public_views(
    web_site: WebSite,
) -> None:
    # Had the office withdrawn the held letter (it must never go), the council-year would not
    # be shown as under review for ever: it leaves the public views. Tried in a transaction
    # rolled back, so the held letter stays for the next test.
    conn = await web_site.connect("operator")
    try:
        before = await conn.fetchval("SELECT letters_withdrawn FROM publication.web_data_version")
        with pytest.raises(_Undo):
            async with conn.transaction():
                await conn.execute(
                    "UPDATE letters.outbox SET state = 'withdrawn' WHERE council = $1 "
                    "AND financial_year = 2020 AND kind = 'annual-review'",
                    HELD,
                )
                shown = await conn.fetch(
                    "SELECT status FROM publication.web_council_years "
                    "WHERE council = $1 AND financial_year = 2020",
                    HELD,
                )
                assert shown == []
                withdrawn = "SELECT letters_withdrawn FROM publication.web_data_version"
                assert await conn.fetchval(withdrawn) == before + 1  # the web reloads
                raise _Undo
        shown = await conn.fetch(
            "SELECT status FROM publication.web_council_years "
            "WHERE council = $1 AND financial_year = 2020",
            HELD,
        )
        assert [r["status"] for r in shown] == ["under_review"]
    finally:
        await conn.close()


async def test_a_held_letter_shows_under_review_until_it_is_sent(web_site: WebSite) -> None:
    status, page = web_site.text(f"/councils/{HELD}")
    assert status == 200
    section = page.split('id="y2020-21"')[1].split("<h2")[0]
    assert "under review" in section and "%" not in section.split("</table>")[0].split("<table")[0]
    _, body = web_site.text("/api/councils/ASH")
    held = next(f for f in json.loads(body)["figures"] if f["financial_year"] == "2020-21")
    assert held["status"] == "under_review" and held["uphold_rate_percent"] is None
    conn = await web_site.connect("operator")
    try:
        await move(conn, Transition.RELEASE, HELD, Y2020, "the dead letter was a test")
    finally:
        await conn.close()
    await web_site.wait_states({"sent": await _letters(web_site)})
    _, body = web_site.text("/api/councils/ASH")
    released = next(f for f in json.loads(body)["figures"] if f["financial_year"] == "2020-21")
    assert released["status"] == "published" and released["letter_version"] == 1


async def test_a_reissued_letter_appears_with_its_versions(web_site: WebSite) -> None:
    conn = await web_site.connect("operator")
    try:
        _, version = await reissue(
            conn, "MAN", FinancialYear(2019), reason="test of the web",
            message_id_domain="lgo.example", rule=AveragingRule.MEAN_OF_RATES,
        )  # fmt: skip
    finally:
        await conn.close()
    assert version == 2
    await web_site.wait_states({"sent": await _letters(web_site)})
    status, page = web_site.text(MAN)
    section = page.split('id="y2019-20"')[1].split("<h2")[0]
    assert "version 1" in section and "version 2 (the figures above)" in section
    assert "This letter was re-issued." in section
    assert "test of the web" not in page  # the operator's note is not published
    for v in (1, 2):
        status, _, pdf = web_site.get(f"/councils/MAN/letters/2019-20/v{v}.pdf")
        assert status == 200 and pdf.startswith(b"%PDF")
    rows = csv.DictReader(io.StringIO(web_site.get("/data/2019-20.csv")[2].decode()))
    man = next(r for r in rows if r["council_code"] == "MAN")
    assert man["letter_version"] == "2" and man["letter_html_url"].endswith("/v2.html")


async def _letters(site: WebSite) -> int:
    rows = await site.stack.fetch("SELECT count(*) AS n FROM letters.outbox")
    return int(rows[0]["n"])
