"""The site's explanatory texts: Markdown files the Ombudsman's office edits, not code.

Each text is one file, ``<name>.md``, in the content folder (``AR_WEB_CONTENT_DIR``, default
the ``content/`` folder beside this module). Markdown only: paragraphs, headings, bold,
italics, lists and links; raw HTML in a file is printed as text, never as markup, so an
edit cannot break the page or its security policy. A missing file stops the site at start
with its name (docs/web.md says how to edit them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup

DEFAULT_DIR = Path(__file__).resolve().with_name("content")
# The texts the pages print, and where.
NAMES = (
    "home",  # the home page, under its heading
    "reading-the-figures",  # every council page and year page: what the statistics mean
    "comparing-years",  # the council page, beside the year-by-year table
    "open-data",  # the open data page, above the column list
)


class ContentError(RuntimeError):
    """A content file is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class Content:
    texts: dict[str, Markup]

    def __getitem__(self, name: str) -> Markup:
        return self.texts[name]


def _renderer() -> MarkdownIt:
    # CommonMark with raw HTML off (html=False escapes it); headings inside a text start at
    # level 2, so shift them one level down the page's own outline.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render(text: str) -> Markup:
    """Markdown to HTML; raw HTML in the source comes out escaped."""
    return Markup(_renderer().render(text))  # noqa: S704 - markdown-it escapes raw HTML (html=False)


def load_content(folder: Path | None = None) -> Content:
    folder = folder or DEFAULT_DIR
    texts = {}
    for name in NAMES:
        path = folder / f"{name}.md"
        try:
            texts[name] = render(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ContentError(f"cannot read the site text {path}: {exc.strerror}") from None
    return Content(texts)
