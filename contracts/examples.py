"""The documented example events: one realistic event of every type, and the older schema
versions still read, as a producer of the time sent them.

docs/events.md shows these very events and the round-trip and validation tests decode them,
so the documentation shows events that the code accepts. Fixed ids and times keep every
regeneration of the documentation identical.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid5

from contracts.codec import encode
from contracts.envelope import Envelope, new_event
from contracts.events import (
    ComplianceOutcomeRecorded,
    CouncilAbolished,
    CouncilDetailsChanged,
    CouncilRegistered,
    DecisionCorrected,
    DecisionOutcome,
    DecisionRecorded,
    DecisionWithdrawn,
    FinancialYearClosed,
    LetterDispatched,
    LetterDispatchFailed,
    LetterIssued,
    LetterRecord,
    LetterRendered,
    LetterStateChanged,
    NarrativeRegistered,
    OfficeAction,
    OfficeActionTaken,
    Payload,
    ServiceArea,
)
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.topics import FACTS
from contracts.values import ChiefExecutive, CopyRecipient, Signatory

_EXAMPLE_NAMESPACE = UUID("6f1c1d2e-5b0a-4f43-9d1e-0a7c2a9b3e10")
PRODUCER_CMS = "case-management"
PRODUCER_LETTERS = "letter-service"
PRODUCER_CLI = "annual-review-cli"
NARRATIVE_EXAMPLE = (
    "I write to you with our annual summary of statistics on the decisions made about "
    "{council_name} for the year ending {year_end}.\n\n# Complaint statistics\n\n"
    "This data will be published on "
    "[Your council's performance](https://www.lgo.org.uk/your-councils-performance) "
    "on {publication_date}.\n"
)
MANSFIELD = "E07000174"
NORTHAMPTONSHIRE = "E10000021"

MANSFIELD_CHIEF_EXECUTIVE = ChiefExecutive(
    name="Hayley Barsby",
    job_title="Interim Chief Executive",
    salutation="Ms Barsby",
    email="chief.executive@mansfield.gov.uk",
)
KING = Signatory(
    name="Michael King",
    titles=(
        "Local Government and Social Care Ombudsman",
        "Chair, Commission for Local Administration in England",
    ),
)
YEAR_2019_20 = FinancialYear(2019)
LETTER_MESSAGE_ID = "<annual-review.2019-20.E07000174.v1@lgo.example>"


def example_id(name: str) -> UUID:
    """A fixed UUID per example, so every regeneration prints the same ids."""
    return uuid5(_EXAMPLE_NAMESPACE, name)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _event(
    payload: Payload, council: str | None, occurred_at: datetime, producer: str = PRODUCER_CMS
) -> Envelope[Any]:
    return new_event(
        payload,
        council=council,
        producer=producer,
        event_id=example_id(payload.event_type),
        occurred_at=occurred_at,
    )


_LETTER_TEXT = "22 July 2020\n\nDear Ms Barsby\n\nAnnual Review letter 2020\n"
_LETTER_HTML = "<!doctype html><title>Annual Review letter 2020</title><p>Dear Ms Barsby</p>"
# A stand-in for the PDF: the example shows the shape, not a real letter.
_LETTER_PDF = b"%PDF-1.7\n% Annual Review letter 2020 (example)\n%%EOF\n"
_LETTER_RECORD = LetterRecord(
    id=41,
    close_id=example_id("close 2019-20"),
    source="snapshot",
    hold_reason="1 open dead letter for this council and year",
    reason=None,
    recipient="chief.executive@mansfield.gov.uk",
    inputs='{"council": "E07000174", "year": "2019-20"}',
    template_version=None,
    text_sha256=None,
    html_sha256=None,
    pdf_sha256=None,
    attempts=0,
    next_attempt_at=_at(2020, 7, 22, 6, 55),
    last_error="release by an operator: dead letter 12 re-driven",
    smtp_response=None,
    created_at=_at(2020, 7, 15, 9, 0),
    rendered_at=None,
    sending_at=None,
    sent_at=None,
    updated_at=_at(2020, 7, 22, 6, 55),
)


def examples() -> dict[str, Envelope[Any]]:
    """One realistic event of every type, in the order the documentation presents them."""
    letter = {
        "financial_year": YEAR_2019_20,
        "version": 1,
        "message_id": LETTER_MESSAGE_ID,
    }
    built = [
        _event(
            CouncilRegistered(
                name="Mansfield District Council",
                comparison_group=ComparisonGroup.DISTRICT,
                population=110_500,
                population_year=2021,
                chief_executive=MANSFIELD_CHIEF_EXECUTIVE,
                latitude=53.1707,
                longitude=-1.1728,
                copy_to=(
                    CopyRecipient(
                        name="Alex Example",
                        role="Leader of the Council",
                        email="leader@mansfield.gov.uk",
                    ),
                    CopyRecipient(
                        name="Sam Example",
                        role="Chair of the Overview and Scrutiny Committee",
                        email="scrutiny.chair@mansfield.gov.uk",
                    ),
                ),
            ),
            MANSFIELD,
            _at(2019, 3, 1, 9, 0),
        ),
        _event(
            CouncilDetailsChanged(
                chief_executive=ChiefExecutive(
                    name="Adam Hill",
                    job_title="Chief Executive",
                    salutation="Mr Hill",
                    email="chief.executive@mansfield.gov.uk",
                )
            ),
            MANSFIELD,
            _at(2021, 6, 1, 9, 0),
        ),
        _event(
            CouncilAbolished(last_day=date(2021, 3, 31), replaced_by=("E06000061", "E06000062")),
            NORTHAMPTONSHIRE,
            _at(2021, 4, 1, 0, 5),
        ),
        _event(
            DecisionRecorded(
                case_reference="19 012 345",
                decision_date=date(2020, 2, 14),
                outcome=DecisionOutcome.UPHELD,
                satisfactory_remedy=True,
                service_area=ServiceArea.HOUSING,
                published_url="https://www.lgo.org.uk/decisions/housing/19-012-345",
            ),
            MANSFIELD,
            _at(2020, 2, 14, 16, 5),
        ),
        _event(
            DecisionCorrected(
                case_reference="19 012 346",
                decision_date=date(2020, 5, 11),
                outcome=DecisionOutcome.NOT_UPHELD,
                service_area=ServiceArea.HIGHWAYS_AND_TRANSPORT,
                reason="Decision reviewed: the council's records show the repair was made on time",
            ),
            MANSFIELD,
            _at(2020, 5, 11, 11, 30),
        ),
        _event(
            DecisionWithdrawn(
                case_reference="19 013 001",
                withdrawn_on=date(2020, 3, 2),
                reason="Recorded against the wrong council's case",
            ),
            MANSFIELD,
            _at(2020, 3, 2, 10, 15),
        ),
        _event(
            ComplianceOutcomeRecorded(
                case_reference="19 004 567",
                recorded_on=date(2020, 1, 20),
                implemented=True,
                late=True,
            ),
            MANSFIELD,
            _at(2020, 1, 20, 14, 45),
        ),
        _event(
            FinancialYearClosed(
                financial_year=YEAR_2019_20,
                close_id=example_id("close 2019-20"),
                partition_count=FACTS.partitions,
                letter_date=date(2020, 7, 22),
                publication_date=date(2020, 7, 29),
                signatory=KING,
                letter_format="2020",
                narrative_version=0,
                narrative_sha256=_sha256("the 2020 narrative shipped with the project"),
            ),
            None,
            _at(2020, 7, 15, 8, 0),
        ),
        _event(
            NarrativeRegistered(
                letter_year=2026,
                letter_format="2025",
                markdown=NARRATIVE_EXAMPLE,
                sha256=_sha256(NARRATIVE_EXAMPLE),
                registered_by="Annual Review team",
                note="First draft, proofed on 2 May 2026",
            ),
            None,
            _at(2026, 5, 5, 9, 30),
            PRODUCER_CLI,
        ),
        _event(
            LetterIssued(
                **letter,
                template_version="letters-1+3f9a0c2b7d41",
                text_sha256=_sha256("Annual Review letter 2020, text"),
                html_sha256=_sha256("Annual Review letter 2020, HTML"),
                pdf_sha256=_sha256("Annual Review letter 2020, PDF"),
            ),
            MANSFIELD,
            _at(2020, 7, 22, 7, 0),
            PRODUCER_LETTERS,
        ),
        _event(
            LetterDispatched(**letter, recipient="chief.executive@mansfield.gov.uk"),
            MANSFIELD,
            _at(2020, 7, 22, 7, 1),
            PRODUCER_LETTERS,
        ),
        _event(
            LetterDispatchFailed(
                **letter,
                reason="550 5.1.1 <chief.executive@mansfield.gov.uk>: mailbox unavailable",
                permanent=True,
            ),
            MANSFIELD,
            _at(2020, 7, 22, 7, 1),
            PRODUCER_LETTERS,
        ),
        _event(
            LetterStateChanged(
                **letter,
                transition="release",
                previous_state="held",
                state="pending",
                by="operator:jsmith",
                note="release by an operator: dead letter 12 re-driven",
                record=_LETTER_RECORD,
            ),
            MANSFIELD,
            _at(2020, 7, 22, 6, 55),
            PRODUCER_LETTERS,
        ),
        _event(
            LetterRendered(
                **letter,
                template_version="letters-1+3f9a0c2b7d41",
                text=_LETTER_TEXT,
                html=_LETTER_HTML,
                pdf_base64=base64.b64encode(_LETTER_PDF).decode("ascii"),
                text_sha256=_sha256(_LETTER_TEXT),
                html_sha256=_sha256(_LETTER_HTML),
                pdf_sha256=hashlib.sha256(_LETTER_PDF).hexdigest(),
                recipients=("chief.executive@mansfield.gov.uk", "leader@mansfield.gov.uk"),
            ),
            MANSFIELD,
            _at(2020, 7, 22, 7, 0),
            PRODUCER_LETTERS,
        ),
        new_event(
            OfficeActionTaken(
                action=OfficeAction.CLOSE_SIGNED_OFF,
                via="workspace",
                financial_year=YEAR_2019_20,
                subject="proposal 3f2b7c1e-5d4a-4e8b-9c1f-0a2b3c4d5e6f",
                reason="Figures and narrative checked against the proofs",
                details={
                    "narrative_sha256": _sha256("the 2020 narrative shipped with the project")
                },
            ),
            council=None,
            producer="annual-review-office",
            actor="jane.approver@lgo.example",
            event_id=example_id("OfficeActionTaken"),
            occurred_at=_at(2020, 7, 15, 7, 55),
        ),
    ]
    return {e.type: e for e in built}


def example_json(event_type: str) -> dict[str, Any]:
    """The example of ``event_type`` exactly as it travels (the bytes ``encode`` writes)."""
    parsed: dict[str, Any] = json.loads(encode(examples()[event_type]))
    return parsed


# Older schema versions the system still reads, as a producer of the time sent them.
OLD_VERSION_EXAMPLES: dict[tuple[str, int], dict[str, Any]] = {
    ("FinancialYearClosed", 1): {
        "event_id": str(example_id("FinancialYearClosed v1")),
        "type": "FinancialYearClosed",
        "schema_version": 1,
        "occurred_at": "2020-07-15T08:00:00Z",
        "producer": PRODUCER_CLI,
        "council": None,
        "data": {
            "financial_year": "2019-20",
            "close_id": str(example_id("close 2019-20 v1")),
            "partition_count": 6,
            "letter_date": "2020-07-22",
            "publication_date": "2020-07-29",
            "signatory": {
                "name": "Michael King",
                "titles": ["Local Government and Social Care Ombudsman"],
            },
        },
    },
    ("DecisionRecorded", 1): {
        "event_id": str(example_id("DecisionRecorded v1")),
        "type": "DecisionRecorded",
        "schema_version": 1,
        "occurred_at": "2016-09-12T15:20:00Z",
        "producer": PRODUCER_CMS,
        "council": MANSFIELD,
        "data": {"case_reference": "16 004 321", "date": "2016-09-12", "outcome": "upheld"},
    },
    ("DecisionRecorded", 2): {
        "event_id": str(example_id("DecisionRecorded v2")),
        "type": "DecisionRecorded",
        "schema_version": 2,
        "occurred_at": "2020-02-14T16:05:00Z",
        "producer": PRODUCER_CMS,
        "council": MANSFIELD,
        "data": {"case_reference": "19 012 399", "decision_date": "2020-02-14",
                 "outcome": "upheld", "satisfactory_remedy": False},
    },
    ("DecisionCorrected", 1): {
        "event_id": str(example_id("DecisionCorrected v1")),
        "type": "DecisionCorrected",
        "schema_version": 1,
        "occurred_at": "2020-05-11T11:30:00Z",
        "producer": PRODUCER_CMS,
        "council": MANSFIELD,
        "data": {"case_reference": "19 012 399", "decision_date": "2020-05-11",
                 "outcome": "not_upheld", "satisfactory_remedy": False,
                 "reason": "Decision reviewed"},
    },
    ("CouncilRegistered", 1): {
        "event_id": str(example_id("CouncilRegistered v1")),
        "type": "CouncilRegistered",
        "schema_version": 1,
        "occurred_at": "2019-04-01T09:00:00Z",
        "producer": PRODUCER_CLI,
        "council": MANSFIELD,
        "data": {"name": "Mansfield District Council", "comparison_group": "District"},
    },
    ("CouncilDetailsChanged", 1): {
        "event_id": str(example_id("CouncilDetailsChanged v1")),
        "type": "CouncilDetailsChanged",
        "schema_version": 1,
        "occurred_at": "2021-06-01T09:00:00Z",
        "producer": PRODUCER_CLI,
        "council": MANSFIELD,
        "data": {"population": 110500, "population_year": 2021},
    },
}  # fmt: skip
