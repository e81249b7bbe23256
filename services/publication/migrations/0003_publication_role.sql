-- Least privilege where a review found more (docs/security.md):
--
-- 1. The publication job gets a role of its own, ar_publication (infra/postgres/roles.sql),
--    instead of running as the operator. It reads the completed closes and what they froze
--    (the readmodel views) and writes only its own records in schema `publication`; it
--    cannot touch casework, closes or letters. The operator keeps reading the records
--    (`publication status`) but no longer writes them.
-- 2. The embargo is held by the database's clock, not by a time the caller gives:
--    `recorded_at` is the inserting transaction's now(), which the job's role may not set
--    (column privileges below), and a record is refused unless that moment is at or after
--    00:00 UK time on the publication date. `published_at` (the job's clock, which tests set)
--    may not be later than `recorded_at`: no one can claim a publication in the future.
-- 3. Nothing the web (ar_web) reads holds an e-mail address: the letters' inputs it sees are
--    an allowlist of the keys the site renders from, without the addressee or the copy
--    recipients (`copy_to`, each with an e-mail address). A key added to the letter inputs
--    later is not shown until a migration adds it here, so a new field that carries an
--    address cannot leak by default.

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ar_publication', current_database());
END
$$;
GRANT SELECT ON schema_migrations TO ar_publication;  -- ensure_migrated at start

-- Reads: the readmodel views (completed closes, the snapshot's councils and groups, the
-- register's abolitions). The projector drops and creates them at every switch of version,
-- so the grant is a default privilege of their owner, as for the letter service
-- (projector/0002); views that exist already are granted here.
GRANT USAGE ON SCHEMA readmodel TO ar_publication;
ALTER DEFAULT PRIVILEGES FOR ROLE ar_projector IN SCHEMA readmodel
    GRANT SELECT ON TABLES TO ar_publication;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname FROM pg_class c
              WHERE c.relnamespace = 'readmodel'::regnamespace AND c.relkind = 'v' LOOP
        EXECUTE format('GRANT SELECT ON readmodel.%I TO ar_publication', r.relname);
    END LOOP;
END
$$;

-- Writes: its own records only. No UPDATE or DELETE of a published year (publishing is
-- once), no DELETE of its councils or groups; the successors are a copy it refreshes whole.
GRANT USAGE ON SCHEMA publication TO ar_publication;
GRANT SELECT ON publication.published_years, publication.published_councils,
    publication.published_groups, publication.council_successors TO ar_publication;
GRANT INSERT (financial_year, close_id, letter_date, publication_date, publishes_at,
    published_at) ON publication.published_years TO ar_publication;
GRANT INSERT ON publication.published_councils, publication.published_groups TO ar_publication;
GRANT INSERT, DELETE ON publication.council_successors TO ar_publication;
GRANT SELECT ON publication.web_years, publication.web_groups, publication.web_council_years,
    publication.web_letters, publication.web_data_version, publication.web_successors
    TO ar_publication;

-- The operator reads the records (`publication status`) and records nothing any more.
REVOKE INSERT, UPDATE, DELETE ON publication.published_years, publication.published_councils,
    publication.published_groups, publication.council_successors FROM ar_operator;

-- The embargo, by the database's clock.
ALTER TABLE publication.published_years
    ADD CONSTRAINT not_recorded_before_the_publication_date CHECK (recorded_at >= publishes_at),
    ADD CONSTRAINT not_published_after_it_was_recorded CHECK (published_at <= recorded_at);

-- What the web reads of a sent letter's inputs: the keys services/domain/letter_inputs.py
-- renders from, never `addressee` or `copy_to`.
CREATE OR REPLACE VIEW publication.web_council_years WITH (security_barrier) AS
SELECT c.financial_year, c.council, c.name, c.comparison_group, c.existed_from,
       c.existed_until,
       CASE WHEN s.version IS NULL THEN 'under_review' ELSE 'published' END AS status,
       s.version, s.sent_at, s.inputs
  FROM publication.published_councils c
  JOIN publication.published_years y USING (financial_year)
  LEFT JOIN LATERAL (
      SELECT o.version, o.sent_at,
             jsonb_build_object(
                 'council', o.context -> 'council',
                 'council_name', o.context -> 'council_name',
                 'group', o.context -> 'group',
                 'year', o.context -> 'year',
                 'counts', o.context -> 'counts',
                 'population', o.context -> 'population',
                 'population_year', o.context -> 'population_year',
                 'averages', o.context -> 'averages',
                 'group_councils', o.context -> 'group_councils',
                 'letter_date', o.context -> 'letter_date',
                 'publication_date', o.context -> 'publication_date',
                 'signatory', o.context -> 'signatory',
                 'narrative', o.context -> 'narrative'
             ) AS inputs
        FROM letters.outbox o
       WHERE o.council = c.council AND o.financial_year = c.financial_year
         AND o.kind = 'annual-review' AND o.state = 'sent'
       ORDER BY o.version DESC
       LIMIT 1
  ) s ON true;
