"""Every generated document, and how to check or (re)write the checked-in copies."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from contracts.registry import PAYLOADS
from tools.docgen import configuration_md
from tools.docgen.asyncapi import asyncapi_document
from tools.docgen.events_md import events_markdown
from tools.docgen.json_schema import envelope_schema
from tools.docgen.paths import ASYNCAPI_JSON, CONFIGURATION_MD, EVENTS_MD, ROOT, SCHEMAS_DIR


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Every generated file (path relative to the repository root) and its exact content."""
    files = {EVENTS_MD: events_markdown()}
    for event_type in PAYLOADS:
        files[SCHEMAS_DIR / f"{event_type}.json"] = _json_text(envelope_schema(event_type))
    files[ASYNCAPI_JSON] = _json_text(asyncapi_document())
    files[CONFIGURATION_MD] = configuration_md.render()
    return files


def stale_files(root: Path = ROOT) -> list[str]:
    """One line per difference between the checked-in files and what would be generated."""
    problems: list[str] = []
    wanted = generated_files()
    for path, content in wanted.items():
        target = root / path
        if not target.exists():
            problems.append(f"{path}: missing")
            continue
        current = target.read_text(encoding="utf-8")
        if current != content:
            diff = list(
                difflib.unified_diff(current.splitlines(), content.splitlines(), lineterm="", n=0)
            )
            changed = sum(1 for d in diff if d[:1] in "+-" and not d.startswith(("+++", "---")))
            preview = "\n    ".join(diff[2:12])
            problems.append(f"{path}: out of date ({changed} lines differ)\n    {preview}")
    schema_dir = root / SCHEMAS_DIR
    if schema_dir.is_dir():
        for extra in sorted(schema_dir.glob("*.json")):
            if extra.relative_to(root) not in wanted:
                problems.append(f"{extra.relative_to(root)}: no such event type any more")
    return problems


def write(root: Path = ROOT) -> list[Path]:
    """Write every generated file; remove schema files of event types that no longer exist."""
    wanted = generated_files()
    written = []
    for path, content in wanted.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")
            written.append(path)
    schema_dir = root / SCHEMAS_DIR
    for extra in sorted(schema_dir.glob("*.json")):
        if extra.relative_to(root) not in wanted:
            extra.unlink()
            written.append(extra.relative_to(root))
    return written
