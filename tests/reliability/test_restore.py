"""Losing the database: a year closed, its letters sent (one held and released, one
re-issued, one refused and resent), published; the database dropped and created again
empty (migrated); ``annual-review restore``; every table equal to a dump taken before (but
the local bookkeeping columns, docs/operations.md), the public pages equal, the letters'
PDFs equal by SHA-256, and nothing e-mailed or published again afterwards.

Losing the log as well: the same year, ``log export``, the topics deleted and created
again empty, ``log import``, the database lost, restore: the same comparison."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.financial_year import FinancialYear
from contracts.topics import LETTERS
from services.audit.record import Actor
from services.domain.letter_lifecycle import Transition
from services.letters.config import get_letters_settings
from services.letters.operations import move, reissue
from services.letters.smtp_server import start as start_smtp
from services.office.letter_actions import resolve_dead_letters
from services.platform.kafka.backup import export_log, import_log
from services.platform.kafka.security import client_kwargs
from services.platform.migrations import apply_migrations
from services.platform.settings import Settings, as_principal
from services.projector.config import get_projector_settings
from services.publication.job import publish_due
from tests.integration.test_letters import COUNCILS, publish_year
from tests.support.mail import free_port, wait_states
from tests.support.polling import NotYet, eventually
from tests.support.stack import Stack, recreate_topics
from tests.support.table_dump import Dump, differences, dump_tables
from tests.support.web import start_web

YEAR = FinancialYear(2019)
HELD, REISSUED, REFUSED = "L02", "L03", "L05"
REPO = Path(__file__).resolve().parents[2]

# Local bookkeeping: what a restore cannot (and need not) give back, each with its reason in
# docs/operations.md ("What a restore gives back"). "*": the whole table.
BOOKKEEPING: dict[str, frozenset[str]] = {
    # The relay's own numbering and clock: the restored rows are the topic's, already
    # published, in the topic's order.
    "letters.events": frozenset({"id", "created_at", "published_at"}),
    # When the migrations ran, and the read-model versions' numbering and times.
    "public.schema_migrations": frozenset({"applied_at"}),
    "public.projection_versions": frozenset({"*"}),
    # When the projector applied what it applied (its own clock, not the log's).
    # A decision's time is the audit trail's record of it (a moment later than the update).
    "readmodel.dead_letters": frozenset({"received_at", "detail", "status_at"}),
    "readmodel.late_events": frozenset({"applied_at"}),
    "readmodel.parked_events": frozenset({"parked_at"}),
    "readmodel.year_snapshot_councils": frozenset({"finalised_at"}),
    "readmodel.year_closes": frozenset({"completed_at"}),
    "readmodel.positions": frozenset({"updated_at"}),
    # When the publication job ran (the publication moment itself is kept).
    "publication.published_years": frozenset({"recorded_at"}),
    # Sign-in sessions of the office workspace: people sign in again.
    "office.sessions": frozenset({"*"}),
}


@dataclass
class Before:
    dump: Dump
    pages: dict[str, bytes]
    pdfs: dict[str, str]
    mails: Counter[str]
    letter_topic_end: int
    web_port: int


async def _owner(stack: Stack) -> asyncpg.Connection:
    return await asyncpg.connect(stack.settings.database_url)


async def _letters_topic_end(settings: Settings) -> int:
    consumer = AIOKafkaConsumer(**client_kwargs(settings))
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topic(LETTERS), p) for p in range(LETTERS.partitions)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


async def _pdfs(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT council, version, pdf, pdf_sha256 FROM letters.outbox WHERE pdf IS NOT NULL"
    )
    found = {}
    for r in rows:
        digest = hashlib.sha256(bytes(r["pdf"])).hexdigest()
        assert digest == r["pdf_sha256"]
        found[f"{r['council']} v{r['version']}"] = digest
    return found


def _pages(stack: Stack, port: int) -> dict[str, bytes]:
    """The public pages, fetched from a web process started for the purpose (on the same
    port each time: the open data page prints the site's address)."""
    import urllib.request

    web = start_web(stack, port)
    try:
        paths = ["/", "/years/2019-20", "/data", *(f"/councils/{c}" for c in COUNCILS)]
        found = {}
        for path in paths:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                found[path] = r.read()
        return found
    finally:
        web.kill()


def _diff(a: bytes, b: bytes) -> str:
    """The lines that differ between two pages ("" when equal)."""
    import difflib

    lines = difflib.unified_diff(a.decode().splitlines(), b.decode().splitlines(), lineterm="", n=0)
    return "\n".join(list(lines)[2:20])


async def _all_relayed(stack: Stack) -> None:
    async def relayed() -> bool:
        rows = await stack.fetch(
            "SELECT count(*) AS n FROM letters.events WHERE published_at IS NULL"
        )
        if rows[0]["n"]:
            raise NotYet(f"{rows[0]['n']} letter events not relayed yet")
        return True

    await eventually(relayed, what="every letter event relayed", timeout=60)


async def year_with_every_kind_of_letter(stack: Stack, maildir: Path, port: int) -> Counter[str]:
    """Projector and letter service up; a year closed with one letter held (a dead letter),
    one refused by the mail server; then released, resent and one re-issued; published."""
    smtp, _ = start_smtp(maildir, port=port, refuse=(f"@{REFUSED.lower()}.",))
    env = {
        "AR_SMTP_PORT": str(port),
        "AR_LETTERS_RECONCILE_MAILDIR": str(maildir),
        "AR_LETTERS_RENDER_WORKERS": "1",
    }
    stack.start("services.projector")
    stack.start("services.letters", **env)
    try:
        await stack.publish_raw(
            [(HELD.encode(), b'{"type": "DecisionRecorded", "council": "L02"}')]
        )
        await publish_year(stack)
        n = len(COUNCILS)
        await wait_states(stack, {"sent": n - 2, "held": 1, "failed": 1})
    finally:
        smtp.stop()
    smtp, _ = start_smtp(maildir, port=port)
    try:
        conn = await _owner(stack)
        try:
            # The operator's decision on the dead letter is on the audit trail: a restore
            # puts it back (the dead letter resolved, not open again).
            (dead_id,) = [
                r["id"] for r in await conn.fetch("SELECT id FROM readmodel.dead_letters")
            ]
            async with stack.publisher() as publisher:
                closed = await resolve_dead_letters(
                    conn, publisher, Actor("operator:test", "cli"), [dead_id],
                    "the dead letter was a test",
                )  # fmt: skip
            assert closed == 1
            await move(conn, Transition.RELEASE, HELD, YEAR, "the dead letter was a test")
            await move(conn, Transition.RESEND, REFUSED, YEAR, "mailbox fixed")
            await wait_states(stack, {"sent": n})
            await reissue(
                conn, REISSUED, YEAR, reason="a correction changed the figures",
                rule=get_projector_settings().averaging_rule,
                message_id_domain=get_letters_settings().message_id_domain,
            )  # fmt: skip
            await wait_states(stack, {"sent": n + 1})
        finally:
            await conn.close()
        publication = await asyncpg.connect(
            as_principal(stack.settings, "publication").database_url
        )
        try:
            assert await publish_due(publication) == [YEAR]
        finally:
            await publication.close()
        await _all_relayed(stack)
    finally:
        smtp.stop()
    for s in stack.services:
        s.kill()
    from mailbox import Maildir

    return Counter(str(m["X-Annual-Review-Letter"]) for m in Maildir(maildir, create=False))


async def take_before(stack: Stack, mails: Counter[str]) -> Before:
    conn = await _owner(stack)
    try:
        dump = await dump_tables(conn, BOOKKEEPING)
        pdfs = await _pdfs(conn)
    finally:
        await conn.close()
    port = free_port()
    return Before(
        dump, _pages(stack, port), pdfs, mails, await _letters_topic_end(stack.settings), port
    )


async def lose_the_database(stack: Stack, base: Settings) -> None:
    """Dropped and created again, empty, migrated: what PostgreSQL gives back after its data
    is lost and the cluster is set up again (docs/operations.md says why not the cluster)."""
    name = stack.settings.database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(base.database_url)
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await _owner(stack)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()


def run_restore(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "restore", *args],
        cwd=REPO,
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=600,
    )


async def check_after(stack: Stack, before: Before, maildir: Path, port: int) -> None:
    conn = await _owner(stack)
    try:
        after = await dump_tables(conn, BOOKKEEPING)
        assert differences(before.dump, after) == {}
        assert await _pdfs(conn) == before.pdfs
    finally:
        await conn.close()
    pages = _pages(stack, before.web_port)
    assert {p: _diff(before.pages[p], pages.get(p, b"")) for p in before.pages} == {
        p: "" for p in before.pages
    }
    # The services start again on the restored database: nothing is e-mailed or relayed again.
    smtp, _ = start_smtp(maildir, port=port)
    try:
        env = {"AR_SMTP_PORT": str(port), "AR_LETTERS_RECONCILE_MAILDIR": str(maildir)}
        stack.start("services.projector")
        stack.start("services.letters", **env)
        await stack.wait_caught_up()
        await asyncio.sleep(8)  # several dispatcher and relay rounds
        from mailbox import Maildir

        mails = Counter(str(m["X-Annual-Review-Letter"]) for m in Maildir(maildir, create=False))
        assert mails == before.mails
        assert await _letters_topic_end(stack.settings) == before.letter_topic_end
    finally:
        smtp.stop()


async def test_after_losing_the_database_a_restore_gives_every_table_back_and_sends_nothing(
    stack: Stack, settings: Settings, tmp_path: Path
) -> None:
    maildir, port = tmp_path / "maildir", free_port()
    mails = await year_with_every_kind_of_letter(stack, maildir, port)
    assert sum(mails.values()) == len(COUNCILS) + 1 and set(mails.values()) == {1}
    before = await take_before(stack, mails)

    await lose_the_database(stack, settings)
    done = run_restore(stack, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["letters"] == len(COUNCILS) + 1
    assert report["letters_made_uncertain"] == []
    assert report["published"] == ["2019-20"]
    assert report["dead_letters_numbered_from_the_log"] == 1
    print(f"\nrestore: {report['events']} facts, {report['letters']} letters, "
          f"{report['letter_events']} letter events in {report['seconds']} s")  # fmt: skip

    # A second run refuses the database it restored (not empty), saying how to force it;
    # forced, it writes the same database again (the read models in a new version).
    again = run_restore(stack)
    assert again.returncode == 1 and "--force" in again.stderr
    forced = run_restore(stack, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["read_model_version"] == report["read_model_version"] + 1

    await check_after(stack, before, maildir, port)


async def test_after_losing_the_log_and_the_database_the_backup_and_a_restore_give_it_all_back(
    stack: Stack, settings: Settings, tmp_path: Path
) -> None:
    maildir, port = tmp_path / "maildir", free_port()
    mails = await year_with_every_kind_of_letter(stack, maildir, port)
    before = await take_before(stack, mails)
    backup = tmp_path / "backup"
    manifest = await export_log(as_principal(stack.settings, "operator"), backup)

    await recreate_topics(stack.settings)
    report = await import_log(stack.settings, backup)
    assert (report.records, report.renumbered) == (manifest.records, [])
    await lose_the_database(stack, settings)
    done = run_restore(stack, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["letters"] == len(COUNCILS) + 1

    await check_after(stack, before, maildir, port)
