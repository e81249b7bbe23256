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

-- Event ids already applied: a producer retry at another offset counts once.
CREATE TABLE applied_events (
    event_id uuid PRIMARY KEY
);

-- The council registry. `partition` is where the council's facts are: a year-end
-- marker on that partition finalises the council's year.
CREATE TABLE councils (
    code             text PRIMARY KEY,
    name             text NOT NULL,
    comparison_group text NOT NULL,
    existed_from     date,
    existed_until    date,
    population       integer,
    population_year  integer,
    chief_executive  jsonb,
    partition        integer NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Every case's current decision: corrections and withdrawals move or remove it.
CREATE TABLE cases (
    case_reference      text PRIMARY KEY,
    council             text NOT NULL,
    financial_year      integer NOT NULL,  -- start year: 2019 for 2019-20
    outcome             text NOT NULL,
    satisfactory_remedy boolean NOT NULL,
    withdrawn           boolean NOT NULL DEFAULT false
);

-- The live figures per council and financial year (exact counts; rates are derived).
CREATE TABLE council_year_stats (
    council                            text    NOT NULL,
    financial_year                     integer NOT NULL,
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
    PRIMARY KEY (council, financial_year),
    CHECK (upheld >= 0 AND not_upheld >= 0 AND advice_given >= 0
           AND closed_after_initial_enquiries >= 0 AND incomplete_or_invalid >= 0
           AND referred_back_for_local_resolution >= 0 AND satisfactory_remedies >= 0
           AND satisfactory_remedies <= upheld
           AND compliance_implemented >= 0 AND compliance_implemented <= compliance_outcomes)
);

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

-- A financial year's close: one marker per partition; complete when all have been read.
CREATE TABLE year_closes (
    financial_year    integer PRIMARY KEY,
    close_id          uuid    NOT NULL,
    letter_date       date    NOT NULL,
    publication_date  date    NOT NULL,
    signatory         jsonb   NOT NULL,
    partition_count   integer NOT NULL,
    partitions_closed integer[] NOT NULL DEFAULT '{}',
    requested_at      timestamptz NOT NULL,
    completed_at      timestamptz
);

-- The figures a letter is made from: each council's counts as they stood when its
-- partition's marker was read. Later events never change them.
CREATE TABLE year_snapshot_councils (
    financial_year                     integer NOT NULL,
    council                            text    NOT NULL,
    name                               text    NOT NULL,
    comparison_group                   text    NOT NULL,
    existed_from                       date,
    existed_until                      date,
    population                         integer,
    population_year                    integer,
    chief_executive                    jsonb,
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

-- Events for a council-year whose snapshot was already taken.
CREATE TABLE late_events (
    event_id       uuid PRIMARY KEY,
    council        text    NOT NULL,
    financial_year integer NOT NULL,
    event_type     text    NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now()
);

-- Live group averages, for display (rounded by the reader). Mean of the councils' rates
-- over councils with a non-zero denominator; the pooled figures beside them.
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
       sum(s.satisfactory_remedies)::numeric / nullif(sum(s.upheld), 0) AS remedy_rate_pooled,
       avg(s.upheld * 100000.0 / nullif(c.population, 0)) AS upheld_per_100k_mean
FROM council_year_stats s
JOIN councils c ON c.code = s.council
GROUP BY s.financial_year, c.comparison_group;
