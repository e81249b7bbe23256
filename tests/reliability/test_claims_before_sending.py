"""A letter's claim reaches the log before its e-mail: with the broker stopped while letters
are due, the letter service starts no SMTP conversation (what was already in one ends), and
when the broker is back every letter goes, once. This is what lets a restore from the log
after losing the database trust that a letter the log shows as ``rendered`` was never sent
(docs/operations.md, "Losing the database: restore from the log")."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from contracts.envelope import Envelope
from services.simulator import simulate_year
from tests.reliability.support import (
    Mailbox,
    Servers,
    StreamPublisher,
    close_year,
    every_letter_sent,
    log_lines,
)
from tests.support.polling import eventually
from tests.support.stack import Stack

COUNCILS = 24
SEND_CONCURRENCY = 2
# Each e-mail takes the SMTP server this long: the letters are still due when the broker stops.
ACCEPT_DELAY_S = 0.5
DOWN_SECONDS = 5.0


async def test_no_letter_is_emailed_while_the_log_cannot_take_its_claim(
    stack: Stack, figures: dict[str, Any], tmp_path: Path
) -> None:
    servers = Servers(stack.settings)
    servers.check_ours()
    mail = Mailbox(tmp_path / "maildir", accept_delay_s=ACCEPT_DELAY_S)
    mail.start()
    items = list(
        simulate_year("2019-20", events=1_500, seed=21, councils=COUNCILS, invalid_share=0)
    )
    councils = {
        e.council for e in items if isinstance(e, Envelope) and e.type == "CouncilRegistered"
    }
    stack.start("services.projector")
    await StreamPublisher(stack).run(items)
    await stack.wait_caught_up(timeout=120)
    letters = stack.start(
        "services.letters",
        **mail.env(
            AR_LETTERS_SEND_CONCURRENCY=str(SEND_CONCURRENCY),
            AR_KAFKA_DELIVERY_TIMEOUT_MS="5000",
        ),
    )
    await close_year(stack)

    async def first_sent() -> bool:
        return sum(mail.emails_per_letter().values()) >= 1

    await eventually(first_sent, timeout=120, every=0.05, what="the first letter e-mailed")
    try:
        await asyncio.to_thread(servers.stop_kafka)
        at_stop = sum(mail.emails_per_letter().values())

        async def claims_refused() -> bool:
            # The publisher gives up after its delivery timeout (AR_KAFKA_DELIVERY_TIMEOUT_MS).
            return log_lines(letters, "their claims could not be written to the log") >= 1

        await eventually(
            claims_refused,
            timeout=60,
            what="the letter service saying why",
            explain=stack.service_tails,
        )
        await asyncio.sleep(DOWN_SECONDS)
        during = sum(mail.emails_per_letter().values())
        refused_claims = log_lines(letters, "their claims could not be written to the log")
    finally:
        servers.ensure_running()
    figures.update(
        councils=len(councils),
        emails_when_the_broker_stopped=at_stop,
        emails_while_it_was_down=during - at_stop,
        claims_refused_log_lines=refused_claims,
    )
    # Only the conversations already under way when the broker stopped may end meanwhile.
    assert during - at_stop <= SEND_CONCURRENCY, (at_stop, during)
    assert during < len(councils)  # the outage did stop letters that were due
    assert refused_claims >= 1
    await every_letter_sent(stack, mail, councils, figures, timeout=180)
    assert mail.emails_per_council_year() == {(c, "2019-20"): 1 for c in councils}
