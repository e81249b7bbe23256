"""Which event types exist, at which current version, and their payload models."""

from __future__ import annotations

from contracts.events import CURRENT_PAYLOADS, Payload
from contracts.upcasting import check_chains

PAYLOADS: dict[str, type[Payload]] = {p.event_type: p for p in CURRENT_PAYLOADS}
CURRENT_VERSIONS: dict[str, int] = {t: p.schema_version for t, p in PAYLOADS.items()}

# Fails at import when an older schema version cannot be lifted to the current one.
check_chains(CURRENT_VERSIONS)
