"""JSON Schema (2020-12) of the whole envelope carrying each event type, from the models.

The models carry every description (docstrings, ``Field(description=...)``); this module adds
only what depends on the event type (the constant ``type`` and ``schema_version``, whether a
council is required, where it is published) and what a model validator enforces where JSON
Schema can say it.
"""

from __future__ import annotations

import inspect
from datetime import date
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from contracts.codec import envelope_model
from contracts.events import Payload
from contracts.examples import example_json
from contracts.registry import CURRENT_VERSIONS, PAYLOADS
from tools.docgen.routes import routes

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class ContractJsonSchema(GenerateJsonSchema):
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


def prose(doc: str | None) -> str:
    """A docstring as the documents print it: dedented, each paragraph on one line."""
    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def describe_payload(payload: type[Payload]) -> str:
    """What the event means: its model's own docstring (not one inherited)."""
    return prose(payload.__dict__.get("__doc__"))


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


def rewrite_refs(node: Any, old: str, new: str) -> Any:
    """``node`` with every ``$ref`` that starts with ``old`` starting with ``new`` instead."""
    if isinstance(node, dict):
        return {
            k: (
                new + v.removeprefix(old)
                if k == "$ref" and isinstance(v, str) and v.startswith(old)
                else rewrite_refs(v, old, new)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [rewrite_refs(v, old, new) for v in node]
    return node


def envelope_schema(event_type: str) -> dict[str, Any]:
    """JSON Schema of the whole envelope carrying ``event_type`` at its current version."""
    payload = PAYLOADS[event_type]
    version = CURRENT_VERSIONS[event_type]
    raw = envelope_model(event_type).model_json_schema(
        mode="validation", schema_generator=ContractJsonSchema
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
    for definition in defs.values():
        if "description" in definition:  # a docstring: one line per paragraph
            definition["description"] = prose(definition["description"])
    _tighten(event_type, defs[payload.__name__])
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
