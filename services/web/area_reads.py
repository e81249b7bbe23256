"""The web's reads of service areas, upheld decisions and councils' places, through the
``publication.web_*`` views only (publication/0004). Plain frozen data, like published_reads.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.financial_year import FinancialYear
from services.platform.db import Conn


@dataclass(frozen=True, slots=True)
class AreaRow:
    year: FinancialYear
    council: str
    service_area: str | None  # None: the case system did not say
    decisions: int
    upheld: int


@dataclass(frozen=True, slots=True)
class UpheldDecisionRow:
    year: FinancialYear
    council: str
    case_reference: str
    service_area: str | None
    published_url: str


@dataclass(frozen=True, slots=True)
class Areas:
    """Everything the web shows by service area, and where each council is."""

    areas: list[AreaRow] = field(default_factory=list)
    upheld: list[UpheldDecisionRow] = field(default_factory=list)
    places: dict[str, tuple[float, float]] = field(default_factory=dict)  # latitude, longitude


async def load_areas(conn: Conn) -> Areas:
    """Read inside the caller's transaction (load_published's repeatable read)."""
    areas = await conn.fetch(
        "SELECT financial_year, council, service_area, decisions, upheld "
        "FROM publication.web_service_areas ORDER BY financial_year, council, service_area"
    )
    upheld = await conn.fetch(
        "SELECT financial_year, council, case_reference, service_area, published_url "
        "FROM publication.web_upheld_decisions ORDER BY financial_year, council, case_reference"
    )
    places = await conn.fetch("SELECT council, latitude, longitude FROM publication.web_places")
    return Areas(
        areas=[
            AreaRow(
                FinancialYear(r["financial_year"]),
                r["council"],
                r["service_area"],
                r["decisions"],
                r["upheld"],
            )
            for r in areas
        ],
        upheld=[
            UpheldDecisionRow(
                FinancialYear(r["financial_year"]),
                r["council"],
                r["case_reference"],
                r["service_area"],
                r["published_url"],
            )
            for r in upheld
        ],
        places={r["council"]: (float(r["latitude"]), float(r["longitude"])) for r in places},
    )
