"""Bytes on the wire <-> validated events, with reasons a person can act on.

``decode`` is the one way into the system: it checks the size, the JSON, the envelope,
the type and schema version (upcasting older versions), and the payload's own rules.
Anything it refuses raises ``RejectedMessage`` with a machine-readable ``reason`` and a
sentence for people; the projector sends those to the dead-letter topic.
"""

from __future__ import annotations

import contextlib
import enum
from datetime import date, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from pydantic_core import from_json

from contracts.envelope import Envelope
from contracts.events import (
    ComplianceOutcomeRecorded,
    DecisionCorrected,
    DecisionRecorded,
    DecisionWithdrawn,
    Payload,
)
from contracts.financial_year import FinancialYear
from contracts.registry import CURRENT_VERSIONS, PAYLOADS
from contracts.upcasting import upcast
from contracts.values import UNSAFE_CHARACTERS, char_name, escape_unsafe

_CURRENT: dict[str, int] = dict(CURRENT_VERSIONS)

MAX_MESSAGE_BYTES = 64 * 1024
UK = ZoneInfo("Europe/London")
_ENVELOPE_FIELDS = {"event_id", "type", "schema_version", "occurred_at", "producer", "council"}
_REQUIRED = frozenset({*_ENVELOPE_FIELDS, "data"})


class Reason(enum.StrEnum):
    """Why a message is refused: the dead letter's ``dead-letter-reason`` header."""

    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    BAD_ENVELOPE = "bad_envelope"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID_DATA = "invalid_data"
    # No longer given (an event for a council not registered yet is parked, then applied
    # when it is): kept so that dead letters of earlier versions still read.
    UNKNOWN_COUNCIL = "unknown_council"
    # Raised by the projector, not here: the event is valid alone but not in context.
    CONFLICT = "conflict"
    WRONG_TOPIC = "wrong_topic"
    # Set by the projector: valid by the contract, but PostgreSQL refused to store it.
    STORE_REFUSED = "store_refused"
    # Raised by the projector: an office event without a valid office signature.
    NOT_AUTHORISED = "not_authorised"


# What each reason means and what the producer should do about it (docs/events.md prints it).
REASON_HELP: dict[Reason, tuple[str, str]] = {
    Reason.TOO_LARGE: (
        f"The message is over {MAX_MESSAGE_BYTES} bytes ({MAX_MESSAGE_BYTES // 1024} KiB).",
        "No event needs that much: look for a runaway text field or a batch sent as one "
        "message, and publish the events one by one.",
    ),
    Reason.NOT_JSON: (
        "The message is not valid JSON (or has no value at all: a tombstone).",
        "Check the producer's serialiser and encoding (UTF-8 JSON); never publish tombstones "
        "to the facts topic.",
    ),
    Reason.BAD_ENVELOPE: (
        "The envelope is wrong: not a JSON object, a missing or invalid envelope field, or "
        "no council on an event about a council.",
        "Fix the field the detail names (it lists missing fields by name) and publish the "
        "corrected event; a refused event was never applied, so it may keep its `event_id`.",
    ),
    Reason.UNKNOWN_TYPE: (
        "The `type` is not one of the event types this system knows.",
        "Check the spelling against this document (the detail lists the known types); a new "
        "type needs a contract change first.",
    ),
    Reason.UNSUPPORTED_VERSION: (
        "The `schema_version` is not a whole number from 1 to the type's current version.",
        "Send the current version (see each event type); a newer version than the system "
        "reads means the services must be upgraded first.",
    ),
    Reason.INVALID_DATA: (
        "The payload breaks a rule: a missing, unknown or malformed field, a value out of "
        "range, or a rule between fields (see each type's rules).",
        "Correct the data the detail names (field, problem and the value given) in the case "
        "management system, then publish again.",
    ),
    Reason.UNKNOWN_COUNCIL: (
        "No longer given: an event for a council that is not registered yet is *parked* "
        "(listed by `annual-review status` and `dlq list --state parked`) and applied when "
        "the council's `CouncilRegistered` is read. Dead letters of earlier versions may "
        "carry it.",
        "Publish the council's `CouncilRegistered`; an old dead letter with this reason can "
        "then be re-driven.",
    ),
    Reason.CONFLICT: (
        "Valid alone, but not with what came before on its partition (set by the projector): "
        "a second `DecisionRecorded` for a case, a correction moving a case to another "
        "council, or a correction or withdrawal of a case with no standing decision on the "
        "partition it was published to (a case's events must come from one producer with "
        "one key and partitioner, so that they share a partition).",
        "Read the detail; publish the right event (such as `DecisionCorrected`, or the "
        "case's `DecisionRecorded` with the same key and partitioner) and re-drive (it goes "
        "back to its partition) or resolve the dead letter.",
    ),
    Reason.WRONG_TOPIC: (
        "A valid event of a type that does not belong on the facts topic (for example a "
        "letter event), set by the projector.",
        "Find the producer that published it there; nothing needs re-driving.",
    ),
    Reason.STORE_REFUSED: (
        "Valid by the contract, but the database refused to store what it changes (set by "
        "the projector, with the database's error as the detail): the event failed alone, "
        "twice, after the batch around it was split and every other record applied.",
        "Read the detail: a value the contract should have refused is a defect of the "
        "contract (report it with the message); publish the event corrected, or re-drive "
        "this one once the system is fixed. Many at once means a defect, not bad input: "
        "the projector stops dead-lettering after 10 in one batch and retries instead.",
    ),
    Reason.NOT_AUTHORISED: (
        "An event only the Ombudsman's office may state (`FinancialYearClosed`, "
        "`CouncilRegistered`, `CouncilDetailsChanged`, `CouncilAbolished`) without an "
        "`office-signature` header that verifies with a key the projector trusts (set by the "
        "projector). Only the Ombudsman's office (the operator's CLI, the office workspace) may "
        "publish the year-end close and the council register; a case management system "
        "publishes casework only.",
        "A case management system: stop publishing these events (the office registers councils "
        "with `annual-review councils import` and closes years with `close-year`). The office: "
        "publish the event again with the CLI (it signs it); a dead letter with this reason "
        "cannot be re-driven (docs/security.md).",
    ),
}


class RejectedMessage(Exception):
    """A message the system refuses, with what it could tell about it for the dead letter."""

    def __init__(
        self,
        reason: Reason,
        detail: str,
        *,
        event_id: str | None = None,
        event_type: str | None = None,
        council: str | None = None,
        financial_year: FinancialYear | None = None,
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.event_id = event_id
        self.event_type = event_type
        self.council = council
        self.financial_year = financial_year


@cache
def envelope_model(event_type: str) -> type[Envelope[Any]]:
    payload: Any = PAYLOADS[event_type]
    model: type[Envelope[Any]] = Envelope[payload]
    return model


def encode(event: Envelope[Any]) -> bytes:
    return event.model_dump_json().encode()


def decode(raw: bytes | None, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Envelope[Payload]:
    """Validate one message; raise RejectedMessage saying why it cannot be accepted.
    ``max_bytes``: larger for the letters topic, whose LetterRendered carries a letter whole
    (contracts/topics.py, LETTERS_MAX_MESSAGE_BYTES)."""
    if raw is None:
        raise RejectedMessage(Reason.NOT_JSON, "the message has no value (a tombstone?)")
    if len(raw) > max_bytes:
        raise RejectedMessage(
            Reason.TOO_LARGE, f"message of {len(raw)} bytes exceeds {max_bytes} bytes"
        )
    try:
        obj = from_json(raw)
    except ValueError as e:
        raise RejectedMessage(Reason.NOT_JSON, f"not valid JSON: {e}") from None
    return decode_object(obj)


def decode_object(obj: Any) -> Envelope[Payload]:
    """Validate an already parsed JSON value (the CLI reads JSON Lines this way)."""
    if not isinstance(obj, dict):
        raise RejectedMessage(Reason.BAD_ENVELOPE, "an event must be a JSON object")
    # The common case first: a complete envelope of a known type at its current version.
    # It passes every check of _decode_checked below, so only the model and the context
    # remain; what the model refuses takes the full path, which says why (the same words).
    event_type, version = obj.get("type"), obj.get("schema_version")
    if (
        type(version) is int
        and isinstance(event_type, str)
        and _CURRENT.get(event_type) == version
        and obj.keys() >= _REQUIRED
        and isinstance(obj["data"], dict)
    ):
        try:
            event: Envelope[Payload] = envelope_model(event_type).model_validate(obj)
        except ValidationError:
            pass
        else:
            _check_in_context(event)
            return event
    return _decode_checked(obj)


def _decode_checked(obj: dict[str, Any]) -> Envelope[Payload]:
    """Every check in order, each refusal with the hints a dead letter needs."""
    hint = _hints(obj)
    missing = sorted(_ENVELOPE_FIELDS - obj.keys()) + ([] if "data" in obj else ["data"])
    if missing:
        raise RejectedMessage(
            Reason.BAD_ENVELOPE, f"missing envelope field(s): {', '.join(missing)}", **hint
        )
    event_type, version = obj["type"], obj["schema_version"]
    if not isinstance(event_type, str) or event_type not in PAYLOADS:
        known = ", ".join(sorted(PAYLOADS))
        raise RejectedMessage(
            Reason.UNKNOWN_TYPE, f"unknown event type {event_type!r}; known types: {known}", **hint
        )
    current = CURRENT_VERSIONS[event_type]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= current:
        raise RejectedMessage(
            Reason.UNSUPPORTED_VERSION,
            f"{event_type} schema version {version!r} is not supported: "
            f"this system reads versions 1 to {current}, given as a JSON whole number",
            **hint,
        )
    data = obj["data"]
    if not isinstance(data, dict):
        raise RejectedMessage(Reason.INVALID_DATA, "data must be a JSON object", **hint)
    if version < current:
        obj = {**obj, "schema_version": current, "data": upcast(event_type, version, current, data)}
    try:
        event: Envelope[Payload] = envelope_model(event_type).model_validate(obj)
    except ValidationError as e:
        reason = Reason.INVALID_DATA if _only_data_errors(e) else Reason.BAD_ENVELOPE
        raise RejectedMessage(reason, describe(e), **hint) from None
    _check_in_context(event)
    return event


def describe(error: ValidationError) -> str:
    """One line per problem: where, what is wrong, and the value that was given."""
    parts = []
    for err in error.errors(include_url=False):
        where = escape_unsafe(".".join(str(x) for x in err["loc"])) or "event"
        given = err.get("input")
        shown = repr(given) if len(repr(given)) <= 60 else repr(given)[:57] + "..."
        shown = escape_unsafe(shown)  # repr leaves some (bidi, zero-width) as they are
        msg = err["msg"].removeprefix("Value error, ")
        if isinstance(given, str) and err["type"] != "value_error":
            # A pattern or address check refused it: say which character is the trouble.
            unsafe = UNSAFE_CHARACTERS.search(given)
            if unsafe:
                msg += f"; it contains {char_name(unsafe.group())}"
        parts.append(
            f"{where}: {msg}"
            + ("" if err["type"] in ("value_error", "missing") else f" (got {shown})")
        )
    return "; ".join(parts)


def _only_data_errors(error: ValidationError) -> bool:
    return all(err["loc"] and err["loc"][0] == "data" for err in error.errors())


def _check_in_context(event: Envelope[Payload]) -> None:
    """Rules that need the envelope: a fact cannot be dated after it was published."""
    if event.data.about_a_council and event.council is None:
        raise RejectedMessage(
            Reason.BAD_ENVELOPE,
            f"{event.type} must name the council it concerns",
            event_id=str(event.event_id),
            event_type=event.type,
        )
    fact_date = _fact_date(event.data)
    if fact_date is None or fact_date <= event.occurred_at.date():
        # The UK date is at most a day before the date in the event's own offset, so a
        # fact dated no later than that is never "after it was published".
        return
    occurred_on = event.occurred_at.astimezone(UK).date()
    if fact_date > occurred_on + timedelta(days=1):
        raise RejectedMessage(
            Reason.INVALID_DATA,
            f"{event.type} is dated {fact_date}, after it was published ({occurred_on}): "
            f"a date in the future",
            event_id=str(event.event_id),
            event_type=event.type,
            council=event.council,
            financial_year=FinancialYear.of(fact_date),
        )


_FACT_DATE_FIELD: dict[type[Payload], str] = {
    DecisionRecorded: "decision_date",
    DecisionCorrected: "decision_date",
    ComplianceOutcomeRecorded: "recorded_on",
    DecisionWithdrawn: "withdrawn_on",
}


def _fact_date(payload: Payload) -> date | None:
    field = _FACT_DATE_FIELD.get(type(payload))
    if field is not None:
        value: date = getattr(payload, field)
        return value
    return _fact_date_of_subclass(payload)


def _fact_date_of_subclass(payload: Payload) -> date | None:
    if isinstance(payload, DecisionRecorded | DecisionCorrected):
        return payload.decision_date
    if isinstance(payload, ComplianceOutcomeRecorded):
        return payload.recorded_on
    if isinstance(payload, DecisionWithdrawn):
        return payload.withdrawn_on
    return None


def _hints(obj: dict[str, Any]) -> dict[str, Any]:
    """What a rejected message still tells us, so its dead letter can mark a council-year."""
    council = obj.get("council")
    event_id = obj.get("event_id")
    event_type = obj.get("type")
    data = obj.get("data")
    year = None
    if isinstance(data, dict):
        for field in ("decision_date", "recorded_on", "date"):
            value = data.get(field)
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    year = FinancialYear.of(date.fromisoformat(value))
                break
    return {
        "event_id": str(event_id)[:64] if event_id is not None else None,
        "event_type": str(event_type)[:64] if event_type is not None else None,
        "council": council if isinstance(council, str) and len(council) <= 10 else None,
        "financial_year": year,
    }
