"""What a letter is made from, stored as JSON with its outbox row (letter_inputs.py)."""

from __future__ import annotations

import json
from dataclasses import asdict

from services.domain.letter_inputs import LetterInputs

LEADER = {"name": "Cllr Lee", "role": "Leader of the Council", "email": "leader@a.example"}
CHAIR = {"name": "Cllr Roe", "role": "Chair of Scrutiny", "email": "chair@a.example"}


def inputs(**kw: object) -> LetterInputs:
    base: dict[str, object] = {
        "council": "AAA", "council_name": "A Council", "group": "District", "year": "2022-23",
        "counts": {"upheld": 1}, "population": 120_000, "averages": {}, "group_councils": 1,
        "addressee": None, "letter_date": "2023-07-19", "publication_date": "2023-07-26",
        "signatory": {"name": "Paul Najsarek", "titles": ["Interim Ombudsman"]},
    }  # fmt: skip
    return LetterInputs(**{**base, **kw})  # type: ignore[arg-type]


def test_the_population_year_and_copy_recipients_go_through_json_unchanged() -> None:
    stored = inputs(population_year=2022, copy_to=(LEADER, CHAIR))
    again = LetterInputs.from_json(stored.to_json())
    assert again == stored
    assert again.population_year == 2022
    assert again.copy_recipients == ["leader@a.example", "chair@a.example"]


def test_inputs_stored_before_either_field_read_as_none_and_nobody() -> None:
    old = {k: v for k, v in asdict(inputs()).items() if k not in ("population_year", "copy_to")}
    read = LetterInputs.from_json(json.dumps(old))
    assert (read.population_year, read.copy_to, read.copy_recipients) == (None, (), [])


def test_a_copy_recipient_whose_role_says_link_officer_gets_the_chief_executives_message() -> None:
    link = {"name": "L O", "role": "Complaints  Link-Officer", "email": "link@a.example"}
    made = inputs(copy_to=(LEADER, link, CHAIR))
    assert made.link_officers == ["link@a.example"]
    assert made.other_copies == ["leader@a.example", "chair@a.example"]
    assert made.copy_recipients == ["leader@a.example", "link@a.example", "chair@a.example"]
