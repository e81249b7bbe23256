-- Service areas, decision addresses and council coordinates (docs/domain.md §16): columns
-- added to the read models of every version that exists (services/readmodel/tables.sql has
-- them for versions created from now on). They are nullable and at the end of each table, so
-- a version keeps its format (2): rows written before hold null until a replay reads the
-- events again, which is what they said (older events carry neither).
DO $$
DECLARE
    s text;
    active text;
BEGIN
    FOR s IN SELECT schema_name FROM projection_versions
              WHERE to_regnamespace(schema_name) IS NOT NULL ORDER BY version LOOP
        IF s !~ '^rm_v[0-9]+$' THEN
            RAISE EXCEPTION 'unexpected read-model schema %', s;
        END IF;
        EXECUTE format('ALTER TABLE %I.cases ADD COLUMN IF NOT EXISTS service_area text, '
                       'ADD COLUMN IF NOT EXISTS published_url text', s);
        EXECUTE format('ALTER TABLE %I.councils ADD COLUMN IF NOT EXISTS latitude double precision, '
                       'ADD COLUMN IF NOT EXISTS longitude double precision', s);
    END LOOP;
    -- The readmodel views are `SELECT *` of the active version, fixed when made: made again
    -- so readers see the new columns, owned and granted as the projector makes them.
    SELECT schema_name INTO active FROM projection_versions WHERE status = 'active';
    IF active IS NOT NULL AND to_regnamespace(active) IS NOT NULL THEN
        FOREACH s IN ARRAY ARRAY['cases', 'councils'] LOOP
            EXECUTE format('CREATE OR REPLACE VIEW readmodel.%I AS SELECT * FROM %I.%I',
                           s, active, s);
            EXECUTE format('ALTER VIEW readmodel.%I OWNER TO ar_projector', s);
        END LOOP;
    END IF;
END
$$;
