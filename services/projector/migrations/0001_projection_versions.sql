-- Which version of the read models is live. Each version lives in its own schema
-- (rm_v1, rm_v2, ...); readers use the views in schema `readmodel`, which point at the
-- active version and are switched in one transaction when a rebuild has caught up.
CREATE TABLE IF NOT EXISTS projection_versions (
    version      integer PRIMARY KEY,
    schema_name  text NOT NULL UNIQUE,
    status       text NOT NULL CHECK (status IN ('building', 'active', 'retired', 'cancelled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at   timestamptz,
    note         text
);
-- At most one active version.
CREATE UNIQUE INDEX IF NOT EXISTS projection_versions_one_active
    ON projection_versions ((true)) WHERE status = 'active';

CREATE SCHEMA IF NOT EXISTS readmodel;
