"""Letters: crashes at every point of the dispatch, and the SMTP server away for a while.

Counted where it matters: in the SMTP server's Maildir, what was accepted for delivery.
Two years are closed: the first one's letters go through repeated crashes during
rendering, before sending, and after the SMTP server accepted an email but before the
outbox says so; the second one's while the SMTP server is down. At the end every
council-year has exactly one email.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from contracts.envelope import Envelope
from contracts.events import CouncilRegistered
from services.simulator import simulate_year
from tests.reliability.support import (
    Mailbox,
    close_year,
    distribution,
    log_lines,
    outbox_states,
    reap,
)
from tests.support.polling import eventually
from tests.support.stack import Service, Stack

COUNCILS = 16
CRASHES_PER_POINT = 2
POINTS = ("during_render", "before_send", "after_send")
SMTP_DOWN_S = 6.0
YEARS = ("2019-20", "2020-21")


async def crashed(service: Service, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while service.alive():
        assert time.monotonic() < deadline, f"never crashed:\n{service.tail()}"
        await asyncio.sleep(0.1)
    assert service.process.returncode == 137, service.tail()
    reap(service)


async def test_crashes_at_every_dispatch_point_and_an_smtp_outage_end_with_one_email_per_council_year(  # noqa: E501
    stack: Stack, figures: dict[str, Any], tmp_path: Path
) -> None:
    mail = Mailbox(tmp_path / "maildir")
    mail.start()
    councils: dict[str, set[str]] = {}
    for year in YEARS:
        events = [
            e
            for e in simulate_year(year, events=2_000, seed=9, councils=COUNCILS, invalid_share=0)
            if isinstance(e, Envelope)
        ]
        councils[year] = {e.council or "" for e in events if isinstance(e.data, CouncilRegistered)}
        await stack.publish(events)
    stack.start("services.projector")
    # Retries back off from 0.5 s (default 1 s): 8 attempts then span at least 30 s.
    env = mail.env(AR_LETTERS_RETRY_BASE_S="0.5")
    started = time.monotonic()
    crashes: dict[str, int] = {}
    try:
        # 2019-20: crash twice at each point, in the order a letter meets them.
        await close_year(stack, YEARS[0])
        for point in POINTS:
            for _ in range(CRASHES_PER_POINT):
                await crashed(stack.start("services.letters", **env, AR_LETTERS_CRASH_AT=point))
                crashes[point] = crashes.get(point, 0) + 1
        letters = stack.start("services.letters", **env)

        async def first_year_sent() -> bool:
            rows = await stack.fetch(
                "SELECT count(*) AS n FROM letters.outbox WHERE state = 'sent' "
                "AND financial_year = $1",
                int(YEARS[0][:4]),
            )
            return bool(rows[0]["n"] == len(councils[YEARS[0]]))

        await eventually(first_year_sent, timeout=120, what="the first year's letters sent")
        crashes_done = time.monotonic()

        # 2020-21: the SMTP server is away while the letters are sent.
        mail.stop()
        await close_year(stack, YEARS[1])

        async def refused() -> bool:
            rows = await stack.fetch(
                "SELECT count(*) AS n FROM letters.outbox WHERE last_error IS NOT NULL "
                "AND state = 'rendered' AND financial_year = $1",
                int(YEARS[1][:4]),
            )
            return bool(rows[0]["n"] > 0)

        await eventually(refused, timeout=120, what="sends refused while the server is down")
        await asyncio.sleep(SMTP_DOWN_S)
        mail.start()
        smtp_back = time.monotonic()

        async def all_sent() -> bool:
            total = sum(len(c) for c in councils.values())
            return await outbox_states(stack) == {"sent": total}

        await eventually(all_sent, timeout=120, what="every letter sent")
        await asyncio.sleep(1.0)  # and nothing more arrives
    finally:
        mail.stop()
    attempts = await stack.fetch(
        "SELECT financial_year, sum(attempts) AS attempts, max(attempts) AS most "
        "FROM letters.outbox GROUP BY 1 ORDER BY 1"
    )
    emails = mail.emails_per_council_year()
    expected = {(c, year): 1 for year, codes in councils.items() for c in codes}
    figures.update(
        fault="letter service crashes at every dispatch point; SMTP server down",
        injection=f"AR_LETTERS_CRASH_AT=during_render|before_send|after_send (the process "
        f"exits as SIGKILL would, at the first letter reaching the point), "
        f"{CRASHES_PER_POINT} crashes per point for {YEARS[0]}; for {YEARS[1]} the SMTP server "
        f"stopped until sends were refused, then {SMTP_DOWN_S:.0f} s more",
        crashes=crashes,
        times=f"{sum(crashes.values())} crashes, 1 SMTP outage",
        letters_per_year={y: len(c) for y, c in councils.items()},
        emails=sum(emails.values()),
        emails_per_council_year=distribution(emails),
        council_years_without_email=len(set(expected) - set(emails)),
        council_years_with_more_than_one=sum(1 for n in emails.values() if n > 1),
        smtp_attempts={
            f"{r['financial_year']}-{(r['financial_year'] + 1) % 100:02d}": f"{r['attempts']} "
            f"for {len(councils[YEARS[i]])} letters, at most {r['most']} for one"
            for i, r in enumerate(attempts)
        },
        letters_log_retry_lines=log_lines(letters, "will retry"),
        seconds_for_the_crashes=round(crashes_done - started, 1),
        seconds_to_deliver_after_smtp_back=round(time.monotonic() - 1.0 - smtp_back, 1),
    )

    assert crashes == {p: CRASHES_PER_POINT for p in POINTS}
    assert emails == expected
    assert attempts[1]["most"] > 1  # the second year's letters were retried, not dropped
