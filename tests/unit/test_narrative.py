"""A year's narrative: the office's Markdown, checked whole, filled in per letter."""

from __future__ import annotations

import pytest

from services.domain.narrative import PLACEHOLDERS, NarrativeError, content_hash, parse

VALUES = {name: f"<{name}>" for name in PLACEHOLDERS}


def test_paragraphs_headings_bold_lists_and_links_render_to_html_and_text() -> None:
    doc = parse(
        "# Complaint statistics\n\nWe write to **{council_name}** about {financial_year}.\n\n"
        "- first point\n- second point\n\n1. one\n2. two\n\n"
        "See [Your council's performance](https://www.lgo.org.uk/your-councils-performance).\n"
    )
    rendered = doc.render({**VALUES, "council_name": "Mansfield District Council",
                           "financial_year": "2019-20"})  # fmt: skip
    assert "<h2>Complaint statistics</h2>" in rendered.full_html  # the letter's title is the h1
    assert "<strong>Mansfield District Council</strong>" in rendered.full_html
    assert '<a href="https://www.lgo.org.uk/your-councils-performance">' in rendered.full_html
    assert "<ul>\n<li>first point</li>" in rendered.full_html and "<ol>" in rendered.full_html
    assert rendered.text == (
        "Complaint statistics\n\nWe write to Mansfield District Council about 2019-20.\n\n"
        "- first point\n- second point\n\n1. one\n2. two\n\n"
        "See Your council's performance."
    )


def test_raw_html_in_the_document_is_shown_as_text() -> None:
    rendered = parse("Hello <script>alert(1)</script> <b>bold</b>").render(VALUES)
    assert "<script>" not in rendered.full_html and "&lt;script&gt;" in rendered.full_html
    assert rendered.text == "Hello <script>alert(1)</script> <b>bold</b>"


def test_a_placeholder_value_cannot_change_the_document() -> None:
    hostile = "*Foo* <img src=x> [a](https://evil.example) {year_end}"
    rendered = parse("About {council_name}.").render({**VALUES, "council_name": hostile})
    assert rendered.text == f"About {hostile}."
    assert (
        "<em>" not in rendered.full_html
        and "<img" not in rendered.full_html
        and "<a " not in rendered.full_html
    )


def test_every_unknown_placeholder_is_refused_with_its_line_and_name() -> None:
    with pytest.raises(NarrativeError) as refused:
        parse("Dear {council_name}\n\nFor {finacial_year} and {Year}.\n")
    problems = refused.value.problems
    assert [(p.line, p.message.split(";")[0]) for p in problems] == [
        (3, "unknown placeholder {finacial_year}"),
        (3, "unknown placeholder {Year}"),
    ]
    assert "known: {council_name}" in problems[0].message


@pytest.mark.parametrize(
    ("source", "line", "says"),
    [
        ("Text\n\n![logo](logo.png)", 3, "images are not supported"),
        ("Text\n\n```\ncode\n```", 3, "code blocks are not supported"),
        ("> quoted", 1, "quotations"),
        ("Text\n\n---\n", 3, "horizontal rules"),
        ("[a page](www.lgo.org.uk)", 1, "must start with https://"),
        ("#### deep", 1, "at most three levels"),
        ("", 1, "empty"),
    ],
)
def test_what_a_letter_cannot_print_is_refused_with_its_line(
    source: str, line: int, says: str
) -> None:
    with pytest.raises(NarrativeError) as refused:
        parse(source)
    assert refused.value.problems[0].line == line
    assert says in refused.value.problems[0].message


def test_a_soft_line_break_is_kept_in_the_text_letter() -> None:
    # The 2020 reference letter breaks one paragraph at a page turn; its text keeps the break.
    assert parse("open approach to\nresolving complaints.").render(VALUES).text == (
        "open approach to\nresolving complaints."
    )


def test_the_content_hash_is_of_the_document_as_written() -> None:
    doc = parse("Hello {council_name}.")
    assert doc.sha256 == content_hash("Hello {council_name}.") != content_hash("Hello.")
    assert doc.placeholders == {"council_name"}


def test_rendering_without_a_value_for_a_placeholder_fails() -> None:
    with pytest.raises(KeyError, match="publication_date"):
        parse("On {publication_date}.").render({})


@pytest.mark.parametrize(
    "document",
    ["[site]: https://www.lgo.org.uk\n", "[a]: https://a.example\n\n[b]: https://b.example\n"],
)
def test_a_document_of_link_reference_definitions_only_is_refused(document: str) -> None:
    with pytest.raises(NarrativeError, match="the document prints nothing") as refused:
        parse(document)
    assert [p.line for p in refused.value.problems] == [1]


@pytest.mark.parametrize(
    ("document", "lines"),
    [
        ("See [our site](https://www.lgo.org.uk/{council_name}).\n", [1]),
        ("See <https://www.lgo.org.uk/{council_name}>.\n", [1]),
        ('See [our site](https://www.lgo.org.uk "About {council_name}").\n', [1]),
        ("See [our site][s].\n\n[s]: https://www.lgo.org.uk/{council_name}\n", [1, 3]),
        ("Dear {council_name}.\n\n[unused]: mailto:{council_name}@example.org\n", [3]),
    ],
)
def test_a_placeholder_in_a_link_target_is_refused_at_its_line(
    document: str, lines: list[int]
) -> None:
    with pytest.raises(NarrativeError) as refused:
        parse(document)
    assert [p.line for p in refused.value.problems] == lines
    assert all("link's address or title" in p.message for p in refused.value.problems)


def test_a_percent_encoded_address_and_a_placeholder_in_the_text_are_fine() -> None:
    doc = parse("See [the guidance](https://www.lgo.org.uk/a%20b) for {council_name}.\n")
    assert doc.placeholders == {"council_name"}
