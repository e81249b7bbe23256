"""How facts change the figures: a pure fold over a working set of councils and cases.

The projector loads the councils and cases a batch mentions, folds the batch here in log
order, and writes back what changed. Nothing here touches a database, so every rule of
DOMAIN.md sections 3 and 4 is tested without servers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from contracts.codec import Reason, RejectedMessage
from contracts.envelope import Envelope
from contracts.events import (
    ComplianceOutcomeRecorded,
    CouncilAbolished,
    CouncilDetailsChanged,
    CouncilRegistered,
    DecisionCorrected,
    DecisionOutcome,
    DecisionRecorded,
    DecisionWithdrawn,
    Payload,
)
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup

CouncilYearKey = tuple[str, int]  # (council code, start year of the financial year)


@dataclass(frozen=True, slots=True)
class CouncilState:
    code: str
    name: str
    comparison_group: ComparisonGroup
    existed_from: date | None
    existed_until: date | None
    population: int | None
    population_year: int | None
    chief_executive: dict[str, Any] | None
    partition: int

    def existed_during(self, year: FinancialYear) -> bool:
        return year.overlaps(self.existed_from, self.existed_until)


@dataclass(frozen=True, slots=True)
class CaseState:
    case_reference: str
    council: str
    financial_year: int
    outcome: DecisionOutcome
    satisfactory_remedy: bool
    withdrawn: bool = False


@dataclass(slots=True)
class WorkingSet:
    """What a batch may read and change; the projector loads it and writes it back."""

    councils: dict[str, CouncilState]
    cases: dict[str, CaseState]
    # Council-years whose year-end snapshot exists: changes to them are late.
    snapshotted: set[CouncilYearKey] = field(default_factory=set)
    deltas: defaultdict[CouncilYearKey, defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    changed_councils: set[str] = field(default_factory=set)
    changed_cases: set[str] = field(default_factory=set)
    late: list[tuple[Envelope[Payload], CouncilYearKey]] = field(default_factory=list)

    def take_changes(self) -> None:
        """Forget what was written; keep the state for the rest of the batch."""
        self.deltas.clear()
        self.changed_councils.clear()
        self.changed_cases.clear()
        self.late.clear()


def apply(ws: WorkingSet, event: Envelope[Payload], partition: int) -> None:
    """Fold one valid event into the working set, or raise RejectedMessage saying why not."""
    payload = event.data
    council = event.council
    assert council is not None or not payload.about_a_council
    # The casework events, by exact type: the same as the match below without its chain of
    # isinstance checks (slow on pydantic's ABC metaclass) for every event.
    kind = type(payload)
    if kind is DecisionRecorded or kind is DecisionCorrected:
        _decide(ws, event, payload, kind is DecisionRecorded)  # type: ignore[arg-type]
        return
    if kind is ComplianceOutcomeRecorded:
        _comply(ws, event, payload, council)  # type: ignore[arg-type]
        return
    match payload:
        case CouncilRegistered():
            _register(ws, council or "", payload, partition)
        case CouncilDetailsChanged():
            _change(ws, event, payload)
        case CouncilAbolished():
            current = _known_council(ws, event)
            ws.councils[current.code] = replace(current, existed_until=payload.last_day)
            ws.changed_councils.add(current.code)
        case DecisionRecorded() | DecisionCorrected():
            _decide(ws, event, payload, isinstance(payload, DecisionRecorded))
        case DecisionWithdrawn():
            _withdraw(ws, event, payload)
        case ComplianceOutcomeRecorded():
            _comply(ws, event, payload, council)
        case _:
            raise RejectedMessage(
                Reason.WRONG_TOPIC,
                f"{payload.event_type} does not belong on the casework facts topic",
                **_hints(event),
            )


def _comply(
    ws: WorkingSet, event: Envelope[Payload], p: ComplianceOutcomeRecorded, council: str | None
) -> None:
    _known_council(ws, event)
    key = (council or "", _start_year(p.recorded_on))
    counts = ws.deltas[key]
    counts["compliance_outcomes"] += 1
    if p.implemented:
        counts["compliance_implemented"] += 1
    _note_late(ws, event, key)


def _start_year(day: date) -> int:
    """FinancialYear.of(day).start_year, without building the year for every event."""
    start = day.year if day.month >= 4 else day.year - 1
    if not 1900 <= start <= 2998:
        return FinancialYear(start).start_year  # raises, as FinancialYear.of would
    return start


def _register(ws: WorkingSet, code: str, p: CouncilRegistered, partition: int) -> None:
    # Registering again restates every detail: the registry is upserted, never refused.
    ws.councils[code] = CouncilState(
        code=code,
        name=p.name,
        comparison_group=p.comparison_group,
        existed_from=p.existed_from,
        existed_until=p.existed_until,
        population=p.population,
        population_year=p.population_year,
        chief_executive=p.chief_executive.model_dump() if p.chief_executive else None,
        partition=partition,
    )
    ws.changed_councils.add(code)


def _change(ws: WorkingSet, event: Envelope[Payload], p: CouncilDetailsChanged) -> None:
    current = _known_council(ws, event)
    changes: dict[str, Any] = {
        name: getattr(p, name) for name in p.model_fields_set if name != "chief_executive"
    }
    if "chief_executive" in p.model_fields_set:
        changes["chief_executive"] = p.chief_executive.model_dump() if p.chief_executive else None
    ws.councils[current.code] = replace(current, **changes)
    ws.changed_councils.add(current.code)


def _decide(
    ws: WorkingSet,
    event: Envelope[Payload],
    p: DecisionRecorded | DecisionCorrected,
    recorded: bool,
) -> None:
    council = _known_council(ws, event).code
    existing = ws.cases.get(p.case_reference)
    if existing is not None and existing.council != council:
        raise _conflict(
            event,
            f"case {p.case_reference} belongs to council {existing.council}, not {council}: "
            f"a correction cannot move a case to another council",
        )
    live = existing is not None and not existing.withdrawn
    if recorded and live:
        raise _conflict(
            event,
            f"case {p.case_reference} already has a decision; publish DecisionCorrected "
            f"to decide it again",
        )
    if not recorded and not live:
        raise _conflict(event, f"case {p.case_reference} has no standing decision to correct")
    if existing is not None and live:
        _count(ws, existing, -1, event)
    case = CaseState(
        case_reference=p.case_reference,
        council=council,
        financial_year=_start_year(p.decision_date),
        outcome=p.outcome,
        satisfactory_remedy=p.satisfactory_remedy,
    )
    ws.cases[p.case_reference] = case
    ws.changed_cases.add(p.case_reference)
    _count(ws, case, +1, event)


def _withdraw(ws: WorkingSet, event: Envelope[Payload], p: DecisionWithdrawn) -> None:
    council = _known_council(ws, event).code
    existing = ws.cases.get(p.case_reference)
    if existing is None or existing.withdrawn:
        raise _conflict(event, f"case {p.case_reference} has no standing decision to withdraw")
    if existing.council != council:
        raise _conflict(
            event, f"case {p.case_reference} belongs to council {existing.council}, not {council}"
        )
    _count(ws, existing, -1, event)
    ws.cases[p.case_reference] = replace(existing, withdrawn=True)
    ws.changed_cases.add(p.case_reference)


def _count(ws: WorkingSet, case: CaseState, sign: int, event: Envelope[Payload]) -> None:
    key = (case.council, case.financial_year)
    counts = ws.deltas[key]
    counts[case.outcome.value] += sign
    if case.satisfactory_remedy:
        counts["satisfactory_remedies"] += sign
    _note_late(ws, event, key)


def _note_late(ws: WorkingSet, event: Envelope[Payload], key: CouncilYearKey) -> None:
    if key in ws.snapshotted:
        ws.late.append((event, key))


def _known_council(ws: WorkingSet, event: Envelope[Payload]) -> CouncilState:
    state = ws.councils.get(event.council or "")
    if state is None:
        raise RejectedMessage(
            Reason.UNKNOWN_COUNCIL,
            f"council {event.council!r} is not registered: publish CouncilRegistered first, "
            f"then re-drive this message",
            **_hints(event),
        )
    return state


def _conflict(event: Envelope[Payload], detail: str) -> RejectedMessage:
    return RejectedMessage(Reason.CONFLICT, detail, **_hints(event))


def _hints(event: Envelope[Payload]) -> dict[str, Any]:
    year = getattr(event.data, "financial_year", None)
    return {
        "event_id": str(event.event_id),
        "event_type": event.type,
        "council": event.council,
        "financial_year": year if isinstance(year, FinancialYear) else None,
    }
