"""The statistics charts: well-formed SVG, escaped text, a true 0-100% scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import ChiefExecutive, Signatory
from services.domain.letter import Letter, build_letter
from services.domain.statistics import CouncilYear, CouncilYearCounts, GroupAverages
from services.letters import charts
from services.letters.charts import bar_chart, block_chart, letter_charts
from tests.support.narratives import narrative_for

SVG = "{http://www.w3.org/2000/svg}"


def letter_for(
    counts: CouncilYearCounts, council_name: str = "Mansfield District Council"
) -> Letter:
    year = FinancialYear(2019)
    return build_letter(
        council_name,
        ChiefExecutive(
            name="Hayley Barsby",
            job_title="Interim Chief Executive",
            salutation="Ms Barsby",
            email="ce@example.gov.uk",
        ),
        year,
        CouncilYear("MAN", year, ComparisonGroup.METROPOLITAN_BOROUGH, counts),
        GroupAverages(
            ComparisonGroup.METROPOLITAN_BOROUGH,
            year,
            36,
            Fraction(45, 100),
            Fraction(99, 100),
            Fraction(20, 100),
            None,
        ),
        date(2020, 7, 22),
        date(2020, 7, 29),
        Signatory(name="Michael King", titles=("Local Government and Social Care Ombudsman",)),
        narrative=narrative_for(year.letter_year),
    )


def chart(council: int | None = 50, average: int | None = 45, label: str = "Your council") -> str:
    return bar_chart(
        description="Complaints upheld",
        council_label=label,
        council=council,
        average_label="District Councils average",
        average=average,
    )


def bars(svg: str) -> list[float]:
    """Widths of the filled bars (the tracks are the full-width light rectangles)."""
    root = ET.fromstring(svg)
    return [
        float(rect.attrib["width"])
        for rect in root.iter(f"{SVG}rect")
        if rect.attrib["fill"] != charts.TRACK_COLOUR
    ]


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_chart_is_well_formed_svg_labelled_with_the_rounded_figures() -> None:
    svg = chart()
    assert ET.fromstring(svg).tag == f"{SVG}svg"
    assert texts(svg) == ["Your council", "50%", "District Councils average", "45%"]


def test_bars_are_drawn_on_a_zero_to_one_hundred_percent_scale() -> None:
    assert bars(chart(100, 0)) == [charts.TRACK_WIDTH, 0]
    assert bars(chart(50, 25)) == [charts.TRACK_WIDTH / 2, charts.TRACK_WIDTH / 4]


def test_a_missing_average_prints_no_figure_instead_of_a_bar() -> None:
    svg = chart(average=None)
    assert bars(svg) == [charts.TRACK_WIDTH / 2]
    assert "no figure" in texts(svg)


def test_a_figure_outside_zero_to_one_hundred_is_refused() -> None:
    with pytest.raises(ValueError, match="101"):
        chart(council=101)


def test_label_text_is_xml_escaped() -> None:
    svg = chart(label='<script>alert(1)</script> & "{{ 7*7 }}"')
    assert "<script>" not in svg
    assert texts(svg)[0] == '<script>alert(1)</script> & "{{ 7*7 }}"'


def test_block_chart_title_names_the_council_escaped() -> None:
    letter = letter_for(CouncilYearCounts(upheld=1, not_upheld=1), "A & B <Joint> Council")
    svg = block_chart(letter, letter.uphold)
    assert svg is not None
    title = ET.fromstring(svg).find(f"{SVG}title")
    assert title is not None
    assert title.text == (
        "Complaints upheld: A & B <Joint> Council 50%, Metropolitan Boroughs average 45%"
    )


def test_no_chart_for_a_block_without_a_figure() -> None:
    letter = letter_for(CouncilYearCounts(upheld=1, not_upheld=1))  # no compliance outcomes
    assert {key: svg is not None for key, svg in letter_charts(letter).items()} == {
        "uphold": True,
        "compliance": False,
        "remedy": True,
    }


DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.mark.parametrize("group", list(ComparisonGroup))
def test_every_group_label_fits_left_of_the_bars(group: ComparisonGroup) -> None:
    """Measured with the font the PDF uses: the label must not run off the chart's left."""
    if not DEJAVU_SANS.is_file():
        pytest.skip(f"font not installed: {DEJAVU_SANS}")
    font = TTFont(DEJAVU_SANS)
    glyphs, metrics = font.getBestCmap(), font["hmtx"]
    label = f"{group.plural_name} average"
    units = sum(metrics[glyphs[ord(c)]][0] for c in label)
    assert units / font["head"].unitsPerEm * charts.FONT_SIZE <= charts.LABEL_END - 4


def test_chart_references_no_external_resource() -> None:
    svg = chart()
    assert "href" not in svg and "url(" not in svg and "@font-face" not in svg
