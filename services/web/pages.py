"""The HTML pages, the letters as sent and the open data files."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from contracts.financial_year import FinancialYear, NotAFinancialYear
from contracts.groups import ComparisonGroup
from services.domain.letter import MAX_VERSION
from services.web import opendata
from services.web.catalogue import Catalogue, CouncilEntry, CouncilYearPage, YearEntry
from services.web.chart import Point, year_chart
from services.web.http import LETTER_CSP, etag_of, respond
from services.web.render import render_page
from services.web.site import Rendered, Site

router = APIRouter()
HTML = "text/html; charset=utf-8"

# Year page columns: key -> (label, sort value); rows under review sort last either way.
SORTS: dict[str, tuple[str, Callable[[CouncilYearPage], Any]]] = {
    "name": ("Council", lambda c: c.name.casefold()),
    "code": ("Code", lambda c: c.code),
    "group": ("Comparison group", lambda c: c.group.plural_name),
    "uphold": ("Complaints upheld", lambda c: c.figures and c.figures.uphold),
    "compliance": ("Compliance", lambda c: c.figures and c.figures.compliance),
    "remedy": ("Satisfactory remedies", lambda c: c.figures and c.figures.remedy),
    "per100k": (
        "Upheld per 100,000 residents",
        lambda c: c.figures and c.figures.upheld_per_100k and float(c.figures.upheld_per_100k),
    ),
    "investigations": (
        "Detailed investigations",
        lambda c: c.figures and c.figures.counts.detailed_investigations,
    ),
}


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def url_for_path(request: Request) -> Callable[[str], str]:
    prefix: str = request.app.state.path_prefix
    return lambda path: prefix + path


async def _page(
    request: Request,
    key: str,
    template: str,
    status_code: int = 200,
    cache: bool = True,
    **context: Any,
) -> Response:
    """A page from the cache of the current data, or rendered and kept (a 200 with
    ``cache``: the site's own pages, whose number is bounded by what is published)."""
    site = site_of(request)
    catalogue = await site.catalogue()
    settings = request.app.state.web_settings
    cache = cache and status_code == 200
    rendered = site.page(key) if cache else None
    if rendered is None:
        body = render_page(
            template,
            u=url_for_path(request),
            content=site.content,
            latest_year=catalogue.latest_year,
            base_url=settings.base_url.rstrip("/"),
            **context,
        )
        rendered = Rendered(body, HTML, etag_of(body))
        if cache:
            site.keep(key, rendered)
    return respond(
        request,
        rendered.body,
        rendered.media_type,
        etag=rendered.etag,
        last_modified=catalogue.last_modified,
        max_age=settings.cache_max_age_s,
        status_code=status_code,
    )


async def not_found(request: Request, message: str) -> Response:
    catalogue = await site_of(request).catalogue()
    return await _page(
        request, "", "not_found.html.j2", status_code=404, message=message,
        years=list(catalogue.years.values()),
    )  # fmt: skip


def letter_version(stem: str) -> int | None:
    """``v3`` -> 3; None for anything that cannot be a letter's version (``v03`` too: one
    address per letter). Only ASCII digits
    (``str.isdigit`` and ``int`` also take "٣" and "³", and int("³") raises) and at most
    MAX_VERSION, so that such an address is a 404 and never an out-of-range integer in a
    database query (a 500)."""
    digits = stem[1:]
    if stem[:1] != "v" or not (digits.isascii() and digits.isdigit()) or digits[:1] == "0":
        return None
    # The length first: int() of a 5,000-digit string is refused (and slow to try).
    return (
        int(digits) if len(digits) <= len(str(MAX_VERSION)) and int(digits) <= MAX_VERSION else None
    )


def _year(label: str, catalogue: Catalogue) -> YearEntry | None:
    try:
        return catalogue.years.get(FinancialYear.parse(label))
    except NotAFinancialYear:
        return None


def _groups(catalogue: Catalogue) -> list[tuple[ComparisonGroup, list[CouncilEntry]]]:
    by_group: dict[ComparisonGroup, list[CouncilEntry]] = {g: [] for g in ComparisonGroup}
    for c in sorted(catalogue.councils.values(), key=lambda c: c.name):
        by_group[c.group].append(c)
    return [(g, members) for g, members in by_group.items() if members]


@router.get("/", include_in_schema=False)
async def home(request: Request, q: str = "") -> Response:
    catalogue = await site_of(request).catalogue()
    query = " ".join(q.split())[:100]
    # Search results are rendered each time, never kept: anyone can ask for any number of
    # different searches, and each kept one would push a real page out of the cache.
    return await _page(
        request, "home", "home.html.j2", cache=not query, query=query,
        results=catalogue.search(query) if query else [],
        years=list(catalogue.years.values()), groups=_groups(catalogue),
    )  # fmt: skip


@router.get("/councils/{code}", include_in_schema=False)
async def council_page(request: Request, code: str) -> Response:
    catalogue = await site_of(request).catalogue()
    council = catalogue.councils.get(code.upper())
    if council is None:
        return await not_found(
            request, f"There are no published figures for a council with the code “{code}”."
        )
    pages = list(council.years.values())
    chart = year_chart(
        f"Complaints upheld, {council.name} and the {council.group.plural_name} average, by year",
        [
            Point(
                p.year.label,
                p.figures.uphold if p.figures else None,
                p.figures.average_uphold if p.figures else None,
            )
            for p in reversed(pages)
        ],
    )
    return await _page(
        request, f"council/{council.code}", "council.html.j2", council=council, pages=pages,
        years=catalogue.years, chart=chart,
        # Each successor with its page, when it has published figures (else its code alone).
        successors=[(code, catalogue.councils.get(code)) for code in council.successors],
    )  # fmt: skip


@router.get("/years/{label}", include_in_schema=False)
async def year_page(
    request: Request, label: str, sort: str = "name", order: str = "", group: str = ""
) -> Response:
    catalogue = await site_of(request).catalogue()
    year = _year(label, catalogue)
    if year is None:
        return await not_found(request, f"There are no published figures for “{label}”.")
    if sort not in SORTS:
        sort = "name"
    if order not in ("asc", "desc"):
        order = "asc" if sort in ("name", "code", "group") else "desc"
    chosen = next((g for g in ComparisonGroup if g.value == group), None)
    shown = _sorted(
        [c for c in year.councils if chosen is None or c.group is chosen], sort, order == "desc"
    )
    columns = [(k, label) for k, (label, _) in SORTS.items()]
    if not year.has_per_100k:
        columns = [(k, v) for k, v in columns if k != "per100k"]
    # The name is the row header: first, whatever the sort.
    columns.sort(key=lambda kv: kv[0] != "name")
    prefix = url_for_path(request)(f"/years/{year.year.label}")

    def sort_url(key: str) -> str:
        default = "asc" if key in ("name", "code", "group") else "desc"
        flip = {"asc": "desc", "desc": "asc"}[order]
        params = {"sort": key, "order": flip if key == sort else default}
        if chosen:
            params["group"] = chosen.value
        return f"{prefix}?{urlencode(params)}"

    return await _page(
        request, f"year/{year.year.label}?{sort}&{order}&{group if chosen else ''}",
        "year.html.j2", year=year, shown=shown, sort=sort, order=order, group=chosen,
        sort_label=SORTS[sort][0].lower(), columns=columns, sort_url=sort_url,
        groups=[g for g in ComparisonGroup if g in year.groups],
    )  # fmt: skip


def _sorted(rows: list[CouncilYearPage], sort: str, descending: bool) -> list[CouncilYearPage]:
    key = SORTS[sort][1]
    with_value = [r for r in rows if key(r) not in (None, False, "")]
    without = [r for r in rows if key(r) in (None, False, "")]
    with_value.sort(key=lambda r: (key(r), r.name), reverse=descending)
    return with_value + sorted(without, key=lambda r: r.name)


@router.get("/data", include_in_schema=False)
async def data_page(request: Request) -> Response:
    catalogue = await site_of(request).catalogue()
    return await _page(
        request, "data", "data.html.j2", years=list(catalogue.years.values()),
        columns=opendata.COLUMNS,
    )  # fmt: skip


@router.get("/data/{name}", include_in_schema=False)
async def data_file(request: Request, name: str) -> Response:
    label, _, kind = name.rpartition(".")
    site = site_of(request)
    catalogue = await site.catalogue()
    year = _year(label, catalogue) if kind in ("csv", "json") else None
    if year is None:
        return await not_found(request, f"There is no published open data file “{name}”.")
    settings = request.app.state.web_settings
    key = f"data/{year.year.label}.{kind}"
    rendered = site.page(key)
    if rendered is None:
        if kind == "csv":
            body = opendata.as_csv(year, settings.base_url).encode("utf-8")
            media = "text/csv; charset=utf-8"
        else:
            body = json.dumps(opendata.as_json(year, settings.base_url), indent=1).encode()
            media = "application/json"
        rendered = site.keep(key, Rendered(body, media, etag_of(body)))
    filename = f"annual-review-{year.year.label}.{kind}"
    return respond(
        request, rendered.body, rendered.media_type, etag=rendered.etag,
        last_modified=catalogue.last_modified, max_age=settings.cache_max_age_s,
        headers={"content-disposition": f'inline; filename="{filename}"'},
    )  # fmt: skip


@router.get("/councils/{code}/letters/{label}/{name}", include_in_schema=False)
async def letter_file(request: Request, code: str, label: str, name: str) -> Response:
    site = site_of(request)
    catalogue = await site.catalogue()
    council = catalogue.councils.get(code.upper())
    year = _year(label, catalogue)
    stem, _, kind = name.rpartition(".")
    version = letter_version(stem)
    found = None
    if council and year and version and kind in ("html", "pdf"):
        found = await site.letter(council.code, year.year, version, kind)
    if found is None:
        return await not_found(
            request, f"There is no published letter “{name}” for {code} {label}."
        )
    assert council is not None and year is not None
    settings = request.app.state.web_settings
    if kind == "html":
        body = found.encode("utf-8")
        return respond(
            request, body, HTML, max_age=settings.cache_max_age_s,
            headers={"content-security-policy": LETTER_CSP},
        )  # fmt: skip
    filename = f"annual-review-letter-{year.year.letter_year}-{council.code}-v{version}.pdf"
    return respond(
        request, found, "application/pdf", max_age=settings.cache_max_age_s,
        headers={"content-disposition": f'inline; filename="{filename}"'},
    )  # fmt: skip
