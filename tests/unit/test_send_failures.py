"""What a failed send means for a letter: permanent or worth another try, and the reason an
operator reads (services/letters/send_failures.py)."""

from __future__ import annotations

import aiosmtplib
import pytest

from services.domain.letter_lifecycle import Transition
from services.letters.send_failures import is_expected, send_failure, unbuildable
from services.letters.smtp_policy import CannotSendSafely


@pytest.mark.parametrize(("code", "permanent"), [(550, True), (554, True), (451, False)])
def test_an_smtp_answer_is_permanent_only_from_500(code: int, permanent: bool) -> None:
    failure = send_failure(aiosmtplib.SMTPResponseException(code, "mailbox unavailable"))

    assert failure.permanent is permanent
    assert failure.detail == f"{code} mailbox unavailable"
    assert failure.how is None  # the lifecycle decides, from the attempts made


def test_recipients_refused_is_permanent_only_when_every_refusal_is() -> None:
    some = aiosmtplib.SMTPRecipientsRefused(
        [
            aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@x.example"),
            aiosmtplib.SMTPRecipientRefused(451, "try later", "b@x.example"),
        ]
    )
    every = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@x.example")]
    )

    assert send_failure(some).permanent is False
    assert send_failure(some).detail == "a@x.example: 550 no such user; b@x.example: 451 try later"
    assert send_failure(every).permanent is True


@pytest.mark.parametrize(
    "exc", [ConnectionRefusedError("refused"), TimeoutError("slow"), RuntimeError("a defect")]
)
def test_a_connection_failure_or_the_unexpected_is_tried_again(exc: Exception) -> None:
    failure = send_failure(exc)

    assert failure.permanent is False
    assert failure.detail.startswith(type(exc).__name__ + ": ")
    assert is_expected(exc) is not isinstance(exc, RuntimeError)


def test_a_send_the_settings_forbid_fails_now_with_what_to_fix() -> None:
    failure = send_failure(CannotSendSafely("the server offers no STARTTLS; set ..."))

    assert failure.permanent is True
    assert failure.how is Transition.CANNOT_SEND
    assert failure.detail == "the server offers no STARTTLS; set ..."


def test_an_email_that_cannot_be_built_fails_with_its_reason_made_printable() -> None:
    failure = unbuildable(ValueError("bad header: Jo\r\nBcc: x"))

    assert failure.how is Transition.CANNOT_SEND and failure.permanent
    assert failure.detail.startswith("the e-mail could not be built: bad header: Jo")
    assert "\r" not in failure.detail and "\n" not in failure.detail
