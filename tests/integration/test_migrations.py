"""The migration runner on the real PostgreSQL, each test in a fresh schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from services.platform.migrations import (
    APPLIED_LAST,
    MigrationError,
    apply_migrations,
    default_folders,
    discover,
    folder_label,
)
from services.platform.settings import Settings

CREATE_THINGS = "CREATE TABLE things (id int PRIMARY KEY);\nSELECT pg_sleep(0.2);\n"
ADD_NAME = "ALTER TABLE things ADD COLUMN name text NOT NULL DEFAULT '';\n"

Connect = Callable[[], Awaitable[asyncpg.Connection]]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    migrations = tmp_path / "svc" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "0001_create_things.sql").write_text(CREATE_THINGS)
    (migrations / "0002_add_name.sql").write_text(ADD_NAME)
    return migrations


@pytest_asyncio.fixture
async def schema(pg_pool: asyncpg.Pool) -> AsyncIterator[str]:
    name = f"test_migrations_{uuid.uuid4().hex[:12]}"
    await pg_pool.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        await pg_pool.execute(f"DROP SCHEMA {name} CASCADE")


@pytest_asyncio.fixture
async def connect(settings: Settings, schema: str) -> AsyncIterator[Connect]:
    """Opens connections whose search_path is the fresh schema; closes them afterwards."""
    opened: list[asyncpg.Connection] = []

    async def open_one() -> asyncpg.Connection:
        conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": schema})
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        await conn.close()


async def test_pending_files_are_applied_in_order_and_recorded(
    connect: Connect, folder: Path
) -> None:
    conn = await connect()

    applied = await apply_migrations(conn, [folder])

    assert applied == ["svc/0001", "svc/0002"]
    await conn.execute("INSERT INTO things (id, name) VALUES (1, 'one')")
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY 1")
    assert [(r["version"], r["name"]) for r in rows] == [
        ("svc/0001", "0001_create_things.sql"),
        ("svc/0002", "0002_add_name.sql"),
    ]
    assert all(len(r["checksum"]) == 64 for r in rows)


async def test_applying_twice_is_a_no_op(connect: Connect, folder: Path) -> None:
    conn = await connect()
    await apply_migrations(conn, [folder])

    assert await apply_migrations(conn, [folder]) == []


async def test_a_new_file_is_applied_on_the_next_run(connect: Connect, folder: Path) -> None:
    conn = await connect()
    await apply_migrations(conn, [folder])
    (folder / "0003_index_name.sql").write_text("CREATE INDEX things_name ON things (name);")

    assert await apply_migrations(conn, [folder]) == ["svc/0003"]


async def test_concurrent_runs_apply_each_file_once(connect: Connect, folder: Path) -> None:
    first, second = await connect(), await connect()

    results = await asyncio.gather(
        apply_migrations(first, [folder]), apply_migrations(second, [folder])
    )

    # 0001 is a plain CREATE TABLE: applying it twice would have failed.
    assert sorted(results, key=len) == [[], ["svc/0001", "svc/0002"]]
    assert await first.fetchval("SELECT count(*) FROM schema_migrations") == 2


async def test_a_changed_applied_file_is_refused(connect: Connect, folder: Path) -> None:
    conn = await connect()
    await apply_migrations(conn, [folder])
    (folder / "0001_create_things.sql").write_text(CREATE_THINGS + "-- edited\n")
    (folder / "0003_more.sql").write_text("CREATE TABLE more_things (id int);")

    with pytest.raises(MigrationError, match=r"changed since.*0001_create_things\.sql"):
        await apply_migrations(conn, [folder])
    assert await conn.fetchval("SELECT to_regclass('more_things')") is None


async def test_a_failing_file_is_rolled_back_and_not_recorded(
    connect: Connect, folder: Path
) -> None:
    conn = await connect()
    (folder / "0003_broken.sql").write_text("CREATE TABLE half (id int);\nSELEC oops;")

    with pytest.raises(MigrationError, match=r"0003_broken\.sql"):
        await apply_migrations(conn, [folder])

    versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
    assert [r["version"] for r in versions] == ["svc/0001", "svc/0002"]
    assert await conn.fetchval("SELECT to_regclass('half')") is None
    # The lock was released: a later run proceeds once the file is fixed.
    (folder / "0003_broken.sql").write_text("CREATE TABLE half (id int);")
    assert await apply_migrations(conn, [folder]) == ["svc/0003"]


async def test_a_pool_is_accepted_as_well_as_a_connection(
    settings: Settings, schema: str, folder: Path
) -> None:
    pool = await asyncpg.create_pool(
        settings.database_url, min_size=1, max_size=2, server_settings={"search_path": schema}
    )
    try:
        assert await apply_migrations(pool, [folder]) == ["svc/0001", "svc/0002"]
    finally:
        await pool.close()


def test_misnamed_files_are_refused(folder: Path) -> None:
    (folder / "3_no_padding.sql").write_text("SELECT 1;")

    with pytest.raises(MigrationError, match="NNNN_lower_case_name"):
        discover([folder])


def test_two_files_with_one_number_are_refused(folder: Path) -> None:
    (folder / "0002_other.sql").write_text("SELECT 1;")

    with pytest.raises(MigrationError, match="share 0002"):
        discover([folder])


def test_default_folders_are_the_services_migration_folders_by_service_name() -> None:
    folders = default_folders()

    assert all(f.name == "migrations" and f.parent.parent.name == "services" for f in folders)
    labels = [folder_label(f) for f in folders]
    first = [label for label in labels if label not in APPLIED_LAST]
    assert labels == sorted(first) + [label for label in APPLIED_LAST if label in labels]
    assert labels[-1] == "office"  # its grants name the other services' tables
    discover(folders)  # every shipped migration file is well named
