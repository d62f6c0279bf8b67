-- Key epochs (docs/adr/0004-epoch-keys.md). A person's data key is wrapped
-- under the key of one epoch; epoch keys live only in the key ring, never
-- here. This table holds what the processes sharing the database must agree
-- on about each epoch, and no key: whether an erasure asked for it to be
-- retired, whether it is closed to new keys, and whether its key was
-- destroyed. A wrapped key names its epoch in its first 9 bytes
-- (0x00 ‖ epoch ID), which is what id holds and what the index is on.

CREATE TABLE key_epochs (
	id          BYTEA PRIMARY KEY,           -- 0x00 ‖ 8-byte epoch ID
	retire      INTEGER NOT NULL DEFAULT 0,  -- 1: an erasure asks for its key to be destroyed
	closed      INTEGER NOT NULL DEFAULT 0,  -- 1: no data key may be stored under it any more
	destroyed   INTEGER NOT NULL DEFAULT 0,  -- 1: its key is gone from the key ring
	lease_owner TEXT,                        -- the rotator retiring it, while it does
	lease_until BIGINT                       -- Unix microseconds
);

CREATE INDEX persons_key_epoch ON persons (substr(wrapped_key, 1, 9));

-- Every data key stored under an epoch registers the epoch, and none may be
-- stored under a closed one. The share lock on the epoch's row makes the
-- rotator's close (an update of that row) wait for writes in flight, and
-- writes after it see the epoch closed: no person can be lost to a key
-- destroyed while their row was being written, by this process or another.
CREATE FUNCTION haven_key_epoch_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	e bytea;
	c integer;
BEGIN
	IF NEW.wrapped_key IS NULL OR length(NEW.wrapped_key) <> 81 OR get_byte(NEW.wrapped_key, 0) <> 0 THEN
		RETURN NEW;
	END IF;
	e := substr(NEW.wrapped_key, 1, 9);
	INSERT INTO key_epochs (id) VALUES (e) ON CONFLICT (id) DO NOTHING;
	SELECT closed INTO c FROM key_epochs WHERE id = e FOR SHARE;
	IF c = 1 THEN
		RAISE EXCEPTION 'haven: the key epoch of this data key is closed' USING ERRCODE = '55000';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER persons_key_epoch BEFORE INSERT OR UPDATE OF wrapped_key ON persons
	FOR EACH ROW EXECUTE FUNCTION haven_key_epoch_check();
