"""Schema evolution: pure functions that lift an old payload one version up.

Each upcaster takes the ``data`` of (type, version) and returns the data of version + 1.
``check_chains`` runs at import of the registry, so a missing step fails at start-up,
not in the middle of a replay of years of history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]

# (event type, from version) -> function to from version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise RuntimeError(f"two upcasters for {event_type} v{from_version}")
        UPCASTERS[key] = fn
        return fn

    return register


@upcaster("DecisionRecorded", 1)
def _decision_recorded_v1_to_v2(data: Data) -> Data:
    """v1 predates the satisfactory-remedy finding: such decisions had none recorded.

    v1 also called the date ``date``; v2 calls it ``decision_date``.
    """
    upgraded = {k: v for k, v in data.items() if k != "date"}
    if "date" in data and "decision_date" not in data:
        upgraded["decision_date"] = data["date"]
    upgraded.setdefault("satisfactory_remedy", False)
    return upgraded


def _no_service_area(data: Data) -> Data:
    """Decisions from before service areas and published addresses (DecisionRecorded v2,
    DecisionCorrected v1) name neither: both are unknown, not a category or an address."""
    return {**data, "service_area": data.get("service_area"),
            "published_url": data.get("published_url")}  # fmt: skip


upcaster("DecisionRecorded", 2)(_no_service_area)
upcaster("DecisionCorrected", 1)(_no_service_area)


@upcaster("CouncilRegistered", 1)
def _council_registered_v1_to_v2(data: Data) -> Data:
    """v1 had no coordinates: the council is not on the map until a change gives them."""
    return {**data, "latitude": None, "longitude": None}


@upcaster("CouncilDetailsChanged", 1)
def _council_changed_v1_to_v2(data: Data) -> Data:
    """v1 could not state coordinates; a field left out keeps its value, so nothing to add."""
    return dict(data)


@upcaster("FinancialYearClosed", 1)
def _year_closed_v1_to_v2(data: Data) -> Data:
    """v1 pinned neither the letters' format nor their narrative: the letter service chooses
    them when it makes the letters (the year's built-in format, the narrative in force)."""
    return {**data, "letter_format": None, "narrative_version": None, "narrative_sha256": None}


def upcast(event_type: str, version: int, current: int, data: Data) -> Data:
    """Lift ``data`` from ``version`` to ``current``, one step at a time."""
    while version < current:
        data = UPCASTERS[(event_type, version)](data)
        version += 1
    return data


def check_chains(current_versions: Mapping[str, int]) -> None:
    """Every older version of every event type must reach the current one."""
    missing = [
        f"{event_type} v{v}->v{v + 1}"
        for event_type, current in current_versions.items()
        for v in range(1, current)
        if (event_type, v) not in UPCASTERS
    ]
    orphans = [
        f"{t} v{v}" for (t, v) in UPCASTERS if t not in current_versions or v >= current_versions[t]
    ]
    if missing or orphans:
        raise RuntimeError(
            "incomplete upcaster chains: "
            + ", ".join([*(f"missing {m}" for m in missing), *(f"orphan {o}" for o in orphans)])
        )
