"""What the letter service puts in the log so a restore can write the letters back:
LetterRendered carries the bytes and refuses hashes that do not match them; LetterStateChanged
carries the letter's record; both round-trip through the codec at their real size."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.codec import MAX_MESSAGE_BYTES, RejectedMessage, decode, encode
from contracts.envelope import new_event
from contracts.events import LetterRendered, LetterStateChanged
from contracts.examples import examples
from contracts.topics import LETTERS_MAX_MESSAGE_BYTES


def _rendered(**change: Any) -> dict[str, Any]:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 1500  # a PDF's binary, 384 KB
    fields: dict[str, Any] = {
        "financial_year": "2019-20", "version": 1, "message_id": "<m@lgo.example>",
        "template_version": "letters-1", "text": "Dear Ms Barsby\n", "html": "<p>Dear</p>",
        "pdf_base64": base64.b64encode(pdf).decode(),
        "text_sha256": hashlib.sha256(b"Dear Ms Barsby\n").hexdigest(),
        "html_sha256": hashlib.sha256(b"<p>Dear</p>").hexdigest(),
        "pdf_sha256": hashlib.sha256(pdf).hexdigest(), "recipients": ("ce@x.gov.uk",),
    }  # fmt: skip
    return {**fields, **change}


def test_a_rendering_whose_hash_does_not_match_its_bytes_is_refused() -> None:
    LetterRendered(**_rendered())
    with pytest.raises(ValidationError, match="pdf_sha256 is not the SHA-256 of the pdf"):
        LetterRendered(**_rendered(pdf_base64=base64.b64encode(b"%PDF other").decode()))
    with pytest.raises(ValidationError, match="text_sha256"):
        LetterRendered(**_rendered(text="Dear Mr Smith\n"))


def test_a_rendering_larger_than_a_casework_message_decodes_with_the_letters_limit() -> None:
    raw = encode(new_event(LetterRendered(**_rendered()), council="MAN", producer="letters"))
    assert MAX_MESSAGE_BYTES < len(raw) < LETTERS_MAX_MESSAGE_BYTES
    with pytest.raises(RejectedMessage, match="exceeds"):
        decode(raw)
    back = decode(raw, max_bytes=LETTERS_MAX_MESSAGE_BYTES)
    assert isinstance(back.data, LetterRendered)
    assert base64.b64decode(back.data.pdf_base64).startswith(b"%PDF-1.7")


def test_a_state_change_carries_the_record_a_restore_writes_back() -> None:
    example = examples()["LetterStateChanged"]
    back = decode(encode(example), max_bytes=LETTERS_MAX_MESSAGE_BYTES)
    assert isinstance(back.data, LetterStateChanged)
    assert back.data.record == example.data.record
    assert (back.data.previous_state, back.data.state) == ("held", "pending")
