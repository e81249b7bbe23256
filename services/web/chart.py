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

SLOT = 130  # per year, in SVG units; the drawing scales to its column
HEIGHT = 250
LEFT = 48  # room for the axis labels
RIGHT = 8
BOTTOM = 34
TOP = 24  # room for the value above a full bar
PLOT_H = HEIGHT - BOTTOM - TOP
BAR = 40
COUNCIL = "#1d5b79"  # filled bars, 7.3:1 on white
AVERAGE = "#4a5560"  # outlined bars, 7.5:1 on white: told apart by shape, not colour alone
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
    """Two bars per year, oldest year on the left: the council filled, its group average
    outlined, each with its figure above it."""
    width = LEFT + RIGHT + SLOT * max(len(points), 2)
    parts = [Markup('<title id="chart-title">{}</title>').format(title)]
    for tick in (0, 50, 100):
        y = _y(tick)
        parts.append(
            Markup(
                '<line x1="{l}" x2="{r}" y1="{y:g}" y2="{y:g}" stroke="{g}" stroke-width="1"/>'
                '<text x="{tx}" y="{ty:g}" text-anchor="end" fill="{ink}">{t}%</text>'
            ).format(l=LEFT, r=width - RIGHT, y=y, g=GRID, tx=LEFT - 6, ty=y + 5, ink=INK, t=tick)
        )
    for i, p in enumerate(points):
        x0 = LEFT + i * SLOT + (SLOT - 2 * BAR - 6) / 2
        for j, value in enumerate((p.council, p.average)):
            if value is None:
                continue
            x = x0 + j * (BAR + 6)
            fill, stroke = (COUNCIL, COUNCIL) if j == 0 else ("#ffffff", AVERAGE)
            parts.append(
                Markup(
                    '<rect x="{x:g}" y="{y:g}" width="{w}" height="{h:g}" fill="{f}" '
                    'stroke="{s}" stroke-width="2"/>'
                    '<text x="{tx:g}" y="{ty:g}" text-anchor="middle" fill="{ink}">{v}%</text>'
                ).format(
                    x=x + 1,
                    y=_y(value),
                    w=BAR - 2,
                    h=max(PLOT_H * value / 100, 0.5),
                    f=fill,
                    s=stroke,
                    tx=x + BAR / 2,
                    ty=_y(value) - 6,
                    ink=INK,
                    v=value,
                )
            )
        label = Markup('<text x="{x:g}" y="{y}" text-anchor="middle" fill="{ink}">{label}</text>')
        parts.append(label.format(x=x0 + BAR + 3, y=HEIGHT - 10, ink=INK, label=p.label))
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        'aria-labelledby="chart-title" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'font-family="sans-serif" '
        'font-size="15">{body}</svg>'
    ).format(w=width, h=HEIGHT, body=Markup("").join(parts))
