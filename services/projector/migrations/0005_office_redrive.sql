-- The office workspace's data officer re-drives dead letters (docs/office.md, "Dead letters
-- and parked casework") through the same use case as the CLI's `dlq redrive`
-- (services/projector/redrive.py): it locks the open dead letter of the live version, and
-- marks it re-driven. So the workspace's role (ar_office) gets, on every version schema, what
-- the operator has for that and nothing more: USAGE, SELECT on dead_letters only, and UPDATE
-- of a dead letter's status columns. Its other read-model reads go through the readmodel
-- views as before.
CREATE OR REPLACE FUNCTION grant_read_model_version(version_schema text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF version_schema !~ '^rm_v[0-9]+$' THEN
        RAISE EXCEPTION 'not a read-model version schema: %', version_schema;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO ar_operator, ar_office', version_schema);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO ar_operator', version_schema);
    EXECUTE format('GRANT SELECT ON %I.dead_letters TO ar_office', version_schema);
    EXECUTE format('GRANT UPDATE (status, status_note, status_at) ON %I.dead_letters '
                   'TO ar_operator, ar_office', version_schema);
END
$$;
REVOKE ALL ON FUNCTION grant_read_model_version(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION grant_read_model_version(text) TO ar_projector;

-- The versions there already.
DO $$
DECLARE
    s text;
BEGIN
    FOR s IN SELECT schema_name FROM projection_versions
              WHERE to_regnamespace(schema_name) IS NOT NULL ORDER BY version LOOP
        PERFORM grant_read_model_version(s);
    END LOOP;
END
$$;
