"""The site's texts are Markdown the office edits: raw HTML in them stays text."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.web.content import NAMES, ContentError, load_content, render


def test_markdown_becomes_html_and_raw_html_is_escaped() -> None:
    html = render(
        "## Comparing years\n\nIn **2020-21** see [the map](https://example.org).\n\n<script>x()</script>"
    )
    assert "<h2>Comparing years</h2>" in html
    assert "<strong>2020-21</strong>" in html
    assert '<a href="https://example.org">the map</a>' in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_shipped_texts_are_all_there() -> None:
    content = load_content()
    assert set(content.texts) == set(NAMES)
    assert "Covid-19" in content["comparing-years"]


def test_a_missing_text_stops_the_site_with_its_name(tmp_path: Path) -> None:
    for name in NAMES[1:]:
        (tmp_path / f"{name}.md").write_text("x")
    with pytest.raises(ContentError, match=r"home\.md"):
        load_content(tmp_path)
