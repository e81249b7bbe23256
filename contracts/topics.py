"""Every Kafka topic, declared once: the services, the CLI and the infra scripts read it here.

Replication is the cluster's, not the contract's: every topic gets the replication factor and
``min.insync.replicas`` of the settings (AR_KAFKA_REPLICATION_FACTOR, AR_KAFKA_MIN_INSYNC_REPLICAS;
services/platform/kafka/admin.py): 1 and 1 on one broker, 3 and 2 on three.

Facts about a council (its registration, decisions, compliance outcomes) share one topic
and are keyed by council code, so Kafka keeps them in order per council: a council is
registered before its decisions arrive, and a year-end marker on a partition follows every
fact published to that partition before it (docs/architecture.md, "Year end").
"""

from __future__ import annotations

from dataclasses import dataclass, field

FOREVER = "-1"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    purpose: str = ""


FACTS = TopicSpec(
    name="casework.facts",
    partitions=6,
    # The log is the source of truth for every statistic: keep it for ever, never compact.
    config={
        "retention.ms": FOREVER,
        "retention.bytes": FOREVER,
        "cleanup.policy": "delete",
        # The broker stamps each record with the time it appended it: `stats --as-of` maps a
        # moment to positions with it. A producer's own CreateTime is whatever its clock (or
        # its code) says, and need not grow along a partition (docs/architecture.md).
        "message.timestamp.type": "LogAppendTime",
    },
    purpose="Council registry, decisions, compliance outcomes, year-end markers; key: council",
)

DEAD_LETTERS = TopicSpec(
    name="annual-review.dead-letters",
    partitions=1,
    config={"retention.ms": FOREVER, "retention.bytes": FOREVER},
    purpose="Messages the projector rejected, with the reason and their original position",
)

# A letter's rendering goes to the log whole (LetterRendered: text, HTML with its charts, the
# PDF in base64), so a restore of the database brings the letters back as sent. A letter is a
# few hundred KiB; the limit leaves room for a long narrative and many charts. The letter
# service's producer compresses (gzip) and may send requests up to this size.
LETTERS_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

LETTERS = TopicSpec(
    name="annual-review.letters",
    partitions=3,
    # Kept for ever: with the facts, it is what a restore of the database reads.
    config={
        "retention.ms": FOREVER,
        "retention.bytes": FOREVER,
        "cleanup.policy": "delete",
        "max.message.bytes": str(LETTERS_MAX_MESSAGE_BYTES),
    },
    purpose="Every letter's state changes with its record, its rendering (text, HTML, PDF), "
    "issued, dispatched and dispatch-failed events, keyed by council",
)

YEAR_END = TopicSpec(
    name="annual-review.year-end",
    partitions=1,
    config={"retention.ms": FOREVER, "retention.bytes": FOREVER},
    purpose="One FinancialYearClosed per close, after its markers: the letter service's trigger",
)

NARRATIVES = TopicSpec(
    name="annual-review.narratives",
    partitions=1,
    # One partition: its order numbers each year's versions. Kept for ever: a new installation
    # or a replay finds every version a letter was printed from.
    config={"retention.ms": FOREVER, "retention.bytes": FOREVER, "cleanup.policy": "delete"},
    purpose="NarrativeRegistered: each letter year's narrative, every version, in order",
)

OFFICE_ACTIONS = TopicSpec(
    name="annual-review.office-actions",
    partitions=1,
    # The audit trail of the office's actions (docs/office.md, "Audit"): one partition keeps
    # them in the order they were taken; kept for ever, never compacted, never edited.
    config={"retention.ms": FOREVER, "retention.bytes": FOREVER, "cleanup.policy": "delete"},
    purpose="OfficeActionTaken: every action of the office, in the workspace or the CLI, by whom",
)

TOPICS: tuple[TopicSpec, ...] = (
    FACTS,
    DEAD_LETTERS,
    LETTERS,
    YEAR_END,
    NARRATIVES,
    OFFICE_ACTIONS,
)

# Headers every producer sets, so a consumer can route without decoding the body.
HEADER_EVENT_TYPE = "event-type"
HEADER_SCHEMA_VERSION = "schema-version"
HEADER_EVENT_ID = "event-id"
# Set by the office's publisher on the events only the office may state (OFFICE_EVENTS in
# contracts/events.py); the projector refuses those events without a valid one.
HEADER_OFFICE_SIGNATURE = "office-signature"

# What each header says, for the documentation (docs/events.md): the body is the authority.
HEADERS: dict[str, str] = {
    HEADER_EVENT_TYPE: "The event type, as in the envelope's `type`.",
    HEADER_SCHEMA_VERSION: "The schema version, in decimal, as in `schema_version`.",
    HEADER_EVENT_ID: "The event id, as in `event_id`.",
    HEADER_OFFICE_SIGNATURE: "Only on the events only the Ombudsman's office may state "
    "(`FinancialYearClosed`, `CouncilRegistered`, `CouncilDetailsChanged`, `CouncilAbolished`): "
    "`<key id>:<base64 Ed25519 signature of the message's value bytes>`, set by the office's "
    "publisher (the operator's CLI; later the office workspace). The projector refuses such an "
    "event without a signature that verifies with a key it trusts (`not_authorised`); a case "
    "management system never sets it (docs/security.md).",
}
