"""docs/asyncapi.json: FastStream's AsyncAPI 3.0 document of the projector, with the facts
channel's messages filled in from the contracts (FastStream only sees raw records)."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

from contracts import topics
from contracts.examples import example_json, examples
from contracts.registry import PAYLOADS
from contracts.topics import FACTS
from services.platform.settings import Settings
from services.projector.app import create_app
from services.projector.config import ProjectorSettings
from tools.docgen.json_schema import describe_payload, envelope_schema, rewrite_refs
from tools.docgen.paths import ROOT
from tools.docgen.routes import routes


def _project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        version: str = tomllib.load(f)["project"]["version"]
    return version


def faststream_asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document FastStream makes of the projector app, broker not started.

    The settings are the defaults (not the environment), so the document is the same on
    every machine.
    """
    app = create_app(Settings.model_construct(), ProjectorSettings.model_construct())
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


def _example_headers(event_type: str) -> dict[str, str]:
    event = examples()[event_type]
    return {
        topics.HEADER_EVENT_TYPE: event.type,
        topics.HEADER_SCHEMA_VERSION: str(event.schema_version),
        topics.HEADER_EVENT_ID: str(event.event_id),
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
            moved = rewrite_refs(definition, "#/$defs/", "#/components/schemas/")
            if schemas.setdefault(name, moved) != moved:
                raise RuntimeError(f"two different schemas are both called {name}")
        for keyword in ("$schema", "$id", "examples"):
            schema.pop(keyword, None)
        schemas[f"{event_type}Event"] = rewrite_refs(schema, "#/$defs/", "#/components/schemas/")
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
