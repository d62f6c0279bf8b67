-- The events of a node the central refused, by the node's seq, kept until
-- the node acknowledges them (a push whose "after" passes them): a push
-- whose answer was lost is answered again with the same refusals, so the
-- node keeps them as failed rather than dropping them as delivered.
-- Messages name a field and a reason, never personal data.
CREATE TABLE sync_rejects (
	node_id TEXT NOT NULL,
	seq     BIGINT NOT NULL,
	code    TEXT NOT NULL,
	field   TEXT NOT NULL DEFAULT '',
	message TEXT NOT NULL,
	PRIMARY KEY (node_id, seq)
);
