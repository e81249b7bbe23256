-- The read models of one projection version. Run with search_path set to the version's
-- schema (rm_vN): every name here is unqualified on purpose.

-- Consumed positions, committed in the same transaction as the changes they cause.
CREATE TABLE positions (
    topic          text    NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint  NOT NULL,
    last_event_at  timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

-- Which DDL this version has (services/readmodel/versions.py FORMAT): a projector refuses
-- a version of another format, and `annual-review replay --upgrade` builds a new one.
CREATE TABLE read_model_format (
    format integer NOT NULL
);
INSERT INTO read_model_format VALUES (3);

-- Event ids already applied on each partition: a producer retry (same partition) counts
-- once. The same id on two partitions is counted on each: see cross_partition_duplicates.
CREATE TABLE applied_events (
    event_id       uuid    NOT NULL,
    partition      integer NOT NULL,
    council        text,
    financial_year integer,
    PRIMARY KEY (event_id, partition)
);

-- Events applied on two partitions (published twice, with two partitioners or keys): each
-- partition counted them, so their council-years' letters are held. A view, so it is right
-- whichever projector instance applied which copy.
CREATE VIEW cross_partition_duplicates AS
SELECT event_id, council, financial_year, array_agg(partition ORDER BY partition) AS partitions
FROM applied_events
GROUP BY event_id, council, financial_year
HAVING count(*) > 1;

-- Every registry fact (CouncilRegistered, CouncilDetailsChanged, CouncilAbolished): what it
-- states, where it is in the log. `councils` is their merge (services/domain/register.py).
CREATE TABLE council_facts (
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    council     text        NOT NULL,
    event_id    uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    event_type  text        NOT NULL,
    fields      jsonb       NOT NULL,
    PRIMARY KEY (partition, "offset")
);
CREATE INDEX council_facts_council ON council_facts (council);

-- The council register: each registered council's facts merged, latest statement first by
-- (occurred_at, partition, offset). `populations` keeps every estimate (year -> residents);
-- `population` and `population_year` are the latest year's, for display.
CREATE TABLE councils (
    code                text PRIMARY KEY,
    name                text NOT NULL,
    comparison_group    text NOT NULL,
    existed_from        date,
    existed_until       date,
    populations         jsonb NOT NULL DEFAULT '{}',
    population          integer,
    population_year     integer,
    chief_executive     jsonb,
    copy_to             jsonb NOT NULL DEFAULT '[]',
    registry_partitions integer[] NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- Where the council is (degrees), for the public site's map; projector/0003.
    latitude            double precision,
    longitude           double precision
);

-- Every case's current decision on the partition its events are on: corrections and
-- withdrawals move or remove it. A case is looked up on its own partition only.
CREATE TABLE cases (
    case_reference      text    NOT NULL,
    partition           integer NOT NULL,
    council             text    NOT NULL,
    financial_year      integer NOT NULL,  -- start year: 2019 for 2019-20
    outcome             text    NOT NULL,
    satisfactory_remedy boolean NOT NULL,
    withdrawn           boolean NOT NULL DEFAULT false,
    decision_date       date,  -- the standing (or withdrawn) decision's date
    -- The service area and the decision statement's address, as the latest decision gave
    -- them (null: not given); projector/0003.
    service_area        text,
    published_url       text,
    PRIMARY KEY (case_reference, partition)
);

-- Every accepted casework event (decision, correction, withdrawal, compliance outcome) with
-- where it is in the log and its case's state after it: the case's history. The state at a
-- year's cut is the last line before the cut's offset on the case's partition, and what an
-- event changed is read against the line before it (services/domain/explanation.py), so
-- `annual-review explain` answers from here without reading Kafka.
CREATE TABLE case_events (
    partition           integer     NOT NULL,
    "offset"            bigint      NOT NULL,
    event_id            uuid        NOT NULL,
    event_type          text        NOT NULL,
    case_reference      text        NOT NULL,
    council             text        NOT NULL,
    occurred_at         timestamptz NOT NULL,
    financial_year      integer     NOT NULL,  -- the year the case counts in after the event
    decision_date       date,       -- a compliance outcome's: its recorded_on
    outcome             text,       -- null for a compliance outcome
    satisfactory_remedy boolean     NOT NULL,
    withdrawn           boolean     NOT NULL,
    implemented         boolean,    -- a compliance outcome's only
    PRIMARY KEY (partition, "offset")
);
CREATE INDEX case_events_council_year ON case_events (council, financial_year);
CREATE INDEX case_events_case ON case_events (case_reference);

-- Cases with a standing decision on more than one partition (two producers, or one that
-- changed key or partitioner): each partition counts its own, so the councils' letters are
-- held until the copy that does not belong is withdrawn where it was published.
CREATE VIEW case_conflicts AS
SELECT c.case_reference, c.partition, c.council, c.financial_year
FROM cases c
WHERE NOT c.withdrawn AND c.case_reference IN (
    SELECT case_reference FROM cases WHERE NOT withdrawn
    GROUP BY case_reference HAVING count(*) > 1
);

-- Casework of councils not registered (yet): folded into the contributions like any other,
-- not in the live figures, and applied when the council is registered. `parking` keeps the
-- events folded while their council was not registered (rows of a council are deleted when
-- it is); the view is what is parked now, the same whichever instance read what first.
CREATE TABLE parking (
    partition      integer NOT NULL,
    "offset"       bigint  NOT NULL,
    event_id       uuid    NOT NULL,
    event_type     text    NOT NULL,
    council        text    NOT NULL,
    financial_year integer,
    parked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partition, "offset")
);
CREATE INDEX parking_council ON parking (council);

CREATE VIEW parked_events AS
SELECT p.* FROM parking p WHERE NOT EXISTS (SELECT 1 FROM councils c WHERE c.code = p.council);

-- Each partition's part of the figures per council and financial year (exact counts;
-- rates are derived). Every event adds to its own partition's row only.
CREATE TABLE council_year_contributions (
    council                            text    NOT NULL,
    financial_year                     integer NOT NULL,
    partition                          integer NOT NULL,
    upheld                             integer NOT NULL DEFAULT 0,
    not_upheld                         integer NOT NULL DEFAULT 0,
    advice_given                       integer NOT NULL DEFAULT 0,
    closed_after_initial_enquiries     integer NOT NULL DEFAULT 0,
    incomplete_or_invalid              integer NOT NULL DEFAULT 0,
    referred_back_for_local_resolution integer NOT NULL DEFAULT 0,
    satisfactory_remedies              integer NOT NULL DEFAULT 0,
    compliance_outcomes                integer NOT NULL DEFAULT 0,
    compliance_implemented             integer NOT NULL DEFAULT 0,
    late_events                        integer NOT NULL DEFAULT 0,
    last_event_at                      timestamptz,
    PRIMARY KEY (council, financial_year, partition),
    CHECK (upheld >= 0 AND not_upheld >= 0 AND advice_given >= 0
           AND closed_after_initial_enquiries >= 0 AND incomplete_or_invalid >= 0
           AND referred_back_for_local_resolution >= 0 AND satisfactory_remedies >= 0
           AND satisfactory_remedies <= upheld
           AND compliance_implemented >= 0 AND compliance_implemented <= compliance_outcomes)
);

-- The live figures per council and financial year: the sum of the partitions'
-- contributions, for registered councils.
CREATE VIEW council_year_stats AS
SELECT x.council,
       x.financial_year,
       sum(x.upheld)::integer AS upheld,
       sum(x.not_upheld)::integer AS not_upheld,
       sum(x.advice_given)::integer AS advice_given,
       sum(x.closed_after_initial_enquiries)::integer AS closed_after_initial_enquiries,
       sum(x.incomplete_or_invalid)::integer AS incomplete_or_invalid,
       sum(x.referred_back_for_local_resolution)::integer AS referred_back_for_local_resolution,
       sum(x.satisfactory_remedies)::integer AS satisfactory_remedies,
       sum(x.compliance_outcomes)::integer AS compliance_outcomes,
       sum(x.compliance_implemented)::integer AS compliance_implemented,
       sum(x.late_events)::integer AS late_events,
       max(x.last_event_at) AS last_event_at
FROM council_year_contributions x
WHERE EXISTS (SELECT 1 FROM councils c WHERE c.code = x.council)
GROUP BY x.council, x.financial_year;

-- Messages refused, with the reason and where they came from. Never deleted: re-driven
-- or resolved by an operator.
CREATE TABLE dead_letters (
    id             bigserial PRIMARY KEY,
    topic          text    NOT NULL,
    partition      integer NOT NULL,
    "offset"       bigint  NOT NULL,
    reason         text    NOT NULL,
    detail         text    NOT NULL,
    event_id       text,
    event_type     text,
    council        text,
    financial_year integer,
    key            bytea,
    value          bytea,
    received_at    timestamptz NOT NULL DEFAULT now(),
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'redriven', 'resolved')),
    status_note    text,
    status_at      timestamptz,
    UNIQUE (topic, partition, "offset")
);
CREATE INDEX dead_letters_open ON dead_letters (council, financial_year) WHERE status = 'open';

-- Each partition's cut of a financial year: where its first close marker for the year is,
-- with the close's details as that marker states them.
CREATE TABLE year_cuts (
    financial_year   integer NOT NULL,
    partition        integer NOT NULL,
    "offset"         bigint  NOT NULL,
    close_id         uuid    NOT NULL,
    requested_at     timestamptz NOT NULL,
    letter_date      date    NOT NULL,
    publication_date date    NOT NULL,
    signatory        jsonb   NOT NULL,
    partition_count  integer NOT NULL,
    PRIMARY KEY (financial_year, partition)
);

-- Each partition's contributions to a year as they stood at its cut.
CREATE TABLE year_cut_contributions (
    financial_year                     integer NOT NULL,
    partition                          integer NOT NULL,
    council                            text    NOT NULL,
    upheld                             integer NOT NULL,
    not_upheld                         integer NOT NULL,
    advice_given                       integer NOT NULL,
    closed_after_initial_enquiries     integer NOT NULL,
    incomplete_or_invalid              integer NOT NULL,
    referred_back_for_local_resolution integer NOT NULL,
    satisfactory_remedies              integer NOT NULL,
    compliance_outcomes                integer NOT NULL,
    compliance_implemented             integer NOT NULL,
    PRIMARY KEY (financial_year, partition, council)
);

-- A financial year's close, written when every partition's cut is in (the snapshot is
-- complete then): the details of the earliest close among the cuts.
CREATE TABLE year_closes (
    financial_year    integer PRIMARY KEY,
    close_id          uuid    NOT NULL,
    letter_date       date    NOT NULL,
    publication_date  date    NOT NULL,
    signatory         jsonb   NOT NULL,
    partition_count   integer NOT NULL,
    requested_at      timestamptz NOT NULL,
    completed_at      timestamptz
);

-- The figures a letter is made from: each council's counts summed over every partition's
-- cut, with the register as it stood at the cuts. Later events never change the counts.
-- `joined_after_close`: registered after the close (its casework was parked until then);
-- not in the group averages, its letter held.
CREATE TABLE year_snapshot_councils (
    financial_year                     integer NOT NULL,
    council                            text    NOT NULL,
    name                               text    NOT NULL,
    comparison_group                   text    NOT NULL,
    existed_from                       date,
    existed_until                      date,
    population                         integer,
    population_year                    integer,  -- the estimate the year uses (its year)
    chief_executive                    jsonb,
    copy_to                            jsonb   NOT NULL DEFAULT '[]',
    joined_after_close                 boolean NOT NULL DEFAULT false,
    upheld                             integer NOT NULL,
    not_upheld                         integer NOT NULL,
    advice_given                       integer NOT NULL,
    closed_after_initial_enquiries     integer NOT NULL,
    incomplete_or_invalid              integer NOT NULL,
    referred_back_for_local_resolution integer NOT NULL,
    satisfactory_remedies              integer NOT NULL,
    compliance_outcomes                integer NOT NULL,
    compliance_implemented             integer NOT NULL,
    open_dead_letters                  integer NOT NULL,
    finalised_at                       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (financial_year, council)
);

-- Group averages of a closed year, exact: each average is numerator / denominator.
CREATE TABLE year_snapshot_groups (
    financial_year        integer NOT NULL,
    comparison_group      text    NOT NULL,
    averaging_rule        text    NOT NULL,
    councils              integer NOT NULL,
    uphold_num            numeric, uphold_den            numeric,
    compliance_num        numeric, compliance_den        numeric,
    remedy_num            numeric, remedy_den            numeric,
    upheld_per_100k_num   numeric, upheld_per_100k_den   numeric,
    PRIMARY KEY (financial_year, comparison_group)
);

-- Events for a year read after their partition's cut of that year.
CREATE TABLE late_events (
    event_id       uuid    NOT NULL,
    partition      integer NOT NULL,
    council        text    NOT NULL,
    financial_year integer NOT NULL,
    event_type     text    NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, partition)
);

-- Live group averages, for display (rounded by the reader). Mean of the councils' rates
-- over councils with a non-zero denominator; the pooled figures beside them. Per 100,000
-- residents needs each year's population estimate: services/readmodel/council_figures.py.
CREATE VIEW group_averages AS
SELECT s.financial_year,
       c.comparison_group,
       count(*) AS councils,
       avg(s.upheld::numeric / nullif(s.upheld + s.not_upheld, 0)) AS uphold_rate_mean,
       sum(s.upheld)::numeric / nullif(sum(s.upheld + s.not_upheld), 0) AS uphold_rate_pooled,
       avg(s.compliance_implemented::numeric / nullif(s.compliance_outcomes, 0))
           AS compliance_rate_mean,
       sum(s.compliance_implemented)::numeric / nullif(sum(s.compliance_outcomes), 0)
           AS compliance_rate_pooled,
       avg(s.satisfactory_remedies::numeric / nullif(s.upheld, 0)) AS remedy_rate_mean,
       sum(s.satisfactory_remedies)::numeric / nullif(sum(s.upheld), 0) AS remedy_rate_pooled
FROM council_year_stats s
JOIN councils c ON c.code = s.council
GROUP BY s.financial_year, c.comparison_group;
