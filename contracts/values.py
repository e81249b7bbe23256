"""Value objects shared by several events."""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
)

# --- characters refused in text (docs/events.md, "Characters in text") --------------------
#
# PostgreSQL cannot store U+0000 in `text` or `jsonb`, and a lone surrogate is not UTF-8 at
# all: no string may hold either, or the projector's transaction fails. Control characters
# (C0, DEL, C1) have no place on one line: in a name they break e-mail headers (CR/LF) and
# what the CLI prints. Bidi controls and zero-width characters make a name look like
# another council's on the site and in the letters (a "Trojan Source" spoof).
_NEVER = "\x00\ud800-\udfff"
_CONTROLS = "\x00-\x1f\x7f-\x9f"
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_ZERO_WIDTH = "\u200b-\u200d\u2060\ufeff"
# Multi-line text (a narrative, a reason) keeps tabs and line breaks, nothing else below 0x20.
_NOT_IN_TEXT = re.compile(f"[{_NEVER}\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_IN_A_LINE = re.compile(f"[{_NEVER}{_CONTROLS}{_BIDI}{_ZERO_WIDTH}]")
# What `escape_unsafe` rewrites: everything either rule refuses, and the other invisible
# format characters, so that a stored or printed copy shows what was sent.
UNSAFE_CHARACTERS = re.compile(f"[{_NEVER}{_CONTROLS}{_BIDI}{_ZERO_WIDTH}\u2028\u2029]")


def char_name(char: str) -> str:
    """``U+0000 (NULL)``: how a refusal names a character, never the character itself."""
    code = ord(char)
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(code, "")
    return f"U+{code:04X}" + (f" ({name})" if name else "")


_CONTROL_NAMES = {0: "NULL", 9: "TAB", 10: "LINE FEED", 13: "CARRIAGE RETURN", 0x7F: "DELETE"}


def escape_unsafe(text: str) -> str:
    """``text`` with every control, bidi, zero-width and surrogate character written as a
    ``\\u0000``-style escape: safe to store in PostgreSQL, to put in a Kafka header and to
    show a person (a dead letter's reason and detail, for example)."""
    if text.isprintable():  # the common case, in C: nothing to escape
        return text
    return UNSAFE_CHARACTERS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _refuse(match: re.Match[str], what: str) -> ValueError:
    char = match.group()
    if char == "\x00" or "\ud800" <= char <= "\udfff":
        why = "not allowed in any text"
    elif char in "\r\n":
        why = f"a line break is not allowed in {what}"
    elif ord(char) < 0xA0:
        why = f"a control character is not allowed in {what}"
    elif _ZERO_WIDTH_CHARS.match(char):
        why = f"an invisible (zero-width) character is not allowed in {what}"
    else:
        why = f"a bidirectional control is not allowed in {what}"
    return ValueError(f"contains {char_name(char)} at character {match.start() + 1}: {why}")


_ZERO_WIDTH_CHARS = re.compile(f"[{_ZERO_WIDTH}]")
_NEVER_ANYWHERE = re.compile(f"[{_NEVER}]")


def storable(text: str) -> str:
    """Text kept as it was written (a mail server's reply, a letter's record), line breaks
    and all, but never a NUL or a lone surrogate: no database column nor UTF-8 holds them,
    so an event carrying one could only fail further on."""
    match = _NEVER_ANYWHERE.search(text)
    if match:
        raise _refuse(match, "any text")
    return text


def one_line(text: str) -> str:
    """A name, a title, a reference: refuses control, bidi and zero-width characters."""
    if text.isprintable():  # in C; every string the rule refuses is not printable
        return text
    found = _NOT_IN_A_LINE.search(text)
    if found:
        raise _refuse(found, "a name or a single line of text")
    return text


def multi_line(text: str) -> str:
    """Free text (a reason, a narrative): tabs and line breaks allowed; refuses U+0000, lone
    surrogates and the other control characters."""
    if text.isprintable():
        return text
    found = _NOT_IN_TEXT.search(text)
    if found:
        raise _refuse(found, "text")
    return text


# Bounded, stripped, non-empty text: the contract refuses empty or oversized strings, and
# the characters above.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(one_line),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(one_line),
]
# An e-mail address reaches a header: checked for line breaks and NUL before the address
# rules (which would otherwise report them less plainly).
Email = Annotated[EmailStr, BeforeValidator(lambda v: one_line(v) if isinstance(v, str) else v)]
CouncilCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z0-9]{3,10}$")]
CaseReference = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9/ .\-]{0,39}$")
]

# --- where the Ombudsman publishes its decisions ----------------------------------------
#
# A decision's `published_url` is shown on the public site as a link: only the Ombudsman's
# own site may be linked, so a mistyped or hostile address in the case system never reaches
# the public. The host is a setting (AR_DECISIONS_HOST, services/platform/settings.py
# documents it); the contract reads it here because producers and the projector must agree.
DEFAULT_DECISIONS_HOST = "www.lgo.org.uk"


@functools.lru_cache(maxsize=1)
def decisions_host() -> str:
    """The host decision statements are published on (``AR_DECISIONS_HOST``), lower case."""
    return (os.environ.get("AR_DECISIONS_HOST") or DEFAULT_DECISIONS_HOST).strip().lower()


_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>[/?#]\S*)?$"
)


def on_decisions_host(url: str) -> str:
    """``https://`` on :func:`decisions_host`, no user, password or port: else refused.
    (Parsed here, not with urllib: the contracts do no I/O and import no network module.)"""
    one_line(url)
    found = _URL.match(url)
    if found is None or found["scheme"].lower() != "https":
        raise ValueError("a decision's published address must start with https://")
    authority = found["authority"]
    if "@" in authority or ":" in authority:
        raise ValueError("a decision's published address may not carry a user, password or port")
    host = authority.lower().rstrip(".")
    if host != decisions_host():
        raise ValueError(
            f"a decision's published address must be on {decisions_host()}, not {host or 'no host'}"
        )
    return url


DecisionUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=9, max_length=500),
    AfterValidator(on_decisions_host),
]

# --- where a council is: England's bounding box, with a margin --------------------------
#
# From the Isles of Scilly (49.9°N, 6.4°W) to Berwick-upon-Tweed (55.8°N) and Lowestoft
# (1.76°E). A council outside it is a swapped or mistyped coordinate (mySociety's register
# also lists Scottish, Welsh and Northern Irish councils, which the Ombudsman does not
# oversee).
ENGLAND_LATITUDE = (49.8, 55.9)
ENGLAND_LONGITUDE = (-6.5, 1.8)
Latitude = Annotated[float, Field(ge=ENGLAND_LATITUDE[0], le=ENGLAND_LATITUDE[1])]
Longitude = Annotated[float, Field(ge=ENGLAND_LONGITUDE[0], le=ENGLAND_LONGITUDE[1])]

# The statistics formats of the Annual Review letters (docs/domain.md §9): 2020; 2021 for
# the letter years 2021 to 2024; 2025 for 2025 onwards (the complaint overview).
LetterFormat = Literal["2020", "2021", "2025"]
LETTER_FORMATS: tuple[LetterFormat, ...] = ("2020", "2021", "2025")
# The letter years there can be letters (and narratives) for: the first is the 2020 letter,
# for 2019-20, the first year this system decides; the last bounds what an event may claim.
FIRST_LETTER_YEAR = 2020
LAST_LETTER_YEAR = 2100


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChiefExecutive(Value):
    """The letter's addressee: name, job title as written, salutation, email."""

    name: Name = Field(
        description="Full name, as the letter's address block prints it.",
        examples=["Hayley Barsby"],
    )
    job_title: ShortText = Field(
        description="Job title as written, e.g. `Interim Chief Executive`.",
        examples=["Interim Chief Executive"],
    )
    salutation: ShortText = Field(description="As in `Dear Ms Barsby`.", examples=["Ms Barsby"])
    email: Email = Field(
        description="Where the letter is sent.", examples=["chief.executive@mansfield.gov.uk"]
    )


class CopyRecipient(Value):
    """Someone a council's letters are copied to (Cc), such as the leader of the council or
    the chair of its scrutiny committee (docs/domain.md §7)."""

    name: Name = Field(description="Full name, as the letter's copy line prints it.",
                       examples=["Jason Zadrozny"])  # fmt: skip
    role: ShortText = Field(
        description="Their role as written, e.g. `Leader of the Council`.",
        examples=["Leader of the Council"],
    )
    email: Email = Field(
        description="Where the copy is sent.", examples=["leader@mansfield.gov.uk"]
    )


# At most this many copy recipients per council: a letter's Cc line, not a mailing list.
MAX_COPY_RECIPIENTS = 10


class Signatory(Value):
    """Who signs the year's letters, with the title lines printed under the name."""

    name: Name = Field(
        description="The name printed under the signature.", examples=["Michael King"]
    )
    titles: tuple[ShortText, ...] = Field(
        min_length=1,
        max_length=4,
        description="The title lines printed under the name, in order.",
        examples=[
            [
                "Local Government and Social Care Ombudsman",
                "Chair, Commission for Local Administration in England",
            ]
        ],
    )
