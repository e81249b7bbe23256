-- A scratch version: the read models folded from the log up to given positions, for
-- `annual-review stats --as-of` (services/projector/as_of.py). It is never switched to, a
-- rebuild never resumes it, and it is dropped as soon as its figures are read; one left
-- behind by a killed process is dropped by `annual-review replay --cancel`.
ALTER TABLE projection_versions DROP CONSTRAINT IF EXISTS projection_versions_status_check;
ALTER TABLE projection_versions ADD CONSTRAINT projection_versions_status_check
    CHECK (status IN ('building', 'active', 'retired', 'cancelled', 'scratch'));
