-- A letter the office withdrew (a held letter that must never go: services/domain/
-- letter_lifecycle.py, `withdraw`) is no letter of that council-year: the council-year is left
-- out of the public pages rather than shown as under review for ever, unless a version of
-- its letter was sent after all (docs/web.md, "Under review").
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
  ) s ON true
 WHERE s.version IS NOT NULL
    OR NOT EXISTS (
        SELECT 1 FROM letters.outbox w
         WHERE w.council = c.council AND w.financial_year = c.financial_year
           AND w.kind = 'annual-review' AND w.state = 'withdrawn');

-- The fingerprint the web reloads on counts the withdrawn letters too (a column at the end):
-- a withdrawal changes what the pages show.
CREATE OR REPLACE VIEW publication.web_data_version WITH (security_barrier) AS
SELECT (SELECT count(*) FROM publication.published_years) AS years,
       (SELECT max(published_at) FROM publication.published_years) AS last_published_at,
       count(o.id) AS letters_sent,
       max(o.sent_at) AS last_sent_at,
       (SELECT count(*) FROM publication.council_successors) AS successors,
       (SELECT md5(coalesce(string_agg(council || latitude || ',' || longitude, ';'
                                       ORDER BY council), ''))
          FROM publication.council_places) AS places,
       (SELECT count(*) FROM letters.outbox w
         WHERE w.kind = 'annual-review' AND w.state = 'withdrawn') AS letters_withdrawn
  FROM letters.outbox o
  JOIN publication.published_years y USING (financial_year)
 WHERE o.kind = 'annual-review' AND o.state = 'sent';
