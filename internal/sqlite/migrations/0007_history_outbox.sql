-- Records from other systems (HL7 v2 messages, imports) and not-given doses.
-- status_reason says why a not-done vaccination was not given (a v3-ActReason
-- code such as PATOBJ for a refusal). source_ref is a keyed hash of the
-- sending system's own ID for the record (never the ID itself), unique, so a
-- message sent twice adds nothing twice and a later deletion finds it. Only
-- one current record may hold a reference: an update marks the old record
-- entered in error and stores its replacement under the same reference.
ALTER TABLE vaccinations ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE vaccinations ADD COLUMN source_ref TEXT;
CREATE UNIQUE INDEX vaccinations_source_ref ON vaccinations (source_ref) WHERE source_ref IS NOT NULL AND status <> 'entered-in-error';
ALTER TABLE tests ADD COLUMN source_ref TEXT;
CREATE UNIQUE INDEX tests_source_ref ON tests (source_ref) WHERE source_ref IS NOT NULL AND status <> 'entered-in-error';

-- The outbox of the upstream immunization information system feed: references
-- to records to report, in order. It holds no personal data; the message is
-- built from the record when it is sent. Erasing a person drops their
-- pending reports (ON DELETE CASCADE).
CREATE TABLE outbox (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	person_id  BLOB NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
	record_id  BLOB NOT NULL,
	deleted    INTEGER NOT NULL,      -- 1: report the record as entered in error
	queued_at  BIGINT NOT NULL,       -- Unix microseconds, UTC
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	failed     INTEGER NOT NULL DEFAULT 0 -- 1: rejected by the IIS, kept for the operator
);
CREATE INDEX outbox_person ON outbox (person_id);
