"""How facts change the figures: a pure fold of one partition's events.

Nothing the fold reads or writes belongs to another partition, so the figures do not depend
on the order in which partitions are read (docs/design-partitions.md):

- each event adds to its own partition's **contribution** to a council-year; the live figures
  are the sum of the contributions;
- a case belongs to the partition its events are on (its decision, corrections and
  withdrawal come from one producer, so they share a partition): a correction or withdrawal
  is looked up there only, and refused when the case has no standing decision there;
- the fold never asks whether a council is registered: registry events are facts merged
  later (``register.merge``), and casework for a council not registered yet is folded like
  any other and *parked* by the projector until its council is registered;
- an event is late when its partition's cut of the year (its close marker) has been read.

The projector loads the working set a batch needs, folds the batch here in log order, and
writes back what changed. Nothing here touches a database, so every rule of docs/domain.md
§3 and §4 is tested without servers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
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
    ServiceArea,
)
from contracts.financial_year import FinancialYear
from services.domain.register import RegistryFact, fact_of

CouncilYearKey = tuple[str, int]  # (council code, start year of the financial year)
CaseKey = tuple[str, int]  # (case reference, partition)
ContributionKey = tuple[str, int, int]  # (council, start year, partition)

# What a refused correction or withdrawal says to fix, whatever the read order.
ONE_PARTITION = (
    "a case's decision, corrections and withdrawal must be published by one producer with "
    "one key and partitioner, so that they share a partition (docs/integrating.md)"
)


@dataclass(frozen=True, slots=True)
class CaseState:
    case_reference: str
    partition: int
    council: str
    financial_year: int
    outcome: DecisionOutcome
    satisfactory_remedy: bool
    withdrawn: bool = False
    # None only for a case stored by a read model of format 2 (before the date was kept).
    decision_date: date | None = None
    # Stored with the case for the public page's service-area table and its links to the
    # published decisions (docs/domain.md §16); neither counts in the statistics.
    service_area: ServiceArea | None = None
    published_url: str | None = None

    @property
    def key(self) -> CaseKey:
        return (self.case_reference, self.partition)


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One accepted casework event and the state of its case after it: a line of the case's
    history (the ``case_events`` table). The state *after* each event, not a diff, so that
    the state at any position (a year's cut, a moment) is the last line before it and what
    an event changed is read against the line before (services/domain/explanation.py).

    A compliance outcome has no state to change: its line says what it recorded
    (``implemented``), in the year of ``recorded_on``.
    """

    case_reference: str
    partition: int
    offset: int
    event_id: str
    event_type: str
    council: str
    occurred_at: datetime
    financial_year: int  # start year the case (or compliance outcome) counts in after it
    decision_date: date | None = None
    outcome: str | None = None
    satisfactory_remedy: bool = False
    withdrawn: bool = False
    implemented: bool | None = None

    @property
    def is_compliance(self) -> bool:
        return self.implemented is not None


@dataclass(frozen=True, slots=True)
class Folded:
    """An event about a council that the fold accepted: the projector parks it while its
    council is not registered."""

    event: Envelope[Payload]
    partition: int
    offset: int
    financial_year: int | None


@dataclass(slots=True)
class WorkingSet:
    """What a batch may read and change; the projector loads it and writes it back."""

    # The cases the batch mentions, on every partition they are known on.
    cases: dict[CaseKey, CaseState] = field(default_factory=dict)
    # Partition -> start years whose cut (close marker) on that partition has been read.
    cut_years: dict[int, set[int]] = field(default_factory=dict)
    deltas: defaultdict[ContributionKey, defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    changed_cases: set[CaseKey] = field(default_factory=set)
    late: list[tuple[Envelope[Payload], ContributionKey]] = field(default_factory=list)
    facts: list[RegistryFact] = field(default_factory=list)
    folded: list[Folded] = field(default_factory=list)
    # Each accepted casework event with its case's state after it, in fold order.
    history: list[CaseEvent] = field(default_factory=list)

    def take_changes(self) -> None:
        """Forget what was written; keep the state for the rest of the batch."""
        self.deltas.clear()
        self.changed_cases.clear()
        self.late.clear()
        self.facts.clear()
        self.folded.clear()
        self.history.clear()

    def partitions_of(self, case_reference: str) -> list[int]:
        return sorted(p for ref, p in self.cases if ref == case_reference)


def apply(ws: WorkingSet, event: Envelope[Payload], partition: int, offset: int = 0) -> None:
    """Fold one valid event of ``partition`` into the working set, or raise RejectedMessage
    saying why not."""
    payload = event.data
    assert event.council is not None or not payload.about_a_council
    # The casework events, by exact type: the same as the match below without its chain of
    # isinstance checks (slow on pydantic's ABC metaclass) for every event.
    kind = type(payload)
    if kind is DecisionRecorded or kind is DecisionCorrected:
        year = _decide(ws, event, payload, kind is DecisionRecorded, partition)  # type: ignore[arg-type]
        _remember(ws, event, ws.cases[(payload.case_reference, partition)], offset)  # type: ignore[attr-defined]
    elif kind is ComplianceOutcomeRecorded:
        year = _comply(ws, event, payload, partition)  # type: ignore[arg-type]
        _remember_compliance(ws, event, payload, partition, offset, year)  # type: ignore[arg-type]
    else:
        match payload:
            case CouncilRegistered() | CouncilDetailsChanged() | CouncilAbolished():
                ws.facts.append(fact_of(event, partition, offset))
                year = None
            case DecisionRecorded() | DecisionCorrected():
                year = _decide(ws, event, payload, isinstance(payload, DecisionRecorded), partition)
                _remember(ws, event, ws.cases[(payload.case_reference, partition)], offset)
            case DecisionWithdrawn():
                year = _withdraw(ws, event, payload, partition)
                _remember(ws, event, ws.cases[(payload.case_reference, partition)], offset)
            case ComplianceOutcomeRecorded():
                year = _comply(ws, event, payload, partition)
                _remember_compliance(ws, event, payload, partition, offset, year)
            case _:
                raise RejectedMessage(
                    Reason.WRONG_TOPIC,
                    f"{payload.event_type} does not belong on the casework facts topic",
                    **_hints(event),
                )
    ws.folded.append(Folded(event, partition, offset, year))


def _remember(ws: WorkingSet, event: Envelope[Payload], case: CaseState, offset: int) -> None:
    ws.history.append(
        CaseEvent(
            case_reference=case.case_reference,
            partition=case.partition,
            offset=offset,
            event_id=str(event.event_id),
            event_type=event.type,
            council=case.council,
            occurred_at=event.occurred_at,
            financial_year=case.financial_year,
            decision_date=case.decision_date,
            outcome=case.outcome.value,
            satisfactory_remedy=case.satisfactory_remedy,
            withdrawn=case.withdrawn,
        )
    )


def _remember_compliance(
    ws: WorkingSet,
    event: Envelope[Payload],
    p: ComplianceOutcomeRecorded,
    partition: int,
    offset: int,
    year: int,
) -> None:
    ws.history.append(
        CaseEvent(
            case_reference=p.case_reference,
            partition=partition,
            offset=offset,
            event_id=str(event.event_id),
            event_type=event.type,
            council=event.council or "",
            occurred_at=event.occurred_at,
            financial_year=year,
            decision_date=p.recorded_on,
            implemented=p.implemented,
        )
    )


def _comply(
    ws: WorkingSet, event: Envelope[Payload], p: ComplianceOutcomeRecorded, partition: int
) -> int:
    year = start_year_of(p.recorded_on)
    key = (event.council or "", year, partition)
    counts = ws.deltas[key]
    counts["compliance_outcomes"] += 1
    if p.implemented:
        counts["compliance_implemented"] += 1
    _note_late(ws, event, key)
    return year


def start_year_of(day: date) -> int:
    """FinancialYear.of(day).start_year, without building the year for every event."""
    start = day.year if day.month >= 4 else day.year - 1
    if not 1900 <= start <= 2998:
        return FinancialYear(start).start_year  # raises, as FinancialYear.of would
    return start


def _decide(
    ws: WorkingSet,
    event: Envelope[Payload],
    p: DecisionRecorded | DecisionCorrected,
    recorded: bool,
    partition: int,
) -> int:
    council = event.council or ""
    existing = ws.cases.get((p.case_reference, partition))
    if existing is not None and existing.council != council:
        raise _conflict(
            event,
            f"case {p.case_reference} belongs to council {existing.council}, not {council}: "
            + (
                "a case reference is unique across councils"
                if recorded
                else "a correction cannot move a case to another council"
            ),
        )
    live = existing is not None and not existing.withdrawn
    if recorded and live:
        raise _conflict(
            event,
            f"case {p.case_reference} already has a decision; publish DecisionCorrected "
            f"to decide it again",
        )
    if not recorded and not live:
        raise _not_here(ws, event, p.case_reference, partition, "correct")
    if existing is not None and live:
        _count(ws, existing, -1, event)
    case = CaseState(
        case_reference=p.case_reference,
        partition=partition,
        council=council,
        financial_year=start_year_of(p.decision_date),
        outcome=p.outcome,
        satisfactory_remedy=p.satisfactory_remedy,
        decision_date=p.decision_date,
        service_area=p.service_area,
        published_url=p.published_url,
    )
    ws.cases[case.key] = case
    ws.changed_cases.add(case.key)
    _count(ws, case, +1, event)
    return case.financial_year


def _withdraw(
    ws: WorkingSet, event: Envelope[Payload], p: DecisionWithdrawn, partition: int
) -> int:
    council = event.council or ""
    existing = ws.cases.get((p.case_reference, partition))
    if existing is None or existing.withdrawn:
        raise _not_here(ws, event, p.case_reference, partition, "withdraw")
    if existing.council != council:
        raise _conflict(
            event, f"case {p.case_reference} belongs to council {existing.council}, not {council}"
        )
    _count(ws, existing, -1, event)
    ws.cases[existing.key] = replace(existing, withdrawn=True)
    ws.changed_cases.add(existing.key)
    return existing.financial_year


def _not_here(
    ws: WorkingSet, event: Envelope[Payload], case_reference: str, partition: int, verb: str
) -> RejectedMessage:
    """A correction or withdrawal of a case with no standing decision on its partition. The
    reason and what to fix are the same in any read order; where the case is known on
    another partition (read so far), the detail says so."""
    elsewhere = [q for q in ws.partitions_of(case_reference) if q != partition]
    councils = sorted({ws.cases[(case_reference, q)].council for q in elsewhere})
    if councils and event.council not in councils:
        # Keyed by another council, so on another partition: the move is what to fix.
        return _conflict(
            event,
            f"case {case_reference} belongs to council {', '.join(councils)}, not "
            f"{event.council}: a correction cannot move a case to another council",
        )
    known = (
        f"; it is known on partition {', '.join(map(str, elsewhere))}, so its events were "
        f"published with another key or partitioner"
        if elsewhere
        else ""
    )
    return _conflict(
        event,
        f"case {case_reference} has no standing decision to {verb} on partition {partition}"
        f"{known}: publish its DecisionRecorded first; {ONE_PARTITION}",
    )


def _count(ws: WorkingSet, case: CaseState, sign: int, event: Envelope[Payload]) -> None:
    key = (case.council, case.financial_year, case.partition)
    counts = ws.deltas[key]
    counts[case.outcome.value] += sign
    if case.satisfactory_remedy:
        counts["satisfactory_remedies"] += sign
    _note_late(ws, event, key)


def _note_late(ws: WorkingSet, event: Envelope[Payload], key: ContributionKey) -> None:
    cut = ws.cut_years.get(key[2])
    if cut and key[1] in cut:
        ws.late.append((event, key))


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
