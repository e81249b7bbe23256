"""Every event type survives the wire: encode, then decode, gives back the same event.

The examples are contracts.examples.examples(), the very events docs/events.md shows.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.codec import decode, encode
from contracts.envelope import Envelope, new_event
from contracts.events import (
    CouncilDetailsChanged,
    DecisionOutcome,
    DecisionRecorded,
    FinancialYearClosed,
)
from contracts.examples import MANSFIELD, example_json, examples
from contracts.registry import CURRENT_VERSIONS, PAYLOADS

EXAMPLES = examples()


def test_every_event_type_has_a_documented_example() -> None:
    assert list(EXAMPLES) == list(PAYLOADS)


@pytest.mark.parametrize("event_type", list(PAYLOADS))
def test_event_survives_encode_and_decode_unchanged(event_type: str) -> None:
    event = EXAMPLES[event_type]

    decoded = decode(encode(event))

    assert decoded == event
    assert type(decoded.data) is PAYLOADS[event_type]
    assert decoded.data.model_dump() == event.data.model_dump()
    assert decoded.event_id == event.event_id
    assert decoded.occurred_at == event.occurred_at


@pytest.mark.parametrize("event_type", list(PAYLOADS))
def test_decoded_event_encodes_to_the_same_bytes(event_type: str) -> None:
    raw = encode(EXAMPLES[event_type])

    assert encode(decode(raw)) == raw


@pytest.mark.parametrize("event_type", list(PAYLOADS))
def test_example_is_stamped_with_its_type_and_current_schema_version(event_type: str) -> None:
    event = EXAMPLES[event_type]

    assert event.type == event_type
    assert event.schema_version == CURRENT_VERSIONS[event_type]
    wire = example_json(event_type)
    assert wire["type"] == event_type
    assert wire["schema_version"] == CURRENT_VERSIONS[event_type]


def test_encoded_event_is_one_json_object_with_the_envelope_and_data() -> None:
    wire = json.loads(encode(EXAMPLES["DecisionRecorded"]))

    assert set(wire) == {
        "event_id",
        "type",
        "schema_version",
        "occurred_at",
        "producer",
        "council",
        "data",
    }
    assert wire["data"] == {
        "case_reference": "19 012 345",
        "decision_date": "2020-02-14",
        "outcome": "upheld",
        "satisfactory_remedy": True,
        "service_area": "housing",
        "published_url": "https://www.lgo.org.uk/decisions/housing/19-012-345",
    }
    assert wire["occurred_at"] == "2020-02-14T16:05:00Z"


def test_event_about_a_council_is_keyed_by_its_code() -> None:
    assert EXAMPLES["DecisionRecorded"].key == MANSFIELD.encode()


def test_year_close_has_no_key_because_it_goes_to_every_partition() -> None:
    assert EXAMPLES["FinancialYearClosed"].key is None
    assert EXAMPLES["FinancialYearClosed"].council is None


def test_details_change_keeps_left_out_fields_left_out_across_the_wire() -> None:
    # A field left out means "unchanged"; were it sent as null, the projector would blank it.
    event = new_event(
        CouncilDetailsChanged(population=111_000, population_year=2022),
        council=MANSFIELD,
        producer="case-management",
    )

    wire = json.loads(encode(event))
    decoded = decode(encode(event))

    assert wire["data"] == {"population": 111_000, "population_year": 2022}
    assert isinstance(decoded.data, CouncilDetailsChanged)
    assert decoded.data.model_fields_set == {"population", "population_year"}


def test_details_change_can_remove_the_chief_executive_with_an_explicit_null() -> None:
    event = new_event(
        CouncilDetailsChanged(chief_executive=None), council=MANSFIELD, producer="cms"
    )

    decoded = decode(encode(event))

    assert json.loads(encode(event))["data"] == {"chief_executive": None}
    assert decoded.data.model_fields_set == {"chief_executive"}


def test_occurred_at_with_another_utc_offset_is_the_same_instant_after_the_trip() -> None:
    summer = datetime(2020, 7, 22, 10, 0, tzinfo=UTC) + timedelta(hours=1)
    event = new_event(
        EXAMPLES["DecisionRecorded"].data,
        council=MANSFIELD,
        producer="cms",
        occurred_at=summer.astimezone(),
    )

    assert decode(encode(event)).occurred_at == summer


def test_year_close_label_travels_as_text_and_comes_back_as_a_financial_year() -> None:
    event = EXAMPLES["FinancialYearClosed"]
    decoded = decode(encode(event))

    assert json.loads(encode(event))["data"]["financial_year"] == "2019-20"
    assert isinstance(decoded.data, FinancialYearClosed)
    assert decoded.data.financial_year.start_year == 2019


_CASE_REFERENCES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9/ .\-]{0,39}", fullmatch=True)


@st.composite
def _decisions(draw: st.DrawFn) -> Envelope[Any]:
    outcome = draw(st.sampled_from(DecisionOutcome))
    day = draw(st.dates(min_value=date(1974, 1, 1), max_value=date(2100, 12, 31)))
    payload = DecisionRecorded(
        case_reference=draw(_CASE_REFERENCES),
        decision_date=day,
        outcome=outcome,
        satisfactory_remedy=outcome is DecisionOutcome.UPHELD and draw(st.booleans()),
    )
    published = datetime(day.year, day.month, day.day, 12, tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(0, 60 * 24 * 400))
    )
    return new_event(payload, council=MANSFIELD, producer="cms", occurred_at=published)


@given(_decisions())
def test_any_valid_decision_survives_the_round_trip(event: Envelope[Any]) -> None:
    assert decode(encode(event)) == event
