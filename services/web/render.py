"""The page templates: Jinja2 with autoescape on every template and StrictUndefined, so a
name from an event is always text and a missing value fails instead of printing nothing."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from contracts.financial_year import long_date
from services.web.chart import year_chart

TEMPLATE_DIR = Path(__file__).resolve().with_name("templates")


def _percent(value: int | None) -> str:
    return "–" if value is None else f"{value}%"


def _plain(value: object) -> str:
    return "–" if value is None else str(value)


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["percent"] = _percent
    env.filters["plain"] = _plain
    env.filters["long_date"] = long_date
    env.globals["year_chart"] = year_chart
    return env


def render_page(template: str, **context: Any) -> bytes:
    return environment().get_template(template).render(**context).encode("utf-8")
