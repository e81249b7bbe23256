-- Service areas, the published upheld decisions and the councils' places (docs/web.md,
-- docs/domain.md §16).
--
-- published_cases: a published year's standing decisions, copied by the publication job in
-- the transaction that publishes the year (services/publication/job.py), from the read
-- models' cases: case reference, outcome, service area and the decision statement's address.
-- No personal data: the case system's events carry none, and nothing else is copied. Years
-- published before this migration have no rows: their pages show no service-area table.
CREATE TABLE publication.published_cases (
    financial_year integer NOT NULL REFERENCES publication.published_years,
    council        text    NOT NULL,
    case_reference text    NOT NULL,
    outcome        text    NOT NULL,
    service_area   text,
    published_url  text CHECK (published_url IS NULL OR published_url LIKE 'https://%'),
    PRIMARY KEY (financial_year, case_reference)
);
CREATE INDEX published_cases_by_council ON publication.published_cases (council, financial_year);

-- Where each council is, for the map: the register's latest coordinates, a copy the job
-- refreshes whole on every run (like the successors: a council's place is not a figure of a
-- year, and a corrected coordinate should move it on every year's map).
CREATE TABLE publication.council_places (
    council   text PRIMARY KEY,
    latitude  double precision NOT NULL CHECK (latitude BETWEEN 49.8 AND 55.9),
    longitude double precision NOT NULL CHECK (longitude BETWEEN -6.5 AND 1.8)
);

-- Decisions and upheld decisions per council, year and service area (null: not recorded).
CREATE VIEW publication.web_service_areas WITH (security_barrier) AS
SELECT c.financial_year, c.council, c.service_area,
       count(*)::integer AS decisions,
       (count(*) FILTER (WHERE c.outcome = 'upheld'))::integer AS upheld
  FROM publication.published_cases c
  JOIN publication.published_years y USING (financial_year)
 GROUP BY c.financial_year, c.council, c.service_area;

-- The upheld decisions whose statement the Ombudsman published, for the page's list.
CREATE VIEW publication.web_upheld_decisions WITH (security_barrier) AS
SELECT c.financial_year, c.council, c.case_reference, c.service_area, c.published_url
  FROM publication.published_cases c
  JOIN publication.published_years y USING (financial_year)
 WHERE c.outcome = 'upheld' AND c.published_url IS NOT NULL;

CREATE VIEW publication.web_places WITH (security_barrier) AS
SELECT p.council, p.latitude, p.longitude
  FROM publication.council_places p
 WHERE EXISTS (SELECT 1 FROM publication.published_councils c WHERE c.council = p.council);

-- The fingerprint the web reloads on counts the places too (a column at the end).
CREATE OR REPLACE VIEW publication.web_data_version WITH (security_barrier) AS
SELECT (SELECT count(*) FROM publication.published_years) AS years,
       (SELECT max(published_at) FROM publication.published_years) AS last_published_at,
       count(o.id) AS letters_sent,
       max(o.sent_at) AS last_sent_at,
       (SELECT count(*) FROM publication.council_successors) AS successors,
       (SELECT md5(coalesce(string_agg(council || latitude || ',' || longitude, ';'
                                       ORDER BY council), ''))
          FROM publication.council_places) AS places
  FROM letters.outbox o
  JOIN publication.published_years y USING (financial_year)
 WHERE o.kind = 'annual-review' AND o.state = 'sent';

GRANT SELECT ON publication.web_service_areas, publication.web_upheld_decisions,
    publication.web_places, publication.web_data_version TO ar_web, ar_operator, ar_publication;
GRANT SELECT, INSERT ON publication.published_cases TO ar_publication;
GRANT SELECT, INSERT, DELETE ON publication.council_places TO ar_publication;
