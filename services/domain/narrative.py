"""A letter year's narrative: the paragraphs the Ombudsman's office writes, in plain Markdown.

Pure: no I/O. The office writes paragraphs, headings (``#``), bold, italics, lists and links,
with a few placeholders in braces (``{council_name}``, see ``PLACEHOLDERS``) that each letter
fills in. Raw HTML is shown as text, never interpreted. A document is checked whole when it is
registered (``parse``): every unknown placeholder and every unsupported construct is reported
with its line, so the office can fix them all at once.

Placeholders are swapped for private-use characters before the Markdown is parsed and filled
in afterwards, inside text only: a council called ``*Foo* <b>`` prints literally, and cannot
change the document's structure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from contracts.events import NARRATIVE_MAX_CHARS

# Every placeholder a narrative may use, with what it prints (docs/narratives.md lists them).
PLACEHOLDERS: Mapping[str, str] = MappingProxyType(
    {
        "council_name": "the council's name, e.g. Mansfield District Council",
        "authority": 'how the letter names the council: "the authority" (2020) or "the Council"',
        "group_name": "the council's comparison group, e.g. District Councils",
        "financial_year": "the financial year, e.g. 2019-20",
        "letter_year": "the year of the letter, e.g. 2020",
        "period": "the year's dates, e.g. 1 April 2019 to 31 March 2020",
        "year_end": "the last day of the year, e.g. 31 March 2020",
        "letter_date": "the date of the letter, e.g. 22 July 2020",
        "publication_date": "the date the figures and the letter are published, e.g. 29 July 2020",
    }
)

_PLACEHOLDER = re.compile(r"\{([^{}\n]*)\}")
_NAME = re.compile(r"[a-z_]+")
_FIRST_MARK = (
    0xE000  # Unicode private use area: never in an office's text, kept as text by Markdown
)
_MAX_BYTES = NARRATIVE_MAX_CHARS  # in UTF-8 bytes: the event carries it under the message cap
# What the office may write; anything else is refused with its line, not silently dropped.
_ALLOWED_BLOCKS = {
    "paragraph_open", "paragraph_close", "heading_open", "heading_close", "inline",
    "bullet_list_open", "bullet_list_close", "ordered_list_open", "ordered_list_close",
    "list_item_open", "list_item_close",
}  # fmt: skip
_ALLOWED_INLINE = {
    "text", "softbreak", "hardbreak", "strong_open", "strong_close", "em_open", "em_close",
    "link_open", "link_close",
}  # fmt: skip
_DESCRIBED = {
    "image": "images are not supported in a letter",
    "code_inline": "code (text in `backticks`) is not supported; remove the backticks",
    "code_block": "indented code blocks are not supported; remove the indentation",
    "fence": "code blocks are not supported; remove the ``` lines",
    "blockquote_open": "quotations (lines starting with >) are not supported",
    "hr": "horizontal rules (---) are not supported",
    "table_open": "tables are not supported",
    "s_open": "strikethrough is not supported",
}
_LINK_SCHEMES = ("https://", "http://", "mailto:")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a narrative: where, and what to do."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class NarrativeError(ValueError):
    """A narrative that cannot be used; ``problems`` lists every reason, each with its line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class RenderedNarrative:
    """A narrative filled in for one letter: HTML (escaped, from Markdown) and plain text.

    The HTML comes in two parts: ``closing_html`` is the last paragraph (or list), which the
    letter keeps on the page of the signature, so that a signature never starts a page alone.
    """

    html: str
    closing_html: str
    text: str

    @property
    def full_html(self) -> str:
        return self.html + self.closing_html


@dataclass(frozen=True, slots=True)
class Narrative:
    """A checked narrative document; ``render`` fills it in for one letter."""

    source: str
    _tokens: tuple[Token, ...]
    _names: tuple[str, ...]  # the placeholder behind each private-use mark, in order

    @property
    def sha256(self) -> str:
        return content_hash(self.source)

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(self._names)

    def render(self, values: Mapping[str, str]) -> RenderedNarrative:
        missing = sorted(set(self._names) - set(values))
        if missing:
            raise KeyError(f"no value for placeholder(s) {', '.join(missing)}")
        fills = {chr(_FIRST_MARK + i): values[name] for i, name in enumerate(self._names)}
        tokens = [_filled(t, fills) for t in self._tokens]
        last = max(i for i, t in enumerate(tokens) if t.level == 0 and t.nesting == 1)
        return RenderedNarrative(
            html=_html(tokens[:last]), closing_html=_html(tokens[last:]), text=_text(tokens)
        )


def content_hash(source: str) -> str:
    """The sha256 of a narrative as written: what a letter records it was made from."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def parse(source: str) -> Narrative:
    """Check a narrative document and prepare it; raises NarrativeError listing every problem."""
    problems: list[Problem] = []
    if len(source.encode("utf-8")) > _MAX_BYTES:
        raise NarrativeError([Problem(1, f"the document is larger than {_MAX_BYTES} bytes")])
    if not source.strip():
        raise NarrativeError([Problem(1, "the document is empty")])
    marked, names = _mark_placeholders(source, problems)
    env: dict[str, Any] = {}
    tokens = _markdown().parse(marked, env)
    _check_constructs(tokens, problems)
    _check_references(env.get("references", {}), problems)
    if not any(t.level == 0 and t.nesting == 1 for t in tokens) and not problems:
        # Only link reference definitions ("[name]: https://..."): Markdown prints nothing.
        problems.append(
            Problem(
                1,
                "the document prints nothing: link reference definitions ([name]: address) "
                "are not text; write the paragraphs that use them",
            )
        )
    if problems:
        raise NarrativeError(sorted(problems, key=lambda p: p.line))
    return Narrative(source=source, _tokens=tuple(tokens), _names=tuple(names))


def _markdown() -> MarkdownIt:
    # CommonMark with raw HTML off: "<b>" is escaped and printed as the characters typed.
    return MarkdownIt("commonmark", {"html": False, "typographer": False})


def _mark_placeholders(source: str, problems: list[Problem]) -> tuple[str, list[str]]:
    names: list[str] = []
    out: list[str] = []
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        if any(_is_mark(ch) for ch in line):
            problems.append(Problem(number, "the line contains a private-use character"))

        def mark(match: re.Match[str], number: int = number) -> str:
            name = match.group(1).strip()
            if not _NAME.fullmatch(name) or name not in PLACEHOLDERS:
                known = ", ".join("{" + n + "}" for n in PLACEHOLDERS)
                problems.append(
                    Problem(number, f"unknown placeholder {match.group(0)}; known: {known}")
                )
                return match.group(0)
            names.append(name)
            return chr(_FIRST_MARK + len(names) - 1)

        out.append(_PLACEHOLDER.sub(mark, line))
    return "".join(out), names


def _check_constructs(tokens: list[Token], problems: list[Problem]) -> None:
    for token in tokens:
        line = (token.map[0] + 1) if token.map else 1
        if token.type not in _ALLOWED_BLOCKS:
            if token.type.endswith("_close"):
                continue  # its opening token was reported
            problems.append(
                Problem(line, _DESCRIBED.get(token.type, f"{token.type} is not supported"))
            )
            continue
        if token.type == "heading_open" and token.tag not in ("h1", "h2", "h3"):
            problems.append(Problem(line, "use at most three levels of heading (#, ## or ###)"))
        for child in token.children or ():
            if child.type not in _ALLOWED_INLINE:
                if child.type.endswith("_close"):
                    continue
                problems.append(
                    Problem(line, _DESCRIBED.get(child.type, f"{child.type} is not supported"))
                )
            elif child.type == "link_open":
                _check_link(
                    str(child.attrGet("href") or ""), str(child.attrGet("title") or ""), line,
                    problems,
                )  # fmt: skip


def _check_link(href: str, title: str, line: int, problems: list[Problem]) -> None:
    # Markdown percent-encodes the address ("{council_name}" arrives as "%EE%80%80"): decoded
    # before looking for placeholders, or a placeholder in an address went through unseen.
    if not href.startswith(_LINK_SCHEMES):
        problems.append(
            Problem(line, f"the link to {href!r} must start with https://, http:// or mailto:")
        )
    elif any(_is_mark(ch) for ch in _percent_decoded(href) + title):
        problems.append(Problem(line, "placeholders cannot be used in a link's address or title"))


_PERCENT_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _percent_decoded(href: str) -> str:
    """``%EE%80%80`` -> U+E000 (urllib is not for the pure core: it is a network package)."""
    return _PERCENT_ESCAPES.sub(
        lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode("utf-8", "replace"), href
    )


def _check_references(references: Mapping[str, Any], problems: list[Problem]) -> None:
    """Link reference definitions ("[name]: address") are not tokens: checked by themselves,
    used or not, so that a placeholder in one is reported at its own line."""
    for reference in references.values():
        line = reference["map"][0] + 1 if reference.get("map") else 1
        found: list[Problem] = []
        _check_link(str(reference.get("href", "")), str(reference.get("title", "")), line, found)
        problems.extend(p for p in found if p not in problems)


def _is_mark(ch: str) -> bool:
    return 0xE000 <= ord(ch) <= 0xF8FF


def _filled(token: Token, fills: Mapping[str, str]) -> Token:
    copy = token.copy()
    if copy.children:
        copy.children = [_filled(c, fills) for c in copy.children]
    if copy.type == "text" and copy.content:
        copy.content = "".join(fills.get(ch, ch) for ch in copy.content)
    return copy


def _html(tokens: list[Token]) -> str:
    # The letter's own title is the h1: the narrative's headings sit one level below it.
    shifted = []
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token = token.copy()
            token.tag = f"h{min(int(token.tag[1]) + 1, 4)}"
        shifted.append(token)
    return str(_markdown().renderer.render(shifted, _markdown().options, {}))


def _text(tokens: list[Token]) -> str:
    """Plain text: paragraphs and headings as lines, list items with their marker (one per
    line), links as their text (the address is in the HTML and the PDF)."""
    blocks: list[tuple[str, int]] = []  # (text, the list it is an item of; 0: none)
    lists = 0
    markers: list[list[int]] = []  # per open list: [0] for bullets, [n] for the n-th number
    item_start = False
    for token in tokens:
        if token.type == "bullet_list_open":
            lists += not markers
            markers.append([0])
        elif token.type == "ordered_list_open":
            lists += not markers
            markers.append([int(token.attrGet("start") or 1) - 1, 1])
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            markers.pop()
        elif token.type == "list_item_open":
            item_start = True
            if len(markers[-1]) == 2:
                markers[-1][0] += 1
        elif token.type == "inline":
            text = _inline_text(token)
            if not markers:
                blocks.append((text, 0))
                continue
            indent = "  " * (len(markers) - 1)
            marker = f"{markers[-1][0]}. " if len(markers[-1]) == 2 else "- "
            lead = marker if item_start else " " * len(marker)
            hang = "\n" + indent + " " * len(marker)
            blocks.append((indent + lead + text.replace("\n", hang), lists))
            item_start = False
    out = ""
    for i, (text, in_list) in enumerate(blocks):
        if i:
            out += "\n" if in_list and blocks[i - 1][1] == in_list else "\n\n"
        out += text
    return out


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or ():
        if child.type == "text":
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)
