"""The page "Find a council on the map": the SVG map and its list equivalent."""

from __future__ import annotations

from itertools import groupby

from fastapi import APIRouter, Request
from starlette.responses import Response

from services.web.catalogue import Catalogue, CouncilEntry
from services.web.england_map import Place, england_map
from services.web.pages import _page, site_of, url_for_path

router = APIRouter()


def current_councils(catalogue: Catalogue) -> list[CouncilEntry]:
    """The councils that exist (an abolished council's dot would sit on its successor's)."""
    return sorted(
        (c for c in catalogue.councils.values() if c.existed_until is None),
        key=lambda c: (c.name.casefold(), c.code),
    )


@router.get("/map", include_in_schema=False)
async def map_page(request: Request) -> Response:
    catalogue = await site_of(request).catalogue()
    u = url_for_path(request)
    councils = current_councils(catalogue)
    places = [
        Place(c.code, c.name, c.place[0], c.place[1], u(f"/councils/{c.code}"))
        for c in councils
        if c.place is not None
    ]
    svg = england_map(places, "Map of England: each dot is a council; choose one to see its page")
    # The list: every council the map shows and those it cannot place, by initial letter.
    by_letter = [
        (letter, list(entries))
        for letter, entries in groupby(councils, key=lambda c: c.name[:1].upper())
    ]
    unplaced = [c for c in councils if c.place is None]
    return await _page(
        request, "map", "map.html.j2", svg=svg, by_letter=by_letter, placed=len(places),
        unplaced=unplaced,
    )  # fmt: skip
