"""The event contracts: the language between the case management system and the services.

Pure: models (with the descriptions the documentation prints), validation, upcasting,
(de)serialisation and the documented examples; no I/O and no import of the services. The
client that publishes is ``services.platform.kafka.publisher``; the documents are generated
by ``python -m tools.docgen``.
"""

from contracts.codec import Reason, RejectedMessage, decode, decode_object, encode
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
    Payload,
)
from contracts.financial_year import FinancialYear
from contracts.groups import ComparisonGroup
from contracts.values import ChiefExecutive, CopyRecipient, Signatory

__all__ = [
    "ChiefExecutive",
    "ComparisonGroup",
    "ComplianceOutcomeRecorded",
    "CopyRecipient",
    "CouncilAbolished",
    "CouncilDetailsChanged",
    "CouncilRegistered",
    "DecisionCorrected",
    "DecisionOutcome",
    "DecisionRecorded",
    "DecisionWithdrawn",
    "Envelope",
    "FinancialYear",
    "FinancialYearClosed",
    "LetterDispatchFailed",
    "LetterDispatched",
    "LetterIssued",
    "LetterRecord",
    "LetterRendered",
    "LetterStateChanged",
    "Payload",
    "Reason",
    "RejectedMessage",
    "Signatory",
    "decode",
    "decode_object",
    "encode",
    "new_event",
]
