"""The council register as a merge of facts: the same whatever order partitions are read in.

Every ``CouncilRegistered``, ``CouncilDetailsChanged`` and ``CouncilAbolished`` is a fact: what
one event says about one council, where it sits in the log, and when it was stated. A council's
register entry is the merge of its facts, field by field, the latest statement winning by
``(occurred_at, partition, offset)``: within a partition that is the log's own order when the
clock agrees, and any order of merging the same facts gives the same entry (a last-writer-wins
map). A council exists once one of its facts is a registration. Two systems stating a council's
details are therefore ordered by their own clocks, not by the log: keep one owner of the register
(the operators' CLI, docs/integrating.md).

Population estimates are not one field but a map, year -> residents: each estimate is kept for
its year, and a financial year chooses one (``population.estimate_for``), so an estimate given
for one year never changes another year's figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from contracts.envelope import Envelope
from contracts.events import CouncilAbolished, CouncilDetailsChanged, CouncilRegistered, Payload
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.domain.population import PopulationEstimate, estimate_for

REGISTRY_EVENTS = (CouncilRegistered, CouncilDetailsChanged, CouncilAbolished)
REGISTERED = CouncilRegistered.event_type

# The fields a registration restates (every one of them, null where not given).
_RESTATED = ("name", "comparison_group", "existed_from", "existed_until", "chief_executive",
             "copy_to", "latitude", "longitude")  # fmt: skip


@dataclass(frozen=True, slots=True)
class RegistryFact:
    """What one registry event states about one council, and where it is in the log.

    ``fields`` is JSON (as stored in ``council_facts``): the details stated, with
    ``population`` and ``population_year`` when an estimate is given (both null: every
    estimate stated before is withdrawn)."""

    council: str
    partition: int
    offset: int
    event_id: UUID
    occurred_at: datetime
    event_type: str
    fields: Mapping[str, Any]

    @property
    def stamp(self) -> tuple[datetime, int, int]:
        return (self.occurred_at, self.partition, self.offset)


@dataclass(frozen=True, slots=True)
class CouncilState:
    """A council's register entry: the merge of its facts."""

    code: str
    name: str
    comparison_group: ComparisonGroup
    existed_from: date | None
    existed_until: date | None
    populations: Mapping[int, int]  # estimate year -> residents
    chief_executive: dict[str, Any] | None
    copy_to: tuple[dict[str, Any], ...]
    registry_partitions: tuple[int, ...]  # where its facts are (information only)
    # Where the council is, for the public site's map (both or neither).
    latitude: float | None = None
    longitude: float | None = None

    def existed_during(self, year: FinancialYear) -> bool:
        return year.overlaps(self.existed_from, self.existed_until)

    def population_for(self, year: FinancialYear) -> PopulationEstimate | None:
        """The estimate ``year``'s per-100,000 figure uses (docs/domain.md §8)."""
        return estimate_for(self.populations, year)

    @property
    def latest_population(self) -> PopulationEstimate | None:
        """The estimate for the latest year, for display."""
        if not self.populations:
            return None
        year = max(self.populations)
        return PopulationEstimate(year, self.populations[year])


def fact_of(event: Envelope[Payload], partition: int, offset: int) -> RegistryFact:
    """The fact a registry event states (the caller checked it is one)."""
    p = event.data
    fields: dict[str, Any]
    if isinstance(p, CouncilRegistered):
        fields = p.model_dump(mode="json", include={*_RESTATED})
        if p.population is not None:
            fields |= {"population": p.population, "population_year": p.population_year}
    elif isinstance(p, CouncilDetailsChanged):
        fields = p.model_dump(mode="json")  # only what it changes (its serializer)
        if "copy_to" in fields and fields["copy_to"] is None:
            fields["copy_to"] = []
    elif isinstance(p, CouncilAbolished):
        fields = {"existed_until": p.last_day.isoformat(), "replaced_by": list(p.replaced_by)}
    else:
        raise TypeError(f"{type(p).__name__} is not a registry event")
    return RegistryFact(
        council=event.council or "",
        partition=partition,
        offset=offset,
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        event_type=event.type,
        fields=fields,
    )


def merge(code: str, facts: Iterable[RegistryFact]) -> CouncilState | None:
    """The council's entry from its facts (in any order); None until one is a registration."""
    ordered = sorted(facts, key=lambda f: f.stamp)
    if not any(f.event_type == REGISTERED for f in ordered):
        return None
    details: dict[str, Any] = {"existed_from": None, "existed_until": None,
                               "chief_executive": None, "copy_to": [], "latitude": None,
                               "longitude": None}  # fmt: skip
    populations: dict[int, int] = {}
    for fact in ordered:
        for name, value in fact.fields.items():
            if name == "population_year":
                continue
            if name == "population":
                if value is None:
                    populations.clear()  # both null: the estimates given before are withdrawn
                else:
                    populations[int(fact.fields["population_year"])] = int(value)
            else:
                details[name] = value
    return CouncilState(
        code=code,
        name=details["name"],
        comparison_group=ComparisonGroup(details["comparison_group"]),
        existed_from=_day(details["existed_from"]),
        existed_until=_day(details["existed_until"]),
        populations=dict(sorted(populations.items())),
        chief_executive=details["chief_executive"],
        copy_to=tuple(details["copy_to"] or ()),
        registry_partitions=tuple(sorted({f.partition for f in ordered})),
        latitude=details["latitude"],
        longitude=details["longitude"],
    )


def merge_all(facts: Iterable[RegistryFact]) -> dict[str, CouncilState]:
    """Every registered council's entry from a set of facts of many councils."""
    by_council: dict[str, list[RegistryFact]] = {}
    for f in facts:
        by_council.setdefault(f.council, []).append(f)
    merged = {code: merge(code, fs) for code, fs in by_council.items()}
    return {code: state for code, state in sorted(merged.items()) if state is not None}


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
