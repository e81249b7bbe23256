"""Characters the contract refuses in text, and how refused text is escaped for people.

U+0000 cannot be stored by PostgreSQL; control characters break e-mail headers and what
the CLI prints; bidi controls and zero-width characters spoof a council's name.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.codec import Reason, RejectedMessage, decode, decode_object
from contracts.examples import example_json
from contracts.values import ChiefExecutive, char_name, escape_unsafe, multi_line, one_line

NUL = "\x00"
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069", "\u200e", "\u200f", "\u061c"]  # fmt: skip
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
C0_C1 = [chr(c) for c in (*range(0x01, 0x20), *range(0x7F, 0xA0))]


def refused(message: dict[str, Any]) -> RejectedMessage:
    with pytest.raises(RejectedMessage) as caught:
        decode(json.dumps(message).encode())
    return caught.value


def registered(**data: Any) -> dict[str, Any]:
    event = copy.deepcopy(example_json("CouncilRegistered"))
    event["data"].update(data)
    return event


@pytest.mark.parametrize("char", [NUL, *C0_C1, *BIDI, *ZERO_WIDTH])
def test_a_name_with_a_control_bidi_or_invisible_character_is_refused(char: str) -> None:
    rejection = refused(registered(name=f"Mans{char}field District Council"))
    assert rejection.reason is Reason.INVALID_DATA
    assert rejection.detail.startswith("data.name: contains ")
    assert f"U+{ord(char):04X}" in rejection.detail and "at character 5" in rejection.detail
    assert char not in rejection.detail  # named, never repeated


@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff"])
def test_a_lone_surrogate_is_refused_as_json_and_as_a_parsed_value(surrogate: str) -> None:
    # Not UTF-8: the JSON parser refuses the escape; a value parsed some other way (the
    # CLI's JSON Lines) meets the text rule.
    assert refused(registered(name=f"Mans{surrogate}field")).reason is Reason.NOT_JSON
    with pytest.raises(RejectedMessage) as caught:
        decode_object(registered(name=f"Mans{surrogate}field"))
    assert caught.value.detail.startswith("data.name: ")  # pydantic refuses it as a string
    assert f"it contains U+{ord(surrogate):04X}" in caught.value.detail


NAMES = ["Mansfield\u00a0District", "Ynys Môn", "Rhondda Cynon Taf", "Comhairle nan Eilean Siar",
         "Ζάκυνθος", "St Helens (Merseyside)"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_names_in_any_script_with_ordinary_spaces_are_accepted(name: str) -> None:
    assert decode(json.dumps(registered(name=name)).encode()).data.name == name  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("job_title", "Chief\r\nBcc: leak@x.example"),
        ("salutation", "Ms\nBarsby"),
        ("name", "Hayley\u202eBarsby"),
        ("email", "chief@mansfield.gov.uk\r\nBcc: leak@x.example"),
        ("email", f"chief{NUL}@mansfield.gov.uk"),
    ],
)
def test_what_reaches_an_email_header_holds_no_line_break(field: str, value: str) -> None:
    chief = {**example_json("CouncilRegistered")["data"]["chief_executive"], field: value}
    rejection = refused(registered(chief_executive=chief))
    assert rejection.reason is Reason.INVALID_DATA
    assert f"data.chief_executive.{field}: contains U+" in rejection.detail
    with pytest.raises(ValidationError):
        ChiefExecutive(**chief)  # refused before publishing, too


def test_copy_recipients_roles_and_signatory_titles_are_single_lines() -> None:
    copy_to = [{"name": "Cllr Lee", "role": "Leader\nBcc: x@y.example", "email": "l@a.example"}]
    rejection = refused(registered(copy_to=copy_to))
    assert "data.copy_to.0.role: contains U+000A (LINE FEED)" in rejection.detail
    close = copy.deepcopy(example_json("FinancialYearClosed"))
    close["data"]["signatory"]["titles"] = ["Ombudsman\u2067"]
    assert "data.signatory.titles.0: contains U+2067" in refused(close).detail


@pytest.mark.parametrize("event_type", ["DecisionCorrected", "DecisionWithdrawn"])
def test_a_reason_may_span_lines_but_holds_no_nul(event_type: str) -> None:
    event = copy.deepcopy(example_json(event_type))
    event["data"]["reason"] = "Reviewed.\nThe council\tagreed."
    assert decode(json.dumps(event).encode()).data.reason == "Reviewed.\nThe council\tagreed."  # type: ignore[attr-defined]
    event["data"]["reason"] = f"Reviewed{NUL}"
    assert "data.reason: contains U+0000 (NULL)" in refused(event).detail
    event["data"]["reason"] = "Reviewed\x1b[31m"
    assert "data.reason: contains U+001B" in refused(event).detail


def test_nul_in_an_envelope_field_is_a_bad_envelope_naming_it() -> None:
    event = copy.deepcopy(example_json("DecisionRecorded"))
    event["producer"] = f"cms{NUL}"
    rejection = refused(event)
    assert rejection.reason is Reason.BAD_ENVELOPE
    assert (
        rejection.detail
        == "producer: contains U+0000 (NULL) at character 4: not allowed in any text"
    )


def test_nul_in_a_patterned_field_is_named_with_the_pattern_error() -> None:
    event = copy.deepcopy(example_json("DecisionRecorded"))
    event["data"]["case_reference"] = f"19 001{NUL}"
    detail = refused(event).detail
    assert "data.case_reference: String should match pattern" in detail
    assert "it contains U+0000 (NULL)" in detail and NUL not in detail


def test_nul_in_an_unknown_field_name_is_not_repeated_in_the_detail() -> None:
    event = copy.deepcopy(example_json("DecisionRecorded"))
    event["data"][f"x{NUL}\u202e"] = 1
    detail = refused(event).detail
    assert "data.x\\u0000\\u202e: Extra inputs are not permitted" in detail


def test_rules_are_plain_functions_too() -> None:
    assert one_line("Mansfield District Council") == "Mansfield District Council"
    assert multi_line("a\nb\tc\r\n") == "a\nb\tc\r\n"
    with pytest.raises(ValueError, match=r"U\+0009 \(TAB\)"):
        one_line("a\tb")


def test_escaping_writes_every_unsafe_character_as_an_escape_and_leaves_the_rest() -> None:
    text = f"a{NUL}b\r\n\u202ec\u200bd\ufeff\ud800 Môn [/bold] \\u0000"
    escaped = escape_unsafe(text)
    assert escaped == "a\\u0000b\\u000d\\u000a\\u202ec\\u200bd\\ufeff\\ud800 Môn [/bold] \\u0000"
    assert escaped.isprintable()
    assert escape_unsafe("Mansfield District Council") == "Mansfield District Council"
    assert escape_unsafe("\u2028") == "\\u2028"


def test_a_character_is_named_by_its_code_point() -> None:
    assert char_name("\x00") == "U+0000 (NULL)"
    assert char_name("\u202e") == "U+202E (RIGHT-TO-LEFT OVERRIDE)"
    assert char_name("\x85") == "U+0085"
