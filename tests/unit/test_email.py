"""The letter's email: recipients, parts, attachment and a Message-ID that never changes."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from contracts.financial_year import FinancialYear
from contracts.values import ChiefExecutive
from services.domain.letter import Letter
from services.letters.email import UnbuildableEmail, build_email, message_id_for, pdf_filename
from tests.support.letters import BARSBY, mansfield_letter

PDF = b"%PDF-1.7 not really a letter\n%%EOF"


def letter_for(version: int = 1, name: str = "Hayley Barsby") -> Letter:
    addressee = ChiefExecutive(
        name=name, job_title=BARSBY.job_title, salutation=BARSBY.salutation, email=BARSBY.email
    )
    return mansfield_letter(addressee=addressee, version=version)


def message_for(letter: Letter | None = None, **overrides: object) -> EmailMessage:
    options: dict[str, object] = {
        "sender": "Annual Review <annual.review@lgo.example>",
        "reply_to": "councils@lgo.example",
        "cc": ["leader@mansfield.gov.uk", "scrutiny.chair@mansfield.gov.uk"],
        "bcc": ["archive@lgo.example"],
    }
    options.update(overrides)
    return build_email(
        letter or letter_for(),
        "Dear Ms Barsby\n",
        "<p>Dear Ms Barsby</p>",
        PDF,
        **options,  # type: ignore[arg-type]
    )


def test_message_id_is_derived_from_council_year_kind_and_version() -> None:
    assert (
        message_id_for("MAN", FinancialYear(2019), "annual-review", 1, "lgo.example")
        == "<annual-review.2019-20.MAN.v1@lgo.example>"
    )
    assert (
        message_id_for("MAN", "2019-20", version=2) == "<annual-review.2019-20.MAN.v2@lgo.example>"
    )


@pytest.mark.parametrize(
    ("code", "kind", "version", "domain"),
    [
        ("man", "annual-review", 1, "lgo.example"),
        ("MAN", "annual review", 1, "lgo.example"),
        ("MAN", "annual-review", 0, "lgo.example"),
        ("MAN", "annual-review", 1, "lgo.example>\r\nBcc: x@y"),
        ("MAN", "annual-review", 1, ""),
    ],
)
def test_message_id_refuses_parts_that_would_make_it_ambiguous_or_invalid(
    code: str, kind: str, version: int, domain: str
) -> None:
    with pytest.raises(ValueError):
        message_id_for(code, FinancialYear(2019), kind, version, domain)


def test_email_is_addressed_to_the_chief_executive_with_copies() -> None:
    message = message_for()
    assert message["Subject"] == "Annual Review letter 2020"
    assert message["To"] == "Hayley Barsby <chief.executive@mansfield.gov.uk>"
    assert message["From"] == "Annual Review <annual.review@lgo.example>"
    assert message["Reply-To"] == "councils@lgo.example"
    assert message["Cc"] == "leader@mansfield.gov.uk, scrutiny.chair@mansfield.gov.uk"
    assert message["Bcc"] == "archive@lgo.example"


def test_email_carries_the_deterministic_message_id_and_letter_header() -> None:
    message = message_for()
    assert message["Message-ID"] == "<annual-review.2019-20.MAN.v1@lgo.example>"
    assert message["X-Annual-Review-Letter"] == "MAN/2019-20/annual-review/v1"
    assert message_for()["Message-ID"] == message["Message-ID"]


def test_a_new_version_of_the_letter_gets_a_new_message_id() -> None:
    message = message_for(letter_for(version=2), message_id_domain="ombudsman.example")
    assert message["Message-ID"] == "<annual-review.2019-20.MAN.v2@ombudsman.example>"
    assert message["X-Annual-Review-Letter"] == "MAN/2019-20/annual-review/v2"


def test_email_has_text_and_html_alternatives_and_the_pdf_attached() -> None:
    message = message_for()
    assert message.get_content_type() == "multipart/mixed"
    body = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert body is not None and body.get_content() == "Dear Ms Barsby\n"
    assert html is not None and html.get_content() == "<p>Dear Ms Barsby</p>\n"
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["annual-review-letter-2020-MAN.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content() == PDF


def test_pdf_filename_names_letter_year_and_council() -> None:
    assert pdf_filename(letter_for()) == "annual-review-letter-2020-MAN.pdf"


def test_email_survives_a_round_trip_through_bytes() -> None:
    parsed = email.message_from_bytes(message_for().as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Message-ID"] == "<annual-review.2019-20.MAN.v1@lgo.example>"
    attachment = next(parsed.iter_attachments())
    assert attachment.get_content() == PDF


def test_same_letter_builds_the_same_message_bytes() -> None:
    assert message_for().as_bytes() == message_for().as_bytes()


def test_date_header_is_set_only_when_given() -> None:
    assert message_for()["Date"] is None
    sent = message_for(sent_at=datetime(2020, 7, 22, 9, 30, tzinfo=UTC))
    assert sent["Date"] == "Wed, 22 Jul 2020 09:30:00 +0000"


def test_a_hostile_chief_executive_name_stays_in_the_display_name() -> None:
    message = message_for(letter_for(name='Eve <evil@x.example>, "{{ 7*7 }}"'))
    to = message["To"]
    assert to.addresses[0].addr_spec == "chief.executive@mansfield.gov.uk"
    assert len(to.addresses) == 1


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError):
        message_for(reply_to="councils@lgo.example\r\nBcc: leak@x.example")


def test_a_real_rendered_letter_makes_a_message_smtp_can_carry() -> None:
    from services.letters.render import render_letter

    letter = letter_for()
    rendered = render_letter(letter)
    message = build_email(
        letter, rendered.text, rendered.html, rendered.pdf, sender="annual.review@lgo.example"
    )
    raw = message.as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n" if b"\r\n" in raw else b"\n")) <= 998
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content() == rendered.text
    assert next(parsed.iter_attachments()).get_content() == rendered.pdf


@pytest.mark.parametrize(
    "name", ["Hayley\r\nBcc: leak@x.example", "Hayley\nBarsby", "Hayley\rBarsby"]
)
def test_a_name_the_email_package_refuses_raises_one_error_naming_the_problem(name: str) -> None:
    # The contract refuses such a name now; a letter made from one registered before it did
    # must still fail in one known way, which the dispatcher turns into `failed`.
    chief = ChiefExecutive.model_construct(
        name=name, job_title="Interim Chief Executive", salutation="Ms Barsby",
        email="chief.executive@mansfield.gov.uk",
    )  # fmt: skip
    letter = letter_for()
    letter = dataclasses.replace(letter, addressee=chief)
    with pytest.raises(UnbuildableEmail) as caught:
        message_for(letter)
    assert isinstance(caught.value, ValueError)
    assert "\r" not in str(caught.value) and "\n" not in str(caught.value)


def test_the_case_list_goes_on_the_chief_executives_message_and_never_on_the_copies() -> None:
    from services.letters.email import Attachment, copy_message_id

    case_list = Attachment("case-list-2019-20-MAN-v1.xlsx", "application/vnd.ms-excel", b"PK")
    main = message_for(cc=[], attachments=[case_list])
    copies = message_for(cc=["leader@mansfield.gov.uk"], bcc=[], attachments=[case_list],
                         copies=True)  # fmt: skip
    names = [p.get_filename() for p in main.iter_attachments()]
    assert names == [pdf_filename(letter_for()), "case-list-2019-20-MAN-v1.xlsx"]
    assert [p.get_filename() for p in copies.iter_attachments()] == [pdf_filename(letter_for())]
    assert copies["To"] == "leader@mansfield.gov.uk" and copies["Cc"] is None
    assert BARSBY.email not in str(copies["To"]) and "Bcc" not in copies
    assert copies["Message-ID"] == copy_message_id(main["Message-ID"]) != main["Message-ID"]
    assert copies["References"] == main["Message-ID"]
    # Each is the same bytes every time it is built (a retried send is identical).
    assert message_for(cc=[], attachments=[case_list]).as_bytes() == main.as_bytes()
