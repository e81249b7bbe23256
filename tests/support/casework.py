"""Test data: councils and casework events made by hand or at random, and the expected
figures computed the plainest way (no code shared with the projector)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from contracts import (
    ChiefExecutive,
    ComplianceOutcomeRecorded,
    CouncilRegistered,
    DecisionCorrected,
    DecisionOutcome,
    DecisionRecorded,
    DecisionWithdrawn,
    Envelope,
    new_event,
)
from contracts.financial_year import FinancialYear
from services.domain.fold import CaseEvent, WorkingSet, apply
from services.readmodel.counters import COUNTERS

PUBLISHED = datetime(2024, 6, 1, tzinfo=UTC)


def council(
    code: str, group: str, population: int | None = 100_000, *, name: str | None = None, **kw: Any
) -> Envelope[Any]:
    ce = ChiefExecutive(
        name=f"Chief {code}", job_title="Chief Executive", salutation=f"Dear {code}",
        email=f"ce@{code.lower()}.example.org",
    )  # fmt: skip
    return new_event(
        CouncilRegistered(
            name=name or f"{code} Council", comparison_group=group, population=population,
            population_year=2020 if population else None, chief_executive=ce, **kw,
        ),
        council=code, producer="tests", occurred_at=PUBLISHED,
    )  # fmt: skip


def decided(
    code: str,
    case: str,
    day: date,
    outcome: str,
    remedy: bool = False,
    *,
    event_id: UUID | None = None,
) -> Envelope[Any]:
    return new_event(
        DecisionRecorded(case_reference=case, decision_date=day, outcome=DecisionOutcome(outcome),
                         satisfactory_remedy=remedy),
        council=code, producer="tests", event_id=event_id, occurred_at=PUBLISHED,
    )  # fmt: skip


def corrected(code: str, case: str, day: date, outcome: str, remedy: bool = False) -> Envelope[Any]:
    return new_event(
        DecisionCorrected(case_reference=case, decision_date=day, outcome=DecisionOutcome(outcome),
                          satisfactory_remedy=remedy),
        council=code, producer="tests", occurred_at=PUBLISHED,
    )  # fmt: skip


def withdrawn(code: str, case: str, day: date) -> Envelope[Any]:
    return new_event(
        DecisionWithdrawn(case_reference=case, withdrawn_on=day),
        council=code, producer="tests", occurred_at=PUBLISHED,
    )  # fmt: skip


def complied(code: str, case: str, day: date, implemented: bool = True) -> Envelope[Any]:
    return new_event(
        ComplianceOutcomeRecorded(case_reference=case, recorded_on=day, implemented=implemented),
        council=code, producer="tests", occurred_at=PUBLISHED,
    )  # fmt: skip


def random_casework(
    councils: list[str], n: int, seed: int, years: tuple[int, ...] = (2019, 2020)
) -> Iterator[Envelope[Any]]:
    """Valid casework in a valid order: decisions, corrections, withdrawals, compliance."""
    rng = random.Random(seed)
    standing: dict[str, str] = {}  # case -> council, cases with a standing decision
    outcomes = list(DecisionOutcome)
    for i in range(n):
        roll = rng.random()
        day = date(rng.choice(years), 4, 1) + timedelta(days=rng.randrange(365))
        outcome = rng.choices(outcomes, weights=(35, 25, 15, 15, 5, 5))[0]
        remedy = outcome is DecisionOutcome.UPHELD and rng.random() < 0.15
        if roll < 0.06 and standing:
            case = rng.choice(sorted(standing))
            yield corrected(standing[case], case, day, outcome.value, remedy)
        elif roll < 0.08 and standing:
            case = rng.choice(sorted(standing))
            yield withdrawn(standing.pop(case), case, day)
        elif roll < 0.2:
            code = rng.choice(councils)
            yield complied(code, f"X{seed}-{i}", day, rng.random() < 0.97)
        else:
            code = rng.choice(councils)
            case = f"C{seed}-{i}"
            standing[case] = code
            yield decided(code, case, day, outcome.value, remedy)


def expected_figures(events: Iterable[Envelope[Any]]) -> dict[tuple[str, int], dict[str, int]]:
    """Per (council, start year): the latest standing decision of each case counts in its
    decision's year; compliance outcomes count in their recorded year. Duplicate event ids
    count once."""
    seen: set[UUID] = set()
    cases: dict[str, tuple[str, int, str, bool] | None] = {}
    compliance: Counter[tuple[str, int, str]] = Counter()
    for e in events:
        if e.event_id in seen:
            continue
        seen.add(e.event_id)
        d = e.data
        code = cast(str, e.council)  # decisions and compliance outcomes always name one
        if isinstance(d, (DecisionRecorded, DecisionCorrected)):
            fy = FinancialYear.of(d.decision_date).start_year
            cases[d.case_reference] = (code, fy, d.outcome.value, d.satisfactory_remedy)
        elif isinstance(d, DecisionWithdrawn):
            cases[d.case_reference] = None
        elif isinstance(d, ComplianceOutcomeRecorded):
            fy = FinancialYear.of(d.recorded_on).start_year
            compliance[(code, fy, "compliance_outcomes")] += 1
            if d.implemented:
                compliance[(code, fy, "compliance_implemented")] += 1
    out: dict[tuple[str, int], Counter[str]] = {}
    for state in cases.values():
        if state is None:
            continue
        code, fy, outcome, remedy = state
        c = out.setdefault((code, fy), Counter())
        c[outcome] += 1
        if remedy:
            c["satisfactory_remedies"] += 1
    for (code, fy, key), n in compliance.items():
        out.setdefault((code, fy), Counter())[key] += n
    return {k: {key: v.get(key, 0) for key in COUNTERS} for k, v in out.items() if any(v.values())}


# What `close-year 2019-20` sends (EventPublisher.close_year's argument).
CLOSE_2019_20: dict[str, Any] = {
    "financial_year": "2019-20",
    "letter_date": "2020-07-22",
    "publication_date": "2020-07-29",
    "signatory": {"name": "Michael King", "titles": ["Ombudsman"]},
}


def history(events: Iterable[Envelope[Any]], partition: int = 0) -> list[CaseEvent]:
    """The case history the projector's fold writes for ``events``, read in order from
    ``partition`` at offsets 0, 1, 2...: the explanation's and the case list's input."""
    ws = WorkingSet()
    for offset, e in enumerate(events):
        apply(ws, e, partition=partition, offset=offset)
    return ws.history
