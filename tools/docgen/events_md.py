"""docs/events.md: the events for people, with a worked example of each.

Everything it says about a model comes from the model (docstrings, field descriptions,
``rules``), about a topic or header from contracts/topics.py, about a rejection reason from
``contracts.codec.REASON_HELP``; the rest is the prose of the sections below.
"""

from __future__ import annotations

import inspect

from pydantic import BaseModel

from contracts import topics
from contracts.codec import MAX_MESSAGE_BYTES, REASON_HELP, Reason
from contracts.envelope import Envelope
from contracts.events import DecisionOutcome, Payload
from contracts.examples import OLD_VERSION_EXAMPLES, YEAR_2019_20, example_json
from contracts.groups import ComparisonGroup
from contracts.registry import CURRENT_VERSIONS, PAYLOADS
from contracts.topics import FACTS
from contracts.upcasting import UPCASTERS
from contracts.values import ChiefExecutive, Signatory
from tools.docgen.json_schema import ContractJsonSchema, describe_payload, envelope_schema, prose
from tools.docgen.markdown import FIELD_HEAD, field_rows, json_block, md_cell, table
from tools.docgen.paths import CHECK_COMMAND, WRITE_COMMAND
from tools.docgen.routes import routes

UNDOCUMENTED = "(not documented yet: describe it where contracts/ declares it)"


def events_markdown() -> str:
    out: list[str] = []
    add = out.append
    add("# Event contracts")
    add("")
    add(
        f"<!-- Generated from contracts/ by `{WRITE_COMMAND}`: do not edit by hand. "
        f"`{CHECK_COMMAND}` (and the unit tests) fail when it is stale. -->"
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
    out += table(
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
    out += table(
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
    schema = Envelope.model_json_schema(mode="validation", schema_generator=ContractJsonSchema)
    defs = schema.get("$defs", {})
    rows = field_rows(schema, defs)
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
        *table(FIELD_HEAD, rows),
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
        "Every producer sets these Kafka headers (services/platform/kafka/publisher.py), so a "
        "consumer can route a message without decoding its body. The body is the authority: "
        "the headers repeat it.",
        "",
        *table(
            ("header", "constant", "value"),
            (
                [f"`{v}`", f"`contracts.topics.{n}`", topics.HEADERS.get(v, UNDOCUMENTED)]
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
    rows = field_rows(data_schema, defs)
    lines += table(FIELD_HEAD, rows) if rows else ["(none)"]
    if payload.rules:
        lines += ["", "Rules:", ""]
        lines += [f"- {rule}" for rule in payload.rules]
    lines += ["", "Example:", "", *json_block(example_json(event_type)), ""]
    return lines


def _shared_types_section() -> list[str]:
    lines = ["## Shared types", ""]
    objects: list[type[BaseModel]] = [ChiefExecutive, Signatory]
    for model in objects:
        schema = model.model_json_schema(mode="validation", schema_generator=ContractJsonSchema)
        lines += [
            f"### {model.__name__}",
            "",
            prose(model.__doc__),
            "",
            *table(FIELD_HEAD, field_rows(schema, schema.get("$defs", {}))),
            "",
        ]
    lines += [
        "### ComparisonGroup",
        "",
        prose(ComparisonGroup.__doc__),
        "",
        *table(
            ("value", "as the letters name the group"),
            ([f"`{g.value}`", g.plural_name] for g in ComparisonGroup),
        ),
        "",
        "### DecisionOutcome",
        "",
        prose(DecisionOutcome.__doc__),
        "",
        *table(
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
        "### Characters in text",
        "",
        "Every string is checked for characters that cannot be stored or must not be shown "
        "(contracts/values.py); a refusal names the field, the character as `U+XXXX` with "
        "its name, and its place, for example `data.name: contains U+0000 (NULL) at "
        "character 10: not allowed in any text` (`invalid_data` in the payload, "
        "`bad_envelope` in the envelope).",
        "",
        *table(
            ("where", "refused"),
            [
                [
                    "any string (envelope and payload, every type)",
                    "U+0000 (PostgreSQL cannot store it in `text` or `jsonb`); lone surrogates "
                    "U+D800-U+DFFF (not UTF-8; JSON that holds one is `not_json`)",
                ],
                [
                    "names and single lines: every `Name` and `ShortText` (council and person "
                    "names, job titles, salutations, roles, signatory titles, the producer, "
                    "message ids) and e-mail addresses",
                    "control characters C0 U+0001-U+001F (tab, CR and LF included: they reach "
                    "e-mail headers), DEL U+007F and C1 U+0080-U+009F; bidirectional controls "
                    "U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C; zero-width "
                    "U+200B-U+200D, U+2060, U+FEFF (they make one council's name look like "
                    "another's)",
                ],
                [
                    "multi-line text: `reason`, `note`, a narrative's `markdown`",
                    "control characters except tab, CR and LF",
                ],
            ],
        ),
        "",
        "Codes and references (`council`, `case_reference`, hashes) have patterns that "
        "already allow none of these. Names in any script, and non-breaking spaces, are "
        "accepted.",
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
            + md_cell(inspect.cleandoc(fn.__doc__ or ""))
            + " |"
        )
    for (event_type, version), old in OLD_VERSION_EXAMPLES.items():
        lines += [
            "",
            f"A `{event_type}` at version {version}, as still read today:",
            "",
            *json_block(old),
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
        "`dead-letter-detail`, and goes on with the next message. The dead letter's text "
        "(reason, detail, event type, council; the `dead-letter-detail` header) never holds "
        "a refused character as it came: control, bidi and zero-width characters are "
        "written as escapes (`\\u0000`); the message's bytes are kept exactly, for a "
        "re-drive.",
        "",
        "A batch the database refuses for a reason that is not transient (a value the "
        "contract let through but a column cannot hold) is not retried for ever: the "
        "projector splits it, applies every other record and dead-letters the one that "
        "fails alone (twice) as `store_refused`, with the database's error "
        "([reliability](reliability.md)).",
        "",
        *table(
            ("reason", "meaning", "what to do"),
            ([f"`{r.value}`", *REASON_HELP.get(r, (UNDOCUMENTED, UNDOCUMENTED))] for r in Reason),
        ),
        "",
    ]
