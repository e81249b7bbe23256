"""The checked-in contract documentation is exactly what the contracts generate.

A change to contracts/ without regenerating fails here: run `python -m tools.docgen write`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts import topics
from contracts.codec import Reason
from contracts.examples import example_json
from contracts.registry import CURRENT_VERSIONS, PAYLOADS
from tools.docgen import (
    ASYNCAPI_JSON,
    EVENTS_MD,
    ROOT,
    SCHEMAS_DIR,
    UNDOCUMENTED,
    WRITE_COMMAND,
    generated_files,
    main,
    routes,
    write,
)

REGENERATE = f"run `{WRITE_COMMAND}`"
GENERATED = generated_files()


@pytest.mark.parametrize("path", sorted(GENERATED), ids=str)
def test_checked_in_file_is_what_the_contracts_generate(path: Path) -> None:
    target = ROOT / path
    assert target.exists(), f"{path} is missing: {REGENERATE}"
    assert target.read_text(encoding="utf-8") == GENERATED[path], (
        f"{path} is out of date: {REGENERATE}"
    )


def test_no_schema_is_left_for_an_event_type_that_is_gone() -> None:
    checked_in = {p.relative_to(ROOT) for p in (ROOT / SCHEMAS_DIR).glob("*.json")}
    assert checked_in == {p for p in GENERATED if p.parent == SCHEMAS_DIR}, (
        f"docs/schemas does not match the event types: {REGENERATE}"
    )


def test_generation_is_deterministic() -> None:
    assert generated_files() == GENERATED


# --- what the documentation says -----------------------------------------------------------

EVENTS = GENERATED[EVENTS_MD]


def _section(event_type: str) -> str:
    start = EVENTS.index(f"\n## {event_type}\n")
    return EVENTS[start : EVENTS.index("\n## ", start + 1)]


@pytest.mark.parametrize("event_type", list(PAYLOADS))
def test_events_md_documents_each_type_with_version_topic_fields_and_example(
    event_type: str,
) -> None:
    section = _section(event_type)
    payload = PAYLOADS[event_type]

    assert f"- Schema version: **{CURRENT_VERSIONS[event_type]}**" in section
    for route in routes(event_type):
        assert f"- Topic: `{route.topic.name}`; key: {route.key}" in section
    for field in payload.model_fields:
        assert f"| `{field}` |" in section, f"{event_type}.{field} is not documented"
    # The example is the round-trip test's example, exactly as it travels.
    assert json.dumps(example_json(event_type), indent=2, ensure_ascii=False) in section


@pytest.mark.parametrize("event_type", list(PAYLOADS))
def test_every_field_has_a_description(event_type: str) -> None:
    data = json.loads(GENERATED[SCHEMAS_DIR / f"{event_type}.json"])["$defs"]
    for model, schema in data.items():
        for field, prop in schema.get("properties", {}).items():
            assert prop.get("description"), f"{model}.{field} has no description"


@pytest.mark.parametrize("event_type", list(PAYLOADS))
def test_every_event_type_says_what_it_means(event_type: str) -> None:
    meaning = EVENTS.split(f"\n## {event_type}\n\n", 1)[1].split("\n", 1)[0]
    assert meaning and not meaning.startswith("-"), f"{event_type} has no description"


def test_docstring_is_the_meaning_of_an_event() -> None:
    assert "The Ombudsman decided a complaint about a council." in _section("DecisionRecorded")


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_rejection_reason_is_explained_with_what_to_do(reason: Reason) -> None:
    rows = [line for line in EVENTS.splitlines() if line.startswith(f"| `{reason.value}` |")]
    assert len(rows) == 1
    assert UNDOCUMENTED not in rows[0]


def test_every_header_is_documented() -> None:
    headers = {v for n, v in vars(topics).items() if n.startswith("HEADER_")}
    assert headers
    for header in headers:
        (row,) = [line for line in EVENTS.splitlines() if line.startswith(f"| `{header}` |")]
        assert UNDOCUMENTED not in row


def test_events_md_covers_envelope_ordering_evolution_and_rejections() -> None:
    for heading in (
        "## The envelope",
        "### Headers",
        "## Ordering and partitioning",
        "## Schema evolution and upcasting",
        "## Rejection reasons",
    ):
        assert f"\n{heading}\n" in EVENTS


def test_every_topic_is_listed() -> None:
    for topic in topics.TOPICS:
        assert f"| `{topic.name}` | {topic.partitions} |" in EVENTS


# --- JSON Schema ----------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", list(PAYLOADS))
def test_json_schema_is_the_whole_envelope_at_the_current_version(event_type: str) -> None:
    schema = json.loads(GENERATED[SCHEMAS_DIR / f"{event_type}.json"])

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["type"]["const"] == event_type
    assert schema["properties"]["schema_version"]["const"] == CURRENT_VERSIONS[event_type]
    assert set(schema["required"]) == {
        "event_id",
        "type",
        "schema_version",
        "occurred_at",
        "producer",
        "council",
        "data",
    }
    assert schema["additionalProperties"] is False
    assert schema["examples"] == [example_json(event_type)]


@pytest.mark.parametrize("event_type", list(PAYLOADS))
def test_json_schema_example_has_every_required_field_and_no_other(event_type: str) -> None:
    schema = json.loads(GENERATED[SCHEMAS_DIR / f"{event_type}.json"])
    data_schema = schema["$defs"][PAYLOADS[event_type].__name__]
    example = example_json(event_type)

    assert set(data_schema.get("required", [])) <= set(example["data"])
    assert set(example["data"]) <= set(data_schema["properties"])


def test_json_schema_requires_a_council_on_events_about_a_council() -> None:
    decision = json.loads(GENERATED[SCHEMAS_DIR / "DecisionRecorded.json"])
    close = json.loads(GENERATED[SCHEMAS_DIR / "FinancialYearClosed.json"])

    assert decision["properties"]["council"]["type"] == "string"
    assert {"type": "null"} in close["properties"]["council"]["anyOf"]


def test_json_schema_of_a_details_change_needs_a_detail_and_refuses_a_null_name() -> None:
    change = json.loads(GENERATED[SCHEMAS_DIR / "CouncilDetailsChanged.json"])
    data = change["$defs"]["CouncilDetailsChanged"]

    assert data["minProperties"] == 1
    assert "anyOf" not in data["properties"]["name"]
    assert data["properties"]["name"]["type"] == "string"
    assert data["properties"]["comparison_group"] == {
        "$ref": "#/$defs/ComparisonGroup",
        "description": data["properties"]["comparison_group"]["description"],
    }


def test_json_schema_keeps_the_earliest_case_date() -> None:
    decision = json.loads(GENERATED[SCHEMAS_DIR / "DecisionRecorded.json"])
    data = decision["$defs"]["DecisionRecorded"]["properties"]
    assert data["decision_date"]["formatMinimum"] == "1974-01-01"


# --- AsyncAPI -------------------------------------------------------------------------------


def _asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(GENERATED[ASYNCAPI_JSON])
    return document


def test_asyncapi_is_version_3_and_describes_the_projector_receiving_the_facts() -> None:
    doc = _asyncapi()

    assert doc["asyncapi"] == "3.0.0"
    channels = [c for c in doc["channels"].values() if c["address"] == topics.FACTS.name]
    assert len(channels) == 1
    assert [op["action"] for op in doc["operations"].values()] == ["receive"]


def test_asyncapi_has_a_message_for_every_event_on_the_facts_topic() -> None:
    doc = _asyncapi()
    on_facts = {t for t in PAYLOADS if any(r.topic is topics.FACTS for r in routes(t))}
    (channel,) = doc["channels"].values()

    assert set(channel["messages"]) == on_facts
    for event_type in on_facts:
        message = doc["components"]["messages"][event_type]
        assert message["payload"] == {"$ref": f"#/components/schemas/{event_type}Event"}
        assert message["examples"][0]["payload"] == example_json(event_type)


def test_asyncapi_references_all_resolve() -> None:
    doc = _asyncapi()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, f"unresolved {ref}"
            node = node[part]


# --- the command ----------------------------------------------------------------------------


def test_check_passes_on_freshly_written_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["write", "--root", str(tmp_path)]) == 0
    assert main(["check", "--root", str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_fails_with_a_diff_summary_when_a_file_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path)
    stale = tmp_path / EVENTS_MD
    stale.write_text(stale.read_text().replace("Schema version: **2**", "Schema version: **1**", 1))
    (tmp_path / SCHEMAS_DIR / "DecisionRecorded.json").unlink()
    (tmp_path / SCHEMAS_DIR / "DecisionMade.json").write_text("{}")
    capsys.readouterr()

    assert main(["check", "--root", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert "docs/events.md: out of date (2 lines differ)" in err
    assert "-- Schema version: **1**" in err
    assert "+- Schema version: **2**" in err
    assert "docs/schemas/DecisionRecorded.json: missing" in err
    assert "docs/schemas/DecisionMade.json: no such event type any more" in err
    assert REGENERATE in err


def test_write_removes_the_schema_of_an_event_type_that_is_gone(tmp_path: Path) -> None:
    write(tmp_path)
    gone = tmp_path / SCHEMAS_DIR / "DecisionMade.json"
    gone.write_text("{}")

    write(tmp_path)

    assert not gone.exists()
