"""The narratives shipped with the project: the 2020 letter's own words (the reference letter),
so that a fresh installation can print a 2019-20 letter without a step. Every later year's
narrative is the Ombudsman's office's to write and register (docs/narratives.md); the project
ships none, so its own text can never be sent."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from services.domain.narrative import Narrative, parse

SHIPPED_VERSION = 0  # the version number a shipped narrative is pinned as
_DIR = Path(__file__).resolve().parent


@cache
def shipped(letter_year: int) -> Narrative | None:
    path = _DIR / f"{letter_year}.md"
    return parse(path.read_text(encoding="utf-8")) if path.is_file() else None
