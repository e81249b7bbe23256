"""The events, past tense, one payload model each (the current schema version).

Each payload says only what is particular to its event; the envelope (envelope.py) carries
the event id, type, schema version, time, producer and council. Rules that a single event
can break are checked here, so bad input is refused with a reason before it is published.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from datetime import date
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
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
    FIRST_LETTER_YEAR,
    LAST_LETTER_YEAR,
    MAX_COPY_RECIPIENTS,
    CaseReference,
    ChiefExecutive,
    CopyRecipient,
    CouncilCode,
    DecisionUrl,
    Latitude,
    LetterFormat,
    Longitude,
    Name,
    ShortText,
    Signatory,
    multi_line,
    storable,
)

Population = Annotated[int, Field(gt=0, le=20_000_000)]
CopyRecipients = Annotated[tuple[CopyRecipient, ...], Field(max_length=MAX_COPY_RECIPIENTS)]
PopulationYear = Annotated[int, Field(ge=1990, le=2100)]
# Free text, possibly several lines (a mail server's reply): no U+0000, no control
# characters other than tabs and line breaks (contracts/values.py).
Reason = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(multi_line)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
# The Commission for Local Administration in England was set up in 1974: nothing before.
CaseDate = Annotated[date, Field(ge=date(1974, 1, 1))]


class DecisionOutcome(enum.StrEnum):
    """The six outcomes of a decision (docs/domain.md §3)."""

    UPHELD = "upheld"
    NOT_UPHELD = "not_upheld"
    ADVICE_GIVEN = "advice_given"
    CLOSED_AFTER_INITIAL_ENQUIRIES = "closed_after_initial_enquiries"
    INCOMPLETE_OR_INVALID = "incomplete_or_invalid"
    REFERRED_BACK_FOR_LOCAL_RESOLUTION = "referred_back_for_local_resolution"

    @property
    def is_detailed_investigation(self) -> bool:
        return self in (DecisionOutcome.UPHELD, DecisionOutcome.NOT_UPHELD)


class ServiceArea(enum.StrEnum):
    """The service area the Ombudsman files a complaint under: the categories of its annual
    reports (docs/domain.md §16)."""

    ADULT_CARE_SERVICES = "adult_care_services"
    BENEFITS_AND_TAX = "benefits_and_tax"
    CORPORATE_AND_OTHER_SERVICES = "corporate_and_other_services"
    EDUCATION_AND_CHILDRENS_SERVICES = "education_and_childrens_services"
    ENVIRONMENTAL_SERVICES_AND_PUBLIC_PROTECTION = "environmental_services_and_public_protection"
    HIGHWAYS_AND_TRANSPORT = "highways_and_transport"
    HOUSING = "housing"
    PLANNING_AND_DEVELOPMENT = "planning_and_development"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The name the Ombudsman's reports print."""
        return SERVICE_AREA_LABELS[self]


SERVICE_AREA_LABELS: dict[ServiceArea, str] = {
    ServiceArea.ADULT_CARE_SERVICES: "Adult care services",
    ServiceArea.BENEFITS_AND_TAX: "Benefits and tax",
    ServiceArea.CORPORATE_AND_OTHER_SERVICES: "Corporate and other services",
    ServiceArea.EDUCATION_AND_CHILDRENS_SERVICES: "Education and children's services",
    ServiceArea.ENVIRONMENTAL_SERVICES_AND_PUBLIC_PROTECTION: (
        "Environmental services and public protection"
    ),
    ServiceArea.HIGHWAYS_AND_TRANSPORT: "Highways and transport",
    ServiceArea.HOUSING: "Housing",
    ServiceArea.PLANNING_AND_DEVELOPMENT: "Planning and development",
    ServiceArea.OTHER: "Other",
}


class Payload(BaseModel):
    """Base of every event payload: immutable, and unknown fields are an error.

    The docstring of each payload says what the event means, each field's description what
    it holds: docs/events.md and the JSON Schemas print them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    # Whether the envelope must name a council (the partition key).
    about_a_council: ClassVar[bool] = True
    # The rules a JSON Schema cannot say (checked by the model's validators, the codec or the
    # projector), in words for the documentation.
    rules: ClassVar[tuple[str, ...]] = ()


# --- council registry -------------------------------------------------------------------


class CouncilRegistered(Payload):
    """A council is in the registry: its name, comparison group, when it existed, its
    population, its chief executive and who its letters are copied to. Registering again
    restates every detail, except that population estimates add up: each one is kept for
    its year."""

    event_type: ClassVar[str] = "CouncilRegistered"
    rules: ClassVar[tuple[str, ...]] = (
        "`existed_until` must not be before `existed_from`.",
        "`population` and `population_year` go together: give both or neither.",
        "`latitude` and `longitude` go together, within England's bounding box.",
    )
    schema_version: ClassVar[int] = 2

    name: Name = Field(
        description="The council's name as the letters print it.",
        examples=["Mansfield District Council"],
    )
    comparison_group: ComparisonGroup = Field(
        description="The comparison group whose average the council is compared with."
    )
    existed_from: date | None = Field(
        default=None, description="First day of existence; null if before records began."
    )
    existed_until: date | None = Field(
        default=None, description="Last day of existence; null while the council exists."
    )
    population: Population | None = Field(
        default=None,
        description="Residents in `population_year` (a mid-year estimate), for the upheld "
        "decisions per 100,000 residents. Every estimate is kept: a financial year uses the "
        "one for its first year, else the nearest earlier, else the nearest later.",
    )
    population_year: PopulationYear | None = Field(
        default=None, description="The year the population estimate is for (2023: mid-2023)."
    )
    chief_executive: ChiefExecutive | None = Field(
        default=None, description="The addressee of the council's letters."
    )
    copy_to: CopyRecipients = Field(
        default=(),
        description="Who the council's letters are copied to (Cc), such as the leader of the "
        "council and the chair of the scrutiny committee; at most 10.",
    )
    latitude: Latitude | None = Field(
        default=None,
        description="Where the council is (its offices or centre, as mySociety's register "
        "gives it), degrees north, within England (49.8 to 55.9); with `longitude`, for the "
        "public site's map.",
        examples=[53.1386],
    )
    longitude: Longitude | None = Field(
        default=None,
        description="Degrees east (west negative), within England (-6.5 to 1.8); with `latitude`.",
        examples=[-1.1955],
    )

    @model_validator(mode="after")
    def _consistent(self) -> CouncilRegistered:
        _check_existence(self.existed_from, self.existed_until)
        _check_population(self.population, self.population_year)
        _check_coordinates(self.latitude, self.longitude)
        return self


class CouncilDetailsChanged(Payload):
    """Any of the registry facts changed; fields left out stay as they were."""

    event_type: ClassVar[str] = "CouncilDetailsChanged"
    rules: ClassVar[tuple[str, ...]] = (
        "At least one detail must be given; a field left out keeps its value.",
        "A `population` adds the estimate for its `population_year` (other years' estimates "
        "stay); both null remove every estimate given before.",
        "`name` and `comparison_group` cannot be null (they cannot be removed).",
        "`population` and `population_year` go together: give both or neither.",
        "`latitude` and `longitude` go together (both null: the map no longer places it).",
    )
    schema_version: ClassVar[int] = 2

    name: Name | None = Field(
        default=None, description="The council's name as the letters print it."
    )
    comparison_group: ComparisonGroup | None = Field(
        default=None,
        description="The comparison group whose average the council is compared with.",
    )
    existed_from: date | None = Field(
        default=None, description="First day of existence; null if before records began."
    )
    population: Population | None = Field(
        default=None,
        description="Residents in `population_year` (a mid-year estimate), for the upheld "
        "decisions per 100,000 residents. Every estimate is kept: a financial year uses the "
        "one for its first year, else the nearest earlier, else the nearest later.",
    )
    population_year: PopulationYear | None = Field(
        default=None, description="The year the population estimate is for (2023: mid-2023)."
    )
    chief_executive: ChiefExecutive | None = Field(
        default=None, description="The addressee of the council's letters."
    )
    copy_to: CopyRecipients | None = Field(
        default=None,
        description="Who the council's letters are copied to (Cc), at most 10: the list "
        "replaces the one before; an empty list (or null) copies them to nobody.",
    )
    latitude: Latitude | None = Field(
        default=None,
        description="Where the council is (its offices or centre, as mySociety's register "
        "gives it), degrees north, within England (49.8 to 55.9); with `longitude`, for the "
        "public site's map.",
        examples=[53.1386],
    )
    longitude: Longitude | None = Field(
        default=None,
        description="Degrees east (west negative), within England (-6.5 to 1.8); with `latitude`.",
        examples=[-1.1955],
    )

    @model_validator(mode="after")
    def _says_something(self) -> CouncilDetailsChanged:
        if not self.model_fields_set:
            raise ValueError("a council change must change at least one detail")
        for name in ("name", "comparison_group"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be removed: leave it out to keep it as it was")
        _check_population(self.population, self.population_year)
        _check_coordinates(self.latitude, self.longitude)
        return self

    @model_serializer(mode="wrap")
    def _only_what_changed(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A left-out field means "unchanged", a null means "now none": keep them apart.
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


class CouncilAbolished(Payload):
    """The council ceased to exist; `last_day` was its last day. Letters still cover the
    part of a year it existed."""

    event_type: ClassVar[str] = "CouncilAbolished"

    last_day: date = Field(description="The last day the council existed.")
    replaced_by: tuple[CouncilCode, ...] = Field(
        default=(), description="The councils that took over, if any."
    )


# --- casework ------------------------------------------------------------------------------


class _Decision(Payload):
    case_reference: CaseReference = Field(
        description="The Ombudsman's case reference, unique across councils.",
        examples=["19 001 234"],
    )
    decision_date: CaseDate = Field(
        description="The date of the decision (UK local date): it sets the financial year."
    )
    outcome: DecisionOutcome = Field(description="What was decided.")
    satisfactory_remedy: bool = Field(
        default=False,
        description="Upheld only: the council had already provided a satisfactory remedy "
        "before the complaint reached the Ombudsman.",
    )
    service_area: ServiceArea | None = Field(
        default=None,
        description="The service area the Ombudsman filed the complaint under (docs/domain.md "
        "§16); null when the case system does not say (every decision before schema "
        "version 3 of `DecisionRecorded`, 2 of `DecisionCorrected`).",
    )
    published_url: DecisionUrl | None = Field(
        default=None,
        description="Where the Ombudsman publishes the decision statement: `https://` on "
        "the Ombudsman's own site (`AR_DECISIONS_HOST`, default `www.lgo.org.uk`), no user, "
        "password or port. The public council page links upheld decisions to it; null "
        "when the decision is not published.",
        examples=[
            "https://www.lgo.org.uk/decisions/education/special-educational-needs/19-001-234"
        ],
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


_URL_RULE = (
    "`published_url` must be `https://` on the Ombudsman's site (`AR_DECISIONS_HOST`), "
    "without a user, password or port."
)


class DecisionRecorded(_Decision):
    """The Ombudsman decided a complaint about a council."""

    event_type: ClassVar[str] = "DecisionRecorded"
    schema_version: ClassVar[int] = 3
    rules: ClassVar[tuple[str, ...]] = (
        "`satisfactory_remedy` may be true only when `outcome` is `upheld`.",
        _URL_RULE,
        "`decision_date` must not be after the day after `occurred_at` (UK date).",
        "A case has one standing decision: deciding it again is a `DecisionCorrected`.",
    )


class DecisionCorrected(_Decision):
    """The case was decided again (for example after a review): the latest decision counts."""

    event_type: ClassVar[str] = "DecisionCorrected"
    schema_version: ClassVar[int] = 2
    rules: ClassVar[tuple[str, ...]] = (
        "`satisfactory_remedy` may be true only when `outcome` is `upheld`.",
        _URL_RULE,
        "`decision_date` must not be after the day after `occurred_at` (UK date).",
        "The case must have a standing decision, for the same council: a correction cannot "
        "move a case to another council.",
    )

    reason: Reason | None = Field(default=None, description="Why the case was decided again.")


class DecisionWithdrawn(Payload):
    """The decision no longer stands: the case leaves the statistics."""

    event_type: ClassVar[str] = "DecisionWithdrawn"
    rules: ClassVar[tuple[str, ...]] = (
        "`withdrawn_on` must not be after the day after `occurred_at` (UK date).",
    )

    case_reference: CaseReference = Field(
        description="The Ombudsman's case reference, unique across councils."
    )
    withdrawn_on: CaseDate = Field(
        description="The date the decision was withdrawn (UK local date)."
    )
    reason: Reason | None = Field(default=None, description="Why the decision was withdrawn.")


class ComplianceOutcomeRecorded(Payload):
    """Whether the council did what the Ombudsman recommended on a case."""

    event_type: ClassVar[str] = "ComplianceOutcomeRecorded"
    rules: ClassVar[tuple[str, ...]] = (
        "`late` may be true only when `implemented` is true (late still counts as implemented).",
        "`recorded_on` must not be after the day after `occurred_at` (UK date).",
    )

    case_reference: CaseReference = Field(
        description="The Ombudsman's case reference, unique across councils."
    )
    recorded_on: CaseDate = Field(
        description="The date the outcome was recorded (UK local date): it sets the financial year."
    )
    implemented: bool = Field(description="Whether the council implemented the recommendations.")
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
    reflect exactly the facts published before the close (docs/architecture.md, "Year end").
    """

    event_type: ClassVar[str] = "FinancialYearClosed"
    schema_version: ClassVar[int] = 2
    about_a_council: ClassVar[bool] = False
    rules: ClassVar[tuple[str, ...]] = (
        "`financial_year` is a label like `2019-20`: four digits, a hyphen, and the last two "
        "digits of the next year.",
        "`letter_date` must be after the year's last day (31 March).",
        "`publication_date` must not be before `letter_date`.",
        "`narrative_version` and `narrative_sha256` go together.",
    )

    financial_year: FinancialYear = Field(description="The financial year closed, e.g. `2019-20`.")
    close_id: UUID = Field(description="The same on every partition's copy of one close.")
    partition_count: int = Field(
        gt=0, le=10_000, description="Copies published, one per partition."
    )
    letter_date: date = Field(description="The date the year's Annual Review letters carry.")
    publication_date: date = Field(
        description="The date the figures are published on the public page."
    )
    signatory: Signatory = Field(description="Who signs the year's letters.")
    letter_format: LetterFormat | None = Field(
        default=None,
        description="The statistics format the year's letters are printed in (`2020`, `2021` "
        "or `2025`); null on a close from before formats were pinned (schema version 1).",
    )
    narrative_version: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="The version of the year's narrative in force at the close, which every "
        "letter of the close prints (0: the narrative shipped with the project); null on a "
        "close from before narratives were pinned (schema version 1).",
    )
    narrative_sha256: Sha256 | None = Field(
        default=None, description="SHA-256 of that narrative's Markdown, lowercase hex."
    )

    @model_validator(mode="after")
    def _dates_after_year_end(self) -> FinancialYearClosed:
        if self.letter_date <= self.financial_year.last_day:
            raise ValueError(
                f"letter_date {self.letter_date} must be after the year {self.financial_year} "
                f"ends ({self.financial_year.last_day})"
            )
        if self.publication_date < self.letter_date:
            raise ValueError("publication_date must not be before letter_date")
        if (self.narrative_version is None) != (self.narrative_sha256 is None):
            raise ValueError("narrative_version and narrative_sha256 go together")
        return self


# --- letter narratives ---------------------------------------------------------------------

# A letter's narrative is about 6 kB; the limit keeps the event under the 64 KiB message cap.
NARRATIVE_MAX_CHARS = 40_000


class NarrativeRegistered(Payload):
    """The Ombudsman's office registered a new version of a letter year's narrative: the
    paragraphs around the statistics, in Markdown with placeholders (docs/narratives.md).

    Versions are numbered per letter year in the order the registrations sit on the
    narratives topic (one partition), from 1; a close pins the version in force.
    """

    event_type: ClassVar[str] = "NarrativeRegistered"
    about_a_council: ClassVar[bool] = False
    rules: ClassVar[tuple[str, ...]] = (
        "`sha256` is the SHA-256 of `markdown` encoded as UTF-8.",
        "`markdown` uses only the documented Markdown and placeholders (docs/narratives.md); "
        "a registration that does not is listed as refused and never printed.",
    )

    letter_year: int = Field(
        ge=FIRST_LETTER_YEAR,
        le=LAST_LETTER_YEAR,
        description="The year of the letters, e.g. `2026` for 2025-26.",
    )
    letter_format: LetterFormat | None = Field(
        default=None,
        description="The statistics format of the year's letters; null: the built-in format "
        "of the year (2020: `2020`; 2021-2024: `2021`; 2025 and 2026: `2025`).",
    )
    markdown: Annotated[str, AfterValidator(multi_line)] = Field(
        min_length=1, max_length=NARRATIVE_MAX_CHARS, description="The narrative as written."
    )
    sha256: Sha256 = Field(description="SHA-256 of `markdown` (UTF-8), lowercase hex.")
    registered_by: Name | None = Field(default=None, description="Who registered it.")
    note: Reason | None = Field(default=None, description="Why this version, for the record.")

    @model_validator(mode="after")
    def _hash_matches(self) -> NarrativeRegistered:
        if hashlib.sha256(self.markdown.encode("utf-8")).hexdigest() != self.sha256:
            raise ValueError("sha256 is not the SHA-256 of markdown: the document was altered")
        return self


# --- letters -------------------------------------------------------------------------------

LetterKind = Literal["annual-review"]


class _LetterEvent(Payload):
    financial_year: FinancialYear = Field(
        description="The financial year the letter covers, e.g. `2019-20`."
    )
    kind: LetterKind = Field(default="annual-review", description="The kind of letter.")
    version: int = Field(
        ge=1,
        le=1000,
        description="The issue of the letter for this council and year (1, then 2 for a re-issue).",
    )
    message_id: ShortText = Field(
        description="The email Message-ID: the same for every attempt to send this issue."
    )


class LetterIssued(_LetterEvent):
    """The Annual Review letter for a council and year was rendered; the hashes identify
    exactly what was sent."""

    event_type: ClassVar[str] = "LetterIssued"

    template_version: ShortText = Field(
        description="The letter template and its content fingerprint."
    )
    text_sha256: Sha256 = Field(description="SHA-256 of the plain-text letter, lowercase hex.")
    html_sha256: Sha256 = Field(description="SHA-256 of the HTML letter, lowercase hex.")
    pdf_sha256: Sha256 = Field(description="SHA-256 of the PDF letter, lowercase hex.")


class LetterDispatched(_LetterEvent):
    """The letter was accepted by the mail server for the recipient."""

    event_type: ClassVar[str] = "LetterDispatched"

    recipient: ShortText = Field(description="The address the letter was sent to.")


class LetterDispatchFailed(_LetterEvent):
    """Sending the letter failed; `permanent` says whether a retry can help."""

    event_type: ClassVar[str] = "LetterDispatchFailed"

    reason: Reason = Field(description="What went wrong, e.g. the mail server's reply.")
    permanent: bool = Field(description="True when retrying cannot help (e.g. no such mailbox).")


# What the letter service writes about its own letters, whole: stored as it was, so it may hold
# what the free-text types refuse (a mail server's reply with a carriage return).
RecordText = Annotated[str, Field(max_length=20_000), AfterValidator(storable)]
# A rendered letter: the HTML carries its charts inline; the PDF is base64. The letters topic
# takes messages this large (contracts/topics.py, LETTERS).
LetterBody = Annotated[str, Field(max_length=6_000_000), AfterValidator(storable)]
# A state of the letter's life (services/domain/letter_lifecycle.py): not listed here, so a
# state added there needs no new schema version.
LetterStateName = ShortText


class LetterRecord(BaseModel):
    """A letter's record in the letter service's outbox after a change, without its
    rendering (LetterRendered carries that): what a restore of the database writes back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = Field(ge=1, description="The outbox row's id (kept by a restore).")
    close_id: UUID | None = Field(description="The close that queued it; null for a re-issue.")
    source: Literal["snapshot", "live"] = Field(
        description="Made from the close's snapshot or (a re-issue) the live figures."
    )
    hold_reason: RecordText | None = Field(description="Why it was held, if it was.")
    reason: RecordText | None = Field(description="Why this version exists (a re-issue).")
    recipient: RecordText | None = Field(description="The chief executive's address.")
    inputs: LetterBody = Field(
        description="The figures and register details the letter is made from, as JSON."
    )
    template_version: RecordText | None = Field(description="Set once rendered.")
    text_sha256: Sha256 | None = Field(description="SHA-256 of the text, once rendered.")
    html_sha256: Sha256 | None = Field(description="SHA-256 of the HTML, once rendered.")
    pdf_sha256: Sha256 | None = Field(description="SHA-256 of the PDF, once rendered.")
    case_list_xlsx_sha256: Sha256 | None = Field(
        default=None, description="SHA-256 of the case list (XLSX), once rendered with one."
    )
    case_list_csv_sha256: Sha256 | None = Field(
        default=None, description="SHA-256 of the case list (CSV), once rendered with one."
    )
    attempts: int = Field(ge=0, description="Sends tried since the last resend.")
    next_attempt_at: AwareDatetime = Field(description="When a retry is due.")
    last_error: RecordText | None = Field(description="The last failure or operator's note.")
    smtp_response: RecordText | None = Field(description="What the mail server said.")
    created_at: AwareDatetime = Field(description="When the letter was made.")
    rendered_at: AwareDatetime | None = Field(description="When it was rendered.")
    sending_at: AwareDatetime | None = Field(description="When a sender last claimed it.")
    sent_at: AwareDatetime | None = Field(description="When it was sent (or confirmed sent).")
    updated_at: AwareDatetime = Field(description="When the record last changed.")


class LetterStateChanged(_LetterEvent):
    """A letter was made or moved from one state to another (every transition of the
    letter's life, docs/architecture.md "Letters"): the transition, the new state,
    who made it and why, and the letter's record as it now stands. The latest one of a
    letter is its record; a restore of the database writes it back."""

    event_type: ClassVar[str] = "LetterStateChanged"

    transition: ShortText = Field(description="The transition's name, e.g. `release`.")
    previous_state: LetterStateName | None = Field(
        description="The state it left; null when the transition made the letter."
    )
    state: LetterStateName = Field(description="The state it is in now.")
    by: ShortText = Field(
        description="Who made the change: `letter-service`, or the operator (`operator:<login>`, "
        "or the signed-in person in the office workspace)."
    )
    note: RecordText | None = Field(default=None, description="The reason or note given.")
    record: LetterRecord = Field(description="The letter's record after the change.")


class LetterRendered(_LetterEvent):
    """A letter's rendering, exactly as stored and sent: the text, the HTML, the PDF
    (base64) and their SHA-256, with every recipient (the chief executive and the copies).
    Published once, when the letter is rendered: a restore writes the bytes back and
    checks them against the hashes."""

    event_type: ClassVar[str] = "LetterRendered"
    rules: ClassVar[tuple[str, ...]] = (
        "`text_sha256`, `html_sha256` and `pdf_sha256` are the SHA-256 of `text`, `html` (UTF-8) "
        "and the decoded `pdf_base64`: a rendering that does not match is refused.",
    )

    template_version: ShortText = Field(description="The template and its fingerprint.")
    text: LetterBody = Field(description="The plain-text letter.")
    html: LetterBody = Field(description="The HTML letter.")
    pdf_base64: LetterBody = Field(description="The PDF letter, base64 (RFC 4648).")
    text_sha256: Sha256 = Field(description="SHA-256 of `text` (UTF-8), lowercase hex.")
    html_sha256: Sha256 = Field(description="SHA-256 of `html` (UTF-8), lowercase hex.")
    pdf_sha256: Sha256 = Field(description="SHA-256 of the PDF's bytes, lowercase hex.")
    recipients: tuple[ShortText, ...] = Field(
        max_length=MAX_COPY_RECIPIENTS + 1,
        description="The addresses it goes to: the chief executive first, then the copies.",
    )
    case_list_xlsx_base64: LetterBody | None = Field(
        default=None, description="The council's case list (XLSX) attached to it, base64."
    )
    case_list_csv_base64: LetterBody | None = Field(
        default=None, description="The council's case list (CSV) attached to it, base64."
    )
    case_list_xlsx_sha256: Sha256 | None = Field(
        default=None, description="SHA-256 of the decoded `case_list_xlsx_base64`."
    )
    case_list_csv_sha256: Sha256 | None = Field(
        default=None, description="SHA-256 of the decoded `case_list_csv_base64`."
    )

    @model_validator(mode="after")
    def _hashes_match(self) -> LetterRendered:
        pdf = base64.b64decode(self.pdf_base64, validate=True)
        for name, content in (
            ("text", self.text.encode("utf-8")),
            ("html", self.html.encode("utf-8")),
            ("pdf", pdf),
        ):
            if hashlib.sha256(content).hexdigest() != getattr(self, f"{name}_sha256"):
                raise ValueError(f"{name}_sha256 is not the SHA-256 of the {name}")
        for kind in ("xlsx", "csv"):
            data = getattr(self, f"case_list_{kind}_base64")
            digest = getattr(self, f"case_list_{kind}_sha256")
            if (data is None) != (digest is None) or (
                data is not None
                and hashlib.sha256(base64.b64decode(data, validate=True)).hexdigest() != digest
            ):
                raise ValueError(f"case_list_{kind}_sha256 is not the SHA-256 of the case list")
        return self


# --- the office's actions (the audit trail) ------------------------------------------------


class OfficeAction(enum.StrEnum):
    """Every action of the office the audit trail records (docs/office.md, "Audit")."""

    NARRATIVE_REGISTERED = "narrative_registered"
    PROOFS_MADE = "proofs_made"
    CLOSE_PROPOSED = "close_proposed"
    CLOSE_SIGNED_OFF = "close_signed_off"
    CLOSE_REJECTED = "close_rejected"
    CLOSE_WITHDRAWN = "close_withdrawn"
    CLOSE_LAPSED = "close_lapsed"
    # A close published without a second signature: the CLI's `close-year` (automation, or
    # the day the identity provider is down). The year board shows it as such.
    YEAR_CLOSED_ALONE = "year_closed_alone"
    LETTER_RELEASED = "letter_released"
    LETTER_RESENT = "letter_resent"
    LETTER_REISSUED = "letter_reissued"
    LETTER_WITHDRAWN = "letter_withdrawn"
    LETTER_CONFIRMED_SENT = "letter_confirmed_sent"
    DEAD_LETTER_REDRIVEN = "dead_letter_redriven"
    DEAD_LETTERS_RESOLVED = "dead_letters_resolved"
    PARKED_REDRIVEN = "parked_redriven"
    COUNCILS_IMPORTED = "councils_imported"


ActionChannel = Literal["workspace", "cli"]


class OfficeActionTaken(Payload):
    """A person in the office took an action: in the workspace (signed in through the
    identity provider) or with the CLI (as the operator). The envelope's `actor` names the
    person; the topic is the audit trail, kept for ever and never edited. What the action
    changed is stated by its own events (a narrative, a close, a letter's record): this
    event says who did it, when, through which door and why."""

    event_type: ClassVar[str] = "OfficeActionTaken"
    about_a_council: ClassVar[bool] = False

    action: OfficeAction = Field(description="What was done.")
    via: ActionChannel = Field(description="`workspace` (signed in) or `cli` (the operator).")
    financial_year: FinancialYear | None = Field(
        default=None, description="The financial year it concerns, if one."
    )
    subject: ShortText | None = Field(
        default=None,
        description="What it was done to, when more than a year or a council: a proposal's "
        "id, a letter's version, a dead letter's id, a narrative's version.",
    )
    reason: Reason | None = Field(default=None, description="The reason the person gave.")
    details: dict[ShortText, ShortText] = Field(
        default_factory=dict,
        max_length=40,
        description="What the action was bound to, as the workspace showed it (e.g. a "
        "proposal's narrative sha256, figures fingerprint, dead-letter and parked counts).",
    )


# --- helpers -------------------------------------------------------------------------------


def _check_existence(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise ValueError(f"existed_until {end} is before existed_from {start}")


def _check_population(population: int | None, year: int | None) -> None:
    if (population is None) != (year is None):
        raise ValueError("population and population_year go together: give both or neither")


def _check_coordinates(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise ValueError("latitude and longitude go together: give both or neither")


CURRENT_PAYLOADS: tuple[type[Payload], ...] = (
    CouncilRegistered,
    CouncilDetailsChanged,
    CouncilAbolished,
    DecisionRecorded,
    DecisionCorrected,
    DecisionWithdrawn,
    ComplianceOutcomeRecorded,
    FinancialYearClosed,
    NarrativeRegistered,
    LetterIssued,
    LetterDispatched,
    LetterDispatchFailed,
    LetterStateChanged,
    LetterRendered,
    OfficeActionTaken,
)

# Casework facts that carry a case reference: the projector keeps their case's state.
DECISION_EVENTS = (DecisionRecorded, DecisionCorrected, DecisionWithdrawn)

# What only the Ombudsman's office may state on the facts topic (the year-end close and the
# council register): the projector applies them only with a valid office signature (the
# `office-signature` header, contracts/topics.py); a case management system publishes
# casework only.
OFFICE_EVENTS = (FinancialYearClosed, CouncilRegistered, CouncilDetailsChanged, CouncilAbolished)
