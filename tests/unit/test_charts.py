"""The statistics charts: well-formed SVG, escaped text, a true 0-100% scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from contracts.groups import ComparisonGroup
from services.domain.letter import Letter
from services.domain.statistics import CouncilYearCounts
from services.letters import charts
from services.letters.charts import (
    bar_chart,
    block_chart,
    email_chart,
    letter_charts,
    letter_email_charts,
)
from tests.support.letters import MANSFIELD_NAME, mansfield_letter

SVG = "{http://www.w3.org/2000/svg}"


def letter_for(counts: CouncilYearCounts, council_name: str = MANSFIELD_NAME) -> Letter:
    """Mansfield's letter as a metropolitan borough's (36 councils, no per-100,000 average):
    the charts print the group's name."""
    return mansfield_letter(
        counts,
        council_name=council_name,
        group=ComparisonGroup.METROPOLITAN_BOROUGH,
        group_councils=36,
        average_per_100k=None,
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


# --- the email's chart: table cells, no SVG --------------------------------------------------


def email(council: int | None = 50, average: int | None = 45, label: str = "Your council") -> str:
    return email_chart(
        council_label=label,
        council=council,
        average_label="District Councils average",
        average=average,
    )


def email_bars(html: str) -> list[list[tuple[int, str]]]:
    """Per row, the (width %, colour) of each cell of its track."""
    root = ET.fromstring(html.replace("&nbsp;", "\u00a0"))
    rows = []
    for track in root.iter("td"):
        if track.get("class") != "bar-track":
            continue
        cells = [td for td in track.iter("td") if td is not track]
        rows.append([(int(td.attrib["width"].rstrip("%")), td.attrib["bgcolor"]) for td in cells])
    return rows


def email_texts(html: str) -> list[str]:
    root = ET.fromstring(html.replace("&nbsp;", "\u00a0"))
    return [
        "".join(td.itertext())
        for td in root.iter("td")
        if td.get("class") in {"bar-label", "bar-track", "bar-value"}
        and "".join(td.itertext()).strip("\u00a0")
    ]


def test_email_chart_is_a_table_without_svg_labelled_with_the_figures() -> None:
    html = email()
    assert "svg" not in html.lower()
    assert ET.fromstring(html.replace("&nbsp;", "\u00a0")).tag == "table"
    assert email_texts(html) == ["Your council", "50%", "District Councils average", "45%"]


def test_email_bars_are_cells_as_wide_as_their_figure_on_a_full_track() -> None:
    assert email_bars(email(61, 45)) == [
        [(61, charts.COUNCIL_COLOUR), (39, charts.TRACK_COLOUR)],
        [(45, charts.AVERAGE_COLOUR), (55, charts.TRACK_COLOUR)],
    ]


def test_email_bars_at_0_and_100_percent_have_one_cell() -> None:
    # A cell of width 0 would still be drawn a few pixels wide.
    assert email_bars(email(100, 0)) == [
        [(100, charts.COUNCIL_COLOUR)],
        [(100, charts.TRACK_COLOUR)],
    ]


def test_email_chart_says_no_figure_instead_of_a_bar() -> None:
    html = email(average=None)
    assert email_bars(html) == [[(50, charts.COUNCIL_COLOUR), (50, charts.TRACK_COLOUR)], []]
    assert email_texts(html)[-1] == "no figure"


def test_email_chart_refuses_a_figure_outside_zero_to_one_hundred() -> None:
    with pytest.raises(ValueError, match="-1"):
        email(average=-1)


def test_email_chart_label_text_is_escaped() -> None:
    html = email(label='<script>alert(1)</script> & "{{ 7*7 }}"')
    assert "<script>" not in html
    assert email_texts(html)[0] == '<script>alert(1)</script> & "{{ 7*7 }}"'


def test_email_bars_are_hidden_from_screen_readers_and_the_tables_are_layout() -> None:
    root = ET.fromstring(email().replace("&nbsp;", "\u00a0"))
    tables = list(root.iter("table"))
    assert [t.get("role") for t in tables] == ["presentation"] * 3
    assert [t.get("aria-hidden") for t in tables[1:]] == ["true", "true"]


def test_email_charts_follow_the_svg_charts_block_for_block() -> None:
    letter = letter_for(CouncilYearCounts(upheld=1, not_upheld=1))  # no compliance outcomes
    assert {k: c is not None for k, c in letter_email_charts(letter).items()} == {
        k: c is not None for k, c in letter_charts(letter).items()
    }
