-- Key epochs (docs/adr/0004-epoch-keys.md). A person's data key is wrapped
-- under the key of one epoch; epoch keys live only in the key ring, never
-- here. This table holds what the processes sharing the database must agree
-- on about each epoch, and no key: whether an erasure asked for it to be
-- retired, whether it is closed to new keys, and whether its key was
-- destroyed. A wrapped key names its epoch in its first 9 bytes
-- (0x00 ‖ epoch ID), which is what id holds and what the index is on.

CREATE TABLE key_epochs (
	id          BLOB PRIMARY KEY,            -- 0x00 ‖ 8-byte epoch ID
	retire      INTEGER NOT NULL DEFAULT 0,  -- 1: an erasure asks for its key to be destroyed
	closed      INTEGER NOT NULL DEFAULT 0,  -- 1: no data key may be stored under it any more
	destroyed   INTEGER NOT NULL DEFAULT 0,  -- 1: its key is gone from the key ring
	lease_owner TEXT,                        -- the rotator retiring it, while it does
	lease_until INTEGER                      -- Unix microseconds
);

CREATE INDEX persons_key_epoch ON persons (substr(wrapped_key, 1, 9));

-- Every data key stored under an epoch registers the epoch, and none may be
-- stored under a closed one: the rotator closes an epoch, rewraps what is
-- left under it, and only then destroys its key, so no person can be lost
-- to a key destroyed while their row was being written.
CREATE TRIGGER persons_key_epoch_insert BEFORE INSERT ON persons
WHEN length(NEW.wrapped_key) = 81 AND substr(NEW.wrapped_key, 1, 1) = x'00'
BEGIN
	INSERT OR IGNORE INTO key_epochs (id) VALUES (substr(NEW.wrapped_key, 1, 9));
	SELECT RAISE(ABORT, 'haven: the key epoch of this data key is closed')
	WHERE (SELECT closed FROM key_epochs WHERE id = substr(NEW.wrapped_key, 1, 9)) = 1;
END;

CREATE TRIGGER persons_key_epoch_update BEFORE UPDATE OF wrapped_key ON persons
WHEN length(NEW.wrapped_key) = 81 AND substr(NEW.wrapped_key, 1, 1) = x'00'
BEGIN
	INSERT OR IGNORE INTO key_epochs (id) VALUES (substr(NEW.wrapped_key, 1, 9));
	SELECT RAISE(ABORT, 'haven: the key epoch of this data key is closed')
	WHERE (SELECT closed FROM key_epochs WHERE id = substr(NEW.wrapped_key, 1, 9)) = 1;
END;
