-- The tamper-evident access log, its signed checkpoints, and the counts that
-- are all that remains of an erased person's vaccinations and tests.

CREATE TABLE audit_log (
	seq       INTEGER PRIMARY KEY,   -- 1, 2, 3, … without gaps
	at        INTEGER NOT NULL,      -- Unix microseconds, UTC
	actor     TEXT NOT NULL,         -- token ID, or cli / system
	role      TEXT NOT NULL,
	action    TEXT NOT NULL,
	purpose   TEXT NOT NULL,
	subject   TEXT NOT NULL,         -- a pseudonym or object reference; never a card code or PII
	prev_hash BLOB NOT NULL,
	hash      BLOB NOT NULL
);

CREATE TABLE audit_checkpoints (
	origin    TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	hash      BLOB NOT NULL,
	at        INTEGER NOT NULL,
	key_id    TEXT NOT NULL,
	signature BLOB NOT NULL,
	PRIMARY KEY (origin, seq)
);

-- Erasure turns a person's records into counts by site, product (or test
-- kind), dose number and ISO week (the Monday), with nothing left to link
-- them to anyone.
CREATE TABLE erased_counts (
	kind        TEXT NOT NULL,        -- vaccination or test
	site        TEXT NOT NULL,
	product     TEXT NOT NULL,        -- catalogue product, or the test kind
	dose_number INTEGER NOT NULL,     -- 0 for tests
	week        TEXT NOT NULL,        -- YYYY-MM-DD of the Monday
	count       INTEGER NOT NULL,
	PRIMARY KEY (kind, site, product, dose_number, week)
);
