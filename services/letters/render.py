"""Render a decided Letter as plain text, HTML and PDF, and fingerprint what was rendered.

The HTML letter is the email's: its CSS inline and its charts made of table cells, as
Outlook (which most councils read mail in) shows no inline SVG. The PDF is laid out from the
same templates with vector (SVG) charts, and is tagged PDF/UA-1 (``PDF_VARIANT``): document
language and title, headings, reading order, and each chart a Figure whose alternative text
gives its figures (tests/integration/test_pdf_accessibility.py checks it with veraPDF).

WeasyPrint is given a fetcher that refuses anything but ``data:`` URLs and files inside the
templates directory, and that fails the whole render (rather than WeasyPrint's default of a
logged warning) when an asset is missing. Each process keeps one font configuration and the
parsed stylesheet for all the PDFs it renders (loading the fonts again for every letter cost
about half of each PDF's time).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from contracts.financial_year import MONTHS
from services.domain.letter import Letter
from services.domain.narrative import RenderedNarrative
from services.letters.charts import letter_charts, letter_email_charts

if TYPE_CHECKING:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

TEMPLATE_DIR = Path(__file__).resolve().with_name("templates")
STYLESHEET = TEMPLATE_DIR / "letter.css"
# Tagged PDF for screen readers (ISO 14289-1). WeasyPrint also offers "pdf/ua-2" (PDF 2.0),
# which fewer readers and checkers support today.
PDF_VARIANT = "pdf/ua-1"

Medium = Literal["email", "print"]

# Bump on a deliberate change of layout or wording; the content hash in template_version()
# catches the changes nobody bumped this for.
TEMPLATE_VERSION = "letters-2"  # 2: narratives as data, 2025 format; tagged PDF, email charts


class LetterRenderError(RuntimeError):
    """The letter could not be rendered, e.g. an asset was refused or missing."""


# What no retry of a render fixes: a letter without its narrative or format (LetterRenderError,
# UnsupportedLetterYear), a narrative that does not check (NarrativeError), figures that cannot
# be right (ValueError from build_letter), a placeholder without a value (KeyError).
PERMANENT_RENDER_ERRORS: tuple[type[Exception], ...] = (LetterRenderError, ValueError, KeyError)


_DATE = re.compile(rf"\b(\d{{1,2}}) ({'|'.join(MONTHS)}) (\d{{4}})\b")


def keep_dates_together(text: str) -> str:
    """``31 March 2023`` with no-break spaces, so a wrapped line never leaves the year
    alone on the next line (used on the "Statistics are based on" lines)."""
    return _DATE.sub("\\1\u00a0\\2\u00a0\\3", text)


@cache
def environment() -> Environment:
    """The Jinja environment for the letters: autoescape for HTML and SVG, never for the
    text letter (it is not markup), and StrictUndefined so a missing value fails loudly
    instead of printing an empty string into a letter."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2", "svg.j2"),
            disabled_extensions=("txt.j2",),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["keep_dates_together"] = keep_dates_together
    env.filters["narrative_html"] = lambda letter: _markup(_narrative(letter).html)
    env.filters["narrative_closing_html"] = lambda letter: _markup(_narrative(letter).closing_html)
    env.filters["narrative_text"] = lambda letter: _narrative(letter).text
    return env


def _markup(html: str) -> Markup:
    # markdown-it escapes every text and attribute it renders, with raw HTML off
    # (services/domain/narrative.py): what it returns is markup, not text to escape again.
    return Markup(html)  # noqa: S704


def _narrative(letter: Letter) -> RenderedNarrative:
    if letter.narrative is None:
        raise LetterRenderError(
            f"{letter.identity.reference} has no narrative: register the {letter.letter_year} "
            f"narrative with `annual-review letters narrative set {letter.letter_year} FILE`"
        )
    return letter.narrative


@cache
def template_fingerprint() -> str:
    """sha256 over every template file's name and bytes, in name order."""
    digest = hashlib.sha256()
    for path in sorted(TEMPLATE_DIR.iterdir()):
        if path.is_file() and path.suffix in {".j2", ".css"}:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def template_version() -> str:
    """Recorded with each rendering: ``letters-2+<first 12 hex digits of the fingerprint>``."""
    return f"{TEMPLATE_VERSION}+{template_fingerprint()[:12]}"


def _render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_text(letter: Letter) -> str:
    # The templates' optional blocks leave blank lines at the end; end on one newline.
    return _render(f"letter-{letter.template}.txt.j2", letter=letter).rstrip() + "\n"


def render_html(letter: Letter) -> str:
    """The HTML letter as emailed: CSS inline, charts as table cells, no SVG."""
    return _render_html(letter, "email")


def render_print_html(letter: Letter) -> str:
    """The page the PDF is laid out from: the letter with SVG charts and no inline CSS (the
    parsed stylesheet is given to WeasyPrint, see ``render_pdf``)."""
    return _render_html(letter, "print")


def _render_html(letter: Letter, medium: Medium) -> str:
    # Markup built with its own escaping (charts.py); a zero-case block has no chart.
    drawn = letter_email_charts(letter) if medium == "email" else letter_charts(letter)
    charts = {key: chart for key, chart in drawn.items() if chart is not None}
    return _render(f"letter-{letter.template}.html.j2", letter=letter, charts=charts, medium=medium)


def render_pdf(letter: Letter) -> bytes:
    """The tagged PDF of the letter."""
    return html_to_pdf(render_print_html(letter), letter_stylesheet=True)


@dataclass(frozen=True, slots=True)
class _PdfResources:
    fonts: FontConfiguration
    stylesheet: CSS


@cache
def _pdf_resources(pid: int, thread: int) -> _PdfResources:
    """Per process and thread, as Pango's font map is not thread-safe (the letter service
    renders in threads when it has no render processes), and a forked render worker must
    not use its parent's. Fonts are found and loaded once, not once per letter."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    return _PdfResources(fonts, CSS(string=STYLESHEET.read_text("utf-8"), font_config=fonts))


def warm_up() -> None:
    """Load WeasyPrint, the fonts and the stylesheet now (about a second), so that the first
    letter a render worker is given does not wait for them."""
    html_to_pdf(
        '<html lang="en-GB"><head><title>warm-up</title></head>'
        "<body><p>Warm <strong>up</strong></p></body></html>",
        letter_stylesheet=True,
    )


def html_to_pdf(html: str, *, letter_stylesheet: bool = False) -> bytes:
    """``html`` as a tagged PDF; ``letter_stylesheet`` adds letter.css (parsed once)."""
    # Imported here: WeasyPrint loads Pango through cffi, which text-only callers don't need.
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError

    from services.letters.fetcher import LocalOnlyFetcher

    resources = _pdf_resources(os.getpid(), threading.get_ident())
    try:
        pdf = HTML(
            string=html,
            base_url=TEMPLATE_DIR.as_uri() + "/",
            url_fetcher=LocalOnlyFetcher(TEMPLATE_DIR),
        ).write_pdf(
            stylesheets=[resources.stylesheet] if letter_stylesheet else None,
            font_config=resources.fonts,
            pdf_variant=PDF_VARIANT,
        )
    except FatalURLFetchingError as error:  # a BaseException in WeasyPrint: make it ordinary
        raise LetterRenderError(f"letter PDF not rendered: {error} ({error.__cause__})") from error
    if not isinstance(pdf, bytes):
        raise LetterRenderError("WeasyPrint returned no PDF")
    return pdf


@dataclass(frozen=True, slots=True)
class RenderedLetter:
    """The three artefacts of one letter and the template version that made them."""

    text: str
    html: str
    pdf: bytes
    template_version: str


@dataclass(frozen=True, slots=True)
class ArtefactDigests:
    """sha256 (hex) of each artefact; the text and HTML are hashed as UTF-8."""

    text_sha256: str
    html_sha256: str
    pdf_sha256: str


def render_letter(letter: Letter) -> RenderedLetter:
    return RenderedLetter(
        render_text(letter), render_html(letter), render_pdf(letter), template_version()
    )


def digests(rendered: RenderedLetter) -> ArtefactDigests:
    return ArtefactDigests(
        text_sha256=hashlib.sha256(rendered.text.encode("utf-8")).hexdigest(),
        html_sha256=hashlib.sha256(rendered.html.encode("utf-8")).hexdigest(),
        pdf_sha256=hashlib.sha256(rendered.pdf).hexdigest(),
    )
