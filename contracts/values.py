"""Value objects shared by several events."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

# Bounded, stripped, non-empty text: the contract refuses empty or oversized strings.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CouncilCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z0-9]{3,10}$")]
CaseReference = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9/ .\-]{0,39}$")
]

# The statistics formats of the Annual Review letters (docs/domain.md §9): 2020; 2021 for
# the letter years 2021 to 2024; 2025 for 2025 onwards (the complaint overview).
LetterFormat = Literal["2020", "2021", "2025"]
LETTER_FORMATS: tuple[LetterFormat, ...] = ("2020", "2021", "2025")


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
    email: EmailStr = Field(
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
    email: EmailStr = Field(
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
