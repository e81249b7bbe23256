"""What a letter is made from: a council's figures, its group's averages, the addressee
and the dates (read from the read models by ``services.readmodel.letter_reads``).

``LetterInputs`` is stored with each outbox row (as JSON), so a letter can be rendered
again, byte for byte, from exactly the figures it was first made from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import date
from fractions import Fraction
from typing import Any

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import ChiefExecutive, Signatory
from services.domain.letter import Letter, build_letter
from services.domain.narrative import Narrative, content_hash, parse
from services.domain.narrative_book import NarrativeVersion
from services.domain.statistics import CouncilYear, CouncilYearCounts, GroupAverages

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
    # The year the population estimate is for (the one the financial year uses); None
    # without a population. Stored rows from before it have neither.
    population_year: int | None = None
    # Who the letter is copied to (Cc): the register's name, role and email of each.
    copy_to: tuple[dict[str, str], ...] = ()
    # The year's narrative the close pinned: {"version", "sha256", "format", "markdown"}.
    # None on letters queued before narratives were pinned; such a letter is refused at render.
    narrative: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | dict[str, Any]) -> LetterInputs:
        data = dict(json.loads(raw) if isinstance(raw, str) else raw)
        data["copy_to"] = tuple(data.get("copy_to") or ())
        return cls(**data)

    @property
    def copy_recipients(self) -> list[str]:
        """The Cc addresses, in the register's order."""
        return [c["email"] for c in self.copy_to if c.get("email")]

    @property
    def link_officers(self) -> list[str]:
        """The copy recipients whose role names them the council's link officer (its
        contact for complaints, e.g. `Complaints link officer`): they receive the letter
        with the chief executive, the case list with it (docs/domain.md §17)."""
        return [c["email"] for c in self.copy_to if c.get("email") and is_link_officer(c)]

    @property
    def other_copies(self) -> list[str]:
        """The copy recipients who are not link officers: a copy without the case list."""
        return [c["email"] for c in self.copy_to if c.get("email") and not is_link_officer(c)]

    @property
    def recipient(self) -> str | None:
        return self.addressee.get("email") if self.addressee else None

    def with_narrative(self, n: NarrativeVersion) -> LetterInputs:
        return replace(
            self,
            narrative={
                "version": n.version,
                "sha256": n.sha256,
                "format": n.letter_format,
                "markdown": n.markdown,
            },
        )

    def letter(self, version: int = 1, *, proof: bool = False) -> Letter:
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
            narrative=None if self.narrative is None else _document(self.narrative),
            letter_format=None if self.narrative is None else self.narrative["format"],
            proof=proof,
        )


def is_link_officer(copy: dict[str, str]) -> bool:
    """Whether a copy recipient's role, as the register writes it, is a link officer's."""
    return "link officer" in " ".join(copy.get("role", "").lower().replace("-", " ").split())


def _document(pinned: dict[str, Any]) -> Narrative:
    """The pinned narrative, refused if it is not the document the close pinned."""
    if content_hash(pinned["markdown"]) != pinned["sha256"]:
        raise ValueError(
            f"narrative version {pinned['version']} does not match its sha256 {pinned['sha256']}"
        )
    return parse(pinned["markdown"])
