"""Bad input is refused with a reason code and a detail a person can act on.

Each test starts from a documented example (contracts.examples), breaks one thing, and
checks the reason and the words of the detail: which field, what is wrong, what was given.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from contracts.codec import MAX_MESSAGE_BYTES, Reason, RejectedMessage, decode, decode_object
from contracts.envelope import new_event
from contracts.events import (
    CouncilDetailsChanged,
    CouncilRegistered,
    DecisionOutcome,
    DecisionRecorded,
)
from contracts.examples import MANSFIELD, example_json
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup

NOT_UPHELD_OUTCOMES = [o.value for o in DecisionOutcome if o is not DecisionOutcome.UPHELD]


def example(event_type: str, **data: Any) -> dict[str, Any]:
    """The documented example of ``event_type``, with ``data`` fields replaced."""
    event = copy.deepcopy(example_json(event_type))
    event["data"].update(data)
    return event


def refused(message: dict[str, Any] | bytes | None) -> RejectedMessage:
    raw = json.dumps(message).encode() if isinstance(message, dict) else message
    with pytest.raises(RejectedMessage) as caught:
        decode(raw)
    return caught.value


def assert_refused(
    message: dict[str, Any] | bytes | None, reason: Reason, *words: str
) -> RejectedMessage:
    rejection = refused(message)
    assert rejection.reason is reason, rejection.detail
    for word in words:
        assert word in rejection.detail, f"{word!r} not in {rejection.detail!r}"
    assert str(rejection).startswith(f"{reason.value}: ")
    return rejection


def test_documented_examples_are_accepted() -> None:
    # The baseline every test below breaks in one place.
    assert decode(json.dumps(example("DecisionRecorded")).encode()).type == "DecisionRecorded"


# --- outcomes and the satisfactory-remedy flag --------------------------------------------


def test_unknown_outcome_is_refused_listing_the_outcomes_that_exist() -> None:
    assert_refused(
        example("DecisionRecorded", outcome="partly_upheld"),
        Reason.INVALID_DATA,
        "data.outcome",
        "'upheld'",
        "'not_upheld'",
        "partly_upheld",
    )


@pytest.mark.parametrize("event_type", ["DecisionRecorded", "DecisionCorrected"])
@pytest.mark.parametrize("outcome", NOT_UPHELD_OUTCOMES)
def test_remedy_flag_on_a_not_upheld_decision_is_refused_with_its_reason(
    event_type: str, outcome: str
) -> None:
    rejection = assert_refused(
        example(event_type, outcome=outcome, satisfactory_remedy=True),
        Reason.INVALID_DATA,
        "satisfactory_remedy is only meaningful on an upheld decision",
        f"not on outcome '{outcome}'",
    )
    # What the dead letter can still say about it.
    assert rejection.event_type == event_type
    assert rejection.council == MANSFIELD
    assert rejection.financial_year == FinancialYear.of(
        date.fromisoformat(example_json(event_type)["data"]["decision_date"])
    )


@pytest.mark.parametrize("outcome", NOT_UPHELD_OUTCOMES)
def test_not_upheld_decision_without_the_remedy_flag_is_accepted(outcome: str) -> None:
    message = example("DecisionRecorded", outcome=outcome)
    del message["data"]["satisfactory_remedy"]
    event = decode(json.dumps(message).encode())
    assert isinstance(event.data, DecisionRecorded)
    assert event.data.satisfactory_remedy is False


def test_remedy_flag_on_a_not_upheld_decision_is_refused_before_publishing_too() -> None:
    with pytest.raises(ValueError, match="only meaningful on an upheld decision"):
        DecisionRecorded(
            case_reference="19 001 234",
            decision_date=date(2020, 2, 14),
            outcome=DecisionOutcome.NOT_UPHELD,
            satisfactory_remedy=True,
        )


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["14/02/2020", "2020-02-30", "yesterday", "", "2020-2-14"])
def test_decision_date_that_does_not_parse_is_refused_naming_field_and_value(bad: str) -> None:
    assert_refused(
        example("DecisionRecorded", decision_date=bad),
        Reason.INVALID_DATA,
        "data.decision_date",
        "date",
        f"(got {bad!r})",
    )


@pytest.mark.parametrize("bad", ["31 March 2020", "2020-13-01"])
def test_compliance_date_that_does_not_parse_is_refused(bad: str) -> None:
    assert_refused(
        example("ComplianceOutcomeRecorded", recorded_on=bad),
        Reason.INVALID_DATA,
        "data.recorded_on",
        repr(bad),
    )


def test_decision_date_before_the_ombudsman_existed_is_refused() -> None:
    assert_refused(
        example("DecisionRecorded", decision_date="1973-12-31"),
        Reason.INVALID_DATA,
        "data.decision_date",
        "1974-01-01",
    )


@pytest.mark.parametrize("bad", ["22 July 2020 10:00", "2020-07-22T10:00:00"])
def test_publication_time_that_does_not_parse_or_has_no_offset_is_refused(bad: str) -> None:
    message = example("DecisionRecorded")
    message["occurred_at"] = bad
    assert_refused(message, Reason.BAD_ENVELOPE, "occurred_at", repr(bad))


def test_publication_time_without_a_utc_offset_says_it_needs_one() -> None:
    message = example("DecisionRecorded")
    message["occurred_at"] = "2020-07-22T10:00:00"
    assert_refused(message, Reason.BAD_ENVELOPE, "occurred_at", "timezone")


def test_decision_dated_after_it_was_published_is_refused_as_a_date_in_the_future() -> None:
    message = example("DecisionRecorded", decision_date="2020-02-20")  # published 14 Feb
    rejection = assert_refused(
        message,
        Reason.INVALID_DATA,
        "DecisionRecorded is dated 2020-02-20",
        "after it was published (2020-02-14)",
        "future",
    )
    assert rejection.event_id == message["event_id"]
    assert rejection.financial_year == FinancialYear(2019)


def test_decision_dated_the_day_after_publication_is_tolerated_for_time_zones() -> None:
    event = decode(json.dumps(example("DecisionRecorded", decision_date="2020-02-15")).encode())
    assert isinstance(event.data, DecisionRecorded)
    assert event.data.decision_date == date(2020, 2, 15)


def test_publication_date_is_taken_in_uk_time_not_utc() -> None:
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST): 2 July is "the day after".
    message = example("DecisionRecorded", decision_date="2020-07-02")
    message["occurred_at"] = "2020-06-30T23:30:00Z"
    assert decode(json.dumps(message).encode()).type == "DecisionRecorded"


@pytest.mark.parametrize(
    ("event_type", "field"),
    [("ComplianceOutcomeRecorded", "recorded_on"), ("DecisionWithdrawn", "withdrawn_on")],
)
def test_other_facts_dated_in_the_future_are_refused(event_type: str, field: str) -> None:
    assert_refused(
        example(event_type, **{field: "2031-01-01"}),
        Reason.INVALID_DATA,
        f"{event_type} is dated 2031-01-01",
        "future",
    )


# --- financial years and the year close ---------------------------------------------------


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("2019-21", ["'2019-21' is not a financial year", "the year after 2019", "'2019-20'"]),
        ("19-20", ["'19-20' is not a financial year", "expected a label like '2019-20'"]),
        ("2019", ["'2019' is not a financial year", "expected a label like '2019-20'"]),
        ("2019/20", ["'2019/20' is not a financial year"]),
    ],
)
def test_year_label_that_is_not_a_financial_year_is_refused(label: str, words: list[str]) -> None:
    assert_refused(
        example("FinancialYearClosed", financial_year=label),
        Reason.INVALID_DATA,
        "data.financial_year",
        *words,
    )


def test_year_label_that_is_not_text_is_refused() -> None:
    assert_refused(
        example("FinancialYearClosed", financial_year=2019),
        Reason.INVALID_DATA,
        "data.financial_year",
        "a label like '2019-20'",
    )


def test_letter_date_before_the_year_ends_is_refused() -> None:
    assert_refused(
        example("FinancialYearClosed", letter_date="2020-03-31", publication_date="2020-04-30"),
        Reason.INVALID_DATA,
        "letter_date 2020-03-31 must be after the year 2019-20 ends (2020-03-31)",
    )


def test_letter_date_the_day_after_the_year_ends_is_accepted() -> None:
    message = example("FinancialYearClosed", letter_date="2020-04-01")
    assert decode(json.dumps(message).encode()).type == "FinancialYearClosed"


def test_publication_before_the_letter_date_is_refused() -> None:
    assert_refused(
        example("FinancialYearClosed", publication_date="2020-07-21"),
        Reason.INVALID_DATA,
        "publication_date must not be before letter_date",
    )


# --- text: empty, oversized, malformed ------------------------------------------------------


def test_council_name_of_201_characters_is_refused() -> None:
    assert_refused(
        example("CouncilRegistered", name="M" * 201),
        Reason.INVALID_DATA,
        "data.name",
        "at most 200 characters",
    )


def test_council_name_of_200_characters_is_accepted() -> None:
    event = decode(json.dumps(example("CouncilRegistered", name="M" * 200)).encode())
    assert isinstance(event.data, CouncilRegistered)
    assert len(event.data.name) == 200


@pytest.mark.parametrize("blank", ["", "   "])
def test_empty_council_name_is_refused(blank: str) -> None:
    assert_refused(
        example("CouncilRegistered", name=blank), Reason.INVALID_DATA, "data.name", "at least 1"
    )


def test_council_name_is_stored_without_surrounding_spaces() -> None:
    event = decode(json.dumps(example("CouncilRegistered", name="  Mansfield  ")).encode())
    assert isinstance(event.data, CouncilRegistered)
    assert event.data.name == "Mansfield"


@pytest.mark.parametrize("event_type", ["DecisionRecorded", "ComplianceOutcomeRecorded"])
def test_empty_case_reference_is_refused(event_type: str) -> None:
    assert_refused(
        example(event_type, case_reference=""),
        Reason.INVALID_DATA,
        "data.case_reference",
        "should match pattern",
        "(got '')",
    )


@pytest.mark.parametrize("bad", ["19 001 234; DROP TABLE", "x" * 41, " "])
def test_malformed_case_reference_is_refused(bad: str) -> None:
    assert_refused(
        example("DecisionRecorded", case_reference=bad),
        Reason.INVALID_DATA,
        "data.case_reference",
    )


def test_empty_producer_is_refused_as_a_bad_envelope() -> None:
    message = example("DecisionRecorded")
    message["producer"] = ""
    assert_refused(message, Reason.BAD_ENVELOPE, "producer", "at least 1 character")


def test_very_long_value_is_shortened_in_the_detail() -> None:
    rejection = assert_refused(
        example("CouncilRegistered", name="M" * 5000), Reason.INVALID_DATA, "data.name"
    )
    assert len(rejection.detail) < 300
    assert "..." in rejection.detail


# --- envelope -------------------------------------------------------------------------------


def test_unknown_event_type_is_refused_listing_the_known_types() -> None:
    message = example("DecisionRecorded")
    message["type"] = "DecisionMade"
    rejection = assert_refused(
        message, Reason.UNKNOWN_TYPE, "'DecisionMade'", "known types", "DecisionRecorded"
    )
    assert rejection.event_type == "DecisionMade"


@pytest.mark.parametrize("version", [0, 4, "3", True, None, 1.5])
def test_wrong_schema_version_is_refused_saying_which_versions_are_read(version: Any) -> None:
    message = example("DecisionRecorded")
    message["schema_version"] = version
    assert_refused(
        message,
        Reason.UNSUPPORTED_VERSION,
        f"DecisionRecorded schema version {version!r} is not supported",
        "versions 1 to 3, given as a JSON whole number",
    )


@pytest.mark.parametrize(
    "field", ["event_id", "type", "schema_version", "occurred_at", "producer", "council", "data"]
)
def test_missing_envelope_field_is_refused_by_name(field: str) -> None:
    message = example("DecisionRecorded")
    del message[field]
    assert_refused(message, Reason.BAD_ENVELOPE, f"missing envelope field(s): {field}")


def test_several_missing_envelope_fields_are_all_named() -> None:
    message = example("DecisionRecorded")
    del message["event_id"], message["producer"]
    assert_refused(message, Reason.BAD_ENVELOPE, "event_id, producer")


def test_malformed_event_id_is_refused() -> None:
    message = example("DecisionRecorded")
    message["event_id"] = "not-a-uuid"
    assert_refused(message, Reason.BAD_ENVELOPE, "event_id", "UUID", "'not-a-uuid'")


def test_extra_envelope_field_is_refused() -> None:
    message = example("DecisionRecorded")
    message["priority"] = "high"
    assert_refused(message, Reason.BAD_ENVELOPE, "priority", "Extra inputs are not permitted")


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"type": "DecisionRecorded"', b"\xff\xfe"])
def test_message_that_is_not_json_is_refused(raw: bytes) -> None:
    assert_refused(raw, Reason.NOT_JSON, "not valid JSON")


def test_message_without_a_value_is_refused_as_a_tombstone() -> None:
    assert_refused(None, Reason.NOT_JSON, "no value", "tombstone")


@pytest.mark.parametrize("raw", [b"[]", b'"DecisionRecorded"', b"42", b"null", b"true"])
def test_json_that_is_not_an_object_is_refused(raw: bytes) -> None:
    assert_refused(raw, Reason.BAD_ENVELOPE, "an event must be a JSON object")


def test_data_that_is_not_an_object_is_refused() -> None:
    message = example("DecisionRecorded")
    message["data"] = ["19 012 345"]
    assert_refused(message, Reason.INVALID_DATA, "data must be a JSON object")


def test_message_over_64_kib_is_refused_before_it_is_parsed() -> None:
    raw = b"{" + b" " * MAX_MESSAGE_BYTES + b"}"
    assert_refused(raw, Reason.TOO_LARGE, f"{len(raw)} bytes exceeds 65536 bytes")


def test_message_of_exactly_64_kib_is_accepted() -> None:
    raw = json.dumps(example("DecisionRecorded")).encode()
    padded = raw + b" " * (MAX_MESSAGE_BYTES - len(raw))
    assert len(padded) == MAX_MESSAGE_BYTES
    assert decode(padded).type == "DecisionRecorded"


def test_missing_council_on_an_event_about_a_council_is_refused() -> None:
    message = example("DecisionRecorded")
    message["council"] = None
    assert_refused(
        message, Reason.BAD_ENVELOPE, "DecisionRecorded must name the council it concerns"
    )


@pytest.mark.parametrize("code", ["", "mansfield", "E07-000174", "E070001740000"])
def test_council_code_that_is_not_a_code_is_refused(code: str) -> None:
    message = example("DecisionRecorded")
    message["council"] = code
    assert_refused(message, Reason.BAD_ENVELOPE, "council", "should match pattern")


def test_event_about_a_council_cannot_even_be_made_without_one() -> None:
    payload = decode(json.dumps(example("DecisionRecorded")).encode()).data
    with pytest.raises(ValueError, match="DecisionRecorded must name the council it concerns"):
        new_event(payload, council=None, producer="cms")


def test_year_close_needs_no_council() -> None:
    assert decode(json.dumps(example("FinancialYearClosed")).encode()).council is None


def test_already_parsed_json_is_checked_the_same_way() -> None:
    with pytest.raises(RejectedMessage) as caught:
        decode_object(example("DecisionRecorded", outcome="partly_upheld"))
    assert caught.value.reason is Reason.INVALID_DATA


# --- rules between fields -------------------------------------------------------------------


def test_late_compliance_that_was_not_implemented_is_refused() -> None:
    assert_refused(
        example("ComplianceOutcomeRecorded", implemented=False, late=True),
        Reason.INVALID_DATA,
        "late is only meaningful when the recommendations were implemented",
    )


def test_compliance_not_implemented_and_not_late_is_accepted() -> None:
    message = example("ComplianceOutcomeRecorded", implemented=False, late=False)
    assert decode(json.dumps(message).encode()).type == "ComplianceOutcomeRecorded"


@pytest.mark.parametrize("event_type", ["CouncilRegistered", "CouncilDetailsChanged"])
@pytest.mark.parametrize(
    "given", [{"population": 110_500}, {"population_year": 2021, "population": None}]
)
def test_population_without_its_year_or_year_without_population_is_refused(
    event_type: str, given: dict[str, Any]
) -> None:
    message = example(event_type, **given)
    if "population" in given and "population_year" not in given:
        message["data"].pop("population_year", None)
    assert_refused(
        message,
        Reason.INVALID_DATA,
        "population and population_year go together: give both or neither",
    )


def test_council_that_ceased_before_it_began_is_refused() -> None:
    assert_refused(
        example("CouncilRegistered", existed_from="2021-04-01", existed_until="2021-03-31"),
        Reason.INVALID_DATA,
        "existed_until 2021-03-31 is before existed_from 2021-04-01",
    )


def test_details_change_that_changes_nothing_is_refused() -> None:
    message = example("CouncilDetailsChanged")
    message["data"] = {}
    assert_refused(message, Reason.INVALID_DATA, "must change at least one detail")


@pytest.mark.parametrize("field", ["name", "comparison_group"])
def test_details_change_cannot_blank_the_name_or_group(field: str) -> None:
    assert_refused(
        example("CouncilDetailsChanged", **{field: None}),
        Reason.INVALID_DATA,
        f"{field} cannot be removed: leave it out to keep it as it was",
    )


def test_details_change_of_group_alone_is_accepted() -> None:
    message = example("CouncilDetailsChanged")
    message["data"] = {"comparison_group": "Unitary"}
    event = decode(json.dumps(message).encode())
    assert isinstance(event.data, CouncilDetailsChanged)
    assert event.data.comparison_group is ComparisonGroup.UNITARY
    assert event.data.model_fields_set == {"comparison_group"}


@pytest.mark.parametrize("event_type", ["DecisionRecorded", "CouncilRegistered", "LetterIssued"])
def test_extra_unknown_field_in_data_is_refused_by_name(event_type: str) -> None:
    assert_refused(
        example(event_type, colour="blue"),
        Reason.INVALID_DATA,
        "data.colour",
        "Extra inputs are not permitted",
        "'blue'",
    )


def test_several_problems_are_all_reported_in_one_detail() -> None:
    rejection = assert_refused(
        example("DecisionRecorded", outcome="maybe", decision_date="soon"),
        Reason.INVALID_DATA,
        "data.outcome",
        "data.decision_date",
    )
    assert rejection.detail.count(";") >= 1


def test_bad_envelope_and_bad_data_together_count_as_a_bad_envelope() -> None:
    message = example("DecisionRecorded", outcome="maybe")
    message["event_id"] = "nope"
    assert_refused(message, Reason.BAD_ENVELOPE, "event_id", "data.outcome")


def test_rejection_of_a_council_event_keeps_the_council_for_the_dead_letter() -> None:
    rejection = refused(example("DecisionRecorded", outcome="maybe"))
    assert rejection.council == MANSFIELD
    assert rejection.event_type == "DecisionRecorded"
