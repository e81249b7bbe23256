"""Which councils a closed year's snapshot holds, with which details and population.

Pure: the projector reads the register as it stood at the cuts (every partition's facts
before its close marker), the live register and the counts summed over the cuts, and this
says what the snapshot is. Being a function of those alone, it is the same in the live run
and in a replay, whatever order the partitions were read in.

- **Members**: councils registered at the cuts that existed during the year, with their
  details at the cuts. They make the group averages.
- **Joined after the close**: councils registered since (their casework before the close was
  parked until then) that existed during the year by the live register. Their letter is
  held, and the averages were made without them.
- **Population**: the estimate the year uses (``population.estimate_for``) as registered at
  the cuts; a council that had none then takes the one registered since, so that registering
  it after the close releases the "no population" hold of a 2022-23+ letter. The averages
  use only the estimates at the cuts (``member``): what is registered since depends on how
  far the log has been read when the year completes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.financial_year import FinancialYear
from services.domain.population import PopulationEstimate
from services.domain.register import CouncilState
from services.domain.statistics import CouncilYear, CouncilYearCounts


@dataclass(frozen=True, slots=True)
class SnapshotCouncil:
    details: CouncilState
    counts: CouncilYearCounts
    population: PopulationEstimate | None  # printed: at the cuts, else registered since
    joined_after_close: bool
    population_at_cuts: PopulationEstimate | None = None  # what the averages use

    @property
    def code(self) -> str:
        return self.details.code

    def member(self, year: FinancialYear) -> CouncilYear:
        """As the group averages see it: with the population registered at the cuts."""
        at_cuts = self.population_at_cuts
        return CouncilYear(
            council=self.code,
            year=year,
            group=self.details.comparison_group,
            counts=self.counts,
            population=at_cuts.population if at_cuts else None,
        )


def snapshot_councils(
    year: FinancialYear,
    at_cuts: Mapping[str, CouncilState],
    live: Mapping[str, CouncilState],
    counts: Mapping[str, CouncilYearCounts],
) -> list[SnapshotCouncil]:
    """The snapshot's councils, by code (``counts``: summed over the cuts; zeros if absent)."""
    out = []
    for code in sorted(set(at_cuts) | set(live)):
        then, now = at_cuts.get(code), live.get(code)
        if then is not None and then.existed_during(year):
            details, joined = then, False
        elif now is not None and now.existed_during(year):
            details, joined = now, True
        else:
            continue
        registered = then.population_for(year) if then is not None else None
        population = registered or (now.population_for(year) if now is not None else None)
        out.append(
            SnapshotCouncil(
                details, counts.get(code, CouncilYearCounts()), population, joined, registered
            )
        )
    return out
