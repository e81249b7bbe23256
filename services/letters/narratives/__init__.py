"""The narratives shipped with the project: the 2020 letter's own words (the reference letter),
so that a fresh installation can print a 2019-20 letter without a step. Every later year's
narrative is the Ombudsman's office's to write and register (docs/narratives.md); the project
ships none, so its own text can never be sent."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from services.domain.narrative import Narrative, parse

SHIPPED_VERSION = 0  # the version number a shipped narrative has
_DIR = Path(__file__).resolve().parent
SHIPPED_YEARS: tuple[int, ...] = tuple(sorted(int(p.stem) for p in _DIR.glob("[0-9]*.md")))


@cache
def shipped_markdown(letter_year: int) -> str:
    return (_DIR / f"{letter_year}.md").read_text(encoding="utf-8")


def shipped(letter_year: int) -> Narrative | None:
    return parse(shipped_markdown(letter_year)) if letter_year in SHIPPED_YEARS else None
