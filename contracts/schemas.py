"""The published description of the contracts, generated from the models themselves.

``python -m contracts.schemas write`` regenerates, from contracts/ (and the projector app
for the AsyncAPI document):

- ``docs/events.md``: the events for people, with a worked example of each;
- ``docs/schemas/<EventType>.json``: JSON Schema (2020-12) of the whole envelope carrying
  that payload, at its current schema version;
- ``docs/asyncapi.json``: the AsyncAPI 3.0 document of the projector, as FastStream
  generates it, with the facts topic's messages filled in from the JSON schemas.

``python -m contracts.schemas check`` exits 1 when the checked-in files are stale.
The examples below are the ones the round-trip tests decode, so the documentation shows
events that the code accepts.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import importlib
import inspect
import json
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from contracts import topics
from contracts.codec import MAX_MESSAGE_BYTES, Reason, encode, envelope_model
from contracts.envelope import Envelope, new_event
from contracts.events import (
    ComplianceOutcomeRecorded,
    CouncilAbolished,
    CouncilDetailsChanged,
    CouncilRegistered,
    DecisionCorrected,
    DecisionOutcome,
    DecisionRecorded,
    DecisionWithdrawn,
    FinancialYearClosed,
    LetterDispatched,
    LetterDispatchFailed,
    LetterIssued,
    Payload,
)
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.registry import CURRENT_VERSIONS, PAYLOADS
from contracts.topics import FACTS, LETTERS, YEAR_END, TopicSpec
from contracts.upcasting import UPCASTERS
from contracts.values import ChiefExecutive, Signatory

ROOT = Path(__file__).resolve().parent.parent
EVENTS_MD = Path("docs/events.md")
SCHEMAS_DIR = Path("docs/schemas")
ASYNCAPI_JSON = Path("docs/asyncapi.json")
WRITE_COMMAND = "python -m contracts.schemas write"

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# --- the examples (fixed ids and times, so the generated files are deterministic) ----------

_EXAMPLE_NAMESPACE = UUID("6f1c1d2e-5b0a-4f43-9d1e-0a7c2a9b3e10")
PRODUCER_CMS = "case-management"
PRODUCER_LETTERS = "letter-service"
MANSFIELD = "E07000174"
NORTHAMPTONSHIRE = "E10000021"

MANSFIELD_CHIEF_EXECUTIVE = ChiefExecutive(
    name="Hayley Barsby",
    job_title="Interim Chief Executive",
    salutation="Ms Barsby",
    email="chief.executive@mansfield.gov.uk",
)
KING = Signatory(
    name="Michael King",
    titles=(
        "Local Government and Social Care Ombudsman",
        "Chair, Commission for Local Administration in England",
    ),
)
YEAR_2019_20 = FinancialYear(2019)
LETTER_MESSAGE_ID = "<annual-review.2019-20.E07000174.v1@lgo.example>"


def example_id(name: str) -> UUID:
    """A fixed UUID per example, so every regeneration prints the same ids."""
    return uuid5(_EXAMPLE_NAMESPACE, name)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _event(
    payload: Payload, council: str | None, occurred_at: datetime, producer: str = PRODUCER_CMS
) -> Envelope[Any]:
    return new_event(
        payload,
        council=council,
        producer=producer,
        event_id=example_id(payload.event_type),
        occurred_at=occurred_at,
    )


def examples() -> dict[str, Envelope[Any]]:
    """One realistic event of every type, in the order the documentation presents them."""
    letter = {
        "financial_year": YEAR_2019_20,
        "version": 1,
        "message_id": LETTER_MESSAGE_ID,
    }
    built = [
        _event(
            CouncilRegistered(
                name="Mansfield District Council",
                comparison_group=ComparisonGroup.DISTRICT,
                population=110_500,
                population_year=2021,
                chief_executive=MANSFIELD_CHIEF_EXECUTIVE,
            ),
            MANSFIELD,
            _at(2019, 3, 1, 9, 0),
        ),
        _event(
            CouncilDetailsChanged(
                chief_executive=ChiefExecutive(
                    name="Adam Hill",
                    job_title="Chief Executive",
                    salutation="Mr Hill",
                    email="chief.executive@mansfield.gov.uk",
                )
            ),
            MANSFIELD,
            _at(2021, 6, 1, 9, 0),
        ),
        _event(
            CouncilAbolished(last_day=date(2021, 3, 31), replaced_by=("E06000061", "E06000062")),
            NORTHAMPTONSHIRE,
            _at(2021, 4, 1, 0, 5),
        ),
        _event(
            DecisionRecorded(
                case_reference="19 012 345",
                decision_date=date(2020, 2, 14),
                outcome=DecisionOutcome.UPHELD,
                satisfactory_remedy=True,
            ),
            MANSFIELD,
            _at(2020, 2, 14, 16, 5),
        ),
        _event(
            DecisionCorrected(
                case_reference="19 012 346",
                decision_date=date(2020, 5, 11),
                outcome=DecisionOutcome.NOT_UPHELD,
                reason="Decision reviewed: the council's records show the repair was made on time",
            ),
            MANSFIELD,
            _at(2020, 5, 11, 11, 30),
        ),
        _event(
            DecisionWithdrawn(
                case_reference="19 013 001",
                withdrawn_on=date(2020, 3, 2),
                reason="Recorded against the wrong council's case",
            ),
            MANSFIELD,
            _at(2020, 3, 2, 10, 15),
        ),
        _event(
            ComplianceOutcomeRecorded(
                case_reference="19 004 567",
                recorded_on=date(2020, 1, 20),
                implemented=True,
                late=True,
            ),
            MANSFIELD,
            _at(2020, 1, 20, 14, 45),
        ),
        _event(
            FinancialYearClosed(
                financial_year=YEAR_2019_20,
                close_id=example_id("close 2019-20"),
                partition_count=FACTS.partitions,
                letter_date=date(2020, 7, 22),
                publication_date=date(2020, 7, 29),
                signatory=KING,
            ),
            None,
            _at(2020, 7, 15, 8, 0),
        ),
        _event(
            LetterIssued(
                **letter,
                template_version="letters-1+3f9a0c2b7d41",
                text_sha256=_sha256("Annual Review letter 2020, text"),
                html_sha256=_sha256("Annual Review letter 2020, HTML"),
                pdf_sha256=_sha256("Annual Review letter 2020, PDF"),
            ),
            MANSFIELD,
            _at(2020, 7, 22, 7, 0),
            PRODUCER_LETTERS,
        ),
        _event(
            LetterDispatched(**letter, recipient="chief.executive@mansfield.gov.uk"),
            MANSFIELD,
            _at(2020, 7, 22, 7, 1),
            PRODUCER_LETTERS,
        ),
        _event(
            LetterDispatchFailed(
                **letter,
                reason="550 5.1.1 <chief.executive@mansfield.gov.uk>: mailbox unavailable",
                permanent=True,
            ),
            MANSFIELD,
            _at(2020, 7, 22, 7, 1),
            PRODUCER_LETTERS,
        ),
    ]
    return {e.type: e for e in built}


def example_json(event_type: str) -> dict[str, Any]:
    """The example of ``event_type`` exactly as it travels (the bytes ``encode`` writes)."""
    parsed: dict[str, Any] = json.loads(encode(examples()[event_type]))
    return parsed


# Older schema versions the system still reads, as a producer of the time sent them.
OLD_VERSION_EXAMPLES: dict[tuple[str, int], dict[str, Any]] = {
    ("DecisionRecorded", 1): {
        "event_id": str(example_id("DecisionRecorded v1")),
        "type": "DecisionRecorded",
        "schema_version": 1,
        "occurred_at": "2016-09-12T15:20:00Z",
        "producer": PRODUCER_CMS,
        "council": MANSFIELD,
        "data": {"case_reference": "16 004 321", "date": "2016-09-12", "outcome": "upheld"},
    },
}

# --- routing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    topic: TopicSpec
    key: str
    short_key: str = "council code"


_BY_COUNCIL = "the council code (the envelope's `council`)"
_SPECIAL_ROUTES: dict[str, tuple[Route, ...]] = {
    "FinancialYearClosed": (
        Route(
            FACTS,
            "none: one copy is written to every partition, chosen explicitly "
            "(`partition_count` copies sharing one `close_id`)",
            "none: a copy on every partition",
        ),
        Route(
            YEAR_END,
            "the financial year label, e.g. `2019-20`: one more copy, published after every "
            "partition's copy is acknowledged",
            "financial year",
        ),
    ),
    "LetterIssued": (Route(LETTERS, _BY_COUNCIL),),
    "LetterDispatched": (Route(LETTERS, _BY_COUNCIL),),
    "LetterDispatchFailed": (Route(LETTERS, _BY_COUNCIL),),
}


def routes(event_type: str) -> tuple[Route, ...]:
    """Where an event type is published: its topic(s) and message key."""
    found = _SPECIAL_ROUTES.get(event_type, (Route(FACTS, _BY_COUNCIL),))
    named = {r.topic.name for r in found}
    # Any other topic whose declared purpose names the event type carries it too.
    extra = tuple(
        Route(t, "see the topic's purpose", "see the topic")
        for t in topics.TOPICS
        if t.name not in named and event_type in t.purpose
    )
    return found + extra


# --- JSON Schema ----------------------------------------------------------------------------


class _ContractJsonSchema(GenerateJsonSchema):
    """Pydantic's generator, plus the date bounds it leaves out (``formatMinimum``)."""

    def date_schema(self, schema: core_schema.DateSchema) -> JsonSchemaValue:
        out = super().date_schema(schema)
        for bound, keyword in (
            ("ge", "formatMinimum"),
            ("le", "formatMaximum"),
            ("gt", "formatExclusiveMinimum"),
            ("lt", "formatExclusiveMaximum"),
        ):
            value = schema.get(bound)
            if isinstance(value, date):
                out[keyword] = value.isoformat()
        return out


def describe_payload(payload: type[Payload]) -> str:
    """What the event means, from its model's docstring."""
    doc = payload.__dict__.get("__doc__")
    if doc:
        return inspect.cleandoc(doc)
    return _MEANING_WITHOUT_DOCSTRING.get(payload.event_type, "")


# For payload models that have no docstring (yet): what the event means.
_MEANING_WITHOUT_DOCSTRING = {
    "CouncilRegistered": "A council is in the registry: its name, comparison group, when it "
    "existed, its population and its chief executive. Registering again restates every detail.",
    "CouncilAbolished": "The council ceased to exist; `last_day` was its last day. Letters "
    "still cover the part of a year it existed.",
    "LetterIssued": "The Annual Review letter for a council and year was rendered; the hashes "
    "identify exactly what was sent.",
    "LetterDispatched": "The letter was accepted by the mail server for the recipient.",
    "LetterDispatchFailed": "Sending the letter failed; `permanent` says whether a retry can help.",
}

# Rules that a JSON Schema cannot say, per event type (checked by the models and the codec).
RULES: dict[str, tuple[str, ...]] = {
    "CouncilRegistered": (
        "`existed_until` must not be before `existed_from`.",
        "`population` and `population_year` go together: give both or neither.",
    ),
    "CouncilDetailsChanged": (
        "At least one detail must be given; a field left out keeps its value.",
        "`name` and `comparison_group` cannot be null (they cannot be removed).",
        "`population` and `population_year` go together: give both or neither.",
    ),
    "DecisionRecorded": (
        "`satisfactory_remedy` may be true only when `outcome` is `upheld`.",
        "`decision_date` must not be after the day after `occurred_at` (UK date).",
        "A case has one standing decision: deciding it again is a `DecisionCorrected`.",
    ),
    "DecisionCorrected": (
        "`satisfactory_remedy` may be true only when `outcome` is `upheld`.",
        "`decision_date` must not be after the day after `occurred_at` (UK date).",
        "The case must have a standing decision, for the same council: a correction cannot "
        "move a case to another council.",
    ),
    "DecisionWithdrawn": (
        "`withdrawn_on` must not be after the day after `occurred_at` (UK date).",
    ),
    "ComplianceOutcomeRecorded": (
        "`late` may be true only when `implemented` is true (late still counts as implemented).",
        "`recorded_on` must not be after the day after `occurred_at` (UK date).",
    ),
    "FinancialYearClosed": (
        "`financial_year` is a label like `2019-20`: four digits, a hyphen, and the last two "
        "digits of the next year.",
        "`letter_date` must be after the year's last day (31 March).",
        "`publication_date` must not be before `letter_date`.",
    ),
}


# Descriptions of payload fields whose model declares none: by field name, or by
# (event type, field name) where the meaning differs between types.
FIELD_HELP: dict[str | tuple[str, str], str] = {
    "name": "The council's name as the letters print it.",
    "comparison_group": "The comparison group whose average the council is compared with.",
    "existed_from": "First day of existence; null if before records began.",
    "population": "Residents, for the upheld decisions per 100,000 residents figure.",
    "population_year": "The year the population figure refers to.",
    "chief_executive": "The addressee of the council's letters.",
    ("CouncilAbolished", "replaced_by"): "The councils that took over, if any.",
    "case_reference": "The Ombudsman's case reference, unique across councils.",
    "decision_date": "The date of the decision (UK local date): it sets the financial year.",
    "outcome": "What was decided.",
    ("DecisionCorrected", "reason"): "Why the case was decided again.",
    ("DecisionWithdrawn", "reason"): "Why the decision was withdrawn.",
    "withdrawn_on": "The date the decision was withdrawn (UK local date).",
    "recorded_on": "The date the outcome was recorded (UK local date): it sets the financial year.",
    "implemented": "Whether the council implemented the recommendations.",
    ("FinancialYearClosed", "financial_year"): "The financial year closed, e.g. `2019-20`.",
    "letter_date": "The date the year's Annual Review letters carry.",
    "publication_date": "The date the figures are published on the public page.",
    "signatory": "Who signs the year's letters.",
    "financial_year": "The financial year the letter covers, e.g. `2019-20`.",
    "kind": "The kind of letter.",
    "version": "The issue of the letter for this council and year (1, then 2 for a re-issue).",
    "message_id": "The email Message-ID: the same for every attempt to send this issue.",
    "template_version": "The letter template and its content fingerprint.",
    "text_sha256": "SHA-256 of the plain-text letter, lowercase hex.",
    "html_sha256": "SHA-256 of the HTML letter, lowercase hex.",
    "pdf_sha256": "SHA-256 of the PDF letter, lowercase hex.",
    "recipient": "The address the letter was sent to.",
    ("LetterDispatchFailed", "reason"): "What went wrong, e.g. the mail server's reply.",
    "permanent": "True when retrying cannot help (e.g. no such mailbox).",
    ("ChiefExecutive", "name"): "Full name, as the letter's address block prints it.",
    ("ChiefExecutive", "job_title"): "Job title as written, e.g. `Interim Chief Executive`.",
    ("ChiefExecutive", "salutation"): "As in `Dear Ms Barsby`.",
    ("ChiefExecutive", "email"): "Where the letter is sent.",
    ("Signatory", "name"): "The name printed under the signature.",
    ("Signatory", "titles"): "The title lines printed under the name, in order.",
}


def field_help(event_type: str, field: str) -> str | None:
    return FIELD_HELP.get((event_type, field)) or FIELD_HELP.get(field)


def _tighten(event_type: str, data_schema: dict[str, Any]) -> None:
    """Say in the schema what a model validator enforces, where JSON Schema can say it."""
    if event_type == "CouncilDetailsChanged":
        data_schema["minProperties"] = 1  # at least one detail
        for prop in data_schema["properties"].values():
            prop.pop("default", None)  # left out means "unchanged", not null
        for name in ("name", "comparison_group"):  # may be left out, but not set to null
            prop = data_schema["properties"][name]
            (kept,) = [s for s in prop.pop("anyOf") if s.get("type") != "null"]
            data_schema["properties"][name] = {**kept, **prop}


def _describe_fields(defs: Mapping[str, Any]) -> None:
    """Fill in FIELD_HELP where a model's field has no description of its own."""
    for model_name, definition in defs.items():
        for name, prop in definition.get("properties", {}).items():
            if "description" not in prop and (text := field_help(model_name, name)):
                prop["description"] = text


def _rewrite_refs(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                new + v.removeprefix(old)
                if k == "$ref" and isinstance(v, str) and v.startswith(old)
                else _rewrite_refs(v, old, new)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v, old, new) for v in node]
    return node


def envelope_schema(event_type: str) -> dict[str, Any]:
    """JSON Schema of the whole envelope carrying ``event_type`` at its current version."""
    payload = PAYLOADS[event_type]
    version = CURRENT_VERSIONS[event_type]
    raw = envelope_model(event_type).model_json_schema(
        mode="validation", schema_generator=_ContractJsonSchema
    )
    props: dict[str, Any] = raw["properties"]
    props["type"] = {
        "const": event_type,
        "description": "The event type (also in the `event-type` header).",
    }
    props["schema_version"] = {
        "const": version,
        "description": f"The payload's schema version: {version} is current. Older versions "
        "are still read and upcast (docs/events.md, 'Schema evolution').",
    }
    if payload.about_a_council:
        council = next(s for s in props["council"]["anyOf"] if s.get("type") == "string")
        props["council"] = {
            **council,
            "description": "The council the event concerns (ONS-style code): the partition key.",
        }
    else:
        props["council"]["description"] = "Null: this event is not about one council."
    defs: dict[str, Any] = raw.get("$defs", {})
    data_schema = defs[payload.__name__]
    if "description" not in data_schema:
        data_schema["description"] = describe_payload(payload)
    _describe_fields(defs)
    _tighten(event_type, data_schema)
    route = ", ".join(f"{r.topic.name} (key: {r.key})" for r in routes(event_type))
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:annual-review:event:{event_type}:v{version}",
        "title": f"{event_type} (schema version {version})",
        "description": f"{describe_payload(payload)}\n\nPublished on: {route}.",
        "type": "object",
        "properties": props,
        "required": raw["required"],
        "additionalProperties": False,
        "$defs": defs,
        "examples": [example_json(event_type)],
    }


# --- AsyncAPI -------------------------------------------------------------------------------


def _project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        version: str = tomllib.load(f)["project"]["version"]
    return version


def faststream_asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document FastStream makes of the projector app, broker not started.

    The settings are the defaults (not the environment), so the document is the same on
    every machine.
    """
    # Imported by name: the contracts package must not depend on the services at import.
    settings = importlib.import_module("services.platform.settings").Settings
    projector = importlib.import_module("services.projector.config").ProjectorSettings
    create_app = importlib.import_module("services.projector.app").create_app
    app = create_app(settings.model_construct(), projector.model_construct())
    spec = app.schema
    spec.title = "Annual Review projector"
    spec.version = _project_version()
    spec.description = (
        "Folds the casework facts into the statistics read model. Every message on "
        f"`{FACTS.name}` is one event envelope; see docs/events.md."
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def _header_schema(event_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            topics.HEADER_EVENT_TYPE: {"const": event_type},
            topics.HEADER_SCHEMA_VERSION: {
                "type": "string",
                "pattern": "^[1-9][0-9]*$",
                "description": "The schema version, in decimal.",
            },
            topics.HEADER_EVENT_ID: {"type": "string", "format": "uuid"},
        },
        "required": [
            topics.HEADER_EVENT_TYPE,
            topics.HEADER_SCHEMA_VERSION,
            topics.HEADER_EVENT_ID,
        ],
    }


def asyncapi_document() -> dict[str, Any]:
    """FastStream's document, with the facts channel's messages taken from the contracts."""
    doc = faststream_asyncapi()
    components = doc.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    messages: dict[str, Any] = components.setdefault("messages", {})
    on_facts = [t for t in PAYLOADS if any(r.topic is FACTS for r in routes(t))]

    # The per-type envelope schemas, their $defs moved into components.schemas.
    for event_type in on_facts:
        schema = copy.deepcopy(envelope_schema(event_type))
        for name, definition in schema.pop("$defs", {}).items():
            moved = _rewrite_refs(definition, "#/$defs/", "#/components/schemas/")
            if schemas.setdefault(name, moved) != moved:
                raise RuntimeError(f"two different schemas are both called {name}")
        for keyword in ("$schema", "$id", "examples"):
            schema.pop(keyword, None)
        schemas[f"{event_type}Event"] = _rewrite_refs(schema, "#/$defs/", "#/components/schemas/")
        council_key = (
            {"type": "string", "pattern": schema["properties"]["council"]["pattern"]}
            if PAYLOADS[event_type].about_a_council
            else {"type": "null"}
        )
        messages[event_type] = {
            "name": event_type,
            "title": event_type,
            "summary": describe_payload(PAYLOADS[event_type]).split("\n\n")[0],
            "contentType": "application/json",
            "headers": _header_schema(event_type),
            "payload": {"$ref": f"#/components/schemas/{event_type}Event"},
            "bindings": {"kafka": {"key": council_key, "bindingVersion": "0.4.0"}},
            "examples": [
                {
                    "name": f"{event_type} example",
                    "headers": _example_headers(event_type),
                    "payload": example_json(event_type),
                }
            ],
        }

    # FastStream only knows the handler's body (raw records): point its channel at them.
    for channel_name, channel in doc.get("channels", {}).items():
        if channel.get("address") != FACTS.name:
            continue
        for old in channel.get("messages", {}).values():
            ref = old.get("$ref", "")
            stale = messages.pop(ref.removeprefix("#/components/messages/"), None)
            if stale is not None:
                old_payload = stale.get("payload", {}).get("$ref", "")
                schemas.pop(old_payload.removeprefix("#/components/schemas/"), None)
        channel["messages"] = {t: {"$ref": f"#/components/messages/{t}"} for t in on_facts}
        channel["description"] = FACTS.purpose
        for operation in doc.get("operations", {}).values():
            if operation.get("channel", {}).get("$ref") == f"#/channels/{channel_name}":
                operation["messages"] = [
                    {"$ref": f"#/channels/{channel_name}/messages/{t}"} for t in on_facts
                ]
    return doc


def _example_headers(event_type: str) -> dict[str, str]:
    event = examples()[event_type]
    return {
        topics.HEADER_EVENT_TYPE: event.type,
        topics.HEADER_SCHEMA_VERSION: str(event.schema_version),
        topics.HEADER_EVENT_ID: str(event.event_id),
    }


# --- docs/events.md -------------------------------------------------------------------------

HEADER_HELP: dict[str, str] = {
    topics.HEADER_EVENT_TYPE: "The event type, as in the envelope's `type`.",
    topics.HEADER_SCHEMA_VERSION: "The schema version, in decimal, as in `schema_version`.",
    topics.HEADER_EVENT_ID: "The event id, as in `event_id`.",
}

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
        "Valid alone, but the council has not been registered (set by the projector).",
        "Publish the council's `CouncilRegistered` first, then re-drive the dead letter.",
    ),
    Reason.CONFLICT: (
        "Valid alone, but not with what came before (set by the projector): for example a "
        "second `DecisionRecorded` for a case, or a correction moving a case to another "
        "council.",
        "Read the detail; publish the right event (such as `DecisionCorrected`) instead and "
        "re-drive or discard the dead letter.",
    ),
    Reason.WRONG_TOPIC: (
        "A valid event of a type that does not belong on the facts topic (for example a "
        "letter event), set by the projector.",
        "Find the producer that published it there; nothing needs re-driving.",
    ),
}

UNDOCUMENTED = "(not documented yet: add it in contracts/schemas.py)"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"`{text}`"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_text(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    if "$ref" in prop:
        name = _ref_name(prop["$ref"])
        kind = "enum" if "enum" in defs.get(name, {}) else "object"
        return f"[{name}](#{name.lower()}) ({kind})"
    if "anyOf" in prop:
        options = [p for p in prop["anyOf"] if p.get("type") != "null"]
        nullable = len(options) < len(prop["anyOf"])
        text = " or ".join(_type_text(p, defs) for p in options)
        return f"{text} or null" if nullable else text
    if "const" in prop:
        return f"constant {_code(prop['const'])}"
    kind = str(prop.get("type", "any"))
    if kind == "array":
        return f"array of {_type_text(prop.get('items', {}), defs)}"
    if "format" in prop:
        return f"{kind} ({prop['format']})"
    return kind


_CONSTRAINT_WORDS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("minLength", lambda v: "not empty" if v == 1 else f"at least {v} characters"),
    ("maxLength", lambda v: f"at most {v} characters"),
    ("pattern", lambda v: f"matches {_code(v)}"),
    ("minimum", lambda v: f"≥ {v}"),
    ("exclusiveMinimum", lambda v: f"> {v}"),
    ("maximum", lambda v: f"≤ {v}"),
    ("exclusiveMaximum", lambda v: f"< {v}"),
    ("formatMinimum", lambda v: f"on or after {v}"),
    ("formatMaximum", lambda v: f"on or before {v}"),
    ("minItems", lambda v: f"at least {v} item{'' if v == 1 else 's'}"),
    ("maxItems", lambda v: f"at most {v} item{'' if v == 1 else 's'}"),
)


def _constraints(prop: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for option in [prop, *prop.get("anyOf", [])]:
        parts += [words(option[key]) for key, words in _CONSTRAINT_WORDS if key in option]
        items = option.get("items")
        if isinstance(items, dict):
            parts += [
                f"each item {words(items[key])}" for key, words in _CONSTRAINT_WORDS if key in items
            ]
    if "default" in prop:
        parts.append(f"default {_code(prop['default'])}")
    return "; ".join(parts)


def _field_rows(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> list[list[str]]:
    required = set(schema.get("required", []))
    return [
        [
            f"`{name}`",
            _type_text(prop, defs),
            "yes" if name in required else "no",
            str(prop.get("description", "")),
            _constraints(prop),
        ]
        for name, prop in schema.get("properties", {}).items()
    ]


_FIELD_HEAD = ("field", "type", "required", "description", "constraints")


def _json_block(value: Any) -> list[str]:
    return ["```json", json.dumps(value, indent=2, ensure_ascii=False), "```"]


def _anchor(title: str) -> str:
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def events_markdown() -> str:
    out: list[str] = []
    add = out.append
    add("# Event contracts")
    add("")
    add(
        f"<!-- Generated from contracts/ by `{WRITE_COMMAND}`: do not edit by hand. "
        "`python -m contracts.schemas check` (and the unit tests) fail when it is stale. -->"
    )
    add("")
    add(
        "The case management system publishes what happens to complaints about councils as "
        "events; the services fold them into the Annual Review statistics and letters. This "
        "document is the public contract: every event type, its fields and rules, where it "
        "is published, and why a message can be refused. Machine-readable forms: "
        "`docs/schemas/<EventType>.json` (JSON Schema 2020-12 of the whole envelope) and "
        "`docs/asyncapi.json` (AsyncAPI 3.0, the projector)."
    )
    add("")
    add("## Event types")
    add("")
    out += _table(
        ("type", "schema version", "topic (key)", "meaning"),
        (
            [
                f"[`{t}`](#{t.lower()})",
                str(CURRENT_VERSIONS[t]),
                "; ".join(f"`{r.topic.name}` ({r.short_key})" for r in routes(t)),
                describe_payload(p).split("\n\n")[0],
            ]
            for t, p in PAYLOADS.items()
        ),
    )
    add("")
    add("## Topics")
    add("")
    out += _table(
        ("topic", "partitions", "purpose"),
        ([f"`{t.name}`", str(t.partitions), t.purpose] for t in topics.TOPICS),
    )
    add("")
    out += _envelope_section()
    out += _ordering_section()
    for event_type, payload in PAYLOADS.items():
        out += _event_section(event_type, payload)
    out += _shared_types_section()
    out += _evolution_section()
    out += _rejections_section()
    return "\n".join(out).rstrip("\n") + "\n"


def _envelope_section() -> list[str]:
    schema = Envelope.model_json_schema(mode="validation", schema_generator=_ContractJsonSchema)
    defs = schema.get("$defs", {})
    rows = _field_rows(schema, defs)
    for row in rows:
        if row[0] == "`data`":
            row[1] = "object (the payload)"
            row[3] = "The event's own fields: see each event type."
    headers = sorted(
        (value, name) for name, value in vars(topics).items() if name.startswith("HEADER_")
    )
    lines = [
        "## The envelope",
        "",
        "Every message is one JSON object (UTF-8, at most "
        f"{MAX_MESSAGE_BYTES // 1024} KiB): the envelope, with the event's own fields in "
        "`data`. Unknown fields are refused, in the envelope and in `data`.",
        "",
        *_table(_FIELD_HEAD, rows),
        "",
        "- `event_id` makes a publish idempotent: the projector applies each id once, so a "
        "retried publish must keep the id (a new id is a new event).",
        "- `occurred_at` is when it happened in the case management system; a fact dated "
        "(decision, compliance or withdrawal date, UK local date) later than the day after "
        "`occurred_at` is refused as a date in the future.",
        "- `council` is required (not null) on every event about a council; only "
        "`FinancialYearClosed` has none.",
        "",
        "### Headers",
        "",
        "Every producer sets these Kafka headers (contracts/publisher.py), so a consumer can "
        "route a message without decoding its body. The body is the authority: the headers "
        "repeat it.",
        "",
        *_table(
            ("header", "constant", "value"),
            (
                [f"`{v}`", f"`contracts.topics.{n}`", HEADER_HELP.get(v, UNDOCUMENTED)]
                for v, n in headers
            ),
        ),
        "",
    ]
    return lines


def _ordering_section() -> list[str]:
    return [
        "## Ordering and partitioning",
        "",
        f"- `{FACTS.name}` has {FACTS.partitions} partitions and is kept for ever, never "
        "compacted: the log is the source of truth for every statistic.",
        "- Events about a council are keyed by its code, so all of one council's events are on "
        "one partition, in the order they were published: publish `CouncilRegistered` before "
        "the council's decisions, and a correction after the decision it corrects.",
        "- There is no order between councils. Nothing may depend on it.",
        "- Publishers use `acks=all` and the idempotent producer, and refuse an invalid event "
        "before it reaches the log (the same `decode` the projector runs).",
        "- `FinancialYearClosed` is written once to every partition (no key). Kafka orders each "
        "copy after everything published to its partition before it, so when the projector "
        "has read the copy on every partition, the year's figures reflect exactly the facts "
        "published before the close.",
        "- A fact published after its year was closed is still accepted, in the year of its "
        "date, and the projector reports it as late.",
        "",
    ]


def _event_section(event_type: str, payload: type[Payload]) -> list[str]:
    schema = envelope_schema(event_type)
    defs = schema["$defs"]
    data_schema = defs[payload.__name__]
    lines = [
        f"## {event_type}",
        "",
        describe_payload(payload),
        "",
        f"- Schema version: **{CURRENT_VERSIONS[event_type]}**",
    ]
    for r in routes(event_type):
        lines.append(f"- Topic: `{r.topic.name}`; key: {r.key}")
    lines.append(
        "- Council: "
        + (
            "required (the event is about a council)"
            if payload.about_a_council
            else "null (not about one council)"
        )
    )
    lines += ["", "Fields of `data`:", ""]
    rows = _field_rows(data_schema, defs)
    lines += _table(_FIELD_HEAD, rows) if rows else ["(none)"]
    rules = RULES.get(event_type, ())
    if rules:
        lines += ["", "Rules:", ""]
        lines += [f"- {rule}" for rule in rules]
    lines += ["", "Example:", "", *_json_block(example_json(event_type)), ""]
    return lines


def _shared_types_section() -> list[str]:
    lines = ["## Shared types", ""]
    objects: list[type[BaseModel]] = [ChiefExecutive, Signatory]
    for model in objects:
        schema = model.model_json_schema(mode="validation", schema_generator=_ContractJsonSchema)
        _describe_fields({model.__name__: schema})
        lines += [
            f"### {model.__name__}",
            "",
            inspect.cleandoc(model.__doc__ or ""),
            "",
            *_table(_FIELD_HEAD, _field_rows(schema, schema.get("$defs", {}))),
            "",
        ]
    lines += [
        "### ComparisonGroup",
        "",
        "The Ombudsman's five comparison groups; a council's figures are compared with the "
        "average of its group.",
        "",
        *_table(
            ("value", "as the letters name the group"),
            ([f"`{g.value}`", g.plural_name] for g in ComparisonGroup),
        ),
        "",
        "### DecisionOutcome",
        "",
        inspect.cleandoc(DecisionOutcome.__doc__ or ""),
        "",
        *_table(
            ("value", "counts as a detailed investigation"),
            (
                [f"`{o.value}`", "yes" if o.is_detailed_investigation else "no"]
                for o in DecisionOutcome
            ),
        ),
        "",
        "### Financial year labels",
        "",
        "A financial year runs from 1 April to 31 March and travels as its label, "
        f"`{YEAR_2019_20.label}` for {YEAR_2019_20.period_wording}. A decision belongs to the "
        "year of its decision date, a compliance outcome to the year of the date it was "
        "recorded. `2019-21`, `19-20` and `2019` are not financial years.",
        "",
    ]
    return lines


def _evolution_section() -> list[str]:
    lines = [
        "## Schema evolution and upcasting",
        "",
        "- Each event type has its own schema version (the envelope's `schema_version`, and "
        "the `schema-version` header). Adding an optional field with a default is compatible "
        "and keeps the version; renaming, removing or changing the meaning of a field, or "
        "adding a required one, makes a new version.",
        "- The log is kept for ever, so old versions are never rewritten. A consumer reads "
        "every version from 1 to the current one: `decode` lifts an older payload one version "
        "at a time with pure functions (*upcasters*, contracts/upcasting.py) before validating "
        "it against the current model. Producers should send the current version.",
        "- At start-up `check_chains` refuses to run unless every older version of every type "
        "has its upcaster, and no upcaster is left without a type (an *orphan*).",
        "- A version above the current one is refused (`unsupported_version`): upgrade the "
        "consumers before the producers.",
        "",
        "| type | from version | to version | what changes |",
        "|---|---|---|---|",
    ]
    for (event_type, version), fn in sorted(UPCASTERS.items()):
        lines.append(
            f"| `{event_type}` | {version} | {version + 1} | "
            + _md_cell(inspect.cleandoc(fn.__doc__ or ""))
            + " |"
        )
    for (event_type, version), old in OLD_VERSION_EXAMPLES.items():
        lines += [
            "",
            f"A `{event_type}` at version {version}, as still read today:",
            "",
            *_json_block(old),
        ]
    lines.append("")
    return lines


def _rejections_section() -> list[str]:
    return [
        "## Rejection reasons",
        "",
        "A message the system refuses raises `RejectedMessage` with a machine-readable reason "
        "and a detail for people that names the field, the problem and the value given. The "
        "projector sends it to "
        f"`{topics.DEAD_LETTERS.name}` with the headers `dead-letter-reason` and "
        "`dead-letter-detail`, and goes on with the next message.",
        "",
        *_table(
            ("reason", "meaning", "what to do"),
            ([f"`{r.value}`", *REASON_HELP.get(r, (UNDOCUMENTED, UNDOCUMENTED))] for r in Reason),
        ),
        "",
    ]


# --- the files, and the command -------------------------------------------------------------


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Every generated file (path relative to the repository root) and its exact content."""
    files = {EVENTS_MD: events_markdown()}
    for event_type in PAYLOADS:
        files[SCHEMAS_DIR / f"{event_type}.json"] = _json_text(envelope_schema(event_type))
    files[ASYNCAPI_JSON] = _json_text(asyncapi_document())
    return files


def stale_files(root: Path = ROOT) -> list[str]:
    """One line per difference between the checked-in files and what would be generated."""
    problems: list[str] = []
    wanted = generated_files()
    for path, content in wanted.items():
        target = root / path
        if not target.exists():
            problems.append(f"{path}: missing")
            continue
        current = target.read_text(encoding="utf-8")
        if current != content:
            diff = list(
                difflib.unified_diff(current.splitlines(), content.splitlines(), lineterm="", n=0)
            )
            changed = sum(1 for d in diff if d[:1] in "+-" and not d.startswith(("+++", "---")))
            preview = "\n    ".join(diff[2:12])
            problems.append(f"{path}: out of date ({changed} lines differ)\n    {preview}")
    schema_dir = root / SCHEMAS_DIR
    if schema_dir.is_dir():
        for extra in sorted(schema_dir.glob("*.json")):
            if extra.relative_to(root) not in wanted:
                problems.append(f"{extra.relative_to(root)}: no such event type any more")
    return problems


def write(root: Path = ROOT) -> list[Path]:
    """Write every generated file; remove schema files of event types that no longer exist."""
    wanted = generated_files()
    written = []
    for path, content in wanted.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")
            written.append(path)
    schema_dir = root / SCHEMAS_DIR
    for extra in sorted(schema_dir.glob("*.json")):
        if extra.relative_to(root) not in wanted:
            extra.unlink()
            written.append(extra.relative_to(root))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.schemas",
        description="Generate (write) or verify (check) docs/events.md, docs/schemas/*.json "
        "and docs/asyncapi.json from the contracts.",
    )
    parser.add_argument("command", choices=("write", "check"))
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    if args.command == "write":
        changed = write(args.root)
        print("\n".join(f"wrote {p}" for p in changed) if changed else "everything up to date")
        return 0
    problems = stale_files(args.root)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(
            f"{len(problems)} generated file(s) out of date: run `{WRITE_COMMAND}`",
            file=sys.stderr,
        )
        return 1
    print("generated documentation is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
