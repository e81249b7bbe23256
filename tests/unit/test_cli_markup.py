"""Stored text printed by the CLI is text: Rich markup in a council's name neither breaks
``stats`` (a stray ``[/bold]`` closes a tag that is not open: Rich raises MarkupError) nor
restyles what follows."""

from __future__ import annotations

import io
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from rich.console import Console

from contracts.financial_year import FinancialYear
from services.cli import figures as figures_cli

NAME = "[/bold] Mansfield [red]District[/red] Council [link=https://x.example]x[/link]"


class Figures:
    def as_dict(self) -> dict[str, Any]:
        rates = {"uphold_rate_percent": 50, "compliance_rate_percent": 100,
                 "satisfactory_remedy_rate_percent": None, "upheld_per_100k": None}  # fmt: skip
        return {
            "council": "MAN", "name": NAME, "comparison_group": "District",
            "financial_year": "2019-20",
            "counts": {"upheld": 1, "compliance_outcomes": 1, "compliance_implemented": 1,
                       "satisfactory_remedies": 0, "advice_given": 0},
            "detailed_investigations": 2, **rates, "population": None, "population_year": None,
            "group_average": rates, "late_events": 0, "open_dead_letters": 0, "snapshot": None,
        }  # fmt: skip


def test_a_name_holding_rich_markup_is_printed_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def run_reading(make: Callable[[], Coroutine[Any, Any, Any]]) -> Figures:
        make().close()  # no database: the figures as stored
        return Figures()

    printed = io.StringIO()
    monkeypatch.setattr(figures_cli, "run_reading", run_reading)
    monkeypatch.setattr(figures_cli, "out", Console(file=printed, width=300, color_system=None))
    figures_cli.stats("MAN", FinancialYear(2019))
    assert printed.getvalue().splitlines()[0] == f"{NAME} (MAN), District, 2019-20"
