"""The published description of the contracts and the settings, generated from the code.

``python -m tools.docgen`` (``write``) regenerates, from contracts/, the projector app and
the settings classes:

- ``docs/events.md``: the events for people, with a worked example of each;
- ``docs/schemas/<EventType>.json``: JSON Schema (2020-12) of the whole envelope carrying
  that payload, at its current schema version;
- ``docs/asyncapi.json``: the AsyncAPI 3.0 document of the projector, as FastStream
  generates it, with the facts topic's messages filled in from the JSON schemas;
- ``docs/configuration.md``: every setting, its default and its meaning.

``python -m tools.docgen check`` exits 1 when a checked-in file is stale; the unit tests
make the same comparison.
"""

from tools.docgen.cli import main
from tools.docgen.events_md import UNDOCUMENTED
from tools.docgen.files import generated_files, stale_files, write
from tools.docgen.paths import (
    ASYNCAPI_JSON,
    CHECK_COMMAND,
    CONFIGURATION_MD,
    EVENTS_MD,
    ROOT,
    SCHEMAS_DIR,
    WRITE_COMMAND,
)
from tools.docgen.routes import Route, routes

__all__ = [
    "ASYNCAPI_JSON",
    "CHECK_COMMAND",
    "CONFIGURATION_MD",
    "EVENTS_MD",
    "ROOT",
    "SCHEMAS_DIR",
    "UNDOCUMENTED",
    "WRITE_COMMAND",
    "Route",
    "generated_files",
    "main",
    "routes",
    "stale_files",
    "write",
]
