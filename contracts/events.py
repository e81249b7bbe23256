"""The events, past tense, one payload model each (the current schema version).

Each payload says only what is particular to its event; the envelope (envelope.py) carries
the event id, type, schema version, time, producer and council. Rules that a single event
can break are checked here, so bad input is refused with a reason before it is published.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import (
    CaseReference,
    ChiefExecutive,
    CouncilCode,
    Name,
    ShortText,
    Signatory,
)

Population = Annotated[int, Field(gt=0, le=20_000_000)]
PopulationYear = Annotated[int, Field(ge=1990, le=2100)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
# The Commission for Local Administration in England was set up in 1974: nothing before.
CaseDate = Annotated[date, Field(ge=date(1974, 1, 1))]


class DecisionOutcome(enum.StrEnum):
    """The six outcomes of a decision (DOMAIN.md section 3)."""

    UPHELD = "upheld"
    NOT_UPHELD = "not_upheld"
    ADVICE_GIVEN = "advice_given"
    CLOSED_AFTER_INITIAL_ENQUIRIES = "closed_after_initial_enquiries"
    INCOMPLETE_OR_INVALID = "incomplete_or_invalid"
    REFERRED_BACK_FOR_LOCAL_RESOLUTION = "referred_back_for_local_resolution"

    @property
    def is_detailed_investigation(self) -> bool:
        return self in (DecisionOutcome.UPHELD, DecisionOutcome.NOT_UPHELD)


class Payload(BaseModel):
    """Base of every event payload: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    # Whether the envelope must name a council (the partition key).
    about_a_council: ClassVar[bool] = True


# --- council registry -------------------------------------------------------------------


class CouncilRegistered(Payload):
    event_type: ClassVar[str] = "CouncilRegistered"

    name: Name = Field(examples=["Mansfield District Council"])
    comparison_group: ComparisonGroup
    existed_from: date | None = Field(
        default=None, description="First day of existence; null if before records began."
    )
    existed_until: date | None = Field(
        default=None, description="Last day of existence; null while the council exists."
    )
    population: Population | None = None
    population_year: PopulationYear | None = Field(
        default=None, description="The year the population figure refers to."
    )
    chief_executive: ChiefExecutive | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CouncilRegistered:
        _check_existence(self.existed_from, self.existed_until)
        _check_population(self.population, self.population_year)
        return self


class CouncilDetailsChanged(Payload):
    """Any of the registry facts changed; fields left out stay as they were."""

    event_type: ClassVar[str] = "CouncilDetailsChanged"

    name: Name | None = None
    comparison_group: ComparisonGroup | None = None
    existed_from: date | None = None
    population: Population | None = None
    population_year: PopulationYear | None = None
    chief_executive: ChiefExecutive | None = None

    @model_validator(mode="after")
    def _says_something(self) -> CouncilDetailsChanged:
        if not self.model_fields_set:
            raise ValueError("a council change must change at least one detail")
        for name in ("name", "comparison_group"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be removed: leave it out to keep it as it was")
        _check_population(self.population, self.population_year)
        return self

    @model_serializer(mode="wrap")
    def _only_what_changed(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A left-out field means "unchanged", a null means "now none": keep them apart.
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


class CouncilAbolished(Payload):
    event_type: ClassVar[str] = "CouncilAbolished"

    last_day: date = Field(description="The last day the council existed.")
    replaced_by: tuple[CouncilCode, ...] = ()


# --- casework ------------------------------------------------------------------------------


class _Decision(Payload):
    case_reference: CaseReference = Field(examples=["19 001 234"])
    decision_date: CaseDate
    outcome: DecisionOutcome
    satisfactory_remedy: bool = Field(
        default=False,
        description="Upheld only: the council had already provided a satisfactory remedy "
        "before the complaint reached the Ombudsman.",
    )

    @model_validator(mode="after")
    def _remedy_only_when_upheld(self) -> _Decision:
        if self.satisfactory_remedy and self.outcome is not DecisionOutcome.UPHELD:
            raise ValueError(
                f"satisfactory_remedy is only meaningful on an upheld decision, "
                f"not on outcome '{self.outcome.value}'"
            )
        return self

    @property
    def financial_year(self) -> FinancialYear:
        return FinancialYear.of(self.decision_date)


class DecisionRecorded(_Decision):
    """The Ombudsman decided a complaint about a council."""

    event_type: ClassVar[str] = "DecisionRecorded"
    schema_version: ClassVar[int] = 2


class DecisionCorrected(_Decision):
    """The case was decided again (for example after a review): the latest decision counts."""

    event_type: ClassVar[str] = "DecisionCorrected"

    reason: Reason | None = None


class DecisionWithdrawn(Payload):
    """The decision no longer stands: the case leaves the statistics."""

    event_type: ClassVar[str] = "DecisionWithdrawn"

    case_reference: CaseReference
    withdrawn_on: CaseDate
    reason: Reason | None = None


class ComplianceOutcomeRecorded(Payload):
    """Whether the council did what the Ombudsman recommended on a case."""

    event_type: ClassVar[str] = "ComplianceOutcomeRecorded"

    case_reference: CaseReference
    recorded_on: CaseDate
    implemented: bool
    late: bool = Field(default=False, description="Implemented, but after the agreed date.")

    @model_validator(mode="after")
    def _late_means_implemented(self) -> ComplianceOutcomeRecorded:
        if self.late and not self.implemented:
            raise ValueError("late is only meaningful when the recommendations were implemented")
        return self

    @property
    def financial_year(self) -> FinancialYear:
        return FinancialYear.of(self.recorded_on)


# --- year end ------------------------------------------------------------------------------


class FinancialYearClosed(Payload):
    """The year is closed: publish once to every partition of the facts topic.

    Kafka orders each copy after every fact published to its partition before it, so
    when the projector has read the marker on every partition, its figures for the year
    reflect exactly the facts published before the close (DESIGN-NOTES, design (a)).
    """

    event_type: ClassVar[str] = "FinancialYearClosed"
    about_a_council: ClassVar[bool] = False

    financial_year: FinancialYear
    close_id: UUID = Field(description="The same on every partition's copy of one close.")
    partition_count: int = Field(
        gt=0, le=10_000, description="Copies published, one per partition."
    )
    letter_date: date
    publication_date: date
    signatory: Signatory

    @model_validator(mode="after")
    def _dates_after_year_end(self) -> FinancialYearClosed:
        if self.letter_date <= self.financial_year.last_day:
            raise ValueError(
                f"letter_date {self.letter_date} must be after the year {self.financial_year} "
                f"ends ({self.financial_year.last_day})"
            )
        if self.publication_date < self.letter_date:
            raise ValueError("publication_date must not be before letter_date")
        return self


# --- letters -------------------------------------------------------------------------------

LetterKind = Literal["annual-review"]


class _LetterEvent(Payload):
    financial_year: FinancialYear
    kind: LetterKind = "annual-review"
    version: int = Field(ge=1, le=1000)
    message_id: ShortText


class LetterIssued(_LetterEvent):
    event_type: ClassVar[str] = "LetterIssued"

    template_version: ShortText
    text_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    html_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    pdf_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class LetterDispatched(_LetterEvent):
    event_type: ClassVar[str] = "LetterDispatched"

    recipient: ShortText


class LetterDispatchFailed(_LetterEvent):
    event_type: ClassVar[str] = "LetterDispatchFailed"

    reason: Reason
    permanent: bool


# --- helpers -------------------------------------------------------------------------------


def _check_existence(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise ValueError(f"existed_until {end} is before existed_from {start}")


def _check_population(population: int | None, year: int | None) -> None:
    if (population is None) != (year is None):
        raise ValueError("population and population_year go together: give both or neither")


CURRENT_PAYLOADS: tuple[type[Payload], ...] = (
    CouncilRegistered,
    CouncilDetailsChanged,
    CouncilAbolished,
    DecisionRecorded,
    DecisionCorrected,
    DecisionWithdrawn,
    ComplianceOutcomeRecorded,
    FinancialYearClosed,
    LetterIssued,
    LetterDispatched,
    LetterDispatchFailed,
)

# Casework facts that carry a case reference: the projector keeps their case's state.
DECISION_EVENTS = (DecisionRecorded, DecisionCorrected, DecisionWithdrawn)
