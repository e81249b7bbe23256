"""What the demo publishes: the councils (the register), a simulated 2019-20 with
Mansfield's real figures (the casework), and the close."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from contracts.envelope import Envelope
from contracts.financial_year import FinancialYear
from services.councils.importer import read_councils
from services.councils.model import CouncilRecord
from services.councils.sample import MANSFIELD_CODE, load_sample
from services.platform.kafka.publisher import event_publisher
from services.platform.settings import Settings, as_principal
from services.simulator.generator import simulate_year
from services.simulator.mansfield import find_mansfield

YEAR = FinancialYear(2019)
# The close of the real 2019-20 letters (docs/demo.md).
CLOSE: dict[str, Any] = {
    "financial_year": YEAR.label,
    "letter_date": "2020-07-22",
    "publication_date": "2020-07-29",
    "signatory": {
        "name": "Michael King",
        "titles": [
            "Local Government and Social Care Ombudsman",
            "Chair, Commission for Local Administration in England",
        ],
    },
}
REGISTRATION = "CouncilRegistered"


@dataclass(frozen=True, slots=True)
class Councils:
    chosen: list[CouncilRecord]
    source: str  # where they came from, in words

    @property
    def mansfield(self) -> CouncilRecord | None:
        return find_mansfield(self.chosen)


def choose_councils(register: Path | None) -> Councils:
    """The mySociety register's councils of 2019-20 when a register is given and there,
    else the built-in sample; Mansfield addressed to its real chief executive either way."""
    sample = load_sample()
    if register is None or not register.is_file():
        return Councils(sample, "the built-in sample")
    found = read_councils(register, year=YEAR).councils
    real = next(c for c in sample if c.code == MANSFIELD_CODE)
    mansfield = find_mansfield(found)
    if mansfield is not None:
        details = mansfield.details.model_copy(
            update={"chief_executive": real.details.chief_executive}
        )
        found = [replace(c, details=details) if c is mansfield else c for c in found]
    return Councils(found, f"the mySociety register ({register})")


@dataclass(frozen=True, slots=True)
class SimulatedYear:
    registrations: list[Envelope[Any]]  # one CouncilRegistered per council, first
    casework: list[Envelope[Any]]  # decisions, corrections, withdrawals, compliance

    @property
    def events(self) -> int:
        return len(self.registrations) + len(self.casework)


def simulate(councils: Sequence[CouncilRecord], events: int, seed: int) -> SimulatedYear:
    """The year's events, all valid (the demo shows the happy path; `simulate` makes the
    invalid ones), in the order the simulator gives them: the register first."""
    stream = simulate_year(YEAR, councils=list(councils), events=events, seed=seed,
                           invalid_share=0.0)  # fmt: skip
    valid = [e for e in stream if isinstance(e, Envelope)]
    registrations = [e for e in valid if e.type == REGISTRATION]
    return SimulatedYear(registrations, [e for e in valid if e.type != REGISTRATION])


async def publish(ns: Settings, events: list[Envelope[Any]]) -> None:
    """Publish as the operator, in order, each event acknowledged."""
    async with event_publisher(as_principal(ns, "operator")) as publisher:
        await publisher.publish_many(events)


async def close(ns: Settings) -> None:
    """Close 2019-20: a FinancialYearClosed after the facts on every partition."""
    async with event_publisher(as_principal(ns, "operator")) as publisher:
        await publisher.close_year(CLOSE, producer="annual-review-demo")
