"""The simulator: deterministic, plausible, flat in memory, and honest about invalid events;
and the oracle that tests compare the projector with."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from contracts.codec import RejectedMessage, decode, decode_object
from contracts.envelope import Envelope, new_event
from contracts.events import (
    ComplianceOutcomeRecorded,
    CouncilRegistered,
    DecisionCorrected,
    DecisionOutcome,
    DecisionRecorded,
    DecisionWithdrawn,
)
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from services.cli.simulate import to_line
from services.simulator import OracleCounts, SimulationError, oracle, simulate_year
from services.simulator.invalid import KINDS
from services.simulator.roster import synthetic_councils

Y2019 = FinancialYear(2019)


def as_bytes(**kwargs: Any) -> bytes:
    return b"".join(to_line(item) for item in simulate_year(**kwargs))


def valid(items: list[Envelope[Any] | dict[str, Any]]) -> list[Envelope[Any]]:
    return [i for i in items if isinstance(i, Envelope)]


@pytest.fixture(scope="module")
def year_2019() -> list[Envelope[Any] | dict[str, Any]]:
    return list(simulate_year(Y2019, events=50_000, seed=11, councils=60))


@pytest.fixture(scope="module")
def year_2023() -> list[Envelope[Any] | dict[str, Any]]:
    return list(simulate_year("2023-24", events=50_000, seed=11, councils=60))


# --- determinism ---------------------------------------------------------------------------


def test_the_same_seed_gives_byte_identical_output() -> None:
    first = as_bytes(year="2019-20", events=3_000, seed=7)
    assert first == as_bytes(year="2019-20", events=3_000, seed=7)
    assert first.count(b"\n") == 3_000 + 12 + 3  # events, registrations, Mansfield's three


def test_a_different_seed_gives_different_output() -> None:
    assert as_bytes(year="2019-20", events=500, seed=1) != as_bytes(
        year="2019-20", events=500, seed=2
    )


def test_nothing_depends_on_the_clock() -> None:
    items = valid(list(simulate_year(Y2019, events=2_000, seed=3)))
    assert all(Y2019.first_day <= e.occurred_at.date() <= Y2019.last_day for e in items)


def test_event_ids_are_unique() -> None:
    items = list(simulate_year(Y2019, events=20_000, seed=5))
    ids = [i.event_id if isinstance(i, Envelope) else i["event_id"] for i in items]
    assert len(set(ids)) == len(ids)


# --- shape of the stream -------------------------------------------------------------------


def test_registrations_come_first_one_per_council_of_the_year() -> None:
    items = valid(list(simulate_year(Y2019, events=100, seed=1, councils=30)))
    registrations = [e for e in items if isinstance(e.data, CouncilRegistered)]
    assert items[: len(registrations)] == registrations
    assert len({e.council for e in registrations}) == 30
    assert {e.data.comparison_group for e in registrations} == set(ComparisonGroup)


def test_registrations_can_be_left_out() -> None:
    items = valid(list(simulate_year(Y2019, events=100, include_registrations=False)))
    assert not any(isinstance(e.data, CouncilRegistered) for e in items)


def test_councils_that_did_not_exist_in_the_year_take_no_part() -> None:
    items = valid(list(simulate_year("2023-24", events=3_000, seed=2)))
    assert "COR" not in {e.council for e in items}  # Corby: abolished 31 March 2021


def test_facts_are_dated_within_the_year_and_in_order() -> None:
    items = valid(list(simulate_year(Y2019, events=5_000, seed=4, invalid_share=0)))
    days = [_fact_date(e) for e in items if _fact_date(e) is not None]
    assert all(Y2019.contains(d) for d in days if d is not None)
    stamps = [e.occurred_at for e in items if not isinstance(e.data, CouncilRegistered)]
    assert stamps == sorted(stamps)


def test_the_generator_is_lazy() -> None:
    """A billion events: the first hundred arrive at once (the output is streamed)."""
    first = list(itertools.islice(simulate_year(Y2019, events=10**9, councils=400), 500))
    assert len(first) == 500


def test_arguments_are_checked_before_the_first_event() -> None:
    with pytest.raises(SimulationError, match="between 0 and 1"):
        simulate_year(Y2019, invalid_share=1.5)
    with pytest.raises(SimulationError, match="2019-20"):
        simulate_year("2021-22", mansfield_real=True)
    with pytest.raises(ValueError, match="financial year"):
        simulate_year("2019-2020")


# --- validity ------------------------------------------------------------------------------


def test_every_valid_event_passes_the_contract(year_2019: list[Any]) -> None:
    for event in valid(year_2019):
        assert decode_object(event.model_dump(mode="json")) == event
        assert decode(to_line(event).rstrip(b"\n")) == event


def test_invalid_share_is_respected_and_every_invalid_event_is_refused() -> None:
    items = list(simulate_year(Y2019, events=40_000, seed=9, invalid_share=0.05))
    invalid = [i for i in items if isinstance(i, dict)]
    assert 0.045 < len(invalid) / 40_000 < 0.055
    reasons: Counter[str] = Counter()
    for item in invalid:
        with pytest.raises(RejectedMessage) as refused:
            decode_object(item)
        reasons[refused.value.reason.value] += 1
        with pytest.raises(RejectedMessage):  # and as the line in the file
            decode(to_line(item).rstrip(b"\n"))
    assert {"invalid_data", "bad_envelope", "unsupported_version", "unknown_type"} <= set(reasons)


def test_every_kind_of_invalid_event_occurs() -> None:
    items = list(simulate_year(Y2019, events=20_000, seed=9, invalid_share=0.05))
    kinds: Counter[str] = Counter()
    for item in (i for i in items if isinstance(i, dict)):
        data = item["data"]
        if item["type"] == "DecisionAppealed":
            kinds["unknown_type"] += 1
        elif item["type"] == "ComplianceOutcomeRecorded":
            kinds["late_but_not_implemented"] += 1
        elif item["schema_version"] == 7:
            kinds["wrong_schema_version"] += 1
        elif item["council"] is None:
            kinds["missing_council"] += 1
        elif item["council"] == "no-such-council":
            kinds["bad_council_code"] += 1
        elif "case_reference" not in data:
            kinds["missing_case_reference"] += 1
        elif "complainant" in data:
            kinds["unknown_field"] += 1
        elif data["outcome"] == "partly_upheld":
            kinds["unknown_outcome"] += 1
        elif data["satisfactory_remedy"]:
            kinds["remedy_on_not_upheld"] += 1
        elif data["decision_date"].startswith("1970"):
            kinds["date_before_1974"] += 1
        elif data["decision_date"].endswith("-02-30"):
            kinds["impossible_date"] += 1
        else:
            kinds["future_date"] += 1
    assert set(kinds) == set(KINDS)


def test_invalid_events_on_every_day_of_a_leap_year() -> None:
    """29 February 2024 has no twin in 1970: every kind must still be made on it."""
    items = list(simulate_year("2023-24", events=30_000, seed=1, invalid_share=0.8))
    assert sum(isinstance(i, dict) for i in items) > 20_000


def test_no_invalid_events_when_the_share_is_zero() -> None:
    items = list(simulate_year(Y2019, events=5_000, invalid_share=0))
    assert all(isinstance(i, Envelope) for i in items)


# --- plausibility (docs/domain.md §13) ----------------------------------------------------


def _first_decisions(items: list[Any]) -> list[DecisionRecorded]:
    return [e.data for e in valid(items) if isinstance(e.data, DecisionRecorded)]


@pytest.mark.parametrize(("fixture", "uphold_rate"), [("year_2019", 0.61), ("year_2023", 0.80)])
def test_outcome_mix_follows_the_national_figures(
    fixture: str, uphold_rate: float, request: pytest.FixtureRequest
) -> None:
    items = request.getfixturevalue(fixture)
    decisions = _first_decisions(items)
    outcomes = Counter(d.outcome for d in decisions)
    upheld = outcomes[DecisionOutcome.UPHELD]
    detailed = upheld + outcomes[DecisionOutcome.NOT_UPHELD]
    assert abs(detailed / len(decisions) - 0.5) < 0.02
    assert abs(upheld / detailed - uphold_rate) < 0.03
    remedies = sum(d.satisfactory_remedy for d in decisions)
    assert abs(remedies / upheld - 0.13) < 0.025
    assert all(d.outcome is DecisionOutcome.UPHELD for d in decisions if d.satisfactory_remedy)
    assert set(outcomes) == set(DecisionOutcome)


def test_compliance_outcomes_follow_upheld_decisions(year_2019: list[Any]) -> None:
    decisions = _first_decisions(year_2019)
    upheld_with_recommendations = sum(
        d.outcome is DecisionOutcome.UPHELD and not d.satisfactory_remedy for d in decisions
    )
    outcomes = [e.data for e in valid(year_2019) if isinstance(e.data, ComplianceOutcomeRecorded)]
    assert 0.75 < len(outcomes) / upheld_with_recommendations < 1.05
    implemented = sum(o.implemented for o in outcomes) / len(outcomes)
    assert 0.985 < implemented <= 1.0
    assert any(o.late for o in outcomes)
    assert not any(o.late and not o.implemented for o in outcomes)


def test_district_councils_uphold_less_than_the_national_rate(year_2019: list[Any]) -> None:
    groups = {
        e.council: e.data.comparison_group
        for e in valid(year_2019)
        if isinstance(e.data, CouncilRegistered)
    }
    by_group: dict[ComparisonGroup, Counter[DecisionOutcome]] = {}
    for e in valid(year_2019):
        if isinstance(e.data, DecisionRecorded) and e.council != "MAN":
            by_group.setdefault(groups[e.council or ""], Counter())[e.data.outcome] += 1
    district = by_group[ComparisonGroup.DISTRICT]
    rate = district[DecisionOutcome.UPHELD] / (
        district[DecisionOutcome.UPHELD] + district[DecisionOutcome.NOT_UPHELD]
    )
    assert rate < 0.56


def test_corrections_and_withdrawals_concern_earlier_standing_cases_of_the_same_council() -> None:
    items = valid(
        list(
            simulate_year(
                Y2019, events=30_000, seed=8, corrections_share=0.05, withdrawals_share=0.02
            )
        )
    )
    standing: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    for e in items:
        data = e.data
        if isinstance(data, DecisionRecorded):
            assert data.case_reference not in standing
            standing[data.case_reference] = e.council or ""
        elif isinstance(data, DecisionCorrected):
            assert standing[data.case_reference] == e.council
            kinds["corrected"] += 1
        elif isinstance(data, DecisionWithdrawn):
            assert standing.pop(data.case_reference) == e.council
            kinds["withdrawn"] += 1
    assert 0.04 < kinds["corrected"] / 30_000 < 0.06
    assert 0.015 < kinds["withdrawn"] / 30_000 < 0.025


# --- Mansfield's real 2019-20 figures -------------------------------------------------------


def test_mansfield_has_exactly_its_real_figures(year_2019: list[Any]) -> None:
    counts = oracle(year_2019)
    assert counts[("MAN", Y2019)] == OracleCounts(
        upheld=1, not_upheld=1, compliance_outcomes=1, compliance_implemented=1
    )
    about_mansfield = [
        i for i in year_2019 if (i.council if isinstance(i, Envelope) else i["council"]) == "MAN"
    ]
    assert [e.type for e in about_mansfield] == [
        "CouncilRegistered",
        "DecisionRecorded",
        "ComplianceOutcomeRecorded",
        "DecisionRecorded",
    ]


def test_mansfield_takes_random_casework_when_asked_not_to_be_real() -> None:
    items = list(simulate_year(Y2019, events=5_000, seed=1, mansfield_real=False))
    assert oracle(items)[("MAN", Y2019)].detailed_investigations > 2


def test_mansfield_is_real_only_by_default_in_2019_20() -> None:
    items = list(simulate_year("2020-21", events=3_000, seed=1))
    assert oracle(items)[("MAN", FinancialYear(2020))].detailed_investigations > 2


def test_mansfield_real_without_mansfield_is_refused() -> None:
    with pytest.raises(SimulationError, match="Mansfield"):
        simulate_year(Y2019, councils=synthetic_councils(5), mansfield_real=True)


# --- the oracle ----------------------------------------------------------------------------

AT = datetime(2024, 6, 1, tzinfo=UTC)


def _event(payload: Any, council: str | None = "AAA") -> Envelope[Any]:
    return new_event(payload, council=council, producer="tests", occurred_at=AT)


def _registered(code: str = "AAA") -> Envelope[Any]:
    return _event(
        CouncilRegistered(name=f"{code} Council", comparison_group=ComparisonGroup.DISTRICT), code
    )


def _decided(case: str, day: date, outcome: str, remedy: bool = False, **kw: Any) -> Any:
    return _event(
        DecisionRecorded(
            case_reference=case,
            decision_date=day,
            outcome=DecisionOutcome(outcome),
            satisfactory_remedy=remedy,
        ),
        **kw,
    )


def _corrected(case: str, day: date, outcome: str, **kw: Any) -> Any:
    return _event(
        DecisionCorrected(case_reference=case, decision_date=day, outcome=DecisionOutcome(outcome)),
        **kw,
    )


def test_oracle_counts_the_latest_decision_in_its_own_year() -> None:
    counts = oracle(
        [
            _registered(),
            _decided("1", date(2020, 3, 30), "upheld", remedy=True),
            _corrected("1", date(2020, 4, 2), "not_upheld"),
            _decided("2", date(2019, 5, 1), "advice_given"),
        ]
    )
    assert counts[("AAA", Y2019)] == OracleCounts(advice_given=1)
    assert counts[("AAA", FinancialYear(2020))] == OracleCounts(not_upheld=1)


def test_oracle_removes_withdrawn_cases_and_counts_compliance_by_recorded_year() -> None:
    counts = oracle(
        [
            _registered(),
            _decided("1", date(2019, 5, 1), "upheld"),
            _event(DecisionWithdrawn(case_reference="1", withdrawn_on=date(2019, 6, 1))),
            _event(
                ComplianceOutcomeRecorded(
                    case_reference="1", recorded_on=date(2020, 4, 1), implemented=False
                )
            ),
            _event(
                ComplianceOutcomeRecorded(
                    case_reference="0", recorded_on=date(2019, 4, 1), implemented=True, late=True
                )
            ),
        ]
    )
    assert counts == {
        ("AAA", Y2019): OracleCounts(compliance_outcomes=1, compliance_implemented=1),
        ("AAA", FinancialYear(2020)): OracleCounts(compliance_outcomes=1),
    }


def test_oracle_ignores_what_the_projector_would_refuse() -> None:
    counts = oracle(
        [
            _registered(),
            _registered("BBB"),
            _decided("9", date(2019, 5, 1), "upheld", council="ZZZ"),  # never registered
            _decided("1", date(2019, 5, 1), "upheld"),
            _decided("1", date(2019, 5, 2), "not_upheld"),  # already decided
            _corrected("1", date(2019, 5, 3), "not_upheld", council="BBB"),  # another council's
            _corrected("2", date(2019, 5, 3), "not_upheld"),  # nothing to correct
            {"type": "DecisionRecorded", "data": {}},  # not a valid event
        ]
    )
    assert counts == {("AAA", Y2019): OracleCounts(upheld=1)}


def test_oracle_accepts_councils_registered_before_the_stream() -> None:
    decided = _decided("1", date(2019, 5, 1), "not_upheld")
    assert oracle([decided]) == {}
    assert oracle([decided], registered={"AAA"}) == {("AAA", Y2019): OracleCounts(not_upheld=1)}


def test_oracle_reads_events_as_parsed_json() -> None:
    items = list(simulate_year(Y2019, events=2_000, seed=6))
    as_json = [i.model_dump(mode="json") if isinstance(i, Envelope) else i for i in items]
    assert oracle(as_json) == oracle(items)


def _fact_date(event: Envelope[Any]) -> date | None:
    data = event.data
    if isinstance(data, DecisionRecorded | DecisionCorrected):
        return data.decision_date
    if isinstance(data, DecisionWithdrawn):
        return data.withdrawn_on
    if isinstance(data, ComplianceOutcomeRecorded):
        return data.recorded_on
    return None


def test_case_references_and_ids_look_like_the_real_ones() -> None:
    items = valid(list(simulate_year(Y2019, events=200, seed=1)))
    decision = next(e for e in items if isinstance(e.data, DecisionRecorded))
    assert decision.data.case_reference.startswith("19 ")
    assert isinstance(decision.event_id, UUID)
