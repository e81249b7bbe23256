-- The letter service's own tables: the outbox that makes dispatch exactly-once, and the
-- relay table for the events it publishes about letters.
CREATE SCHEMA IF NOT EXISTS letters;

-- One row per letter: (council, year, kind, version). A re-issue is a new version.
--   held      -> waiting for an operator: the council-year has open dead letters
--   pending   -> to be rendered
--   rendered  -> text, HTML and PDF stored; ready to send (or to retry after a transient failure)
--   sending   -> claimed by a sender: the SMTP conversation may be under way
--   sent      -> the SMTP server accepted it (smtp_response says what it said)
--   failed    -> permanently refused (smtp_response); an operator may resend
--   uncertain -> a sender died mid-send and no archive could tell whether it went
CREATE TABLE IF NOT EXISTS letters.outbox (
    id               bigserial PRIMARY KEY,
    council          text    NOT NULL,
    financial_year   integer NOT NULL,
    kind             text    NOT NULL DEFAULT 'annual-review',
    version          integer NOT NULL DEFAULT 1,
    close_id         uuid,
    source           text    NOT NULL CHECK (source IN ('snapshot', 'live')),
    state            text    NOT NULL CHECK (state IN ('held', 'pending', 'rendered', 'sending',
                                                       'sent', 'failed', 'uncertain')),
    hold_reason      text,
    reason           text,    -- why this version exists (re-issues)
    message_id       text    NOT NULL UNIQUE,
    recipient        text,
    context          jsonb   NOT NULL,  -- the figures the letter is made from
    template_version text,
    text_body        text,
    html_body        text,
    pdf              bytea,
    text_sha256      text,
    html_sha256      text,
    pdf_sha256       text,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    smtp_response    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    rendered_at      timestamptz,
    sending_at       timestamptz,
    sent_at          timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (council, financial_year, kind, version)
);
CREATE INDEX IF NOT EXISTS outbox_work ON letters.outbox (state, next_attempt_at)
    WHERE state IN ('pending', 'rendered');

-- Closes the service has turned into letters (at-least-once delivery of the trigger).
CREATE TABLE IF NOT EXISTS letters.closes_handled (
    close_id       uuid PRIMARY KEY,
    financial_year integer NOT NULL,
    letters        integer NOT NULL,
    handled_at     timestamptz NOT NULL DEFAULT now()
);

-- Letter events waiting to be published (written in the same transaction as the state
-- change they report; a relay publishes them and marks them).
CREATE TABLE IF NOT EXISTS letters.events (
    id           bigserial PRIMARY KEY,
    event_id     uuid  NOT NULL UNIQUE,
    key          bytea,
    value        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS events_unpublished ON letters.events (id) WHERE published_at IS NULL;
