-- Least privilege (docs/security.md). The projector (ar_projector) owns the read models:
-- the schema `readmodel` and its views, and every version schema rm_vN with its tables; it
-- creates a schema per rebuild (CREATE on the database: platform/0001) and records the
-- versions in projection_versions (which stays the owner's: ar_projector may not create
-- anything in schema public). The letter service (ar_letters) may SELECT the readmodel
-- views and nothing else here; the operator (ar_operator) may SELECT everything and change
-- a dead letter's status.
GRANT SELECT, INSERT, UPDATE ON projection_versions TO ar_projector;
ALTER SCHEMA readmodel OWNER TO ar_projector;
-- Every version schema is rm_v<N>: the services put these names into SQL text
-- (tests/unit/test_sql_safety.py), so the database refuses any other.
ALTER TABLE projection_versions
    ADD CONSTRAINT projection_versions_schema_name_is_a_version
    CHECK (schema_name ~ '^rm_v[0-9]+$');
GRANT USAGE ON SCHEMA readmodel TO ar_letters, ar_operator;
GRANT SELECT ON projection_versions TO ar_operator;

-- What a new version schema grants, called by the projector when it creates one
-- (services/projector/versions.py). The schema name is checked, then quoted with %I.
CREATE OR REPLACE FUNCTION grant_read_model_version(version_schema text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF version_schema !~ '^rm_v[0-9]+$' THEN
        RAISE EXCEPTION 'not a read-model version schema: %', version_schema;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO ar_operator', version_schema);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO ar_operator', version_schema);
    EXECUTE format('GRANT UPDATE (status, status_note, status_at) ON %I.dead_letters '
                   'TO ar_operator', version_schema);
END
$$;
REVOKE ALL ON FUNCTION grant_read_model_version(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION grant_read_model_version(text) TO ar_projector;

-- The readmodel views are dropped and created again at every switch of version.
ALTER DEFAULT PRIVILEGES FOR ROLE ar_projector IN SCHEMA readmodel
    GRANT SELECT ON TABLES TO ar_letters, ar_operator;

-- Read models created before this migration (by the owner) become the projector's.
DO $$
DECLARE
    s text;
    r record;
BEGIN
    FOR s IN SELECT schema_name FROM projection_versions
              WHERE to_regnamespace(schema_name) IS NOT NULL ORDER BY version LOOP
        IF s !~ '^rm_v[0-9]+$' THEN
            RAISE EXCEPTION 'unexpected read-model schema %', s;
        END IF;
        EXECUTE format('ALTER SCHEMA %I OWNER TO ar_projector', s);
        FOR r IN SELECT c.relname, c.relkind FROM pg_class c
                  WHERE c.relnamespace = to_regnamespace(s) AND c.relkind IN ('r', 'p', 'v') LOOP
            EXECUTE format('ALTER %s %I.%I OWNER TO ar_projector',
                           CASE r.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, s, r.relname);
        END LOOP;
        PERFORM grant_read_model_version(s);
    END LOOP;
    FOR r IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'readmodel'::regnamespace AND c.relkind = 'v' LOOP
        EXECUTE format('ALTER VIEW readmodel.%I OWNER TO ar_projector', r.relname);
        EXECUTE format('GRANT SELECT ON readmodel.%I TO ar_letters, ar_operator', r.relname);
    END LOOP;
END
$$;
