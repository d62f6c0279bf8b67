-- The audit log in chains, stored compactly (docs/adr/0005).
--
-- Entries are keyed by (chain, seq). SQLite, with one writer, keeps every
-- entry in chain 0, as before; PostgreSQL gives each writer a chain of its
-- own (audit_chains) and joins them in chain 0. The log keeps no previous
-- hash (it is the hash of the entry before in the chain), a MAC of 16
-- bytes (HMAC-SHA-256 truncated to 128 bits; the old 32-byte MACs keep
-- their first half, which is what verification now compares), names as
-- integers from the dictionary audit_names, and a subject that ends in hex
-- digits (a pseudonym) as the dictionary ID of its prefix and the digits as
-- bytes; other subjects are stored as text after a 0 byte.

CREATE TABLE audit_names (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);
-- Fixed IDs: the store and the partial index below rely on them.
INSERT INTO audit_names (id, name) VALUES (1, 'audit.chain-key'), (2, 'audit.join'), (3, 'ps1_');
INSERT INTO audit_names (id, name)
	SELECT 3 + ROW_NUMBER() OVER (ORDER BY name), name FROM (
		SELECT actor AS name FROM audit_log UNION SELECT role FROM audit_log
		UNION SELECT action FROM audit_log UNION SELECT purpose FROM audit_log)
	WHERE name <> '' AND name NOT IN ('audit.chain-key', 'audit.join', 'ps1_');

-- Who holds which chain: a writer claims a chain once and renews its lease
-- while it runs; a chain whose lease lapsed is taken over by the next
-- writer that needs one. Unused on SQLite.
CREATE TABLE audit_chains (
	chain       INTEGER PRIMARY KEY,
	owner       TEXT NOT NULL,        -- host/pid/random of the process
	lease_until INTEGER NOT NULL,     -- Unix microseconds; 0 once released
	created_at  INTEGER NOT NULL
);

CREATE TABLE audit_log_v9 (
	chain   INTEGER NOT NULL,         -- 0: the spine; see internal/sqlstore/audit_chains.go
	seq     INTEGER NOT NULL,         -- 1, 2, 3, … without gaps within the chain
	at      INTEGER NOT NULL,         -- Unix microseconds, UTC
	actor   INTEGER NOT NULL,         -- audit_names IDs; 0 for an empty purpose
	role    INTEGER NOT NULL,
	action  INTEGER NOT NULL,
	purpose INTEGER NOT NULL,
	subject BLOB NOT NULL,            -- a pseudonym or object reference, encoded; never a card code or PII
	hash    BLOB NOT NULL,            -- SHA-256 of the entry (internal/audit), 32 bytes
	mac     BLOB NOT NULL,            -- HMAC-SHA-256 under the chain key, first 16 bytes; empty for none
	heads   BLOB NOT NULL,            -- a join's heads, (chain, seq, hash) each; empty for other entries
	PRIMARY KEY (chain, seq)
) WITHOUT ROWID;

INSERT INTO audit_log_v9 (chain, seq, at, actor, role, action, purpose, subject, hash, mac, heads)
	SELECT 0, l.seq, l.at, a.id, r.id, x.id, COALESCE(p.id, 0),
		CASE
			WHEN l.subject = '' THEN X''
			WHEN length(l.subject) = 36 AND substr(l.subject, 1, 4) = 'ps1_' AND substr(l.subject, 5) NOT GLOB '*[^0-9a-f]*'
				THEN X'03' || unhex(substr(l.subject, 5))
			ELSE X'00' || CAST(l.subject AS BLOB)
		END,
		l.hash, COALESCE(substr(l.mac, 1, 16), X''), X''
	FROM audit_log l
	JOIN audit_names a ON a.name = l.actor
	JOIN audit_names r ON r.name = l.role
	JOIN audit_names x ON x.name = l.action
	LEFT JOIN audit_names p ON p.name = l.purpose;

DROP TABLE audit_log;
ALTER TABLE audit_log_v9 RENAME TO audit_log;
-- The latest entry that started a key epoch in a chain.
CREATE INDEX audit_log_epochs ON audit_log (chain, seq) WHERE action = 1;
