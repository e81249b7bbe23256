-- Publication: the step that makes a closed year public, and the only things the public web
-- site (role ar_web) may read (docs/web.md, docs/security.md).
--
-- A year becomes published when the publication job records it (services/publication/job.py),
-- at or after 00:00 UK time on the publication date of its close; the database refuses a
-- record made earlier by the job's own clock. At that moment the job copies what the close
-- froze (the year's councils and the five group averages) into this schema, so nothing here
-- depends on the readmodel views, which a rebuild drops and creates again.
--
-- The figures of a council-year are those of the latest letter version that was sent, read
-- from the letter service's outbox (the inputs each letter was made from): a re-issued
-- letter and the page agree, and a council-year whose letter is held shows as under review
-- until a version of it has been sent.
CREATE SCHEMA IF NOT EXISTS publication;

CREATE TABLE publication.published_years (
    financial_year   integer PRIMARY KEY,          -- start year: 2019 for 2019-20
    close_id         uuid        NOT NULL,
    letter_date      date        NOT NULL,
    publication_date date        NOT NULL,
    publishes_at     timestamptz NOT NULL,         -- 00:00 UK time on the publication date
    published_at     timestamptz NOT NULL,         -- the job's clock when it published
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    recorded_by      text        NOT NULL DEFAULT current_user,
    CONSTRAINT publishes_at_midnight_uk_time
        CHECK (publishes_at = (publication_date::timestamp AT TIME ZONE 'Europe/London')),
    CONSTRAINT not_before_the_publication_date CHECK (published_at >= publishes_at)
);

-- The close's councils of the year (the snapshot's registry columns, no addressee).
CREATE TABLE publication.published_councils (
    financial_year   integer NOT NULL REFERENCES publication.published_years,
    council          text    NOT NULL,
    name             text    NOT NULL,
    comparison_group text    NOT NULL,
    existed_from     date,
    existed_until    date,
    PRIMARY KEY (financial_year, council)
);
CREATE INDEX published_councils_by_council ON publication.published_councils (council);

-- The close's group averages, exact (numerator / denominator), as the letters print them.
CREATE TABLE publication.published_groups (
    financial_year      integer NOT NULL REFERENCES publication.published_years,
    comparison_group    text    NOT NULL,
    averaging_rule      text    NOT NULL,
    councils            integer NOT NULL,
    uphold_num          numeric, uphold_den          numeric,
    compliance_num      numeric, compliance_den      numeric,
    remedy_num          numeric, remedy_den          numeric,
    upheld_per_100k_num numeric, upheld_per_100k_den numeric,
    PRIMARY KEY (financial_year, comparison_group)
);

-- What the web reads. security_barrier: a caller's function in a WHERE clause cannot see
-- rows the view's own conditions leave out.
CREATE VIEW publication.web_years WITH (security_barrier) AS
SELECT financial_year, letter_date, publication_date, published_at
  FROM publication.published_years;

CREATE VIEW publication.web_groups WITH (security_barrier) AS
SELECT g.financial_year, g.comparison_group, g.averaging_rule, g.councils,
       g.uphold_num, g.uphold_den, g.compliance_num, g.compliance_den,
       g.remedy_num, g.remedy_den, g.upheld_per_100k_num, g.upheld_per_100k_den
  FROM publication.published_groups g
  JOIN publication.published_years y USING (financial_year);

-- One row per council and published year. `inputs` is the sent letter's stored inputs
-- without its addressee (no e-mail address leaves the office); NULL with status
-- 'under_review' while no version of the letter has been sent.
CREATE VIEW publication.web_council_years WITH (security_barrier) AS
SELECT c.financial_year, c.council, c.name, c.comparison_group, c.existed_from,
       c.existed_until,
       CASE WHEN s.version IS NULL THEN 'under_review' ELSE 'published' END AS status,
       s.version, s.sent_at, s.inputs
  FROM publication.published_councils c
  JOIN publication.published_years y USING (financial_year)
  LEFT JOIN LATERAL (
      SELECT o.version, o.sent_at, o.context - 'addressee' AS inputs
        FROM letters.outbox o
       WHERE o.council = c.council AND o.financial_year = c.financial_year
         AND o.kind = 'annual-review' AND o.state = 'sent'
       ORDER BY o.version DESC
       LIMIT 1
  ) s ON true;

-- Every sent version of a published year's letters: the HTML and PDF as they were sent.
-- Not the operator's reason for a re-issue: an internal note, not written for the public.
CREATE VIEW publication.web_letters WITH (security_barrier) AS
SELECT o.council, o.financial_year, o.version, o.sent_at, o.html_body, o.pdf,
       o.html_sha256, o.pdf_sha256
  FROM letters.outbox o
  JOIN publication.published_councils c
    ON c.council = o.council AND c.financial_year = o.financial_year
 WHERE o.kind = 'annual-review' AND o.state = 'sent';

-- A cheap fingerprint of everything the web shows: it reloads when this changes.
CREATE VIEW publication.web_data_version WITH (security_barrier) AS
SELECT (SELECT count(*) FROM publication.published_years) AS years,
       (SELECT max(published_at) FROM publication.published_years) AS last_published_at,
       count(o.id) AS letters_sent,
       max(o.sent_at) AS last_sent_at
  FROM letters.outbox o
  JOIN publication.published_years y USING (financial_year)
 WHERE o.kind = 'annual-review' AND o.state = 'sent';

-- Least privilege (docs/security.md). The web (ar_web) connects and reads these views: not
-- the tables behind them, not the outbox, not the read models. The publication job runs as
-- the operator (ar_operator), who may record a publication and read what the web reads.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ar_web', current_database());
END
$$;
GRANT SELECT ON schema_migrations TO ar_web;
GRANT USAGE ON SCHEMA publication TO ar_web, ar_operator;
GRANT SELECT ON publication.web_years, publication.web_groups, publication.web_council_years,
    publication.web_letters, publication.web_data_version TO ar_web, ar_operator;
GRANT SELECT, INSERT ON publication.published_years, publication.published_councils,
    publication.published_groups TO ar_operator;
