-- Certificates' metadata: which certificate (UVCI, signing key ID, issue
-- and expiry) was issued for which record, never the certificate itself or
-- the names in it. A node records each certificate it issues and sends the
-- metadata to its central with its records, so that the registry knows
-- what was issued where; erasing the person deletes them (ON DELETE
-- CASCADE).
CREATE TABLE certificates (
	id         BYTEA PRIMARY KEY,
	person_id  BYTEA NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
	record_id  BYTEA NOT NULL,
	uvci       TEXT NOT NULL,
	kid        BYTEA NOT NULL,
	issued_at  BIGINT NOT NULL,  -- Unix microseconds, UTC
	expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX certificates_uvci ON certificates (uvci);
CREATE INDEX certificates_person ON certificates (person_id);
