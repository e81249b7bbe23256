-- The PostgreSQL roles of annual-review (docs/security.md), run by a superuser with psql on
-- every start (infra/postgres/pg.sh; the `pg-roles` job of docker-compose.yml):
--
--   psql -v ON_ERROR_STOP=1 <<< "\set owner_password '...' ... \i infra/postgres/roles.sql"
--
-- Variables: owner_password, projector_password, letters_password, operator_password,
-- web_password, publication_password, office_password (either
-- the password or its SCRAM-SHA-256 verifier, which pg.sh computes so the server never sees
-- the password). Idempotent: a changed password is set again. What each role may do inside a
-- database is granted by the migrations (services/*/migrations/), database by database.

-- The owner: owns the databases, applies the migrations, creates the test and demo
-- namespaces (CREATEDB). A member of the service roles (never the other way round):
-- a rebuild or a migration it runs creates read-model objects owned by ar_projector
-- (services/readmodel/versions.py), and dropping a namespace may end their sessions.
SELECT 'CREATE ROLE annual_review'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'annual_review')\gexec
ALTER ROLE annual_review WITH LOGIN CREATEDB NOCREATEROLE NOSUPERUSER PASSWORD :'owner_password';

-- The projector: owns the read-model versions (rm_vN), the readmodel views and
-- projection_versions; creates a schema per rebuild.
SELECT 'CREATE ROLE ar_projector'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ar_projector')\gexec
ALTER ROLE ar_projector WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER
    PASSWORD :'projector_password';

-- The letter service: reads the readmodel views, writes its own schema `letters`.
SELECT 'CREATE ROLE ar_letters'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ar_letters')\gexec
ALTER ROLE ar_letters WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER PASSWORD :'letters_password';

-- The operator's CLI: reads everything, records decisions on dead letters and letters.
SELECT 'CREATE ROLE ar_operator'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ar_operator')\gexec
ALTER ROLE ar_operator WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER
    PASSWORD :'operator_password';

-- The public web site (`annual-review serve web`): reads the publication views, which show
-- only published years (services/publication/migrations/).
SELECT 'CREATE ROLE ar_web'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ar_web')\gexec
ALTER ROLE ar_web WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER PASSWORD :'web_password';

-- The publication job (`annual-review serve publication` / `publication run`): reads the
-- closes and snapshots, writes only its own publication records (schema `publication`).
SELECT 'CREATE ROLE ar_publication'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ar_publication')\gexec
ALTER ROLE ar_publication WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER
    PASSWORD :'publication_password';

-- The office workspace (`annual-review serve office`, docs/office.md): reads the read models,
-- the letters' states and the publication records for the year board; writes only its own
-- schema `office` (the staff's sessions).
SELECT 'CREATE ROLE ar_office'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ar_office')\gexec
ALTER ROLE ar_office WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER PASSWORD :'office_password';

-- Dropping a namespace (DROP DATABASE ... WITH (FORCE)) ends the sessions still connected to
-- it. A session still authenticating has no role yet, so being a member of the service roles
-- is not enough to end it ("must be a member of pg_signal_backend", seen when a service
-- reconnected during a test's teardown); pg_signal_backend may end any session but a
-- superuser's.
SELECT 'GRANT pg_signal_backend TO annual_review'
 WHERE NOT pg_has_role('annual_review', 'pg_signal_backend', 'MEMBER')\gexec

SELECT format('GRANT %I TO annual_review', r)
  FROM unnest(ARRAY['ar_projector', 'ar_letters', 'ar_operator', 'ar_web', 'ar_publication',
                    'ar_office']) AS r
 WHERE NOT pg_has_role('annual_review', r, 'MEMBER')\gexec

SELECT 'CREATE DATABASE annual_review OWNER annual_review'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'annual_review')\gexec
