"""Who may do what, on the real servers (docs/security.md).

Kafka runs with SASL/SCRAM and ACLs: each principal may touch only its own topics and
groups, and a client without (valid) credentials is refused. PostgreSQL has a login role per
service with least privilege: the letter service cannot change a statistic, the projector
cannot touch a letter. Every case runs in a namespace of its own (its topics carry the
principals' ACLs, its database the migrations' grants).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from contracts.topics import (
    DEAD_LETTERS,
    FACTS,
    LETTERS,
    NARRATIVES,
    OFFICE_ACTIONS,
    YEAR_END,
    TopicSpec,
)
from services.platform.kafka import acls as kafka_acls
from services.platform.kafka.admin import open_admin
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.migrations import MigrationError, ensure_migrated
from services.platform.namespace import create_namespace, drop_namespace, service_env
from services.platform.settings import (
    DATABASE_ROLES,
    Principal,
    Settings,
    as_principal,
    with_credentials,
)
from services.publication.clock import publishes_at
from services.publication.job import FutureClock, publish_due
from services.readmodel.versions import create_version, ensure_active_version, point_views_at
from tests.support.casework import council
from tests.support.stack import REPO, Stack
from tests.support.web import (
    CLOSES,
    HOSTILE,
    HOSTILE_ADDRESSES,
    Y2019,
    Y2020,
    WebSite,
    free_port,
)

pytestmark = pytest.mark.timeout(300)
SEND_TIMEOUT_S = 20.0
SCRIPT = Path(sys.executable).with_name("annual-review")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "services.cli.main"]


@pytest.fixture(autouse=True)
def secured(settings: Settings) -> None:
    if not settings.kafka_username or settings.secrets_dir is None:
        pytest.fail(
            "the servers run without authentication (no AR_PRINCIPAL / AR_SECRETS_DIR): "
            "run the tests through `make test` (infra/ctl.sh), which sets them",
            pytrace=False,
        )


def who(stack: Stack, principal: Principal) -> Settings:
    return as_principal(stack.settings, principal)


async def send(settings: Settings, spec: TopicSpec, value: bytes = b"x") -> Any:
    """Produce one record as ``settings``' principal (raises when refused)."""
    producer = AIOKafkaProducer(
        **client_kwargs(settings), acks="all", enable_idempotence=True, request_timeout_ms=10_000
    )
    await producer.start()
    try:
        return await asyncio.wait_for(
            producer.send_and_wait(settings.topic(spec), value, key=b"AAA"), SEND_TIMEOUT_S
        )
    finally:
        await producer.stop()


async def read_all(settings: Settings, spec: TopicSpec, group: str | None = None) -> list[Any]:
    """Every record of a topic, read as ``settings``' principal (raises when refused)."""
    topic = settings.topic(spec)
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10_000,
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(spec.partitions)]
        if group is None:
            consumer.assign(parts)
        else:
            consumer.subscribe([topic])
        ends = await consumer.end_offsets(parts)
        records: list[Any] = []
        deadline = asyncio.get_running_loop().time() + SEND_TIMEOUT_S
        while sum(ends.values()) > len(records):
            got = await consumer.getmany(timeout_ms=1000)
            records += [r for batch in got.values() for r in batch]
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"read {len(records)} of {sum(ends.values())} records")
        return records
    finally:
        await consumer.stop()


# --- Kafka: authentication ---------------------------------------------------------------------


async def test_a_client_without_credentials_is_refused(stack: Stack) -> None:
    anonymous = stack.settings.model_copy(update={"kafka_username": None, "kafka_password": None})
    assert sasl_kwargs(anonymous) == {}
    producer = AIOKafkaProducer(**client_kwargs(anonymous), request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
    admin = AIOKafkaAdminClient(**client_kwargs(anonymous), request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await admin.start()
    await admin.close()


@pytest.mark.parametrize("user", ["cms", "projector", "admin", "nobody"])
async def test_a_wrong_password_is_refused(stack: Stack, user: str) -> None:
    wrong = stack.settings.model_copy(
        update={"kafka_username": user, "kafka_password": SecretStr("not-the-password")}
    )
    producer = AIOKafkaProducer(**client_kwargs(wrong), request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()


async def test_a_principals_password_is_not_another_principals(stack: Stack) -> None:
    cms = who(stack, "cms")
    as_admin = cms.model_copy(update={"kafka_username": "admin"})  # cms's password, admin's name
    with pytest.raises(KafkaConnectionError):
        await send(as_admin, FACTS)


# --- Kafka: what each principal may do ---------------------------------------------------------


async def test_the_case_management_system_may_write_facts_and_nothing_else(stack: Stack) -> None:
    cms = who(stack, "cms")
    written = await send(cms, FACTS)
    assert written.topic == stack.facts

    for spec in (DEAD_LETTERS, LETTERS, YEAR_END):
        with pytest.raises(TopicAuthorizationFailedError):
            await send(cms, spec)
    with pytest.raises(TopicAuthorizationFailedError):
        await read_all(cms, FACTS)
    with pytest.raises((GroupAuthorizationFailedError, TopicAuthorizationFailedError)):
        await read_all(cms, FACTS, group=f"{stack.settings.topic_prefix}projector")


async def test_the_projector_reads_facts_in_its_group_and_writes_dead_letters(
    stack: Stack,
) -> None:
    await stack.publish([council("AAA", "District")])
    projector = who(stack, "projector")

    records = await read_all(projector, FACTS, group=f"{stack.settings.topic_prefix}projector")
    assert len(records) == 1
    assert len(await read_all(projector, FACTS)) == 1  # the rebuild reads without a group
    assert (await send(projector, DEAD_LETTERS)).topic == stack.settings.topic(DEAD_LETTERS)

    for spec in (FACTS, LETTERS, YEAR_END):
        with pytest.raises(TopicAuthorizationFailedError):
            await send(projector, spec)
    with pytest.raises(GroupAuthorizationFailedError):
        await read_all(projector, FACTS, group=f"{stack.settings.topic_prefix}letters")


async def test_the_letter_service_may_not_write_facts(stack: Stack) -> None:
    letters = who(stack, "letters")

    with pytest.raises(TopicAuthorizationFailedError):
        await send(letters, FACTS)
    with pytest.raises(TopicAuthorizationFailedError):
        await send(letters, YEAR_END)
    with pytest.raises(TopicAuthorizationFailedError):
        await send(letters, DEAD_LETTERS)
    assert (await send(letters, LETTERS)).topic == stack.settings.topic(LETTERS)
    await read_all(letters, YEAR_END, group=f"{stack.settings.topic_prefix}letters")


async def test_the_operator_closes_years_and_redrives_but_writes_no_letters(stack: Stack) -> None:
    operator = who(stack, "operator")
    await stack.publish([council("AAA", "District")])

    assert (await send(operator, FACTS)).topic == stack.facts  # dlq redrive, close-year
    assert (await send(operator, YEAR_END)).topic == stack.settings.topic(YEAR_END)
    assert len(await read_all(operator, FACTS)) == 2  # status, replay: no group
    for spec in (LETTERS, DEAD_LETTERS):
        with pytest.raises(TopicAuthorizationFailedError):
            await send(operator, spec)


async def test_a_namespace_has_exactly_the_declared_acls_and_loses_them_when_dropped(
    settings: Settings,
) -> None:
    ns = await create_namespace(settings, f"ar_t_acl_{uuid.uuid4().hex[:8]}")
    prefix = ns.topic_prefix
    admin = await open_admin(settings.kafka_bootstrap, **sasl_kwargs(settings))
    try:
        mine = {b for b in await kafka_acls.describe_acls(admin) if b.name.startswith(prefix)}
        assert mine == set(kafka_acls.acl_bindings(prefix))
        await drop_namespace(settings, ns)
        left = {b for b in await kafka_acls.describe_acls(admin) if b.name.startswith(prefix)}
        assert left == set()
    finally:
        await admin.close()


@pytest.mark.parametrize(
    ("principal", "visible"),
    [
        ("cms", [FACTS]),
        ("projector", [FACTS, DEAD_LETTERS]),
        ("letters", [YEAR_END, LETTERS, NARRATIVES]),
        ("operator", [FACTS, DEAD_LETTERS, LETTERS, YEAR_END, NARRATIVES, OFFICE_ACTIONS]),
        ("office", [FACTS, YEAR_END, NARRATIVES, OFFICE_ACTIONS]),
    ],
)
async def test_a_principal_sees_only_the_topics_it_may_use(
    stack: Stack, principal: Principal, visible: list[TopicSpec]
) -> None:
    """A topic without any ACL for the principal does not exist for it: the letter service
    cannot even find the facts topic, let alone read it."""
    settings = who(stack, principal)
    admin = await open_admin(settings.kafka_bootstrap, **sasl_kwargs(settings))
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    mine = {n for n in names if n.startswith(stack.settings.topic_prefix)}
    assert mine == {stack.settings.topic(t) for t in visible}


def test_the_acls_say_what_docs_security_md_says() -> None:
    assert [str(b) for b in kafka_acls.acl_bindings("")] == [
        "User:cms WRITE topic 'casework.facts' (literal)",
        "User:projector READ topic 'casework.facts' (literal)",
        "User:projector WRITE topic 'annual-review.dead-letters' (literal)",
        "User:projector READ group 'projector' (prefixed)",
        "User:letters READ topic 'annual-review.year-end' (literal)",
        "User:letters WRITE topic 'annual-review.letters' (literal)",
        "User:letters READ topic 'annual-review.narratives' (literal)",
        "User:letters READ group 'letters' (prefixed)",
        "User:operator READ topic 'casework.facts' (literal)",
        "User:operator WRITE topic 'casework.facts' (literal)",
        "User:operator WRITE topic 'annual-review.year-end' (literal)",
        "User:operator READ topic 'annual-review.dead-letters' (literal)",
        "User:operator READ topic 'annual-review.letters' (literal)",
        "User:operator READ topic 'annual-review.year-end' (literal)",
        "User:operator READ topic 'annual-review.narratives' (literal)",
        "User:operator WRITE topic 'annual-review.narratives' (literal)",
        "User:office READ topic 'casework.facts' (literal)",
        "User:office READ topic 'annual-review.narratives' (literal)",
        "User:office WRITE topic 'casework.facts' (literal)",
        "User:office WRITE topic 'annual-review.narratives' (literal)",
        "User:office WRITE topic 'annual-review.office-actions' (literal)",
        "User:office READ topic 'annual-review.office-actions' (literal)",
        "User:operator WRITE topic 'annual-review.office-actions' (literal)",
        "User:operator READ topic 'annual-review.office-actions' (literal)",
        "User:office WRITE topic 'annual-review.year-end' (literal)",
    ]
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    for line in ("`cms`", "`projector`", "`letters`", "`operator`", "`office`", "`admin`"):
        assert line in doc


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def db(stack: Stack) -> AsyncIterator[dict[str, asyncpg.Connection]]:
    """A connection per role to the stack's database, with version 1 created by the projector."""
    conns: dict[str, asyncpg.Connection] = {}
    try:
        principals: tuple[Principal, ...] = (
            "admin", "projector", "letters", "operator", "publication", "office"
        )  # fmt: skip
        for principal in principals:
            conns[principal] = await asyncpg.connect(who(stack, principal).database_url)
        await ensure_active_version(conns["projector"])
        yield conns
    finally:
        for conn in conns.values():
            await conn.close()


async def test_each_service_connects_as_its_own_role(
    db: dict[str, asyncpg.Connection],
) -> None:
    users = {p: await c.fetchval("SELECT current_user") for p, c in db.items()}
    assert users == {
        "admin": "annual_review",
        "projector": "ar_projector",
        "letters": "ar_letters",
        "operator": "ar_operator",
        "publication": "ar_publication",
        "office": "ar_office",
    }
    for principal in ("projector", "letters", "operator", "publication", "office"):
        assert not await db[principal].fetchval(
            "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user"
        )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {t} SET upheld = upheld + 1",
        "INSERT INTO {t} (council, financial_year) VALUES ('AAA', 2019)",
        "DELETE FROM {t}",
    ],
)
@pytest.mark.parametrize(
    "table", ["readmodel.council_year_contributions", "rm_v1.council_year_contributions"]
)
async def test_the_letter_service_cannot_change_statistics(
    db: dict[str, asyncpg.Connection], statement: str, table: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db["letters"].execute(statement.format(t=table))


async def test_the_letter_service_reads_the_views_and_writes_only_its_outbox(
    db: dict[str, asyncpg.Connection],
) -> None:
    letters = db["letters"]
    assert await letters.fetchval("SELECT count(*) FROM readmodel.council_year_stats") == 0
    assert await letters.fetchval("SELECT count(*) FROM readmodel.year_snapshot_councils") == 0
    await letters.execute(
        "INSERT INTO letters.events (event_id, value) VALUES ($1, 'x')", uuid.uuid4()
    )
    for forbidden in (
        "SELECT count(*) FROM rm_v1.councils",
        "SELECT count(*) FROM public.projection_versions",
        "DELETE FROM letters.events",
        "UPDATE rm_v1.dead_letters SET status = 'resolved'",
        "TRUNCATE rm_v1.council_year_contributions",
        "CREATE TABLE letters.mine (id int)",
        "CREATE TABLE public.mine (id int)",
        "CREATE SCHEMA mine",
        "DROP VIEW readmodel.councils",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await letters.execute(forbidden)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT count(*) FROM letters.outbox",
        "UPDATE letters.outbox SET state = 'sent'",
        "INSERT INTO letters.events (event_id, value) VALUES (gen_random_uuid(), 'x')",
        "DELETE FROM letters.outbox",
    ],
)
async def test_the_projector_cannot_touch_the_letters(
    db: dict[str, asyncpg.Connection], statement: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db["projector"].execute(statement)


async def test_the_operator_changes_dead_letter_status_and_letters_but_no_figures(
    db: dict[str, asyncpg.Connection],
) -> None:
    operator = db["operator"]
    await operator.execute(
        "UPDATE rm_v1.dead_letters SET status = 'resolved', status_note = 'x', "
        "status_at = now() WHERE false"
    )
    await operator.fetch("SELECT * FROM rm_v1.dead_letters WHERE false FOR UPDATE")
    await operator.execute("UPDATE letters.outbox SET state = 'pending' WHERE false")
    assert await operator.fetchval("SELECT count(*) FROM public.projection_versions") == 1
    for forbidden in (
        "UPDATE rm_v1.dead_letters SET reason = 'x'",
        "DELETE FROM rm_v1.dead_letters",
        "UPDATE rm_v1.council_year_contributions SET upheld = 0",
        "UPDATE readmodel.council_year_contributions SET upheld = 0",
        "DELETE FROM letters.outbox",
        "UPDATE public.projection_versions SET status = 'retired'",
        "CREATE SCHEMA mine",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await operator.execute(forbidden)


async def test_the_office_decides_letters_and_redrives_dead_letters_but_changes_no_figures(
    db: dict[str, asyncpg.Connection],
) -> None:
    """The workspace makes the operator's decisions on letters (release, resend, withdraw:
    UPDATE; re-issue: INSERT) and a data officer's re-drive (a dead letter's status), through
    the CLI's own functions; nothing else of the letters or the read models."""
    office = db["office"]
    await office.execute("UPDATE letters.outbox SET state = 'withdrawn' WHERE false")
    await office.fetchval("SELECT nextval('letters.outbox_id_seq')")
    await office.fetch("SELECT * FROM rm_v1.dead_letters WHERE false FOR UPDATE")
    await office.execute(
        "UPDATE rm_v1.dead_letters SET status = 'redriven', status_note = 'x', "
        "status_at = now() WHERE false"
    )
    for forbidden in (
        "DELETE FROM letters.outbox",
        "UPDATE letters.outbox SET text_body = 'forged'",
        "UPDATE letters.outbox SET message_id = 'forged'",
        "SELECT count(*) FROM letters.events",
        "UPDATE letters.closes_handled SET letters = 0",
        "UPDATE rm_v1.dead_letters SET reason = 'x'",
        "DELETE FROM rm_v1.dead_letters",
        "SELECT count(*) FROM rm_v1.councils",
        "UPDATE rm_v1.council_year_contributions SET upheld = 0",
        "UPDATE readmodel.council_year_contributions SET upheld = 0",
        "UPDATE public.projection_versions SET status = 'retired'",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await office.execute(forbidden)


async def test_a_rebuild_run_by_the_owner_leaves_the_read_models_the_projectors(
    db: dict[str, asyncpg.Connection],
) -> None:
    owner = db["admin"]
    version = await create_version(owner, "building")
    schema = f"rm_v{version}"
    async with owner.transaction():
        await point_views_at(owner, schema)
    owners = await owner.fetch(
        "SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c "
        "WHERE c.relnamespace IN ($1::regnamespace, 'readmodel'::regnamespace) "
        "AND c.relkind IN ('r', 'v')",
        schema,
    )
    assert owners and {r["owner"] for r in owners} == {"ar_projector"}
    assert await db["letters"].fetchval("SELECT count(*) FROM readmodel.councils") == 0
    await db["operator"].execute(
        f"UPDATE {schema}.dead_letters SET status = 'resolved' WHERE false"
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db["letters"].execute("UPDATE readmodel.councils SET name = 'x'")


async def test_a_service_role_does_not_migrate(
    db: dict[str, asyncpg.Connection], tmp_path: Path
) -> None:
    folder = tmp_path / "extra" / "migrations"
    folder.mkdir(parents=True)
    (folder / "0001_more.sql").write_text("CREATE TABLE more_things (id int);\n")
    for principal in ("projector", "letters", "operator", "publication"):
        with pytest.raises(MigrationError, match="database owner must"):
            await ensure_migrated(db[principal], [folder])
    assert await ensure_migrated(db["letters"]) == []  # the shipped ones are all applied


@pytest.mark.parametrize("password", [None, "not-the-password"])
@pytest.mark.parametrize("role", ["ar_letters", "ar_projector", "ar_publication", "annual_review"])
async def test_postgresql_refuses_a_missing_or_wrong_password(
    stack: Stack, role: str, password: str | None
) -> None:
    url = with_credentials(stack.settings.database_url, role, password)
    refused = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
    with pytest.raises(refused):
        conn = await asyncpg.connect(url, timeout=10)
        await conn.close()


# --- The public site's role, the publication job's, and the embargo ------------------------------
# On the shared published site (tests/support/web.py): two years closed, lettered and published
# by the real services, one council (HOSTILE) with an addressee and two copy recipients.

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Every relation ar_web may read. Pinned: a new grant to the web must be looked at here.
WEB_READABLE = {
    "public.schema_migrations",
    "publication.web_years",
    "publication.web_groups",
    "publication.web_council_years",
    "publication.web_letters",
    "publication.web_data_version",
    "publication.web_successors",
    "publication.web_service_areas",
    "publication.web_upheld_decisions",
    "publication.web_places",
}
FUTURE = "2999-01-01T00:00:00+00:00"


async def _readable_relations(conn: asyncpg.Connection) -> set[str]:
    """Every table, view or materialised view outside the system catalogues that the
    session's role may SELECT from (any column of)."""
    rows = await conn.fetch(
        "SELECT format('%s.%s', n.nspname, c.relname) AS name FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND has_any_column_privilege(c.oid, 'SELECT')"
    )
    return {r["name"] for r in rows}


async def _published_years(site: WebSite) -> list[int]:
    rows = await site.stack.fetch(
        "SELECT financial_year FROM publication.published_years ORDER BY 1"
    )
    return [r["financial_year"] for r in rows]


@pytest.mark.timeout(600)  # the first test on the site waits for its pipeline
async def test_nothing_the_web_role_can_read_holds_an_email_address(web_site: WebSite) -> None:
    await web_site.publish_all()
    # The addresses are there to be leaked: in the sent letters' inputs, as the outbox has them.
    stored = await web_site.stack.fetch(
        "SELECT context::text AS c FROM letters.outbox WHERE council = $1 AND state = 'sent'",
        HOSTILE,
    )
    assert stored and all(a in stored[0]["c"] for a in HOSTILE_ADDRESSES)

    web = await web_site.connect("web")
    try:
        assert await web.fetchval("SELECT current_user") == "ar_web"
        readable = await _readable_relations(web)
        assert readable == WEB_READABLE
        found: dict[str, list[str]] = {}
        rows_read: dict[str, int] = {}
        for relation in sorted(readable):
            schema, name = relation.split(".")
            # Every column of every row, as JSON text (numbers and dates as text): an address
            # in any text or json value, nested or not, shows up here. Binary columns (the
            # PDFs) are left out: as hex they cannot show an `@`, and they are searched below.
            # The names come from the catalogue and are quoted; there is no parameter for one.
            binary = [
                r["attname"]
                for r in await web.fetch(
                    "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass "
                    "AND atttypid = 'bytea'::regtype AND attnum > 0",
                    f'"{schema}"."{name}"',
                )
            ]
            rows = await web.fetch(
                f'SELECT (to_jsonb(t) - $1::text[])::text AS j FROM "{schema}"."{name}" t',
                binary,
            )
            rows_read[relation] = len(rows)
            hits = [m.group(0) for r in rows for m in EMAIL.finditer(r["j"])]
            if hits:
                found[relation] = sorted(set(hits))
        # What PostgreSQL shows every role of the columns it may read: their common values.
        await web_site.stack.fetch("ANALYZE public.schema_migrations")
        stats = await web.fetch("SELECT to_jsonb(s)::text AS j FROM pg_stats s")
        hits = [m.group(0) for r in stats for m in EMAIL.finditer(r["j"])]
        if hits:
            found["pg_catalog.pg_stats"] = sorted(set(hits))
        assert found == {}
        # It did read the published letters, the hostile council's among them.
        evil = await web.fetchrow(
            "SELECT status, inputs FROM publication.web_council_years "
            "WHERE council = $1 AND financial_year = 2019",
            HOSTILE,
        )
        assert evil is not None and evil["status"] == "published"
        for relation in ("web_years", "web_groups", "web_council_years", "web_letters"):
            assert rows_read[f"publication.{relation}"] > 0, relation
        pdfs = await web.fetch(
            "SELECT pdf FROM publication.web_letters WHERE council = $1", HOSTILE
        )
        assert pdfs and not any(
            a.encode() in bytes(r["pdf"]) for r in pdfs for a in HOSTILE_ADDRESSES
        )
    finally:
        await web.close()


async def test_the_publication_role_writes_only_its_own_records(web_site: WebSite) -> None:
    await web_site.publish_all()
    schema = (await web_site.stack.fetch(
        "SELECT schema_name FROM projection_versions WHERE status = 'active'"
    ))[0]["schema_name"]  # fmt: skip
    job = await web_site.connect("publication")
    try:
        assert await job.fetchval("SELECT current_user") == "ar_publication"
        assert not await job.fetchval(
            "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user"
        )
        for forbidden in (
            # casework: the figures, in the views and in the version's tables
            "UPDATE readmodel.council_year_contributions SET upheld = 0",
            f"UPDATE {schema}.council_year_contributions SET upheld = 0",
            f"DELETE FROM {schema}.council_year_contributions",
            f"INSERT INTO {schema}.council_year_contributions (council, financial_year) "
            "VALUES ('AAA', 2019)",
            # closes
            "UPDATE readmodel.year_closes SET publication_date = '2000-01-01'",
            f"UPDATE {schema}.year_closes SET publication_date = '2000-01-01'",
            f"DELETE FROM {schema}.year_closes",
            # letters: not even read
            "SELECT count(*) FROM letters.outbox",
            "UPDATE letters.outbox SET state = 'sent'",
            "UPDATE letters.outbox SET context = '{}'::jsonb",
            "DELETE FROM letters.outbox",
            # its own records: once published, a year stays as recorded
            "UPDATE publication.published_years SET published_at = now()",
            "DELETE FROM publication.published_years",
            "DELETE FROM publication.published_councils",
            "UPDATE publication.published_groups SET councils = 0",
            # the database's clock is not its to set
            "INSERT INTO publication.published_years (financial_year, close_id, letter_date, "
            "publication_date, publishes_at, published_at, recorded_at) VALUES (2090, "
            "gen_random_uuid(), '2020-07-22', '2020-07-29', '2020-07-28 23:00Z', "
            "'2020-07-28 23:00Z', '2020-07-29 00:00Z')",
            "UPDATE public.projection_versions SET status = 'retired'",
            "CREATE TABLE publication.mine (id int)",
            "CREATE SCHEMA mine",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await job.execute(forbidden)
    finally:
        await job.close()

    # And it does its job: publishing both years again, recorded as itself.
    await web_site.unpublish()
    try:
        assert await web_site.publish(
            publishes_at(date.fromisoformat(CLOSES[Y2020]["publication_date"]))
        ) == [Y2019, Y2020]
        recorded = await web_site.stack.fetch(
            "SELECT DISTINCT recorded_by FROM publication.published_years"
        )
        assert [r["recorded_by"] for r in recorded] == ["ar_publication"]
    finally:
        await web_site.publish_all()


async def test_the_embargo_holds_against_the_databases_clock(web_site: WebSite) -> None:
    job = await web_site.connect("publication")
    try:
        database_now = await job.fetchval("SELECT now()")
        tomorrow = (database_now + timedelta(days=1)).date()
        # A caller whose clock says the publication date has come is refused while the
        # database's has not reached it (its published_at would have passed the old check).
        # Both new checks refuse it: recorded (now()) before the date, and published after
        # it was recorded; PostgreSQL names whichever it evaluates first.
        with pytest.raises(
            asyncpg.CheckViolationError, match=r"not_recorded_before|not_published_after"
        ):
            await job.execute(
                "INSERT INTO publication.published_years (financial_year, close_id, "
                "letter_date, publication_date, publishes_at, published_at) VALUES "
                "(2090, gen_random_uuid(), $1::date, $1::date, "
                "($1::date)::timestamp AT TIME ZONE 'Europe/London', $2)",
                tomorrow,
                datetime.combine(tomorrow, time(12), tzinfo=UTC),
            )
        # Nor may it claim to have published later than the database's clock.
        with pytest.raises(asyncpg.CheckViolationError, match="not_published_after"):
            await job.execute(
                "INSERT INTO publication.published_years (financial_year, close_id, "
                "letter_date, publication_date, publishes_at, published_at) VALUES "
                "(2090, gen_random_uuid(), '2020-07-22', '2020-07-29', "
                "'2020-07-28 23:00Z', now() + interval '1 day')"
            )
        # The job, with its clock set ahead of the database's, publishes nothing.
        await web_site.unpublish()
        with pytest.raises(FutureClock):
            await publish_due(job, datetime.fromisoformat(FUTURE))
        assert await _published_years(web_site) == []
        # By the database's clock (no clock given) both closed years are due.
        assert await publish_due(job) == [Y2019, Y2020]
    finally:
        await job.close()
        await web_site.unpublish()
        await web_site.publish_all()


def _cli(site: WebSite, principal: Principal, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env={**os.environ, **service_env(site.stack.settings, principal)},
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip


async def test_publication_run_with_a_future_now_is_refused_and_publishes_nothing(
    web_site: WebSite,
) -> None:
    await web_site.unpublish()
    try:
        refused = _cli(web_site, "publication", "publication", "run", "--now", FUTURE)
        assert refused.returncode == 1, refused.stderr  # ExitCode.INVALID_INPUT
        assert "--now refused" in refused.stderr and "database's clock" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert await _published_years(web_site) == []
        # The operator reads the records but may not make them: a clear refusal.
        operator = _cli(web_site, "operator", "publication", "run")
        assert operator.returncode == 2 and "AR_PRINCIPAL=publication" in operator.stderr
        assert "Traceback" not in operator.stderr
        assert await _published_years(web_site) == []
        # An earlier moment is the job's seam: as of 00:00 UK time on 28 July 2021.
        done = _cli(
            web_site, "publication", "publication", "run", "--now", "2021-07-27T23:00:00+00:00"
        )
        assert done.returncode == 0, done.stderr
        assert "published: 2019-20, 2020-21" in done.stdout
    finally:
        await web_site.publish_all()
    assert await _published_years(web_site) == [2019, 2020]


@pytest.mark.parametrize(
    ("principal", "command"),
    [
        ("admin", [*CLI, "serve", "web"]),
        ("operator", [sys.executable, "-m", "services.web"]),
    ],
)
def test_the_web_site_refuses_to_start_as_any_role_but_the_webs(
    web_site: WebSite, principal: Principal, command: list[str]
) -> None:
    done = subprocess.run(
        command,
        env={
            **os.environ,
            **service_env(web_site.stack.settings, principal),
            "AR_WEB_PORT": str(free_port()),
        },
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    role = DATABASE_ROLES[principal]
    assert done.returncode == 2, done.stderr
    assert f"connects to PostgreSQL as role '{role}', not 'ar_web'" in done.stderr
    assert "AR_PRINCIPAL=web" in done.stderr and "AR_DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_publication_job_refuses_to_start_as_a_role_that_cannot_publish(
    web_site: WebSite,
) -> None:
    done = subprocess.run(
        [*CLI, "serve", "publication"],
        env={**os.environ, **service_env(web_site.stack.settings, "operator")},
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "as role 'ar_operator', which may not record a publication" in done.stderr
    assert "AR_PRINCIPAL=publication" in done.stderr and "Traceback" not in done.stderr


async def test_the_publication_job_runs_as_its_own_principal(web_site: WebSite) -> None:
    job = web_site.stack.start("services.publication", AR_PUBLICATION_INTERVAL_S="3600")
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while "publication job started" not in job.log.read_text(errors="replace"):
            assert job.alive(), job.tail()
            assert asyncio.get_running_loop().time() < deadline, job.tail()
            await asyncio.sleep(0.2)
        sessions = await web_site.stack.fetch(
            "SELECT usename FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name <> 'psql' AND pid <> pg_backend_pid()"
        )
        assert "ar_publication" in {r["usename"] for r in sessions}
    finally:
        job.stop()
