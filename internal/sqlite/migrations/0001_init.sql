-- Haven's registry schema for SQLite. Nothing here can hold residence status,
-- eligibility inputs or free text, and nothing identifying is stored in clear:
-- demographics live only inside persons.sealed, encrypted under the person's
-- own data key (persons.wrapped_key). There is deliberately no index on
-- anything but the card code and internal IDs.

CREATE TABLE persons (
	id          BLOB PRIMARY KEY,      -- random 128-bit internal ID, never shown
	card_code   TEXT NOT NULL UNIQUE,  -- the temporary management number
	created_at  INTEGER NOT NULL,      -- Unix microseconds, UTC
	wrapped_key BLOB,                  -- the person's data key, wrapped by the KEK
	sealed      BLOB                   -- encrypted demographics and holder secret
);

CREATE TABLE sites (
	code         TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	jurisdiction TEXT NOT NULL,
	services     TEXT NOT NULL,        -- comma-joined: vaccination,testing
	created_at   INTEGER NOT NULL
);

CREATE TABLE vaccinations (
	id               BLOB PRIMARY KEY,
	person_id        BLOB REFERENCES persons (id) ON DELETE SET NULL, -- NULL once the person is erased
	product          TEXT NOT NULL,    -- catalogue product ID
	dose_date        TEXT NOT NULL,    -- YYYY-MM-DD
	dose_number      INTEGER NOT NULL, -- position in the person's history when recorded
	site             TEXT NOT NULL,
	lot              TEXT NOT NULL,
	source           TEXT NOT NULL,
	payment_kind     TEXT NOT NULL,
	payment_amount   TEXT NOT NULL,
	payment_currency TEXT NOT NULL,
	recorded_at      INTEGER NOT NULL,
	status           TEXT NOT NULL,
	replaces         BLOB,
	replaced_by      BLOB
);
CREATE INDEX vaccinations_person ON vaccinations (person_id, dose_date);

CREATE TABLE tests (
	id          BLOB PRIMARY KEY,
	person_id   BLOB REFERENCES persons (id) ON DELETE SET NULL,
	kind        TEXT NOT NULL,
	result      TEXT NOT NULL,
	sample_date TEXT NOT NULL,
	site        TEXT NOT NULL,
	recorded_at INTEGER NOT NULL,
	status      TEXT NOT NULL,
	replaces    BLOB,
	replaced_by BLOB
);
CREATE INDEX tests_person ON tests (person_id, sample_date);

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,       -- public token ID, the actor in logs and audit
	hash       BLOB NOT NULL UNIQUE,   -- SHA-256 of the secret; the secret is never stored
	role       TEXT NOT NULL,
	sites      TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE idempotency (
	scope        TEXT NOT NULL,        -- token ID
	key          TEXT NOT NULL,        -- the client's Idempotency-Key
	request_hash BLOB NOT NULL,
	kind         TEXT NOT NULL,
	resource_id  TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
);
