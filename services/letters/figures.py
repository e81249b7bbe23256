"""What a letter is made from, read from the projector's read models.

``LetterInputs`` is stored with each outbox row (as JSON), so a letter can be rendered
again, byte for byte, from exactly the figures it was first made from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from fractions import Fraction
from typing import Any, TypeAlias

import asyncpg

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import ChiefExecutive, Signatory
from services.domain.letter import Letter, build_letter
from services.domain.statistics import (
    AveragingRule,
    CouncilYear,
    CouncilYearCounts,
    GroupAverages,
    group_averages,
)

COUNTS = tuple(CouncilYearCounts.__dataclass_fields__)
Conn: TypeAlias = asyncpg.Connection

# Stand-in addressee when the registry has no chief executive: the letter still goes to
# the council's published address, and the operator sees the placeholder in `letters show`.
_NO_ADDRESSEE = {
    "name": "Chief Executive",
    "job_title": "Chief Executive",
    "salutation": "Chief Executive",
}


@dataclass(frozen=True, slots=True)
class LetterInputs:
    council: str
    council_name: str
    group: str
    year: str
    counts: dict[str, int]
    population: int | None
    averages: dict[str, list[int] | None]  # statistic -> [numerator, denominator]
    group_councils: int
    addressee: dict[str, str] | None
    letter_date: str
    publication_date: str
    signatory: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | dict[str, Any]) -> LetterInputs:
        return cls(**(json.loads(raw) if isinstance(raw, str) else raw))

    @property
    def recipient(self) -> str | None:
        return self.addressee.get("email") if self.addressee else None

    def letter(self, version: int = 1) -> Letter:
        year = FinancialYear.parse(self.year)
        group = ComparisonGroup(self.group)
        council = CouncilYear(
            council=self.council,
            year=year,
            group=group,
            counts=CouncilYearCounts(**self.counts),
            population=self.population,
        )
        averages = GroupAverages(
            group=group,
            year=year,
            councils=self.group_councils,
            **{k: (Fraction(v[0], v[1]) if v else None) for k, v in self.averages.items()},
        )
        addressee = ChiefExecutive.model_validate(
            self.addressee or {**_NO_ADDRESSEE, "email": "unknown@invalid.example"}
        )
        return build_letter(
            council_name=self.council_name,
            addressee=addressee,
            year=year,
            council=council,
            averages=averages,
            letter_date=date.fromisoformat(self.letter_date),
            publication_date=date.fromisoformat(self.publication_date),
            signatory=Signatory.model_validate(self.signatory),
            version=version,
        )


def _fraction(num: Any, den: Any) -> list[int] | None:
    return None if num is None or den is None else [int(num), int(den)]


async def snapshot_inputs(conn: Conn, year: FinancialYear) -> list[LetterInputs]:
    """Every council's letter inputs from the year's final snapshot (must be complete)."""
    close = await conn.fetchrow(
        "SELECT * FROM readmodel.year_closes "
        "WHERE financial_year = $1 AND completed_at IS NOT NULL",
        year.start_year,
    )
    if close is None:
        raise LookupError(f"the {year} snapshot is not complete")
    groups = {
        r["comparison_group"]: r
        for r in await conn.fetch(
            "SELECT * FROM readmodel.year_snapshot_groups WHERE financial_year = $1",
            year.start_year,
        )
    }
    rows = await conn.fetch(
        "SELECT * FROM readmodel.year_snapshot_councils WHERE financial_year = $1 ORDER BY council",
        year.start_year,
    )
    out = []
    for r in rows:
        g = groups[r["comparison_group"]]
        out.append(
            LetterInputs(
                council=r["council"],
                council_name=r["name"],
                group=r["comparison_group"],
                year=year.label,
                counts={c: r[c] for c in COUNTS},
                population=r["population"],
                averages={
                    "uphold_rate": _fraction(g["uphold_num"], g["uphold_den"]),
                    "compliance_rate": _fraction(g["compliance_num"], g["compliance_den"]),
                    "satisfactory_remedy_rate": _fraction(g["remedy_num"], g["remedy_den"]),
                    "upheld_per_100k": _fraction(
                        g["upheld_per_100k_num"], g["upheld_per_100k_den"]
                    ),
                },
                group_councils=g["councils"],
                addressee=_json(r["chief_executive"]),
                letter_date=close["letter_date"].isoformat(),
                publication_date=close["publication_date"].isoformat(),
                signatory=_json(close["signatory"]),
            )
        )
    return out


async def live_inputs(
    conn: Conn,
    council: str,
    year: FinancialYear,
    rule: AveragingRule,
    letter_date: date,
    publication_date: date,
    signatory: dict[str, Any],
) -> LetterInputs:
    """A council's letter inputs from the live figures (for a re-issue after a correction)."""
    councils = await conn.fetch(
        "SELECT c.code, c.name, c.comparison_group, c.population, c.chief_executive, "  # noqa: S608 - constant column names
        "c.existed_from, c.existed_until, "
        + ", ".join(f"coalesce(s.{k}, 0) AS {k}" for k in COUNTS)
        + " FROM readmodel.councils c LEFT JOIN readmodel.council_year_stats s "
        "ON s.council = c.code AND s.financial_year = $1",
        year.start_year,
    )
    members = [
        CouncilYear(
            r["code"],
            year,
            ComparisonGroup(r["comparison_group"]),
            CouncilYearCounts(**{k: r[k] for k in COUNTS}),
            r["population"],
        )
        for r in councils
        if year.overlaps(r["existed_from"], r["existed_until"])
    ]
    mine = next((r for r in councils if r["code"] == council), None)
    if mine is None:
        raise LookupError(f"council {council} is not registered")
    group = ComparisonGroup(mine["comparison_group"])
    avg = group_averages([m for m in members if m.group is group], rule)[group]
    return LetterInputs(
        council=council,
        council_name=mine["name"],
        group=group.value,
        year=year.label,
        counts={k: mine[k] for k in COUNTS},
        population=mine["population"],
        averages={
            k: _fraction(v.numerator, v.denominator) if isinstance(v, Fraction) else None
            for k, v in {
                "uphold_rate": avg.uphold_rate,
                "compliance_rate": avg.compliance_rate,
                "satisfactory_remedy_rate": avg.satisfactory_remedy_rate,
                "upheld_per_100k": avg.upheld_per_100k,
            }.items()
        },
        group_councils=avg.councils,
        addressee=_json(mine["chief_executive"]),
        letter_date=letter_date.isoformat(),
        publication_date=publication_date.isoformat(),
        signatory=signatory,
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
