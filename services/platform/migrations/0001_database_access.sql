-- Who may connect to this database, and who may create schemas in it (docs/security.md).
-- The login roles and their passwords come from infra/postgres/roles.sql (a superuser runs it
-- on every `make up`); what each may do inside the database is granted by the migrations of
-- the service that owns the objects (letters/0002, projector/0002).
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ar_projector, ar_letters, ar_operator',
                   current_database());
    -- The projector creates a schema per read-model version (rm_vN), at first start and
    -- for every rebuild.
    EXECUTE format('GRANT CREATE ON DATABASE %I TO ar_projector', current_database());
END
$$;

-- Every service checks at start that the database is migrated (it does not migrate it).
GRANT SELECT ON schema_migrations TO ar_projector, ar_letters, ar_operator;
