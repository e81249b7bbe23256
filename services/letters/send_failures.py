"""What a send that did not happen means for the letter: the reason an operator reads, and
whether trying again could help (the lifecycle then decides the state from that).

Pure: the sender passes the exception it caught and records what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosmtplib

from contracts.values import escape_unsafe
from services.domain.letter_lifecycle import Transition
from services.letters.smtp_policy import RESEND, CannotSendSafely


@dataclass(frozen=True, slots=True)
class SendFailure:
    detail: str  # for the operator: the SMTP server's answer, or what to fix
    permanent: bool  # no retry can succeed
    # CANNOT_SEND when the service itself refused to send; None: the lifecycle decides from
    # ``permanent`` and the attempts made (services/domain/letter_lifecycle.after_failed_send)
    how: Transition | None = None


def unbuildable(exc: Exception) -> SendFailure:
    """The e-mail could not be built: a header the email package refuses (a line break in a
    name, say: the contract refuses those, but a letter registered before it did may hold
    one; or one of the AR_LETTERS_* addresses). No retry builds it differently."""
    detail = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
    return SendFailure(
        f"the e-mail could not be built: {escape_unsafe(detail)[:500]}; fix the "
        f"addressee (a re-issue) or AR_LETTERS_SENDER/REPLY_TO/CC/BCC; {RESEND}",
        permanent=True,
        how=Transition.CANNOT_SEND,
    )


def send_failure(exc: Exception) -> SendFailure:
    """A failed SMTP conversation: 5xx answers are permanent, 4xx and a connection or
    timeout failure are transient, and so is anything unexpected (a defect here or in
    aiosmtplib), so that the letter is failed only when its attempts run out."""
    if isinstance(exc, CannotSendSafely):
        return SendFailure(exc.reason, permanent=True, how=Transition.CANNOT_SEND)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SendFailure(f"{exc.code} {exc.message}", permanent=exc.code >= 500)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return SendFailure(detail, permanent=all(c >= 500 for c in codes))
    return SendFailure(f"{type(exc).__name__}: {exc}", permanent=False)


def is_expected(exc: Exception) -> bool:
    """The ways an SMTP conversation fails in ordinary life; anything else is worth a
    traceback in the log."""
    return isinstance(exc, (CannotSendSafely, aiosmtplib.SMTPException, OSError, TimeoutError))
