"""Value objects shared by several events."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

# Bounded, stripped, non-empty text: the contract refuses empty or oversized strings.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CouncilCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z0-9]{3,10}$")]
CaseReference = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9/ .\-]{0,39}$")
]


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChiefExecutive(Value):
    """The letter's addressee: name, job title as written, salutation, email."""

    name: Name = Field(examples=["Hayley Barsby"])
    job_title: ShortText = Field(examples=["Interim Chief Executive"])
    salutation: ShortText = Field(examples=["Ms Barsby"])
    email: EmailStr = Field(examples=["chief.executive@mansfield.gov.uk"])


class Signatory(Value):
    """Who signs the year's letters, with the title lines printed under the name."""

    name: Name = Field(examples=["Michael King"])
    titles: tuple[ShortText, ...] = Field(
        min_length=1,
        max_length=4,
        examples=[
            [
                "Local Government and Social Care Ombudsman",
                "Chair, Commission for Local Administration in England",
            ]
        ],
    )
