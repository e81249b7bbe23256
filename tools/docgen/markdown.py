"""Markdown building blocks: tables, and a JSON Schema property described in words."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

FIELD_HEAD = ("field", "type", "required", "description", "constraints")


def md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"`{text}`"


def table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return lines


def json_block(value: Any) -> list[str]:
    return ["```json", json.dumps(value, indent=2, ensure_ascii=False), "```"]


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_text(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    if "$ref" in prop:
        name = _ref_name(prop["$ref"])
        kind = "enum" if "enum" in defs.get(name, {}) else "object"
        return f"[{name}](#{name.lower()}) ({kind})"
    if "anyOf" in prop:
        options = [p for p in prop["anyOf"] if p.get("type") != "null"]
        nullable = len(options) < len(prop["anyOf"])
        text = " or ".join(type_text(p, defs) for p in options)
        return f"{text} or null" if nullable else text
    if "const" in prop:
        return f"constant {code(prop['const'])}"
    kind = str(prop.get("type", "any"))
    if kind == "array":
        return f"array of {type_text(prop.get('items', {}), defs)}"
    if "format" in prop:
        return f"{kind} ({prop['format']})"
    return kind


_CONSTRAINT_WORDS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("minLength", lambda v: "not empty" if v == 1 else f"at least {v} characters"),
    ("maxLength", lambda v: f"at most {v} characters"),
    ("pattern", lambda v: f"matches {code(v)}"),
    ("minimum", lambda v: f"≥ {v}"),
    ("exclusiveMinimum", lambda v: f"> {v}"),
    ("maximum", lambda v: f"≤ {v}"),
    ("exclusiveMaximum", lambda v: f"< {v}"),
    ("formatMinimum", lambda v: f"on or after {v}"),
    ("formatMaximum", lambda v: f"on or before {v}"),
    ("minItems", lambda v: f"at least {v} item{'' if v == 1 else 's'}"),
    ("maxItems", lambda v: f"at most {v} item{'' if v == 1 else 's'}"),
)


def constraints(prop: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for option in [prop, *prop.get("anyOf", [])]:
        parts += [words(option[key]) for key, words in _CONSTRAINT_WORDS if key in option]
        items = option.get("items")
        if isinstance(items, dict):
            parts += [
                f"each item {words(items[key])}" for key, words in _CONSTRAINT_WORDS if key in items
            ]
    if "default" in prop:
        parts.append(f"default {code(prop['default'])}")
    return "; ".join(parts)


def field_rows(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> list[list[str]]:
    """One row per property: name, type, required, description, constraints."""
    required = set(schema.get("required", []))
    return [
        [
            f"`{name}`",
            type_text(prop, defs),
            "yes" if name in required else "no",
            str(prop.get("description", "")),
            constraints(prop),
        ]
        for name, prop in schema.get("properties", {}).items()
    ]
