"""The map of England's councils: each council a dot at its coordinates, drawn on the
server as inline SVG (no JavaScript), each dot a link to the council's page.

The projection is equirectangular, scaled at England's middle latitude (52.85°N) so that a
degree of longitude is as long as it is on the ground there: good enough to find a council
over a country 650 km tall (a Mercator projection differs from it by under 5% across
England). Every dot is the same colour and size: the map helps a reader find a council, it
does not rank them (docs/web.md, "The map"). Colours are attributes, never ``style``, so
the site's Content-Security-Policy (no inline styles) holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup

from contracts.values import ENGLAND_LATITUDE, ENGLAND_LONGITUDE

WIDTH = 560  # SVG units; the drawing scales to its column
MARGIN = 12
MIDDLE_LATITUDE = 52.85
_SCALE_X = math.cos(math.radians(MIDDLE_LATITUDE))
_LAT_MIN, _LAT_MAX = ENGLAND_LATITUDE
_LON_MIN, _LON_MAX = ENGLAND_LONGITUDE
_K = (WIDTH - 2 * MARGIN) / ((_LON_MAX - _LON_MIN) * _SCALE_X)
HEIGHT = round(2 * MARGIN + (_LAT_MAX - _LAT_MIN) * _K)
DOT = "#1d5b79"  # one colour for every council, 7.3:1 on white
LAND = "#f3f5f6"
INK = "#1f2933"


@dataclass(frozen=True, slots=True)
class Place:
    code: str
    name: str
    latitude: float
    longitude: float
    href: str


def project(latitude: float, longitude: float) -> tuple[float, float]:
    """SVG x (east is right) and y (north is up) of a point in England's bounding box."""
    x = MARGIN + (longitude - _LON_MIN) * _SCALE_X * _K
    y = MARGIN + (_LAT_MAX - latitude) * _K
    return round(x, 1), round(y, 1)


def england_map(places: Iterable[Place], title: str) -> Markup:
    """The SVG: a titled group of links, one dot per council, in alphabetical order (the
    order a keyboard user tabs through them)."""
    dots = []
    for p in sorted(places, key=lambda p: (p.name.casefold(), p.code)):
        x, y = project(p.latitude, p.longitude)
        dots.append(
            Markup(
                '<a href="{href}" class="map-council" data-code="{code}">'
                "<title>{name}</title>"
                '<circle cx="{x:g}" cy="{y:g}" r="6" fill="{dot}" stroke="#ffffff" '
                'stroke-width="1.5"/></a>'
            ).format(href=p.href, code=p.code, name=p.name, x=x, y=y, dot=DOT)
        )
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="england-map" role="group" '
        'aria-labelledby="map-title" width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
        '<title id="map-title">{title}</title>'
        '<rect x="0" y="0" width="{w}" height="{h}" fill="{land}" stroke="{ink}" '
        'stroke-width="1"/>{dots}</svg>'
    ).format(w=WIDTH, h=HEIGHT, title=title, land=LAND, ink=INK, dots=Markup("").join(dots))
