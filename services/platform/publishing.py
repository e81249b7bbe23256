"""The event publisher, configured from the settings (bootstrap, topic names, security)."""

from __future__ import annotations

from contracts.publisher import EventPublisher
from contracts.topics import FACTS, YEAR_END
from services.platform.kafka_security import sasl_kwargs
from services.platform.settings import Settings


def event_publisher(settings: Settings) -> EventPublisher:
    return EventPublisher(
        settings.kafka_bootstrap,
        facts_topic=settings.topic(FACTS),
        year_end_topic=settings.topic(YEAR_END),
        **sasl_kwargs(settings),
    )
