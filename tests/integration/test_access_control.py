"""Who may do what, on the real servers (docs/security.md).

Kafka runs with SASL/SCRAM and ACLs: each principal may touch only its own topics and
groups, and a client without (valid) credentials is refused. PostgreSQL has a login role per
service with least privilege: the letter service cannot change a statistic, the projector
cannot touch a letter. Every case runs in a namespace of its own (its topics carry the
principals' ACLs, its database the migrations' grants).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
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

from contracts.topics import DEAD_LETTERS, FACTS, LETTERS, NARRATIVES, YEAR_END, TopicSpec
from services.platform.kafka import acls as kafka_acls
from services.platform.kafka.admin import open_admin
from services.platform.kafka.security import client_kwargs, sasl_kwargs
from services.platform.migrations import MigrationError, ensure_migrated
from services.platform.namespace import create_namespace, drop_namespace
from services.platform.settings import Principal, Settings, as_principal, with_credentials
from services.readmodel.versions import create_version, ensure_active_version, point_views_at
from tests.support.casework import council
from tests.support.stack import Stack

pytestmark = pytest.mark.timeout(300)
SEND_TIMEOUT_S = 20.0


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
        ("operator", [FACTS, DEAD_LETTERS, LETTERS, YEAR_END, NARRATIVES]),
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
        "User:operator DESCRIBE topic 'annual-review.dead-letters' (literal)",
        "User:operator DESCRIBE topic 'annual-review.letters' (literal)",
        "User:operator READ topic 'annual-review.narratives' (literal)",
        "User:operator WRITE topic 'annual-review.narratives' (literal)",
    ]
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    for line in ("`cms`", "`projector`", "`letters`", "`operator`", "`admin`"):
        assert line in doc


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def db(stack: Stack) -> AsyncIterator[dict[str, asyncpg.Connection]]:
    """A connection per role to the stack's database, with version 1 created by the projector."""
    conns: dict[str, asyncpg.Connection] = {}
    try:
        principals: tuple[Principal, ...] = ("admin", "projector", "letters", "operator")
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
    }
    for principal in ("projector", "letters", "operator"):
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
    for principal in ("projector", "letters", "operator"):
        with pytest.raises(MigrationError, match="database owner must"):
            await ensure_migrated(db[principal], [folder])
    assert await ensure_migrated(db["letters"]) == []  # the shipped ones are all applied


@pytest.mark.parametrize("password", [None, "not-the-password"])
@pytest.mark.parametrize("role", ["ar_letters", "ar_projector", "annual_review"])
async def test_postgresql_refuses_a_missing_or_wrong_password(
    stack: Stack, role: str, password: str | None
) -> None:
    url = with_credentials(stack.settings.database_url, role, password)
    refused = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
    with pytest.raises(refused):
        conn = await asyncpg.connect(url, timeout=10)
        await conn.close()
