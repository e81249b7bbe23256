"""The letter service end to end on the real broker, PostgreSQL and a real SMTP server.

Counting is done where it matters: in the SMTP server's Maildir, i.e. what was actually
accepted for delivery, not in our own tables.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.letters.smtp_server import start as start_smtp
from tests.support.casework import complied, council, decided, random_casework
from tests.support.mail import Mail, free_port, letters_env, wait_states
from tests.support.stack import Stack

D = date(2019, 9, 1)
COUNCILS = [f"L{i:02d}" for i in range(8)]


async def publish_year(stack: Stack) -> None:
    events = [council(c, "District" if i % 2 else "County") for i, c in enumerate(COUNCILS)]
    events += list(random_casework(COUNCILS, 400, seed=9, years=(2019,)))
    events += [decided("L00", "MAN-1", D, "upheld"), complied("L00", "MAN-0", D)]
    await stack.publish(events)
    async with stack.publisher() as p:
        await p.close_year(
            {
                "financial_year": "2019-20",
                "letter_date": "2020-07-22",
                "publication_date": "2020-07-29",
                "signatory": {
                    "name": "Michael King",
                    "titles": ["Local Government and Social Care Ombudsman"],
                },
            },
            producer="tests",
        )


async def test_closing_a_year_sends_one_email_per_council_and_never_again(
    stack: Stack, mail: Mail
) -> None:
    stack.start("services.projector")
    letters = stack.start("services.letters", **letters_env(mail))
    await publish_year(stack)
    await wait_states(stack, {"sent": len(COUNCILS)})

    messages = mail.messages()
    assert len(messages) == len(COUNCILS)
    for m in messages:
        code = str(m["X-Annual-Review-Letter"]).split("/")[0]
        assert m["To"] == f"Chief {code} <ce@{code.lower()}.example.org>"
        assert m["Subject"] == "Annual Review letter 2020"
        assert m["Message-ID"] == f"<annual-review.2019-20.{code}.v1@lgo.example>"
        # Any: get_payload(decode=True) is typed as a union; a PDF part's payload is bytes
        pdfs: list[Any] = [p for p in m.walk() if p.get_content_type() == "application/pdf"]
        assert len(pdfs) == 1
        assert pdfs[0].get_filename() == f"annual-review-letter-2020-{code}.pdf"
        assert pdfs[0].get_payload(decode=True).startswith(b"%PDF")
    # Restarting the service, and closing the year again, send nothing more.
    letters.kill()
    stack.start("services.letters", **letters_env(mail))
    await publish_year(stack)
    await stack.wait_caught_up()
    await asyncio.sleep(3)
    assert mail.per_letter() == Counter({f"{c}/2019-20/annual-review/v1": 1 for c in COUNCILS})
    # What the service said about each letter reaches the letters topic: per letter, a
    # LetterStateChanged for each of its four transitions (queue, render, claim, accepted),
    # its rendering, LetterIssued and LetterDispatched.
    per_letter = 4 + 3
    for _ in range(240):
        rows = await stack.fetch(
            "SELECT count(*) AS n, count(published_at) AS p FROM letters.events"
        )
        if rows[0]["p"] == per_letter * len(COUNCILS):
            break
        await asyncio.sleep(0.25)
    assert rows[0]["n"] == rows[0]["p"] == per_letter * len(COUNCILS)


@pytest.mark.parametrize("point", ["during_render", "before_send", "after_send"])
async def test_a_crash_at_any_point_still_ends_with_exactly_one_email_per_council(
    stack: Stack, mail: Mail, point: str
) -> None:
    stack.start("services.projector")
    crashing = stack.start("services.letters", **letters_env(mail, AR_LETTERS_CRASH_AT=point))
    await publish_year(stack)
    for _ in range(600):
        if not crashing.alive():
            break
        await asyncio.sleep(0.1)
    assert not crashing.alive(), f"the service never reached {point}"
    assert crashing.process.returncode == 137
    stack.start("services.letters", **letters_env(mail))
    await wait_states(stack, {"sent": len(COUNCILS)})
    assert mail.per_letter() == Counter({f"{c}/2019-20/annual-review/v1": 1 for c in COUNCILS})


async def test_without_an_archive_a_letter_caught_mid_send_waits_for_an_operator(
    stack: Stack, mail: Mail
) -> None:
    stack.start("services.projector")
    env = letters_env(mail, AR_LETTERS_CRASH_AT="after_send", AR_LETTERS_SEND_CONCURRENCY="1")
    del env["AR_LETTERS_RECONCILE_MAILDIR"]
    crashing = stack.start("services.letters", **env)
    await publish_year(stack)
    for _ in range(600):
        if not crashing.alive():
            break
        await asyncio.sleep(0.1)
    env.pop("AR_LETTERS_CRASH_AT")
    stack.start("services.letters", **env)
    await wait_states(stack, {"sent": len(COUNCILS) - 1, "uncertain": 1})
    # The one that went was not sent twice; it is marked for an operator to confirm.
    assert sum(mail.per_letter().values()) == len(COUNCILS)


async def test_a_transient_smtp_refusal_is_retried_and_a_permanent_one_recorded(
    stack: Stack, tmp_path: Path
) -> None:
    port = free_port()
    controller, _ = start_smtp(tmp_path / "m", port=port, fail_first=3, refuse=("@l03.",))
    try:
        stack.start("services.projector")
        stack.start(
            "services.letters",
            AR_SMTP_PORT=str(port), AR_LETTERS_RETRY_BASE_S="0.2", AR_LETTERS_RENDER_WORKERS="1",
            AR_LETTERS_RECONCILE_MAILDIR=str(tmp_path / "m"),
        )  # fmt: skip
        await publish_year(stack)
        await wait_states(stack, {"sent": len(COUNCILS) - 1, "failed": 1})
        (failed,) = await stack.fetch(
            "SELECT council, smtp_response, attempts FROM letters.outbox WHERE state = 'failed'"
        )
        assert failed["council"] == "L03" and "550" in failed["smtp_response"]
        retried = await stack.fetch("SELECT count(*) AS n FROM letters.outbox WHERE attempts > 1")
        assert retried[0]["n"] >= 1  # the 451s were retried, not dropped
    finally:
        controller.stop()


async def test_a_council_year_with_open_dead_letters_is_held(stack: Stack, mail: Mail) -> None:
    stack.start("services.projector")
    stack.start("services.letters", **letters_env(mail))
    await stack.publish_raw([(b"L02", b'{"type": "DecisionRecorded", "council": "L02"}')])
    await publish_year(stack)
    await wait_states(stack, {"sent": len(COUNCILS) - 1, "held": 1})
    (held,) = await stack.fetch(
        "SELECT council, hold_reason FROM letters.outbox WHERE state = 'held'"
    )
    assert held["council"] == "L02" and "dead letter" in held["hold_reason"]
    assert "L02/2019-20/annual-review/v1" not in mail.per_letter()
    # The operator deals with the dead letter and releases the letter: now it goes, once.
    conn = await stack.connect()
    try:
        from contracts.financial_year import FinancialYear
        from services.domain.letter_lifecycle import Transition
        from services.letters.operations import move

        await move(conn, Transition.RELEASE, "L02", FinancialYear(2019), "dead letter was a test")
    finally:
        await conn.close()
    await wait_states(stack, {"sent": len(COUNCILS)})
    assert mail.per_letter()["L02/2019-20/annual-review/v1"] == 1


async def test_two_letter_services_never_send_a_letter_twice_even_when_one_starts_mid_send(
    stack: Stack, tmp_path: Path
) -> None:
    port = free_port()
    controller, _ = start_smtp(tmp_path / "slow", port=port, delay_s=2.5)
    mail = Mail(tmp_path / "slow", port)
    try:
        stack.start("services.projector")
        env = letters_env(mail, AR_LETTERS_SEND_CONCURRENCY="1")
        stack.start("services.letters", **env)
        await publish_year(stack)
        for _ in range(400):  # wait until the first instance is in the middle of sending
            rows = await stack.fetch(
                "SELECT count(*) AS n FROM letters.outbox WHERE state = 'sending'"
            )
            if rows[0]["n"]:
                break
            await asyncio.sleep(0.05)
        stack.start("services.letters", **env)  # a second instance starts now
        await wait_states(stack, {"sent": len(COUNCILS)})
        assert mail.per_letter() == Counter({f"{c}/2019-20/annual-review/v1": 1 for c in COUNCILS})
    finally:
        controller.stop()
