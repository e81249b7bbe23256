-- Every change of a letter is recorded as a LetterStateChanged in letters.events, in the same
-- transaction as the change (services/letters/outbox.py), the operators' too: the operator's
-- CLI (ar_operator) releases, resends, confirms and re-issues letters, so it now adds the
-- event rows those changes make. It still changes no event (no UPDATE: the relay marks them
-- published, as the letter service) and deletes nothing (docs/security.md).
GRANT INSERT ON letters.events TO ar_operator;
GRANT USAGE ON SEQUENCE letters.events_id_seq TO ar_operator;
-- The office workspace makes the same decisions on letters (letters/0004): the same right.
GRANT INSERT ON letters.events TO ar_office;
GRANT USAGE ON SEQUENCE letters.events_id_seq TO ar_office;
