"""The email that carries an Annual Review letter. Pure: builds the message, sends nothing.

The Message-ID is derived from the letter's identity (council, year, kind, version), never
from the clock or a random number: a retried send of the same letter carries the same id,
so the dispatcher, the mail servers and the recipient can all recognise a duplicate.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from contracts.financial_year import FinancialYear
from contracts.values import escape_unsafe
from services.domain.letter import LETTER_KIND, MAX_VERSION, Letter

DEFAULT_MESSAGE_ID_DOMAIN = "lgo.example"
LETTER_HEADER = "X-Annual-Review-Letter"

_CODE = re.compile(r"^[A-Z0-9]{3,10}$")  # contracts.values.CouncilCode
_KIND = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def message_id_for(
    council_code: str,
    year: FinancialYear | str,
    kind: str = LETTER_KIND,
    version: int = 1,
    domain: str = DEFAULT_MESSAGE_ID_DOMAIN,
) -> str:
    """``<annual-review.2019-20.MAN.v1@lgo.example>``: the same inputs always give the same
    id. Refuses (ValueError) anything that would not make a valid, unambiguous id."""
    label = (year if isinstance(year, FinancialYear) else FinancialYear.parse(year)).label
    if not _CODE.match(council_code):
        raise ValueError(f"not a council code: {council_code!r}")
    if not _KIND.match(kind):
        raise ValueError(f"not a letter kind: {kind!r}")
    if not 1 <= version <= MAX_VERSION:
        raise ValueError(f"letter version must be between 1 and {MAX_VERSION}, not {version}")
    if not _DOMAIN.match(domain):
        raise ValueError(f"not a domain name: {domain!r}")
    return f"<{kind}.{label}.{council_code}.v{version}@{domain}>"


def letter_header_value(letter: Letter) -> str:
    """``MAN/2019-20/annual-review/v1``: which letter a message carries, for the reconciler."""
    return letter.identity.reference


def copy_message_id(message_id: str) -> str:
    """The Message-ID of the copies' message: the letter's with ``.copies`` before the
    ``@`` (never the letter's own: the archive's reconcile looks for that one)."""
    local, _, domain = message_id.strip("<>").partition("@")
    return f"<{local}.copies@{domain}>"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to the chief executive's message only (the council's case list)."""

    filename: str
    media_type: str  # "maintype/subtype"
    content: bytes


def pdf_filename(letter: Letter) -> str:
    """``annual-review-letter-2020-MAN.pdf``."""
    return f"annual-review-letter-{letter.letter_year}-{letter.identity.council_code}.pdf"


class UnbuildableEmail(ValueError):
    """The letter cannot be made into an e-mail (a header value the email package refuses,
    such as a name with a line break): no retry changes that."""


def build_email(
    letter: Letter,
    text: str,
    html: str,
    pdf: bytes,
    *,
    sender: str,
    reply_to: str | None = None,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    message_id_domain: str = DEFAULT_MESSAGE_ID_DOMAIN,
    sent_at: datetime | None = None,
    attachments: Sequence[Attachment] = (),
    copies: bool = False,
) -> EmailMessage:
    """The letter as an email to the chief executive: the text letter with the HTML letter
    as its alternative, the PDF attached, then ``attachments`` (the council's case list).

    ``copies``: the message of the letter's copies instead (the leader, the scrutiny
    chair, the service's own copy recipients): addressed To ``cc``, with its own Message-ID
    (``copy_message_id``; the letter's in ``References``) and without ``attachments``: the
    case list goes to the chief executive (and a link officer) only.

    Bcc addresses travel in a ``Bcc`` header: smtplib's and aiosmtplib's ``send_message``
    take them as recipients and strip the header before transmission. ``sent_at`` sets the
    Date header; leave it out to let the dispatcher date the message when it sends it.
    Header values with line breaks are refused by the email package (no header injection):
    any value it refuses raises ``UnbuildableEmail`` naming the header.
    """
    try:
        return _build(
            letter, text, html, pdf, sender=sender, reply_to=reply_to, cc=cc, bcc=bcc,
            message_id_domain=message_id_domain, sent_at=sent_at, attachments=attachments,
            copies=copies,
        )  # fmt: skip
    except UnbuildableEmail:
        raise
    except (ValueError, TypeError, MessageError) as exc:
        raise UnbuildableEmail(f"{type(exc).__name__}: {escape_unsafe(str(exc))}") from exc


def _build(
    letter: Letter,
    text: str,
    html: str,
    pdf: bytes,
    *,
    sender: str,
    reply_to: str | None,
    cc: Sequence[str],
    bcc: Sequence[str],
    message_id_domain: str,
    sent_at: datetime | None,
    attachments: Sequence[Attachment],
    copies: bool,
) -> EmailMessage:
    identity = letter.identity
    message = EmailMessage()
    message["Subject"] = letter.title
    message["From"] = sender
    if not copies:
        message["To"] = Address(
            display_name=letter.addressee.name, addr_spec=letter.addressee.email
        )
        if cc:
            message["Cc"] = ", ".join(cc)
    else:
        message["To"] = ", ".join(cc)
    if bcc:
        message["Bcc"] = ", ".join(bcc)
    if reply_to:
        message["Reply-To"] = reply_to
    if sent_at is not None:
        message["Date"] = format_datetime(sent_at)
    own_id = message_id_for(
        identity.council_code, identity.year, identity.kind, identity.version, message_id_domain
    )
    if not copies:
        message["Message-ID"] = own_id
    else:
        message["Message-ID"] = copy_message_id(own_id)
        message["References"] = own_id
    message[LETTER_HEADER] = letter_header_value(letter)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    message.add_attachment(
        pdf, maintype="application", subtype="pdf", filename=pdf_filename(letter)
    )
    if not copies:
        for a in attachments:
            maintype, _, subtype = a.media_type.partition("/")
            message.add_attachment(a.content, maintype=maintype, subtype=subtype,
                                   filename=a.filename)  # fmt: skip
    _fix_boundaries(message, text, html, pdf, attachments)
    return message


def _fix_boundaries(
    message: EmailMessage, text: str, html: str, pdf: bytes, attachments: Sequence[Attachment]
) -> None:
    """Replace the email package's random MIME boundaries with ones derived from the
    content, so the same letter always makes the same bytes (a resend is identical). A
    boundary that is a hash of the content cannot occur in that content."""
    digest = hashlib.sha256()
    for part in (message["Message-ID"], text, html):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(pdf)
    for a in attachments:
        digest.update(b"\0" + a.content)
    for number, part in enumerate(p for p in message.walk() if p.is_multipart()):
        part.set_boundary(f"=_letter_{digest.hexdigest()[:40]}_{number}")
