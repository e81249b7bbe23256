"""The public page's service areas, upheld decisions and places, and the open data's
columns for them, built from what is published (services/web/catalogue.py, opendata.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from contracts.events import ServiceArea
from services.web import opendata
from services.web.api import CouncilYearRecord
from services.web.area_reads import AreaRow, Areas, UpheldDecisionRow
from services.web.catalogue import NOT_RECORDED, build_catalogue
from services.web.render import render_page
from tests.unit.test_web_catalogue import PUBLISHED, Y

GOOD = "https://www.lgo.org.uk/decisions/housing/19-001-234"
AREAS = Areas(
    areas=[
        AreaRow(Y, "MAN", "housing", 5, 3),
        AreaRow(Y, "MAN", "education_and_childrens_services", 7, 6),
        AreaRow(Y, "MAN", None, 1, 0),
        AreaRow(Y, "EVL", "other", 2, 1),
    ],
    upheld=[
        UpheldDecisionRow(Y, "MAN", "19 001 234", "housing", GOOD),
        # Stored before the host setting changed, or by hand: never linked.
        UpheldDecisionRow(Y, "MAN", "19 001 235", "housing", "https://evil.example/x"),
    ],
    places={"MAN": (53.1707, -1.1728)},
)
CATALOGUE = build_catalogue(replace(PUBLISHED, areas=AREAS))


def test_the_page_lists_service_areas_in_the_ombudsmans_order_not_recorded_last() -> None:
    page = CATALOGUE.councils["MAN"].years[Y]
    assert [(a.label, a.decisions, a.upheld) for a in page.service_areas] == [
        ("Education and children's services", 7, 6),
        ("Housing", 5, 3),
        (NOT_RECORDED, 1, 0),
    ]
    assert CATALOGUE.councils["ASH"].years[Y].service_areas == ()


def test_only_addresses_on_the_ombudsmans_site_are_linked() -> None:
    page = CATALOGUE.councils["MAN"].years[Y]
    assert [(d.case_reference, d.area, d.url) for d in page.upheld_decisions] == [
        ("19 001 234", "Housing", GOOD)
    ]


def test_the_council_carries_its_place() -> None:
    assert CATALOGUE.councils["MAN"].place == (53.1707, -1.1728)
    assert CATALOGUE.councils["ASH"].place is None


def test_the_open_data_has_the_area_and_place_columns() -> None:
    year = CATALOGUE.years[Y]
    rows = {r["council_code"]: r for r in
            csv.DictReader(io.StringIO(opendata.as_csv(year, "https://example.org")))}  # fmt: skip
    man = rows["MAN"]
    assert (man["latitude"], man["longitude"]) == ("53.1707", "-1.1728")
    assert man["decisions_housing"] == "5" and man["upheld_housing"] == "3"
    assert man["decisions_education_and_childrens_services"] == "7"
    assert man["decisions_benefits_and_tax"] == "0"  # the year has areas: none here
    assert man["decisions_area_not_recorded"] == "1"
    # A council-year without service areas: empty, not zero.
    ash = rows["ASH"]
    assert ash["decisions_housing"] == "" and ash["latitude"] == ""
    for area in ServiceArea:
        assert f"decisions_{area.value}" in man and f"upheld_{area.value}" in man
    as_json = opendata.as_json(year, "https://example.org")
    man_json = next(c for c in as_json["councils"] if c["council_code"] == "MAN")
    assert man_json["upheld_education_and_childrens_services"] == 6
    assert man_json["latitude"] == 53.1707


def test_the_council_page_renders_the_table_and_the_links() -> None:
    council = CATALOGUE.councils["MAN"]
    html = render_page(
        "council.html.j2", u=lambda p: p, content=_NoContent(), latest_year=CATALOGUE.latest_year,
        base_url="https://example.org", council=council, pages=list(council.years.values()),
        years=CATALOGUE.years, chart="", successors=[],
    ).decode()  # fmt: skip
    assert 'id="areas-caption-2019-20"' in html
    assert '<th scope="row">Housing</th>' in html
    assert f'<a href="{GOOD}">Decision 19 001 234</a>' in html
    assert "evil.example" not in html


class _NoContent(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def test_the_api_record_has_every_open_data_column() -> None:
    # The API returns the open data's rows through this model, which forbids extra keys.
    assert list(CouncilYearRecord.model_fields) == [c.name for c in opendata.COLUMNS]
