"""Hostile input: messages the contract or the projector must refuse, of every kind the issue
names, each with the dead-letter reason it must be given.

``context_free`` makes messages that are refused whatever came before them; ``conflicts``
makes valid events that are refused in context (a decision, correction or withdrawal of a
case that belongs to another council), to be published once the cases they name exist.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from contracts.registry import CURRENT_VERSIONS
from contracts.topics import FACTS
from services.platform.kafka.partitioner import murmur2_partition
from services.simulator.invalid import KINDS as SIMULATOR_KINDS
from services.simulator.invalid import invalid_event

PRODUCER = "hostile-tests"
OCCURRED = datetime(2020, 4, 20, 9, 0, tzinfo=UTC)
DAY = date(2019, 10, 1)
UNKNOWN_TYPES = ("DecisionAppealed", "decisionrecorded", "", "Decision Recorded")
IMPOSSIBLE_DATES = ("2019-02-30", "2019-13-01", "2019-00-10", "2019-06-31", "someday")
# Not a dead-letter reason: an event for a council never registered is parked, not refused.
PARKED = "parked"


@dataclass(frozen=True, slots=True)
class Bad:
    kind: str
    key: bytes | None
    value: bytes | None
    reason: str | None  # the dead-letter reason it must get; None: the contract's (simulator)


class Maker:
    def __init__(self, rng: random.Random, councils: Sequence[str]) -> None:
        self.rng = rng
        self.councils = list(councils)
        self.n = 0

    def _id(self) -> str:
        return str(UUID(int=self.rng.getrandbits(128)))

    def _case(self) -> str:
        self.n += 1
        return f"66 {self.n // 1000:03d} {self.n % 1000:03d}"

    def decision(self, council: str | None = None, **data: Any) -> dict[str, Any]:
        """A valid DecisionRecorded as JSON: each kind spoils it in one way."""
        return {
            "event_id": self._id(),
            "type": "DecisionRecorded",
            "schema_version": 2,
            "occurred_at": OCCURRED.isoformat().replace("+00:00", "Z"),
            "producer": PRODUCER,
            "council": council or self.rng.choice(self.councils),
            "data": {
                "case_reference": self._case(),
                "decision_date": DAY.isoformat(),
                "outcome": "upheld",
                "satisfactory_remedy": False,
                **data,
            },
        }

    def spoil(self, **changes: Any) -> tuple[bytes | None, bytes]:
        event = self.decision()
        data = changes.pop("data", None)
        event.update(changes)
        if data is not None:
            event["data"] = {**event["data"], **data} if isinstance(data, dict) else data
        return event["council"].encode() if isinstance(event["council"], str) else None, _json(
            event
        )


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _kinds(
    m: Maker,
) -> dict[str, tuple[str | None, Callable[[], tuple[bytes | None, bytes | None]]]]:
    """kind -> (reason, make one)."""
    rng = m.rng

    def key() -> bytes:
        return rng.choice(m.councils).encode()

    def truncated() -> tuple[bytes | None, bytes | None]:
        k, v = m.spoil()
        return k, v[: rng.randrange(1, len(v) - 1)]

    def padded(size: int) -> Callable[[], tuple[bytes | None, bytes | None]]:
        def make() -> tuple[bytes | None, bytes | None]:
            k, v = m.spoil()
            return k, v[:-1] + b" " * (size - len(v)) + b"}"

        return make

    def simulator_kind() -> tuple[bytes | None, bytes | None]:
        council = rng.choice(m.councils)
        # Published on the day of the decision, as the simulator's own events are.
        at = datetime.combine(DAY, time(9, 0), tzinfo=UTC)
        event = invalid_event(
            rng, event_id=m._id(), occurred_at=at, producer=PRODUCER, council=council,
            case_reference=m._case(), day=DAY,
        )  # fmt: skip
        return council.encode(), _json(event)

    def one_of(*values: bytes) -> Callable[[], tuple[bytes | None, bytes | None]]:
        return lambda: (key(), rng.choice(values))

    def spoiled(**changes: Callable[[], Any]) -> Callable[[], tuple[bytes | None, bytes | None]]:
        return lambda: m.spoil(**{name: make() for name, make in changes.items()})

    def data(**changes: Callable[[], Any]) -> Callable[[], tuple[bytes | None, bytes | None]]:
        return lambda: m.spoil(data={name: make() for name, make in changes.items()})

    def pick(*values: Any) -> Callable[[], Any]:
        return lambda: rng.choice(values)

    def future() -> str:
        return (OCCURRED.date() + timedelta(days=rng.randrange(3, 900))).isoformat()

    def no_event_id() -> tuple[bytes | None, bytes | None]:
        event = m.decision()
        del event["event_id"]
        return key(), _json(event)

    return {
        # not JSON
        "not JSON: random bytes": ("not_json", lambda: (key(), rng.randbytes(rng.randrange(300)))),
        "not JSON: truncated event": ("not_json", truncated),
        "not JSON: plain text": ("not_json", one_of(b"DecisionRecorded for case 19 001 234")),
        "not JSON: empty": ("not_json", one_of(b"")),
        "not JSON: tombstone (no value)": ("not_json", lambda: (key(), None)),
        "not JSON: invalid UTF-8": ("not_json", one_of(b'{"council": "\xff\xfe"}')),
        "not JSON: nested 30,000 deep": ("not_json", one_of(b"[" * 30_000 + b"]" * 30_000)),
        # not an event
        "JSON but not an object": ("bad_envelope", one_of(b"[1, 2]", b'"event"', b"42", b"null")),
        "envelope field missing": ("bad_envelope", no_event_id),
        "unknown envelope field": ("bad_envelope", spoiled(priority=pick("high"))),
        # wrong types
        "wrong type: event_id a number": ("bad_envelope", spoiled(event_id=pick(12345))),
        "wrong type: occurred_at not a time": ("bad_envelope", spoiled(occurred_at=pick("today"))),
        "wrong type: council a number": ("bad_envelope", spoiled(council=pick(42))),
        "wrong type: outcome a number": ("invalid_data", data(outcome=pick(5))),
        "wrong type: satisfactory_remedy a list": ("invalid_data", data(satisfactory_remedy=list)),
        "wrong type: data a list": ("invalid_data", spoiled(data=pick([1, 2, 3]))),
        # unknown event type
        "unknown event type": ("unknown_type", spoiled(type=pick(*UNKNOWN_TYPES))),
        "event type not a string": ("unknown_type", spoiled(type=pick(None, 7, ["Decision"]))),
        # wrong schema versions
        # (one past the current version: a contract change that adds a version moves it too)
        "schema version unknown": (
            "unsupported_version",
            spoiled(schema_version=pick(0, CURRENT_VERSIONS["DecisionRecorded"] + 1, 99)),
        ),
        "schema version not a whole number": (
            "unsupported_version",
            spoiled(schema_version=pick("2", 2.5, True, None)),
        ),
        # impossible dates
        "impossible date": ("invalid_data", data(decision_date=pick(*IMPOSSIBLE_DATES))),
        "date in the future": ("invalid_data", data(decision_date=future)),
        "date before 1974": ("invalid_data", data(decision_date=pick("1969-07-20"))),
        # oversized fields and messages
        "oversized field: case reference (41 to 20,000 characters)": (
            "invalid_data",
            data(case_reference=lambda: "9" * rng.randrange(41, 20_000)),
        ),
        "oversized field: producer (101 to 30,000 characters)": (
            "bad_envelope",
            spoiled(producer=lambda: "x" * rng.randrange(101, 30_000)),
        ),
        "oversized message (100 KB)": ("too_large", padded(100_000)),
        # the simulator's own invalid events (services/simulator/invalid.py)
        f"simulator: one of its {len(SIMULATOR_KINDS)} invalid kinds": (None, simulator_kind),
    }


def context_free(rng: random.Random, councils: Sequence[str], n: int) -> Iterator[Bad]:
    """``n`` messages refused whatever came before them, every kind at least once; plus
    events for councils never registered (valid, parked by the projector: no dead letter)."""
    m = Maker(rng, councils)
    kinds = _kinds(m)
    names = sorted(kinds)
    for i in range(n):
        name = names[i] if i < len(names) else rng.choice(names)
        if i % 10 == 9:
            code = f"ZZ{rng.randrange(100, 999)}"
            # Not refused: parked until the council is registered (never, here). Its own case
            # reference: parked cases stand, so a reference drawn again for another council
            # on the same partition would be a conflict.
            event = m.decision(code)  # (no other draw of rng: the stream stays the same)
            event["data"]["case_reference"] = f"ZZ {event['event_id']}"
            yield Bad("unknown council (parked)", code.encode(), _json(event), PARKED)
            continue
        if name == "not JSON: nested 30,000 deep" and i >= len(names) and rng.random() < 0.9:
            name = "not JSON: plain text"  # a few of these are enough
        reason, make = kinds[name]
        k, v = make()
        yield Bad(name, k, v, reason)


def oversized_at_the_broker_limit(rng: random.Random, councils: Sequence[str]) -> Bad:
    """A message as large as a producer with the default limits may send (max.request.size
    1 MiB; the broker's message.max.bytes is about the same): 1,048,300 bytes."""
    m = Maker(rng, councils)
    k, v = m.spoil()
    size = 1_048_300
    padded = v[:-1] + b" " * (size - len(v)) + b"}"
    return Bad(
        "oversized message (1 MiB, the producer's and broker's limit)", k, padded, "too_large"
    )


def conflicts(
    rng: random.Random, cases: Sequence[tuple[str, str]], councils: Sequence[str], n: int
) -> Iterator[Bad]:
    """Valid events about a case of another council: ``cases`` are (case, its council).

    A second DecisionRecorded for a case is refused only where the case is, on its own
    partition: on another one it is counted there and held as a case conflict (the fold
    reads no other partition, docs/design-partitions.md). So those are keyed by a council
    on the owner's partition; corrections and withdrawals are refused anywhere."""
    m = Maker(rng, councils)

    def partition(code: str) -> int:
        return murmur2_partition(code.encode(), FACTS.partitions)

    for _ in range(n):
        case, owner = rng.choice(cases)
        kind = rng.choice(["DecisionRecorded", "DecisionCorrected", "DecisionWithdrawn"])
        beside = [c for c in councils if c != owner and partition(c) == partition(owner)]
        if kind == "DecisionRecorded" and not beside:
            kind = "DecisionCorrected"
        other = rng.choice(
            beside if kind == "DecisionRecorded" else [c for c in councils if c != owner]
        )
        event = m.decision(other, case_reference=case)
        if kind == "DecisionCorrected":
            event["type"] = kind
            event["schema_version"] = 1
            event["data"]["outcome"] = "not_upheld"
        elif kind == "DecisionWithdrawn":
            event.update(type=kind, schema_version=1)
            event["data"] = {"case_reference": case, "withdrawn_on": DAY.isoformat()}
        yield Bad(
            f"decision for another council's case ({kind})",
            other.encode(),
            _json(event),
            "conflict",
        )
