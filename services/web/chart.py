"""The council page's year-by-year chart: the uphold rate of each published year beside its
group average, as inline SVG.

Built with MarkupSafe (every value escaped). Colours and sizes are SVG attributes, never
``style``, so the site's Content-Security-Policy (no inline styles) holds. The chart is an
image with a text title; the year-by-year table beside it gives the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

WIDTH = 640
HEIGHT = 240
LEFT = 44  # room for the axis labels
BOTTOM = 36
TOP = 12
PLOT_H = HEIGHT - BOTTOM - TOP
COUNCIL = "#1d5b79"  # 7.3:1 on white
AVERAGE = "#5f6b73"  # 5.6:1 on white
INK = "#1f2933"
GRID = "#c9d1d6"


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # "2019-20"
    council: int | None  # percent
    average: int | None


def _y(value: int) -> float:
    return TOP + PLOT_H * (1 - value / 100)


def year_chart(title: str, points: Sequence[Point]) -> Markup:
    """Two bars per year (the council, its group average), oldest year on the left."""
    parts = [
        Markup('<title id="chart-title">{}</title>').format(title),
    ]
    for tick in (0, 25, 50, 75, 100):
        y = _y(tick)
        parts.append(
            Markup(
                '<line x1="{l}" x2="{r}" y1="{y:g}" y2="{y:g}" stroke="{g}" stroke-width="1"/>'
                '<text x="{tx}" y="{ty:g}" text-anchor="end" fill="{ink}">{t}%</text>'
            ).format(l=LEFT, r=WIDTH - 8, y=y, g=GRID, tx=LEFT - 6, ty=y + 4, ink=INK, t=tick)
        )
    slot = (WIDTH - LEFT - 8) / max(len(points), 1)
    bar = min(28.0, slot / 3)
    for i, p in enumerate(points):
        x0 = LEFT + i * slot + (slot - 2 * bar) / 2
        for j, (value, colour) in enumerate(((p.council, COUNCIL), (p.average, AVERAGE))):
            if value is None:
                continue
            x = x0 + j * bar
            parts.append(
                Markup(
                    '<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" fill="{c}"/>'
                ).format(x=x, y=_y(value), w=bar - 2, h=PLOT_H * value / 100, c=colour)
            )
        parts.append(
            Markup(
                '<text x="{x:g}" y="{y}" text-anchor="middle" fill="{ink}">{label}</text>'
            ).format(x=x0 + bar, y=HEIGHT - BOTTOM + 18, ink=INK, label=p.label)
        )
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        'aria-labelledby="chart-title" viewBox="0 0 {w} {h}" font-family="sans-serif" '
        'font-size="13">{body}</svg>'
    ).format(w=WIDTH, h=HEIGHT, body=Markup("").join(parts))
