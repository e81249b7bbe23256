"""Why a figure is what it is: the cases that count in each statistic of a council-year,
the ones that do not and why, and the events after the cut that changed the live figure.

Pure: the input is the cases' histories (``CaseEvent`` lines, the state of the case after
each event, with its partition and offset), each partition's cut of the year, the refused
and parked events, and the snapshot's counts. The lines may come from the read model
(``case_events``, services/readmodel/explain_reads.py) or from folding the log up to a
moment (``fold.apply`` fills ``WorkingSet.history`` the same way): the explanation is the
same function of them. The rules are docs/domain.md §3 ("counts / does not count").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.financial_year import FinancialYear
from services.domain.fold import CaseEvent

# A decision's state -> whether it counts in the statistic (standing, in the year: checked
# before). The overview's categories are the outcomes that are not investigations.
_DECISION_RULES: dict[str, Callable[[CaseEvent], bool]] = {
    "investigations": lambda e: e.outcome in ("upheld", "not_upheld"),
    "upheld": lambda e: e.outcome == "upheld",
    "not_upheld": lambda e: e.outcome == "not_upheld",
    "satisfactory_remedies": lambda e: e.outcome == "upheld" and e.satisfactory_remedy,
    "advice_given": lambda e: e.outcome == "advice_given",
    "closed_after_initial_enquiries": lambda e: e.outcome == "closed_after_initial_enquiries",
    "incomplete_or_invalid": lambda e: e.outcome == "incomplete_or_invalid",
    "referred_back_for_local_resolution": lambda e: (
        e.outcome == "referred_back_for_local_resolution"
    ),
}
_COMPLIANCE_RULES: dict[str, Callable[[CaseEvent], bool]] = {
    "compliance_outcomes": lambda e: True,
    "compliance_implemented": lambda e: bool(e.implemented),
}
STATISTICS: tuple[str, ...] = (*_DECISION_RULES, *_COMPLIANCE_RULES)

LABELS: dict[str, str] = {
    "investigations": "detailed investigations (upheld + not upheld)",
    "upheld": "upheld",
    "not_upheld": "not upheld",
    "satisfactory_remedies": "upheld with a satisfactory remedy by the council",
    "advice_given": "advice given",
    "closed_after_initial_enquiries": "closed after initial enquiries",
    "incomplete_or_invalid": "incomplete or invalid",
    "referred_back_for_local_resolution": "referred back for local resolution",
    "compliance_outcomes": "compliance outcomes",
    "compliance_implemented": "compliance outcomes: recommendations implemented",
}

# Why a case or event does not count (the ``reason`` of a LeftOut).
WITHDRAWN = "withdrawn"
OUTSIDE_YEAR = "outside the year"
NOT_AN_INVESTIGATION = "not an investigation"
OTHER_OUTCOME = "another outcome"
AFTER_THE_CUT = "decided after the cut"
PARKED = "parked"
CONFLICT = "refused as a conflict"
DEAD_LETTERED = "dead-lettered"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A casework event the projector refused (a dead letter), as the explanation needs it."""

    partition: int
    offset: int
    event_id: str | None
    event_type: str | None
    case_reference: str | None
    reason: str  # contracts.codec.Reason's value
    detail: str
    status: str  # open, redriven, resolved

    @property
    def is_compliance(self) -> bool:
        return self.event_type == "ComplianceOutcomeRecorded"


@dataclass(frozen=True, slots=True)
class Member:
    """A case (or a compliance outcome) that counts: its state and its whole history."""

    state: CaseEvent
    history: tuple[CaseEvent, ...]


@dataclass(frozen=True, slots=True)
class LeftOut:
    reason: str
    why: str
    case_reference: str | None
    history: tuple[CaseEvent, ...] = ()
    refusal: Refusal | None = None


@dataclass(frozen=True, slots=True)
class Figure:
    statistic: str
    letter: int | None  # the snapshot's count (None: the year has no snapshot yet)
    letter_from_cases: int | None  # the cases counted at the cuts: equal to ``letter``
    live: int
    members: tuple[Member, ...]  # at the cuts when the year is cut, else live
    left_out: tuple[LeftOut, ...]

    @property
    def consistent(self) -> bool:
        return self.letter is None or self.letter == self.letter_from_cases


@dataclass(frozen=True, slots=True)
class LateChange:
    """An event read after its partition's cut of the year: the snapshot does not have it."""

    event: CaseEvent
    before: CaseEvent | None
    changes: tuple[str, ...]
    # statistic -> what the event added to (or took from) the live figure
    effect: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Explanation:
    council: str
    year: FinancialYear
    cut: bool
    figures: tuple[Figure, ...]
    late: tuple[LateChange, ...]

    def figure(self, statistic: str) -> Figure:
        return next(f for f in self.figures if f.statistic == statistic)


def explain(
    council: str,
    year: FinancialYear,
    history: Iterable[CaseEvent],
    *,
    cuts: Mapping[int, int] | None = None,
    letter_counts: Mapping[str, int] | None = None,
    refusals: Sequence[Refusal] = (),
    parked: Iterable[str] = (),
    statistics: Sequence[str] = STATISTICS,
) -> Explanation:
    """Explain every statistic of ``council``'s ``year``.

    ``history``: every line of every case of the council that was ever in the year (other
    lines are ignored); ``cuts``: partition -> the offset of the year's close marker on it
    (None: not cut, the figures are the live ones); ``letter_counts``: the snapshot's counts
    by counter name (``investigations`` is upheld + not upheld); ``parked``: the event ids
    parked because the council is not registered."""
    y = year.start_year
    parked_ids = set(parked)
    decisions: dict[tuple[str, int], list[CaseEvent]] = defaultdict(list)
    compliance: list[CaseEvent] = []
    for line in history:
        if line.council != council:
            continue
        if line.is_compliance:
            if line.financial_year == y:
                compliance.append(line)
        else:
            decisions[(line.case_reference, line.partition)].append(line)
    for unsorted in decisions.values():
        unsorted.sort(key=lambda e: e.offset)
    cases = {k: tuple(v) for k, v in decisions.items() if any(e.financial_year == y for e in v)}
    compliance.sort(key=lambda e: (e.partition, e.offset))

    def at_cut(lines: Sequence[CaseEvent]) -> CaseEvent | None:
        if cuts is None:
            return lines[-1]
        cut = cuts.get(lines[0].partition)
        before = [e for e in lines if cut is None or e.offset < cut]
        return before[-1] if before else None

    def is_parked(lines: Sequence[CaseEvent]) -> bool:
        return any(e.event_id in parked_ids for e in lines)

    figures = []
    for stat in statistics:
        letter = None if letter_counts is None else _letter_count(letter_counts, stat)
        members: list[Member] = []
        left: list[LeftOut] = []
        live = 0
        if stat in _COMPLIANCE_RULES:
            rule = _COMPLIANCE_RULES[stat]
            for e in compliance:
                counts_live = rule(e) and e.event_id not in parked_ids
                live += counts_live
                if e.event_id in parked_ids:
                    left.append(LeftOut(PARKED, _PARKED_WHY, e.case_reference, (e,)))
                elif cuts is not None and e.offset >= cuts.get(e.partition, e.offset + 1):
                    left.append(LeftOut(AFTER_THE_CUT, "recorded after the year's cut (late)",
                                        e.case_reference, (e,)))  # fmt: skip
                elif rule(e):
                    members.append(Member(e, (e,)))
                else:
                    left.append(LeftOut(OTHER_OUTCOME, "recommendations not implemented",
                                        e.case_reference, (e,)))  # fmt: skip
        else:
            rule = _DECISION_RULES[stat]
            for (ref, _), case_lines in sorted(cases.items()):
                parked_case = is_parked(case_lines)
                if not parked_case and _counts(case_lines[-1], y, rule):
                    live += 1
                state = at_cut(case_lines)
                reason = _why_not(state, y, rule, stat, parked_case)
                if reason is None:
                    assert state is not None
                    members.append(Member(state, case_lines))
                else:
                    left.append(LeftOut(reason[0], reason[1], ref, case_lines))
        for r in refusals:
            if r.is_compliance == (stat in _COMPLIANCE_RULES):
                left.append(_refused(r))
        figures.append(
            Figure(
                statistic=stat,
                letter=letter,
                letter_from_cases=None if cuts is None else len(members),
                live=live,
                members=tuple(members),
                left_out=tuple(left),
            )
        )
    late = _late_changes(cases, compliance, cuts, y) if cuts is not None else []
    return Explanation(council, year, cuts is not None, tuple(figures), tuple(late))


_PARKED_WHY = "parked: its council is not registered, so its casework is not in the figures"


def _letter_count(counts: Mapping[str, int], stat: str) -> int:
    if stat == "investigations":
        return counts["upheld"] + counts["not_upheld"]
    return counts[stat]


def _counts(e: CaseEvent | None, y: int, rule: Callable[[CaseEvent], bool]) -> bool:
    return e is not None and not e.withdrawn and e.financial_year == y and rule(e)


def _why_not(
    state: CaseEvent | None,
    y: int,
    rule: Callable[[CaseEvent], bool],
    stat: str,
    parked: bool,
) -> tuple[str, str] | None:
    """Why a case does not count in ``stat`` (None: it counts), first reason first."""
    if parked:
        return PARKED, _PARKED_WHY
    if state is None:
        return AFTER_THE_CUT, "first decided after the year's cut (a late event)"
    if state.withdrawn:
        return WITHDRAWN, f"its decision was withdrawn ({state.event_id})"
    if state.financial_year != y:
        return OUTSIDE_YEAR, (
            f"decided on {state.decision_date}, in {FinancialYear(state.financial_year)}"
        )
    if not rule(state):
        if stat == "investigations":
            return NOT_AN_INVESTIGATION, f"its outcome is {state.outcome}"
        if stat == "satisfactory_remedies" and state.outcome == "upheld":
            return OTHER_OUTCOME, "upheld without a satisfactory remedy by the council"
        return OTHER_OUTCOME, f"its outcome is {state.outcome}"
    return None


def _refused(r: Refusal) -> LeftOut:
    reason = CONFLICT if r.reason == "conflict" else DEAD_LETTERED
    why = f"{r.event_type or 'a message'} refused ({r.reason}, {r.status}): {r.detail}"
    return LeftOut(reason, why, r.case_reference, (), r)


def _late_changes(
    cases: Mapping[tuple[str, int], Sequence[CaseEvent]],
    compliance: Sequence[CaseEvent],
    cuts: Mapping[int, int],
    y: int,
) -> list[LateChange]:
    out: list[LateChange] = []
    for lines in cases.values():
        for i, e in enumerate(lines):
            cut = cuts.get(e.partition)
            if cut is None or e.offset < cut:
                continue
            before = lines[i - 1] if i else None
            effect = {
                s: _counts(e, y, rule) - _counts(before, y, rule)
                for s, rule in _DECISION_RULES.items()
            }
            out.append(LateChange(e, before, describe_change(before, e),
                                  {s: d for s, d in effect.items() if d}))  # fmt: skip
    for e in compliance:
        cut = cuts.get(e.partition)
        if cut is not None and e.offset >= cut:
            effect = {s: int(rule(e)) for s, rule in _COMPLIANCE_RULES.items()}
            out.append(LateChange(e, None, describe_change(None, e),
                                  {s: d for s, d in effect.items() if d}))  # fmt: skip
    out.sort(key=lambda c: (c.event.occurred_at, c.event.partition, c.event.offset))
    return out


def describe_change(before: CaseEvent | None, after: CaseEvent) -> tuple[str, ...]:
    """What an event changed in its case, in words."""
    if after.is_compliance:
        return (
            f"compliance outcome recorded on {after.decision_date}: "
            + ("implemented" if after.implemented else "not implemented"),
        )
    if before is None or (before.withdrawn and not after.withdrawn):
        return (
            f"decision recorded: {after.outcome}"
            + (" with a satisfactory remedy" if after.satisfactory_remedy else "")
            + f", decided on {after.decision_date} ({FinancialYear(after.financial_year)})",
        )
    if after.withdrawn:
        return ("decision withdrawn",)
    changes = []
    if before.outcome != after.outcome:
        changes.append(f"outcome {before.outcome} -> {after.outcome}")
    if before.satisfactory_remedy != after.satisfactory_remedy:
        changes.append(
            "satisfactory remedy " + ("added" if after.satisfactory_remedy else "removed")
        )
    if before.decision_date != after.decision_date:
        changes.append(f"decision date {before.decision_date} -> {after.decision_date}")
    if before.financial_year != after.financial_year:
        changes.append(
            f"year {FinancialYear(before.financial_year)} -> {FinancialYear(after.financial_year)}"
        )
    return tuple(changes) or ("corrected, nothing counted changed",)


def line_dict(e: CaseEvent) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "event_type": e.event_type,
        "partition": e.partition,
        "offset": e.offset,
        "occurred_at": e.occurred_at.isoformat(),
        "financial_year": str(FinancialYear(e.financial_year)),
        "decision_date": e.decision_date.isoformat() if e.decision_date else None,
        "outcome": e.outcome,
        "satisfactory_remedy": e.satisfactory_remedy,
        "withdrawn": e.withdrawn,
        **({"implemented": e.implemented} if e.is_compliance else {}),
    }


def as_dict(x: Explanation) -> dict[str, Any]:
    """The explanation as JSON (``explain --json``). Each case's history is given once, in
    ``cases`` (reference -> its lines, with what each changed); the statistics name the
    cases that count and those left out."""
    histories: dict[str, list[dict[str, Any]]] = {}

    def note(lines: Sequence[CaseEvent]) -> None:
        if lines and lines[0].case_reference not in histories:
            histories[lines[0].case_reference] = history_dicts(lines)

    statistics = []
    for f in x.figures:
        for m in f.members:
            note(m.history)
        for o in f.left_out:
            note(o.history)
        statistics.append(
            {
                "statistic": f.statistic,
                "label": LABELS[f.statistic],
                "letter": f.letter,
                "letter_from_cases": f.letter_from_cases,
                "live": f.live,
                "consistent": f.consistent,
                "cases": [
                    {
                        "case_reference": m.state.case_reference,
                        "decision_date": (
                            m.state.decision_date.isoformat() if m.state.decision_date else None
                        ),
                        "outcome": m.state.outcome,
                        "satisfactory_remedy": m.state.satisfactory_remedy,
                        **({"implemented": m.state.implemented} if m.state.is_compliance else {}),
                    }
                    for m in f.members
                ],
                "left_out": [_left_out_dict(o) for o in f.left_out],
            }
        )
    return {
        "council": x.council,
        "financial_year": str(x.year),
        "cut": x.cut,
        "statistics": statistics,
        "late_events": [
            {
                "case_reference": c.event.case_reference,
                **line_dict(c.event),
                "changes": list(c.changes),
                "effect": c.effect,
            }
            for c in x.late
        ],
        "cases": histories,
    }


def history_dicts(lines: Sequence[CaseEvent]) -> list[dict[str, Any]]:
    """A case's lines as JSON, each with what it changed (against the line before it on
    its partition; a compliance outcome stands alone)."""
    out = []
    last: dict[int, CaseEvent] = {}
    for e in lines:
        before = None if e.is_compliance else last.get(e.partition)
        if not e.is_compliance:
            last[e.partition] = e
        out.append({**line_dict(e), "changes": list(describe_change(before, e))})
    return out


def _left_out_dict(o: LeftOut) -> dict[str, Any]:
    d: dict[str, Any] = {"case_reference": o.case_reference, "reason": o.reason, "why": o.why}
    if o.refusal is not None:
        r = o.refusal
        d["refused"] = {
            "partition": r.partition,
            "offset": r.offset,
            "event_id": r.event_id,
            "event_type": r.event_type,
            "status": r.status,
        }
    return d
