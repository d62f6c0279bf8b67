-- A person registered from another system's records (haven import) keeps a
-- keyed hash of that system's ID for them (never the ID itself), so that a
-- re-run of an import finds them instead of registering them twice.
ALTER TABLE persons ADD COLUMN source_ref TEXT;
CREATE UNIQUE INDEX persons_source_ref ON persons (source_ref) WHERE source_ref IS NOT NULL;

-- Idempotency entries expire after the retention (docs/api.md); the
-- background sweep finds them by age.
CREATE INDEX idempotency_created ON idempotency (created_at);
