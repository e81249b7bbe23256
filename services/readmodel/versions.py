"""Read-model versions: each lives in its own schema; readers see the active one through
the views in schema ``readmodel``, switched in one transaction. ``projection_versions``
(projector/0001) says which is which."""

from __future__ import annotations

from importlib.resources import files

from services.platform.db import Conn

# Held shared by every live batch, exclusively by a rebuild's switch-over and while a
# version is created.
VERSION_SWITCH_LOCK = 0x41525650  # "ARVP"

# Tables and views readers may use through schema `readmodel`.
READ_MODELS = (
    "positions",
    "council_facts",
    "councils",
    "cases",
    "case_conflicts",
    "cross_partition_duplicates",
    "parked_events",
    "council_year_contributions",
    "council_year_stats",
    "dead_letters",
    "year_cuts",
    "year_cut_contributions",
    "year_closes",
    "year_snapshot_councils",
    "year_snapshot_groups",
    "late_events",
    "group_averages",
    "case_events",
)

# The DDL's format (tables.sql's read_model_format). 2: per-partition contributions and
# cuts, partition-scoped cases, parked events, the register as a merge of facts. A version
# without the table is format 1. 3: the cases' decision dates and every case's history
# (case_events), which `annual-review explain` reads.
FORMAT = 3


class OutdatedReadModels(RuntimeError):
    """The active version was made by an older projector: its tables are another format."""


def schema_of(version: int) -> str:
    return f"rm_v{int(version)}"


def _ddl() -> str:
    return files("services.readmodel").joinpath("tables.sql").read_text()


async def active_schema(conn: Conn) -> str | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT schema_name FROM public.projection_versions WHERE status = 'active'"
    )


async def read_models_exist(conn: Conn) -> bool:
    """Whether the projector has created the read models (and their views) yet."""
    return bool(await conn.fetchval("SELECT to_regclass('readmodel.councils') IS NOT NULL"))


async def use_version(conn: Conn, schema: str) -> None:
    """Inside a transaction: unqualified read-model names mean the tables of ``schema``."""
    await conn.execute(f"SET LOCAL search_path TO {schema}, public")


async def share_switch_lock(conn: Conn) -> None:
    """Inside a transaction: no switch of versions until it ends (every live batch takes it;
    shared, so batches never wait for each other)."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", VERSION_SWITCH_LOCK)


async def take_switch_lock(conn: Conn) -> None:
    """Inside a transaction: wait for the batches under way; hold the next ones back."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", VERSION_SWITCH_LOCK)


async def act_as_read_model_owner(conn: Conn) -> None:
    """Inside a transaction: create read-model objects as the role that owns the read models
    (the owner of schema ``readmodel``: ar_projector, docs/security.md) when this session is
    another member of it, such as the database owner running a rebuild, so that every
    version and view stays the projector's and keeps the readers' grants."""
    await conn.execute(
        "SELECT set_config('role', o.owner, true) FROM (SELECT pg_get_userbyid(nspowner) AS owner"
        " FROM pg_namespace WHERE nspname = 'readmodel') o "
        "WHERE o.owner <> current_user AND pg_has_role(o.owner, 'MEMBER')"
    )


async def create_version(conn: Conn, status: str) -> int:
    """A new, empty version schema with every read-model table."""
    async with conn.transaction():
        await act_as_read_model_owner(conn)
        await take_switch_lock(conn)
        version = await conn.fetchval(
            "SELECT coalesce(max(version), 0) + 1 FROM public.projection_versions"
        )
        schema = schema_of(version)
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(f"SET LOCAL search_path TO {schema}")
        await conn.execute(_ddl())
        # The readers' grants on the new version (projector/0002_least_privilege.sql).
        if await conn.fetchval(
            "SELECT to_regprocedure('public.grant_read_model_version(text)') IS NOT NULL"
        ):
            await conn.execute("SELECT public.grant_read_model_version($1)", schema)
        await conn.execute(
            "INSERT INTO public.projection_versions (version, schema_name, status) "
            "VALUES ($1, $2, $3)",
            version,
            schema,
            status,
        )
        if status == "active":
            await conn.execute(
                "UPDATE public.projection_versions SET activated_at = now() WHERE version = $1",
                version,
            )
            await point_views_at(conn, schema)
    return int(version)


async def format_of(conn: Conn, schema: str) -> int:
    """The DDL format of version ``schema``."""
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.read_model_format"):
        return 1
    return int(await conn.fetchval(f"SELECT max(format) FROM {schema}.read_model_format"))  # noqa: S608


async def check_format(conn: Conn, schema: str) -> None:
    """Refuse a version this code cannot write, with the way out."""
    found = await format_of(conn, schema)
    if found != FORMAT:
        raise OutdatedReadModels(
            f"the active read models ({schema}) are format {found}; this projector writes "
            f"format {FORMAT}. With the projector stopped, run `annual-review replay --upgrade`: "
            f"it builds a new version from the log, reports what changed and switches to it; "
            f"then start the projector"
        )


async def ensure_active_version(conn: Conn) -> str:
    """The live schema; on a new database, version 1 is created and made active. Refuses
    (OutdatedReadModels) an active version of another format."""
    schema = await active_schema(conn)
    if schema is not None:
        await check_format(conn, schema)
    if schema is None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", VERSION_SWITCH_LOCK + 1)
            schema = await active_schema(conn)
            if schema is None:
                await create_version(conn, "active")
                schema = await active_schema(conn)
    assert schema is not None
    return schema


async def point_views_at(conn: Conn, schema: str) -> None:
    """Inside the caller's transaction: every readmodel view now reads ``schema``."""
    await act_as_read_model_owner(conn)
    for name in READ_MODELS:
        await conn.execute(f"DROP VIEW IF EXISTS readmodel.{name}")
        await conn.execute(f"CREATE VIEW readmodel.{name} AS SELECT * FROM {schema}.{name}")  # noqa: S608


async def activate(conn: Conn, version: int, schema: str) -> None:
    """Inside the caller's transaction: ``version`` becomes the active one, the active one
    is retired (kept until dropped by hand), and the views read ``schema``."""
    await conn.execute(
        "UPDATE public.projection_versions SET status = 'retired', retired_at = now() "
        "WHERE status = 'active'"
    )
    await conn.execute(
        "UPDATE public.projection_versions SET status = 'active', activated_at = now() "
        "WHERE version = $1",
        version,
    )
    await point_views_at(conn, schema)


async def latest_building(conn: Conn) -> int | None:
    """The newest version still being built (a rebuild to resume), if any."""
    version: int | None = await conn.fetchval(
        "SELECT version FROM public.projection_versions WHERE status = 'building' "
        "ORDER BY version DESC LIMIT 1"
    )
    return version


async def building(conn: Conn) -> list[int]:
    """Every version still being built."""
    rows = await conn.fetch(
        "SELECT version FROM public.projection_versions WHERE status = 'building'"
    )
    return [r["version"] for r in rows]


async def drop_scratch(conn: Conn, version: int) -> None:
    """Drop a scratch version (``stats --as-of``'s figures of a past moment) once read."""
    schema = schema_of(version)
    async with conn.transaction():
        await act_as_read_model_owner(conn)
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.execute(
            "UPDATE public.projection_versions SET status = 'cancelled' "
            "WHERE version = $1 AND status = 'scratch'",
            version,
        )


async def cancel_building(conn: Conn) -> list[int]:
    """Drop every version still being built, and any scratch version a killed
    ``stats --as-of`` left behind; the live version is untouched."""
    rows = await conn.fetch(
        "SELECT version, schema_name FROM public.projection_versions "
        "WHERE status IN ('building', 'scratch')"
    )
    for r in rows:
        async with conn.transaction():
            await conn.execute(f"DROP SCHEMA {r['schema_name']} CASCADE")
            await conn.execute(
                "UPDATE public.projection_versions SET status = 'cancelled' WHERE version = $1",
                r["version"],
            )
    return [r["version"] for r in rows]


async def drop_retired(conn: Conn) -> list[str]:
    """Drop the schemas of retired versions (their rows in projection_versions stay)."""
    rows = await conn.fetch(
        "SELECT schema_name FROM public.projection_versions WHERE status = 'retired'"
    )
    for r in rows:
        await conn.execute(f"DROP SCHEMA IF EXISTS {r['schema_name']} CASCADE")
    return [r["schema_name"] for r in rows]


async def versions_present(conn: Conn) -> int:
    """How many read-model versions the database has (a restore needs none)."""
    if not await conn.fetchval("SELECT to_regclass('public.projection_versions') IS NOT NULL"):
        return 0
    return int(await conn.fetchval("SELECT count(*) FROM public.projection_versions"))
