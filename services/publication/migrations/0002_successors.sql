-- An abolished council's successors (CouncilAbolished.replaced_by), for the web's links to
-- them. The register changes after a year is published (a council abolished years later), so
-- the publication job refreshes this copy on every run, and the web reads it through a view
-- over published councils only.
CREATE TABLE publication.council_successors (
    council   text    NOT NULL,
    position  integer NOT NULL,
    successor text    NOT NULL,
    PRIMARY KEY (council, position)
);

CREATE VIEW publication.web_successors WITH (security_barrier) AS
SELECT s.council, s.position, s.successor
  FROM publication.council_successors s
 WHERE EXISTS (SELECT 1 FROM publication.published_councils c WHERE c.council = s.council);

-- The fingerprint the web reloads on now counts the successors too (a column at the end).
CREATE OR REPLACE VIEW publication.web_data_version WITH (security_barrier) AS
SELECT (SELECT count(*) FROM publication.published_years) AS years,
       (SELECT max(published_at) FROM publication.published_years) AS last_published_at,
       count(o.id) AS letters_sent,
       max(o.sent_at) AS last_sent_at,
       (SELECT count(*) FROM publication.council_successors) AS successors
  FROM letters.outbox o
  JOIN publication.published_years y USING (financial_year)
 WHERE o.kind = 'annual-review' AND o.state = 'sent';

GRANT SELECT ON publication.web_successors, publication.web_data_version TO ar_web, ar_operator;
GRANT SELECT, INSERT, DELETE ON publication.council_successors TO ar_operator;
