"""Events that are well-formed JSON but break the contract, one kind each.

Every one of them is refused by ``contracts.codec.decode_object``: they test that the
publisher, the CLI and the projector's dead-letter path say why, and count nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

Maker = Callable[[dict[str, Any], date], None]


def _remedy_on_not_upheld(event: dict[str, Any], day: date) -> None:
    event["data"].update(outcome="not_upheld", satisfactory_remedy=True)


def _unknown_outcome(event: dict[str, Any], day: date) -> None:
    event["data"]["outcome"] = "partly_upheld"


def _impossible_date(event: dict[str, Any], day: date) -> None:
    event["data"]["decision_date"] = f"{day.year}-02-30"


def _future_date(event: dict[str, Any], day: date) -> None:
    event["data"]["decision_date"] = (day + timedelta(days=60)).isoformat()


def _date_before_1974(event: dict[str, Any], day: date) -> None:
    event["data"]["decision_date"] = date(1970, day.month, 1).isoformat()


def _bad_council_code(event: dict[str, Any], day: date) -> None:
    event["council"] = "no-such-council"


def _missing_council(event: dict[str, Any], day: date) -> None:
    event["council"] = None


def _wrong_schema_version(event: dict[str, Any], day: date) -> None:
    event["schema_version"] = 7


def _unknown_type(event: dict[str, Any], day: date) -> None:
    event["type"] = "DecisionAppealed"


def _missing_case_reference(event: dict[str, Any], day: date) -> None:
    del event["data"]["case_reference"]


def _unknown_field(event: dict[str, Any], day: date) -> None:
    event["data"]["complainant"] = "Mr A"


def _late_but_not_implemented(event: dict[str, Any], day: date) -> None:
    event["type"] = "ComplianceOutcomeRecorded"
    event["schema_version"] = 1
    event["data"] = {
        "case_reference": event["data"]["case_reference"],
        "recorded_on": day.isoformat(),
        "implemented": False,
        "late": True,
    }


KINDS: dict[str, Maker] = {
    "remedy_on_not_upheld": _remedy_on_not_upheld,
    "unknown_outcome": _unknown_outcome,
    "impossible_date": _impossible_date,
    "future_date": _future_date,
    "date_before_1974": _date_before_1974,
    "bad_council_code": _bad_council_code,
    "missing_council": _missing_council,
    "wrong_schema_version": _wrong_schema_version,
    "unknown_type": _unknown_type,
    "missing_case_reference": _missing_case_reference,
    "unknown_field": _unknown_field,
    "late_but_not_implemented": _late_but_not_implemented,
}
_NAMES = tuple(KINDS)


def invalid_event(
    rng: random.Random,
    *,
    event_id: str,
    occurred_at: datetime,
    producer: str,
    council: str,
    case_reference: str,
    day: date,
) -> dict[str, Any]:
    """A decision event spoiled in one of the ways of KINDS (chosen by ``rng``)."""
    event: dict[str, Any] = {
        "event_id": event_id,
        "type": "DecisionRecorded",
        "schema_version": 2,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "producer": producer,
        "council": council,
        "data": {
            "case_reference": case_reference,
            "decision_date": day.isoformat(),
            "outcome": "upheld",
            "satisfactory_remedy": False,
        },
    }
    kind = _NAMES[rng.randrange(len(_NAMES))]
    KINDS[kind](event, day)
    return event
