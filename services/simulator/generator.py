"""The simulator: a deterministic stream of one financial year's casework events.

``simulate_year`` yields, in publishing order: a CouncilRegistered per council (unless left
out), then ``events`` casework events spread over the year's working days, each one an
``Envelope`` (valid) or a ``dict`` (JSON, but invalid by contract). The same arguments give
the same events, byte for byte: all randomness comes from one seeded ``random.Random``,
event ids are drawn from it and times from the simulated dates, never from the clock.

Memory stays flat whatever the size: per council at most RESERVOIR cases that may later be
corrected or withdrawn, and at most PIPELINE_CAP upheld cases awaiting a compliance check.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from contracts.codec import envelope_model
from contracts.envelope import Envelope
from contracts.events import (
    ComplianceOutcomeRecorded,
    DecisionCorrected,
    DecisionOutcome,
    DecisionRecorded,
    DecisionWithdrawn,
    Payload,
)
from contracts.financial_year import FinancialYear
from services.councils.model import CouncilRecord
from services.simulator.invalid import invalid_event
from services.simulator.mansfield import REAL_EVENTS, REAL_YEAR, event_date, find_mansfield
from services.simulator.profile import OTHER_OUTCOMES, YearProfile
from services.simulator.roster import Roster, SimCouncil, councils_for
from services.simulator.service_areas import published_url_of, service_area_of

PRODUCER = "simulator"
RESERVOIR = 32
PIPELINE_CAP = 100_000
MIN_COMPLIANCE_LAG = timedelta(days=28)
CARRY_IN_DAYS = 180
WORKDAY_START = time(8, 0, tzinfo=UTC)
WORKDAY_SECONDS = 9 * 3600
REAL_EVENT_TIME = time(10, 0, tzinfo=UTC)
CORRECTION_REASONS = (
    "decided again after a review",
    "new information from the council",
    "the outcome was recorded in error",
)
WITHDRAWAL_REASONS = (
    "the complaint was withdrawn by the complainant",
    "recorded against the wrong case",
    "decision set aside on review",
)

Item = Envelope[Any] | dict[str, Any]


class SimulationError(ValueError):
    """Arguments the simulator cannot honour, with what to change."""


def simulate_year(
    year: FinancialYear | str,
    *,
    councils: int | Sequence[CouncilRecord] | None = None,
    events: int = 2_000,
    seed: int = 1,
    invalid_share: float = 0.01,
    corrections_share: float = 0.02,
    withdrawals_share: float = 0.005,
    include_registrations: bool = True,
    mansfield_real: bool | None = None,
    producer: str = PRODUCER,
) -> Iterator[Item]:
    """One financial year of casework, as a stream of events.

    councils: None for the built-in sample, N for N councils (the sample first, then
    synthetic ones), or the councils to use. Only councils that existed during the year
    take part. mansfield_real: Mansfield District Council gets exactly its real 2019-20
    figures and nothing else; None means "when simulating 2019-20 and Mansfield is among
    the councils".
    """
    fy = year if isinstance(year, FinancialYear) else FinancialYear.parse(year)
    if events < 0:
        raise SimulationError("the number of events cannot be negative")
    shares = {
        "invalid share": invalid_share,
        "corrections share": corrections_share,
        "withdrawals share": withdrawals_share,
    }
    for name, share in shares.items():
        if not 0 <= share <= 1:
            raise SimulationError(f"the {name} must be between 0 and 1, not {share}")
    if sum(shares.values()) >= 0.9:
        raise SimulationError("invalid, corrections and withdrawals shares must add up to < 0.9")
    try:
        records = councils_for(fy, councils)
    except ValueError as e:
        raise SimulationError(str(e)) from None
    mansfield = find_mansfield(records)
    if mansfield_real is None:
        mansfield_real = fy == REAL_YEAR and mansfield is not None
    if mansfield_real:
        if fy != REAL_YEAR:
            raise SimulationError(
                f"Mansfield's real figures are those of {REAL_YEAR}, not {fy}: "
                f"use --no-mansfield-real for other years"
            )
        if mansfield is None:
            raise SimulationError(
                "Mansfield District Council is not among the councils: add it, or use "
                "--no-mansfield-real"
            )
        if len(records) == 1:
            raise SimulationError("Mansfield alone cannot take random casework: add councils")
    real_code = mansfield.code if mansfield_real and mansfield else None
    return _Simulation(fy, records, seed, producer, real_code).run(
        events, invalid_share, corrections_share, withdrawals_share, include_registrations
    )


def working_days(year: FinancialYear) -> list[date]:
    day, out = year.first_day, []
    while day <= year.last_day:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


class _Simulation:
    def __init__(
        self,
        year: FinancialYear,
        records: list[CouncilRecord],
        seed: int,
        producer: str,
        real_code: str | None,
    ) -> None:
        self.year = year
        self.records = records
        self.producer = producer
        self.real_code = real_code
        self.rng = random.Random(f"annual-review-simulator:{year.label}:{seed}")
        self.profile = YearProfile.of(year)
        exclude = frozenset({real_code}) if real_code else frozenset()
        self.roster = Roster(year, records, self.profile, self.rng, exclude=exclude)
        self.live: dict[str, list[str]] = {}
        self.awaiting_compliance: deque[tuple[date, str, str]] = deque()
        self.case_number = 0
        self.carry_in_number = 500_000
        yy = year.start_year % 100
        self.prefix = f"{yy:02d}"
        self.carry_in_prefix = f"{(yy - 1) % 100:02d}"
        self.carry_in_until = year.first_day + timedelta(days=CARRY_IN_DAYS)
        self._other_outcomes = [o for o, _ in OTHER_OUTCOMES]
        cumulative, total = [], 0.0
        for _, share in OTHER_OUTCOMES:
            total += share
            cumulative.append(total)
        self._other_cumulative = cumulative

    # --- the stream -----------------------------------------------------------------------

    def run(
        self,
        events: int,
        invalid_share: float,
        corrections_share: float,
        withdrawals_share: float,
        include_registrations: bool,
    ) -> Iterator[Item]:
        rng = self.rng
        if include_registrations:
            at = datetime.combine(self.year.first_day, time(0, 0, tzinfo=UTC))
            for record in self.records:
                yield self._envelope(record.details, record.code, at)
        real = list(REAL_EVENTS) if self.real_code else []
        days = working_days(self.year)
        n_days = len(days)
        q = self.profile.compliance_per_decision
        compliance_share = q / (1 + q)
        corrections_to = invalid_share + corrections_share
        withdrawals_to = corrections_to + withdrawals_share
        for i in range(events):
            slot = i * n_days
            day = days[slot // events]
            at = datetime.combine(day, WORKDAY_START) + timedelta(
                seconds=(slot % events) * WORKDAY_SECONDS // events
            )
            while real and _real_time(real[0]) <= at:
                yield self._real(real.pop(0))
            r = rng.random()
            council = self.roster.pick(day)
            item: Item | None = None
            if r < invalid_share:
                item = invalid_event(
                    rng,
                    event_id=str(self._id()),
                    occurred_at=at,
                    producer=self.producer,
                    council=council.code,
                    case_reference=self._new_reference(),
                    day=day,
                )
            elif r < corrections_to:
                item = self._correction(council, day, at)
            elif r < withdrawals_to:
                item = self._withdrawal(council, day, at)
            elif rng.random() < compliance_share:
                item = self._compliance(day, at)
            yield item if item is not None else self._decision(council, day, at)
        for payload in real:
            yield self._real(payload)

    # --- events -------------------------------------------------------------------------

    def _decision(self, council: SimCouncil, day: date, at: datetime) -> Envelope[Any]:
        reference = self._new_reference()
        outcome, remedy = self._outcome(council)
        if (
            outcome is DecisionOutcome.UPHELD
            and not remedy
            and self.rng.random() < self.profile.recommendations_share
        ):
            if len(self.awaiting_compliance) >= PIPELINE_CAP:
                self.awaiting_compliance.popleft()
            self.awaiting_compliance.append((day, council.code, reference))
        live = self.live.setdefault(council.code, [])
        if len(live) < RESERVOIR:
            live.append(reference)
        else:
            live[self.rng.randrange(RESERVOIR)] = reference
        payload = DecisionRecorded(
            case_reference=reference,
            decision_date=day,
            outcome=outcome,
            satisfactory_remedy=remedy,
            service_area=service_area_of(reference),
            published_url=published_url_of(reference, outcome),
        )
        return self._envelope(payload, council.code, at)

    def _correction(self, council: SimCouncil, day: date, at: datetime) -> Envelope[Any] | None:
        live = self.live.get(council.code)
        if not live:
            return None
        reference = live[self.rng.randrange(len(live))]
        outcome, remedy = self._outcome(council)
        payload = DecisionCorrected(
            case_reference=reference,
            decision_date=day,
            outcome=outcome,
            satisfactory_remedy=remedy,
            service_area=service_area_of(reference),
            published_url=published_url_of(reference, outcome),
            reason=self.rng.choice(CORRECTION_REASONS),
        )
        return self._envelope(payload, council.code, at)

    def _withdrawal(self, council: SimCouncil, day: date, at: datetime) -> Envelope[Any] | None:
        live = self.live.get(council.code)
        if not live:
            return None
        index = self.rng.randrange(len(live))
        reference = live[index]
        live[index] = live[-1]
        live.pop()
        payload = DecisionWithdrawn(
            case_reference=reference,
            withdrawn_on=day,
            reason=self.rng.choice(WITHDRAWAL_REASONS),
        )
        return self._envelope(payload, council.code, at)

    def _compliance(self, day: date, at: datetime) -> Envelope[Any] | None:
        """A compliance check of an upheld case decided at least four weeks before, or,
        early in the year, of a case decided the year before."""
        waiting = self.awaiting_compliance
        if waiting and waiting[0][0] <= day - MIN_COMPLIANCE_LAG:
            _, code, reference = waiting.popleft()
        elif day < self.carry_in_until:
            code = self.roster.pick(day).code
            self.carry_in_number += 1
            reference = _reference(self.carry_in_prefix, self.carry_in_number)
        else:
            return None
        implemented = self.rng.random() < self.profile.compliance_rate
        late = implemented and self.rng.random() < self.profile.late_share
        payload = ComplianceOutcomeRecorded(
            case_reference=reference, recorded_on=day, implemented=implemented, late=late
        )
        return self._envelope(payload, code, at)

    def _real(self, payload: Payload) -> Envelope[Any]:
        assert self.real_code is not None
        return self._envelope(payload, self.real_code, _real_time(payload))

    # --- helpers ------------------------------------------------------------------------

    def _outcome(self, council: SimCouncil) -> tuple[DecisionOutcome, bool]:
        rng = self.rng
        if rng.random() < self.profile.detailed_share:
            if rng.random() < council.uphold_rate:
                return DecisionOutcome.UPHELD, rng.random() < council.remedy_rate
            return DecisionOutcome.NOT_UPHELD, False
        r = rng.random() * self._other_cumulative[-1]
        for outcome, bound in zip(self._other_outcomes, self._other_cumulative, strict=True):
            if r < bound:
                return outcome, False
        return self._other_outcomes[-1], False

    def _new_reference(self) -> str:
        self.case_number += 1
        return _reference(self.prefix, self.case_number)

    def _id(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128))

    def _envelope(self, payload: Payload, council: str, at: datetime) -> Envelope[Any]:
        return envelope_model(payload.event_type)(
            event_id=self._id(),
            type=payload.event_type,
            schema_version=payload.schema_version,
            occurred_at=at,
            producer=self.producer,
            council=council,
            data=payload,
        )


def _real_time(payload: Payload) -> datetime:
    return datetime.combine(event_date(payload), REAL_EVENT_TIME)


def _reference(prefix: str, number: int) -> str:
    """``19 001 234``: the year's two digits, then the number in groups of three."""
    return f"{prefix} {number // 1000:03d} {number % 1000:03d}"
