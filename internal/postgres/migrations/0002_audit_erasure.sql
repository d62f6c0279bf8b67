-- The tamper-evident access log, its signed checkpoints, and the counts that
-- are all that remains of an erased person's vaccinations and tests.

CREATE TABLE audit_log (
	seq       BIGINT PRIMARY KEY,    -- 1, 2, 3, … without gaps
	at        BIGINT NOT NULL,      -- Unix microseconds, UTC
	actor     TEXT NOT NULL,         -- token ID, or cli / system
	role      TEXT NOT NULL,
	action    TEXT NOT NULL,
	purpose   TEXT NOT NULL,
	subject   TEXT NOT NULL,         -- a pseudonym or object reference; never a card code or PII
	prev_hash BYTEA NOT NULL,
	hash      BYTEA NOT NULL
);

CREATE TABLE audit_checkpoints (
	origin    TEXT NOT NULL,
	seq       BIGINT NOT NULL,
	hash      BYTEA NOT NULL,
	at        BIGINT NOT NULL,
	key_id    TEXT NOT NULL,
	signature BYTEA NOT NULL,
	PRIMARY KEY (origin, seq)
);

-- Erasure turns a person's records into counts by site, product (or test
-- kind), dose number and ISO week (the Monday), with nothing left to link
-- them to anyone.
CREATE TABLE erased_counts (
	kind        TEXT NOT NULL,        -- vaccination or test
	site        TEXT NOT NULL,
	product     TEXT NOT NULL,        -- catalogue product, or the test kind
	dose_number BIGINT NOT NULL,     -- 0 for tests
	week        TEXT NOT NULL,        -- YYYY-MM-DD of the Monday
	count       BIGINT NOT NULL,
	PRIMARY KEY (kind, site, product, dose_number, week)
);
