-- The keyed audit chain (issue 11). Entries appended with the chain key,
-- which is kept outside the database, carry mac = HMAC-SHA-256(chain key,
-- "haven-audit-mac/v1\0" || hash); entries written before this migration,
-- and those of operator commands without the key, keep mac NULL. The
-- partial index finds the latest entry that started a key epoch.
ALTER TABLE audit_log ADD COLUMN mac BLOB;
CREATE INDEX audit_log_epochs ON audit_log (seq) WHERE action = 'audit.chain-key';
