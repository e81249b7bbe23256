-- A held letter that must never go can be withdrawn, with a reason (services/domain/
-- letter_lifecycle.py, WITHDRAW): the outbox's states gain `withdrawn`, a final state like
-- `sent`. The CHECK lists exactly the lifecycle's states (tests/integration/
-- test_letter_states.py compares them).
ALTER TABLE letters.outbox DROP CONSTRAINT IF EXISTS outbox_state_check;
ALTER TABLE letters.outbox ADD CONSTRAINT outbox_state_check
    CHECK (state IN ('held', 'pending', 'rendered', 'sending', 'sent', 'failed', 'uncertain',
                     'withdrawn'));

-- The office workspace (ar_office, docs/security.md) makes the same operator's decisions on
-- letters as the CLI, through the same functions (services/letters/operations.py): release,
-- resend, confirm-sent and withdraw (an UPDATE of the columns those moves write: never the
-- letter as rendered, its hashes or its Message-ID) and re-issue (an INSERT of a new version,
-- which takes the next id). It deletes nothing, and the letter service's other tables stay
-- out of its reach.
GRANT UPDATE (state, last_error, next_attempt_at, updated_at, attempts, context, recipient,
              sent_at, smtp_response) ON letters.outbox TO ar_office;
GRANT INSERT ON letters.outbox TO ar_office;
GRANT USAGE, SELECT ON SEQUENCE letters.outbox_id_seq TO ar_office;
