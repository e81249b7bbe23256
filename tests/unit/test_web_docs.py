"""docs/web.md lists the open data's columns exactly as the site writes them."""

from __future__ import annotations

import re
from pathlib import Path

from services.web.opendata import COLUMNS

DOC = Path(__file__).resolve().parents[2] / "docs" / "web.md"


def test_the_documented_columns_are_the_files_columns_in_order() -> None:
    section = DOC.read_text().split("## Open data", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| (.+) \|$", section, re.MULTILINE)
    assert [name for name, _ in rows] == [c.name for c in COLUMNS]
    assert [meaning for _, meaning in rows] == [c.description for c in COLUMNS]
