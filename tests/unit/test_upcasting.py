"""Old schema versions still decode, as the current version; broken chains fail at start-up."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from contracts import upcasting
from contracts.codec import Reason, RejectedMessage, decode, encode
from contracts.events import DecisionOutcome, DecisionRecorded
from contracts.examples import OLD_VERSION_EXAMPLES
from contracts.registry import CURRENT_VERSIONS
from contracts.upcasting import UPCASTERS, Data, check_chains, upcast, upcaster


def v1_decision(**data: Any) -> dict[str, Any]:
    """A DecisionRecorded as version 1 producers sent it (the documented example)."""
    message = copy.deepcopy(OLD_VERSION_EXAMPLES[("DecisionRecorded", 1)])
    message["data"].update(data)
    return message


def test_current_decision_version_is_3() -> None:
    # If this changes, add an upcaster and an OLD_VERSION_EXAMPLES entry for version 3.
    assert CURRENT_VERSIONS["DecisionRecorded"] == 3


def test_v1_decision_decodes_to_the_current_version_without_a_satisfactory_remedy() -> None:
    message = v1_decision()
    assert "satisfactory_remedy" not in message["data"]

    event = decode(json.dumps(message).encode())

    assert event.schema_version == CURRENT_VERSIONS["DecisionRecorded"]
    assert isinstance(event.data, DecisionRecorded)
    assert event.data.satisfactory_remedy is False
    assert event.data.outcome is DecisionOutcome.UPHELD
    assert str(event.event_id) == message["event_id"]


def test_v1_date_field_becomes_decision_date() -> None:
    event = decode(json.dumps(v1_decision()).encode())

    assert isinstance(event.data, DecisionRecorded)
    assert event.data.decision_date == date(2016, 9, 12)
    assert event.data.financial_year.label == "2016-17"


@pytest.mark.parametrize("outcome", [o.value for o in DecisionOutcome])
def test_v1_decision_of_any_outcome_decodes(outcome: str) -> None:
    event = decode(json.dumps(v1_decision(outcome=outcome)).encode())
    assert isinstance(event.data, DecisionRecorded)
    assert event.data.outcome.value == outcome
    assert event.data.satisfactory_remedy is False


def test_upcast_v1_decision_is_re_encoded_as_the_current_version() -> None:
    wire = json.loads(encode(decode(json.dumps(v1_decision()).encode())))

    assert wire["schema_version"] == 3
    assert wire["data"] == {
        "case_reference": "16 004 321",
        "decision_date": "2016-09-12",
        "outcome": "upheld",
        "satisfactory_remedy": False,
        "service_area": None,
        "published_url": None,
    }


def test_v1_decision_that_already_names_decision_date_keeps_it() -> None:
    lifted = upcast(
        "DecisionRecorded",
        1,
        2,
        {"case_reference": "1", "date": "2016-01-01", "decision_date": "2016-02-02"},
    )
    assert lifted == {
        "case_reference": "1",
        "decision_date": "2016-02-02",
        "satisfactory_remedy": False,
    }


def test_upcaster_does_not_change_the_data_it_is_given() -> None:
    data: Data = {"case_reference": "16 004 321", "date": "2016-09-12", "outcome": "upheld"}
    before = copy.deepcopy(data)

    upcast("DecisionRecorded", 1, 2, data)

    assert data == before


def test_invalid_v1_decision_is_refused_after_upcasting_with_the_field_named() -> None:
    with pytest.raises(RejectedMessage) as caught:
        decode(json.dumps(v1_decision(outcome="partly_upheld")).encode())
    assert caught.value.reason is Reason.INVALID_DATA
    assert "data.outcome" in caught.value.detail
    assert "partly_upheld" in caught.value.detail


def test_v1_decision_in_the_future_is_refused_like_a_current_one() -> None:
    with pytest.raises(RejectedMessage) as caught:
        decode(json.dumps(v1_decision(date="2016-10-01")).encode())
    assert caught.value.reason is Reason.INVALID_DATA
    assert "future" in caught.value.detail


def test_rejected_v1_decision_still_tells_the_dead_letter_its_year() -> None:
    with pytest.raises(RejectedMessage) as caught:
        decode(json.dumps(v1_decision(outcome="maybe")).encode())
    assert caught.value.financial_year is not None
    assert caught.value.financial_year.label == "2016-17"


def test_current_version_is_not_upcast() -> None:
    data: Data = {"anything": 1}
    assert upcast("DecisionRecorded", 2, 2, data) is data


# --- chains ---------------------------------------------------------------------------------


def test_registered_upcasters_complete_every_chain() -> None:
    check_chains(CURRENT_VERSIONS)  # the registry runs this at import too


def test_check_chains_raises_when_a_step_is_missing() -> None:
    versions = {**CURRENT_VERSIONS, "DecisionRecorded": 4}

    with pytest.raises(RuntimeError, match=r"missing DecisionRecorded v3->v4"):
        check_chains(versions)


def test_check_chains_raises_when_a_new_type_starts_above_version_1_without_upcasters() -> None:
    versions = {**CURRENT_VERSIONS, "CouncilAbolished": 3}

    with pytest.raises(RuntimeError) as caught:
        check_chains(versions)
    assert "missing CouncilAbolished v1->v2" in str(caught.value)
    assert "missing CouncilAbolished v2->v3" in str(caught.value)


def test_check_chains_raises_when_an_upcaster_lifts_past_the_current_version() -> None:
    versions = {**CURRENT_VERSIONS, "DecisionRecorded": 1}

    with pytest.raises(RuntimeError, match=r"orphan DecisionRecorded v1"):
        check_chains(versions)


def test_check_chains_raises_when_an_upcaster_belongs_to_no_event_type() -> None:
    versions = {t: v for t, v in CURRENT_VERSIONS.items() if t != "DecisionRecorded"}

    with pytest.raises(RuntimeError, match=r"orphan DecisionRecorded v1"):
        check_chains(versions)


def test_check_chains_raises_for_an_orphan_upcaster_registered_by_mistake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(UPCASTERS, ("LetterIssued", 1), lambda data: data)

    with pytest.raises(RuntimeError, match=r"orphan LetterIssued v1"):
        check_chains(CURRENT_VERSIONS)


def test_check_chains_names_every_problem_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(UPCASTERS, ("LetterIssued", 1), lambda data: data)

    with pytest.raises(RuntimeError) as caught:
        check_chains({**CURRENT_VERSIONS, "DecisionRecorded": 4})
    message = str(caught.value)
    assert message.startswith("incomplete upcaster chains: ")
    assert "missing DecisionRecorded v3->v4" in message
    assert "orphan LetterIssued v1" in message


def test_a_second_upcaster_for_the_same_step_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upcasting, "UPCASTERS", {})
    upcaster("Example", 1)(lambda data: data)

    with pytest.raises(RuntimeError, match="two upcasters for Example v1"):
        upcaster("Example", 1)(lambda data: data)


def test_upcast_applies_each_step_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upcasting, "UPCASTERS", {})

    @upcaster("Example", 1)
    def _add(data: Data) -> Data:
        return {**data, "b": data["a"] + 1}

    @upcaster("Example", 2)
    def _rename(data: Data) -> Data:
        return {"c": data["b"] * 10}

    assert upcast("Example", 1, 3, {"a": 1}) == {"c": 20}
    assert upcast("Example", 2, 3, {"b": 5}) == {"c": 50}
    check_chains({"Example": 3})
