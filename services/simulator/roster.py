"""The councils of a simulated year: who they are, how many complaints each gets, and how
often each is found at fault."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from contracts.events import CouncilRegistered
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.councils.model import CouncilRecord, placeholder_chief_executive
from services.councils.sample import load_sample
from services.simulator.profile import (
    GROUP_MIX,
    GROUP_REMEDY_OFFSET,
    GROUP_UPHOLD_OFFSET,
    TYPICAL_POPULATION,
    YearProfile,
)

# The sample in an order that covers every group first, so ``--councils 5`` has all five.
SAMPLE_ORDER = ("MAN", "KEN", "LDS", "NGM", "CMD", "ASH", "NTT", "SHF", "CON", "HCK", "BPC", "COR")
JITTER = 0.06


def synthetic_councils(count: int, *, start: int = 1) -> list[CouncilRecord]:
    """``count`` made-up councils (codes SIM0001...), groups in the national mix."""
    rng = random.Random(f"synthetic-councils-{start}")  # the same councils for every seed
    groups = list(GROUP_MIX)
    weights = list(itertools.accumulate(GROUP_MIX.values()))
    out = []
    for n in range(start, start + count):
        group = groups[bisect.bisect_right(weights, rng.random() * weights[-1])]
        code = f"SIM{n:04d}"
        population = int(TYPICAL_POPULATION[group] * rng.uniform(0.5, 1.6))
        out.append(
            CouncilRecord(
                code=code,
                details=CouncilRegistered(
                    name=f"Simulated {group.value} Council {n:04d}",
                    comparison_group=group,
                    population=population,
                    population_year=2020,
                    chief_executive=placeholder_chief_executive(code),
                ),
            )
        )
    return out


def councils_for(
    year: FinancialYear, councils: int | Sequence[CouncilRecord] | None
) -> list[CouncilRecord]:
    """The councils of the year: the built-in sample (None), the first N of the sample
    topped up with synthetic councils (an int), or the given ones; only those that existed
    during the year."""
    if councils is None or isinstance(councils, int):
        by_code = {c.code: c for c in load_sample()}
        sample = [by_code[code] for code in SAMPLE_ORDER if code in by_code]
        sample = [c for c in sample if c.existed_during(year)]
        if councils is None:
            return sample
        if councils < 1:
            raise ValueError("the number of councils must be at least 1")
        return sample[:councils] + synthetic_councils(max(0, councils - len(sample)))
    chosen = [c for c in councils if c.existed_during(year)]
    if not chosen:
        raise ValueError(f"none of the {len(councils)} councils existed during {year}")
    return chosen


@dataclass(frozen=True, slots=True)
class SimCouncil:
    code: str
    group: ComparisonGroup
    first_day: date
    last_day: date
    uphold_rate: float
    remedy_rate: float

    def exists_on(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


class Roster:
    """Weighted choice of the council a complaint is about (weight: population)."""

    def __init__(
        self,
        year: FinancialYear,
        councils: Sequence[CouncilRecord],
        profile: YearProfile,
        rng: random.Random,
        *,
        exclude: frozenset[str] = frozenset(),
    ) -> None:
        eligible = [c for c in councils if c.code not in exclude]
        if not eligible:
            raise ValueError("no council is left to simulate casework for")
        weights = [float(c.details.population or TYPICAL_POPULATION[c.group]) for c in eligible]
        total = sum(weights)
        uphold = [GROUP_UPHOLD_OFFSET[c.group] + rng.uniform(-JITTER, JITTER) for c in eligible]
        remedy = [GROUP_REMEDY_OFFSET[c.group] + rng.uniform(-JITTER, JITTER) / 2 for c in eligible]
        uphold_shift = sum(w * u for w, u in zip(weights, uphold, strict=True)) / total
        remedy_shift = sum(w * r for w, r in zip(weights, remedy, strict=True)) / total
        self.councils = [
            SimCouncil(
                code=c.code,
                group=c.group,
                first_day=max(year.first_day, c.details.existed_from or year.first_day),
                last_day=min(year.last_day, c.details.existed_until or year.last_day),
                uphold_rate=_clamp(profile.uphold_rate + u - uphold_shift),
                remedy_rate=_clamp(profile.satisfactory_remedy_rate + r - remedy_shift),
            )
            for c, u, r in zip(eligible, uphold, remedy, strict=True)
        ]
        self._cumulative = list(itertools.accumulate(weights))
        self._total = self._cumulative[-1]
        self._rng = rng

    def pick(self, day: date) -> SimCouncil:
        """A council that existed on ``day``, chosen by weight."""
        for _ in range(8):
            i = bisect.bisect_right(self._cumulative, self._rng.random() * self._total)
            council = self.councils[min(i, len(self.councils) - 1)]
            if council.exists_on(day):
                return council
        existing = [c for c in self.councils if c.exists_on(day)]
        return self._rng.choice(existing or self.councils)


def _clamp(p: float) -> float:
    return min(0.98, max(0.02, p))
