"""Where the generated documents live (relative to the repository root), and the commands."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVENTS_MD = Path("docs/events.md")
SCHEMAS_DIR = Path("docs/schemas")
ASYNCAPI_JSON = Path("docs/asyncapi.json")
CONFIGURATION_MD = Path("docs/configuration.md")
WRITE_COMMAND = "python -m tools.docgen write"
CHECK_COMMAND = "python -m tools.docgen check"
