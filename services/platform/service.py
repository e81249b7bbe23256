"""What every long-running service does around its FastStream app: refuse a TLS set-up that
cannot work, wait for a broker that is not there yet (instead of exiting, which an
orchestrator would answer with a restart loop), and exit with one sentence, not a
traceback, when the configuration is wrong.

    python -m services.projector   ->  run_service(create_app)
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

import structlog
from faststream import FastStream

from services.platform.kafka.admin import open_admin
from services.platform.kafka.security import sasl_kwargs
from services.platform.kafka.tls import KafkaTlsError, check_broker_tls
from services.platform.retry import retry
from services.platform.settings import Settings

log = structlog.get_logger(__name__)

EXIT_CONFIGURATION = 2


async def prepare_kafka(settings: Settings, service: str) -> None:
    """Before the app's Kafka clients start: the TLS handshake checked (KafkaTlsError, logged,
    when the CA or the client certificate is wrong), then wait until the broker answers
    this service's credentials, saying so while it does not."""
    try:
        await check_broker_tls(settings)
    except KafkaTlsError as e:
        log.error("cannot connect to Kafka over TLS; not starting", service=service, reason=str(e))
        raise

    async def broker_answers() -> None:
        admin = await open_admin(settings.kafka_bootstrap, wait_s=5.0, **sasl_kwargs(settings))
        await admin.close()

    # No limit on the attempts: a broker that starts after this service is waited for.
    await retry(
        broker_answers,
        what=f"{service}: reach Kafka",
        base_delay=1.0,
        max_delay=30.0,
        retry_if=lambda e: isinstance(e, TimeoutError),
    )


def run_service(create_app: Callable[[], FastStream]) -> None:
    """Run the app until it stops; a refused TLS set-up exits with status 2 (the reason is
    in the log already)."""
    try:
        asyncio.run(create_app().run())
    except KafkaTlsError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIGURATION) from None
