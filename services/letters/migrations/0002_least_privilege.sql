-- Least privilege (docs/security.md). The letter service (ar_letters) reads and writes the
-- rows of its own schema, never its structure (migrations are the owner's); it deletes
-- nothing. The operator's CLI (ar_operator) lists and exports letters and makes the operator
-- transitions: release, resend, confirm-sent (UPDATE) and reissue (INSERT of a new version),
-- services/letters/operations.py. The projector has no access to this schema.
GRANT USAGE ON SCHEMA letters TO ar_letters, ar_operator;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA letters TO ar_letters;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA letters TO ar_letters;
GRANT SELECT, INSERT, UPDATE ON letters.outbox TO ar_operator;
GRANT USAGE, SELECT ON SEQUENCE letters.outbox_id_seq TO ar_operator;
GRANT SELECT ON letters.closes_handled, letters.events TO ar_operator;

-- Tables and sequences that later migrations add (run by the owner) get the same.
ALTER DEFAULT PRIVILEGES IN SCHEMA letters
    GRANT SELECT, INSERT, UPDATE ON TABLES TO ar_letters;
ALTER DEFAULT PRIVILEGES IN SCHEMA letters
    GRANT USAGE, SELECT ON SEQUENCES TO ar_letters;
