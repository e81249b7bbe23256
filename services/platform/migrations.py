"""Ordered SQL migrations, applied once each and recorded in ``schema_migrations``.

A migration folder holds files named ``NNNN_name.sql`` (four digits, lower-case name). Each
file is applied in its own transaction and recorded under the version ``<label>/NNNN``, where
the label is the owning service (``services/projector/migrations`` -> ``projector``), so two
services may both have a ``0001``. Folders are applied in the order given, files in number
order. An applied file whose content changed is refused: write a new migration instead.

    python -m services.platform.migrations apply [--folder DIR ...]
    python -m services.platform.migrations status [--folder DIR ...]

Without ``--folder``, every ``services/*/migrations/`` folder is used, by service name.
Statements that cannot run inside a transaction (``CREATE INDEX CONCURRENTLY``) are not
supported.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from services.platform.db import connect_pool
from services.platform.logging import configure_logging
from services.platform.settings import get_settings

log = structlog.get_logger("services.platform.migrations")

SERVICES_DIR = Path(__file__).resolve().parent.parent
# pg_advisory_lock key: any constant unique to this runner ("ar-migr" in ASCII).
ADVISORY_LOCK_KEY = 0x61722D6D696772
# Waiting for another process's lock, and one migration, may take longer than a pool's
# command_timeout: both get this many seconds instead.
LONG_TIMEOUT_S = 3600.0
FILENAME = re.compile(r"^(?P<number>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """A migration folder or the recorded history is not in a state we can apply."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: str  # "<label>/NNNN"
    name: str  # file name
    path: Path
    sql: str
    checksum: str  # sha256 of the file's bytes


def default_folders() -> list[Path]:
    """Every ``services/<service>/migrations/`` folder, by service name."""
    return sorted(p for p in SERVICES_DIR.glob("*/migrations") if p.is_dir())


def folder_label(folder: Path) -> str:
    """``services/projector/migrations`` -> ``projector``; any other folder -> its own name."""
    return folder.parent.name if folder.name == "migrations" else folder.name


def discover(folders: Iterable[Path]) -> list[Migration]:
    """The migrations in ``folders``, in application order; raises on misnamed files,
    duplicate numbers and duplicate labels."""
    found: list[Migration] = []
    labels: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            raise MigrationError(f"migration folder {folder} does not exist")
        label = folder_label(folder)
        if label in labels:
            raise MigrationError(f"folders {labels[label]} and {folder} share the label {label!r}")
        labels[label] = folder
        numbers: dict[str, str] = {}
        for path in sorted(folder.glob("*.sql")):
            match = FILENAME.match(path.name)
            if match is None:
                raise MigrationError(
                    f"{path}: migration files must be named NNNN_lower_case_name.sql"
                )
            number = match["number"]
            if number in numbers:
                raise MigrationError(f"{folder}: {numbers[number]} and {path.name} share {number}")
            numbers[number] = path.name
            data = path.read_bytes()
            found.append(
                Migration(
                    version=f"{label}/{number}",
                    name=path.name,
                    path=path,
                    sql=data.decode("utf-8"),
                    checksum=hashlib.sha256(data).hexdigest(),
                )
            )
    return found


async def _apply_locked(conn: asyncpg.Connection, migrations: Sequence[Migration]) -> list[str]:
    await conn.execute(CREATE_TABLE)
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    applied = {r["version"]: (r["name"], r["checksum"]) for r in rows}
    changed = [
        m for m in migrations if m.version in applied and applied[m.version][1] != m.checksum
    ]
    if changed:
        details = "; ".join(f"{m.path} (version {m.version})" for m in changed)
        raise MigrationError(
            f"applied migration(s) changed since they were applied: {details}. "
            "Restore the original file(s) and add a new migration for the change."
        )
    done: list[str] = []
    for m in migrations:
        if m.version in applied:
            continue
        # DEBUG: whoever asked for the migrations says what was applied, once (a service
        # at its start, ensure_migrated; `make migrate` on stdout; the demo in a line).
        log.debug("applying migration", version=m.version, file=m.name)
        try:
            async with conn.transaction():
                await conn.execute(m.sql, timeout=LONG_TIMEOUT_S)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"migration {m.path} failed: {type(exc).__name__}: {exc}") from exc
        done.append(m.version)
    return done


async def apply_migrations(
    conn_or_pool: asyncpg.Connection | asyncpg.Pool,
    folders: Iterable[Path] | None = None,
) -> list[str]:
    """Apply the pending migrations of ``folders`` (default: :func:`default_folders`) and
    return the versions applied by this call. Concurrent callers on the same database
    serialise on an advisory lock, so each file is applied exactly once."""
    migrations = discover(default_folders() if folders is None else folders)
    if isinstance(conn_or_pool, asyncpg.Pool):
        async with conn_or_pool.acquire() as conn:
            return await _apply_with_lock(conn, migrations)
    return await _apply_with_lock(conn_or_pool, migrations)


async def _apply_with_lock(conn: asyncpg.Connection, migrations: Sequence[Migration]) -> list[str]:
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_KEY):
        log.info("another process is applying migrations; waiting for its lock")
        await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY, timeout=LONG_TIMEOUT_S)
    try:
        return await _apply_locked(conn, migrations)
    finally:
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
        # A closed connection has already released its session lock.


async def pending_migrations(
    conn: asyncpg.Connection, folders: Iterable[Path] | None = None
) -> list[Migration]:
    """The migrations not yet recorded as applied."""
    migrations = discover(default_folders() if folders is None else folders)
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied: set[str] = set()
    if exists:
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [m for m in migrations if m.version not in applied]


async def ensure_migrated(
    conn: asyncpg.Connection, folders: Iterable[Path] | None = None
) -> list[str]:
    """At a service's start: nothing to do when every migration is applied. Otherwise the
    database owner (a development set-up where the services run as the owner) applies them;
    any other role refuses to start: the owner applies migrations (`make migrate`, `make up`,
    the compose ``init`` job), the services' least-privileged roles cannot (docs/security.md)."""
    pending = await pending_migrations(conn, folders)
    if not pending:
        return []
    owner = await conn.fetchval(
        "SELECT pg_has_role(datdba, 'MEMBER') FROM pg_database WHERE datname = current_database()"
    )
    if not owner:
        raise MigrationError(
            f"{len(pending)} migration(s) are not applied ({', '.join(m.version for m in pending)})"
            " and this role may not apply them: the database owner must "
            "(`make migrate`, or `python -m services.platform.migrations apply` as the owner)"
        )
    applied = await apply_migrations(conn, folders)
    if applied:
        log.info("migrations applied at start", versions=applied)
    return applied


async def _cli(command: str, folders: list[Path] | None) -> int:
    settings = get_settings()
    pool = await connect_pool(settings, min_size=1, max_size=1)
    try:
        if command == "apply":
            done = await apply_migrations(pool, folders)
            if done:
                print(f"applied {len(done)} migration(s): {', '.join(done)}")
            else:
                print("database schema is up to date")
        else:
            async with pool.acquire() as conn:
                pending = await pending_migrations(conn, folders)
            for m in pending:
                print(f"pending {m.version} {m.path}")
            if not pending:
                print("no pending migrations")
    finally:
        await pool.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.platform.migrations")
    parser.add_argument("command", choices=["apply", "status"])
    parser.add_argument(
        "--folder",
        action="append",
        type=Path,
        help="migration folder (repeatable; default: every services/*/migrations/)",
    )
    args = parser.parse_args(argv)
    configure_logging(get_settings())
    try:
        return asyncio.run(_cli(args.command, args.folder))
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
