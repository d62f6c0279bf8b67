-- Offline clinic nodes (docs/adr/0006-offline-clinic-nodes.md). Every table
-- holds references (IDs, sequence numbers, cursors), never personal data: a
-- sync event is read as the record then stands when it is sent.

-- Where a person came from: '' for a person registered here, and on an
-- offline clinic node the origin of a shadow (a person looked up at the
-- central, 'central').
ALTER TABLE persons ADD COLUMN origin TEXT NOT NULL DEFAULT '';

-- Saved sync state, by key: on a node its ID, the acknowledged push seq,
-- the pull cursor, the HLC floor, the last contact and error.
CREATE TABLE sync_state (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- A node's outbox of its writes for the central, in order. seq is never
-- reused (a sequence), even after rows are deleted, so the central's
-- applied_seq cursor never skips a new event. No foreign key on person_id:
-- an erase event outlives the person (ErasePerson deletes the person's
-- pending events and queues its own).
CREATE TABLE sync_outbox (
	seq        BIGSERIAL PRIMARY KEY,
	kind       TEXT NOT NULL,            -- person, edit, dose, test, correct, erase
	person_id  BYTEA NOT NULL,
	record_id  BYTEA,                    -- dose, test, correct (the marked record)
	hlc        BIGINT NOT NULL,          -- the write's hybrid logical clock
	queued_at  BIGINT NOT NULL,          -- Unix microseconds, UTC
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	failed     INTEGER NOT NULL DEFAULT 0 -- 1: rejected by the central, kept for the operator
);
CREATE INDEX sync_outbox_person ON sync_outbox (person_id);

-- The nodes the central knows, each bound to a node token. applied_seq is
-- the last outbox seq of the node applied (or rejected) here, advanced by
-- compare-and-set in the transaction that applies a push; it survives a
-- rebinding to a new token. pending, skew_ms and version are what the node
-- last reported.
CREATE TABLE sync_nodes (
	node_id      TEXT PRIMARY KEY,        -- 32 hex digits, chosen by the node
	token_id     TEXT NOT NULL,           -- no foreign key: a revoked token's node keeps its cursor
	sites        TEXT NOT NULL,           -- comma-joined site codes
	label        TEXT NOT NULL DEFAULT '',
	applied_seq  BIGINT NOT NULL DEFAULT 0,
	pending      BIGINT NOT NULL DEFAULT 0,
	skew_ms      BIGINT NOT NULL DEFAULT 0,
	version      TEXT NOT NULL DEFAULT '',
	last_contact BIGINT NOT NULL DEFAULT 0, -- Unix microseconds, UTC; 0: never
	created_at   BIGINT NOT NULL
);

-- Which nodes follow which persons at the central: the node that registered
-- the person (home = 1) and those that looked them up. Follows go with the
-- person when they are erased.
CREATE TABLE sync_follows (
	node_id   TEXT NOT NULL,
	person_id BYTEA NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
	home      INTEGER NOT NULL DEFAULT 0,
	last_used BIGINT NOT NULL,            -- the node's last lookup or write for the person
	PRIMARY KEY (node_id, person_id)
);
CREATE INDEX sync_follows_person ON sync_follows (person_id);

-- The last feed seq handed out per node: each node's feed is numbered
-- 1, 2, 3 … without gaps, allocated under this row's lock in the writing
-- transaction.
CREATE TABLE sync_feed_heads (
	node_id TEXT PRIMARY KEY,
	seq     BIGINT NOT NULL DEFAULT 0
);

-- The central's per-node feed of changes to the persons a node follows:
-- references only, read when pulled, deleted once the node has them. No
-- foreign key on person_id: an erase event outlives the person.
CREATE TABLE sync_feed (
	node_id   TEXT NOT NULL,
	seq       BIGINT NOT NULL,
	kind      TEXT NOT NULL,
	person_id BYTEA NOT NULL,
	record_id BYTEA,
	PRIMARY KEY (node_id, seq)
);

-- The IDs of erased persons (random IDs linked to nothing else), so that a
-- late event cannot bring a person back.
CREATE TABLE sync_tombstones (
	person_id BYTEA PRIMARY KEY,
	erased_on TEXT NOT NULL               -- YYYY-MM-DD, the day of the erasure
);
