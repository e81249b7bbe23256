-- The office workspace (`annual-review serve office`, docs/office.md): the staff's sessions,
-- and what its role ar_office (infra/postgres/roles.sql) may read for the year board.
-- Applied after every other service's migrations (services/platform/migrations.py,
-- APPLIED_LAST): the grants below name their tables.
CREATE SCHEMA IF NOT EXISTS office;

-- Server-side sessions: the browser's cookie holds only the random id, never a claim or a
-- role; the id is replaced at sign-in (services/office/sessions.py). Stored as the sha256 of
-- the id, so a reader of this table (a backup, the owner) cannot take over a session.
-- `data` holds the sign-in's pending state (OpenID state, nonce, PKCE verifier, return
-- address) before sign-in, then the signed-in user: subject, name, groups, roles, id token
-- (for the provider's sign-out), CSRF token.
CREATE TABLE office.sessions (
    id_hash       bytea       PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    data          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    subject       text,                            -- the provider's `sub`, once signed in
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    signed_in_at  timestamptz                      -- the absolute timeout counts from here
);
CREATE INDEX sessions_by_last_seen ON office.sessions (last_seen_at);

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ar_office', current_database());
END
$$;
GRANT SELECT ON schema_migrations TO ar_office;  -- ensure_migrated at start

-- Its own table: read and write.
GRANT USAGE ON SCHEMA office TO ar_office;
GRANT SELECT, INSERT, UPDATE, DELETE ON office.sessions TO ar_office;

-- The year board reads (services/readmodel/status.py, services/letters/operations.py
-- summary, the publication records): SELECT only, nothing of the others is written.
GRANT SELECT ON projection_versions TO ar_office;
GRANT USAGE ON SCHEMA readmodel TO ar_office;
ALTER DEFAULT PRIVILEGES FOR ROLE ar_projector IN SCHEMA readmodel
    GRANT SELECT ON TABLES TO ar_office;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'readmodel'::regnamespace AND c.relkind = 'v' LOOP
        EXECUTE format('GRANT SELECT ON readmodel.%I TO ar_office', r.relname);
    END LOOP;
END
$$;
GRANT USAGE ON SCHEMA letters TO ar_office;
GRANT SELECT ON letters.outbox TO ar_office;
GRANT USAGE ON SCHEMA publication TO ar_office;
GRANT SELECT ON publication.published_years TO ar_office;
