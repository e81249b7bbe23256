"""The outbox table and the letter lifecycle agree, read from the real PostgreSQL after every
migration: the CHECK constraint lists exactly the lifecycle's states, the dispatcher's work
index covers exactly the states it claims from, and the operator's moves land as the
lifecycle says."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest
import pytest_asyncio

from contracts.financial_year import FinancialYear
from services.domain.letter_inputs import LetterInputs
from services.domain.letter_lifecycle import TRANSITIONS, LetterState, Transition
from services.letters import operations, outbox
from services.letters.config import LettersSettings
from services.letters.dispatcher import Dispatcher
from tests.support.mail import free_port
from tests.support.stack import Stack

YEAR = FinancialYear(2019)
QUOTED = re.compile(r"'([^']*)'::text")


@pytest_asyncio.fixture
async def conn(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    c = await stack.connect()
    try:
        yield c
    finally:
        await c.close()


async def test_the_outbox_check_constraint_lists_exactly_the_letter_states(
    conn: asyncpg.Connection,
) -> None:
    definitions = await conn.fetchval(
        "SELECT array_agg(pg_get_constraintdef(c.oid)) FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
        "WHERE c.conrelid = 'letters.outbox'::regclass AND c.contype = 'c' "
        "AND a.attname = 'state'"
    )

    assert len(definitions) == 1, definitions
    assert set(QUOTED.findall(definitions[0])) == {s.value for s in LetterState}


async def test_the_work_index_covers_exactly_the_states_the_dispatcher_claims_from(
    conn: asyncpg.Connection,
) -> None:
    definition = await conn.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'letters' AND indexname = $1",
        "outbox_work",
    )
    claimed = TRANSITIONS[Transition.RENDER].sources | TRANSITIONS[Transition.CLAIM].sources

    predicate = definition.split(" WHERE ", 1)[1]
    assert set(QUOTED.findall(predicate)) == {s.value for s in claimed}


async def test_a_state_outside_the_lifecycle_is_refused_by_the_table(
    conn: asyncpg.Connection,
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "INSERT INTO letters.outbox (council, financial_year, source, state, message_id, "
            "context) VALUES ('X01', $1, 'live', 'lost', $2, '{}'::jsonb)",
            YEAR.start_year,
            f"<{uuid4()}@test>",
        )


def letter_inputs(council: str) -> LetterInputs:
    return LetterInputs(
        council=council, council_name=f"{council} Council", group="District", year=YEAR.label,
        counts={}, population=None, averages={}, group_councils=1, addressee=None,
        letter_date="2020-07-22", publication_date="2020-07-29", signatory={},
    )  # fmt: skip


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# The hashes of the bytes the tests store: the rendering on the log is refused otherwise.
HASHES = (_sha(b"text"), _sha(b"<p>html</p>"), _sha(b"%PDF"))


async def state_of(conn: asyncpg.Connection, row_id: int) -> LetterState | None:
    async with conn.transaction():
        return await outbox.lock_state(conn, row_id)


async def test_a_letter_moves_through_the_outbox_as_the_lifecycle_says(
    conn: asyncpg.Connection,
) -> None:
    row_id, version = await outbox.add_version(conn, letter_inputs("X02"), "test", "test")
    assert version == 1 and await state_of(conn, row_id) is LetterState.PENDING
    async with conn.transaction():
        (row,) = await outbox.claim(conn, LetterState.PENDING, 10)
        await outbox.mark_rendered(
            conn, row, template_version="t", text="text", html="<p>html</p>", pdf=b"%PDF",
            sha=HASHES,
        )  # fmt: skip
    assert await state_of(conn, row_id) is LetterState.RENDERED
    async with conn.transaction():
        (row,) = await outbox.claim(conn, LetterState.RENDERED, 10)
        await outbox.mark_sending(conn, row.id)
        await outbox.mark_failed(conn, row, "550 no such mailbox")
    assert await state_of(conn, row_id) is LetterState.FAILED

    await operations.move(conn, Transition.RESEND, "X02", YEAR, "the address was fixed")

    assert await state_of(conn, row_id) is LetterState.RENDERED
    stored = await conn.fetchrow(
        "SELECT attempts, last_error FROM letters.outbox WHERE id = $1", row_id
    )
    assert stored["attempts"] == 0 and stored["last_error"].startswith("resend by an operator")


async def test_resending_a_failed_letter_that_was_never_rendered_renders_it_again(
    conn: asyncpg.Connection,
) -> None:
    # What issue 13 makes possible (a letter failing before it is rendered): its retry.
    row_id, _ = await outbox.add_version(conn, letter_inputs("X03"), "test", "test")
    await conn.execute("UPDATE letters.outbox SET state = 'failed' WHERE id = $1", row_id)

    await operations.move(conn, Transition.RESEND, "X03", YEAR, "the template was fixed")

    assert await state_of(conn, row_id) is LetterState.PENDING


async def test_an_operator_command_on_a_letter_in_the_wrong_state_is_refused(
    conn: asyncpg.Connection,
) -> None:
    row_id, _ = await outbox.add_version(conn, letter_inputs("X04"), "test", "test")

    with pytest.raises(ValueError, match=r"is 'pending'; confirm-sent applies to 'uncertain'"):
        await operations.move(conn, Transition.CONFIRM_SENT, "X04", YEAR, "checked")
    with pytest.raises(
        ValueError, match=r"is 'pending'; resend applies to 'failed' or 'uncertain'"
    ):
        await operations.move(conn, Transition.RESEND, "X04", YEAR, "checked")
    assert await state_of(conn, row_id) is LetterState.PENDING


async def test_a_held_letter_withdrawn_is_never_claimed_and_only_a_held_one_can_be(
    conn: asyncpg.Connection,
) -> None:
    row_id, _ = await outbox.add_version(conn, letter_inputs("X06"), "test", "test")
    with pytest.raises(ValueError, match=r"is 'pending'; withdraw applies to 'held'"):
        await operations.move(conn, Transition.WITHDRAW, "X06", YEAR, "never existed")
    await conn.execute("UPDATE letters.outbox SET state = 'held' WHERE id = $1", row_id)

    await operations.move(conn, Transition.WITHDRAW, "X06", YEAR, "registered after the close")

    assert await state_of(conn, row_id) is LetterState.WITHDRAWN
    note = await conn.fetchval("SELECT last_error FROM letters.outbox WHERE id = $1", row_id)
    assert note == "withdraw by an operator: registered after the close"
    async with conn.transaction():  # what the dispatcher takes work from
        for state in (LetterState.PENDING, LetterState.RENDERED):
            assert all(r.id != row_id for r in await outbox.claim(conn, state, 1000))
    with pytest.raises(ValueError, match=r"is 'withdrawn'; release applies to 'held'"):
        await operations.move(conn, Transition.RELEASE, "X06", YEAR, "changed my mind")


async def test_a_letter_whose_email_cannot_be_built_leaves_sending_as_failed_with_the_reason(
    conn: asyncpg.Connection, stack: Stack
) -> None:
    # An addressee stored before the contract refused line breaks in names: the e-mail's
    # To header cannot be made. The letter must not stay `sending` (then `uncertain`).
    inputs = letter_inputs("X05")
    inputs = dataclasses.replace(
        inputs,
        averages={"uphold_rate": [1, 2], "compliance_rate": [1, 1],
                  "satisfactory_remedy_rate": None, "upheld_per_100k": None},
        signatory={"name": "Michael King", "titles": ["Ombudsman"]},
        addressee={"name": "Hayley\r\nBcc: leak@x.example", "job_title": "Chief Executive",
                   "salutation": "Ms Barsby", "email": "ce@x05.example.org"},
    )  # fmt: skip
    row_id, _ = await outbox.add_version(conn, inputs, "test", "test")
    async with conn.transaction():
        (row,) = await outbox.claim(conn, LetterState.PENDING, 10)
        await outbox.mark_rendered(
            conn, row, template_version="t", text="text", html="<p>html</p>", pdf=b"%PDF",
            sha=HASHES,
        )  # fmt: skip
    published: list[bytes] = []

    async def publish(value: bytes, key: bytes | None, /) -> None:
        published.append(value)

    pool = await asyncpg.create_pool(stack.settings.database_url, min_size=1, max_size=2)
    # No SMTP server on this port: a send that were tried would fail as transient (`rendered`
    # again), not `failed`; so `failed` proves the e-mail was refused before any send.
    settings = stack.settings.model_copy(update={"smtp_port": free_port()})
    dispatcher = Dispatcher(pool, settings, LettersSettings(render_workers=0), publish)
    try:
        assert await dispatcher.sender.send_rendered() == 1
    finally:
        await pool.close()
    assert await state_of(conn, row_id) is LetterState.FAILED
    error = await conn.fetchval("SELECT last_error FROM letters.outbox WHERE id = $1", row_id)
    assert error.startswith("the e-mail could not be built: ")
    assert "U+000D" in error and "\r" not in error and "\n" not in error
