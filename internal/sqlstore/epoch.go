package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// Key epochs (docs/adr/0004-epoch-keys.md). These methods implement
// vault.EpochStore: the key_epochs table (migration 0005) records, per
// epoch, what the processes sharing the database agree on (retire asked,
// closed to new keys, destroyed) and never a key; a trigger on persons
// registers each epoch a stored key names and refuses keys under a closed
// one. A wrapped key names its epoch in its first epochPrefix bytes, which
// the persons_key_epoch index covers.

const epochPrefix = 9 // vault.EpochPrefixSize

// epochOf is the SQL expression, common to both dialects and matching the
// index, for the epoch prefix of a person's wrapped key.
const epochOf = `substr(wrapped_key, 1, 9)`

// KeyEpochs calls fn for every epoch that is not recorded as destroyed.
func (s *Store) KeyEpochs(ctx context.Context, fn func(prefix []byte, retire, closed bool) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id, retire, closed FROM key_epochs WHERE destroyed = 0 ORDER BY id`)
	if err != nil {
		return s.wrap("key epochs", err)
	}
	type row struct {
		id             []byte
		retire, closed int
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.retire, &r.closed); err != nil {
			rows.Close()
			return s.wrap("key epochs", err)
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.wrap("key epochs", err)
	}
	for _, r := range all {
		if err := fn(r.id, r.retire != 0, r.closed != 0); err != nil {
			return err
		}
	}
	return nil
}

// CountKeyEpoch returns how many persons' data keys are wrapped under the
// epoch with this prefix.
func (s *Store) CountKeyEpoch(ctx context.Context, prefix []byte) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM persons WHERE `+epochOf+` = ?`, prefix).Scan(&n)
	return n, s.wrap("count key epoch", err)
}

// CountLegacyKeys returns how many persons' data keys are still wrapped
// directly under a key-encryption key, as before epochs (73 bytes).
func (s *Store) CountLegacyKeys(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM persons WHERE length(wrapped_key) = 73`).Scan(&n)
	return n, s.wrap("count legacy keys", err)
}

// ClaimKeyEpoch leases the epoch to owner until until, unless another owner
// holds a lease past now. The epoch's row is made if there is none.
func (s *Store) ClaimKeyEpoch(ctx context.Context, prefix []byte, owner string, now, until time.Time) (bool, error) {
	claimed := false
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `INSERT INTO key_epochs (id, lease_owner, lease_until) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
			WHERE key_epochs.destroyed = 0 AND (key_epochs.lease_until IS NULL OR key_epochs.lease_until < ? OR key_epochs.lease_owner = excluded.lease_owner)`,
			prefix, owner, micros(until), micros(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	return claimed, s.wrap("claim key epoch", err)
}

// RewrapKeyEpoch rewraps up to limit data keys wrapped under the epoch, in
// one transaction, and returns how many it found. Each row is rewritten only
// if its key is still the one read (an erasure in between wins).
func (s *Store) RewrapKeyEpoch(ctx context.Context, prefix []byte, limit int, rewrap func([]byte) ([]byte, error)) (int, error) {
	n := 0
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.rewrapEpochTx(ctx, tx, prefix, limit, rewrap)
		return err
	})
	return n, s.wrap("rewrap key epoch", err)
}

// CloseKeyEpoch closes the epoch to new keys (the trigger then refuses any
// key under it), then rewraps every key still under it, in one transaction.
// On PostgreSQL the update of the epoch's row waits for every write in
// flight that registered a key under it (they hold a share lock on the
// row), so the rewrap that follows sees them.
func (s *Store) CloseKeyEpoch(ctx context.Context, prefix []byte, rewrap func([]byte) ([]byte, error)) (int, error) {
	n := 0
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.txExec(ctx, tx, `INSERT INTO key_epochs (id, closed) VALUES (?, 1)
			ON CONFLICT (id) DO UPDATE SET closed = 1`, prefix); err != nil {
			return err
		}
		var err error
		n, err = s.rewrapEpochTx(ctx, tx, prefix, 0, rewrap)
		return err
	})
	return n, s.wrap("close key epoch", err)
}

// DestroyedKeyEpoch records that the epoch's key is gone, closing it too.
func (s *Store) DestroyedKeyEpoch(ctx context.Context, prefix []byte) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, `INSERT INTO key_epochs (id, closed, destroyed) VALUES (?, 1, 1)
			ON CONFLICT (id) DO UPDATE SET closed = 1, destroyed = 1, retire = 0, lease_owner = NULL, lease_until = NULL`, prefix)
		return err
	})
	return s.wrap("destroyed key epoch", err)
}

// rewrapEpochTx rewraps up to limit (0: all) keys under the epoch in tx.
func (s *Store) rewrapEpochTx(ctx context.Context, tx *sql.Tx, prefix []byte, limit int, rewrap func([]byte) ([]byte, error)) (int, error) {
	q := `SELECT id, wrapped_key FROM persons WHERE ` + epochOf + ` = ?`
	args := []any{prefix}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := tx.QueryContext(ctx, s.dialect.Rebind(q), args...)
	if err != nil {
		return 0, err
	}
	type row struct{ id, key []byte }
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.key); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	ids, olds, news := make([][]byte, len(all)), make([][]byte, len(all)), make([][]byte, len(all))
	for i, r := range all {
		fresh, err := rewrap(r.key)
		if err != nil {
			return 0, err
		}
		ids[i], olds[i], news[i] = r.id, r.key, fresh
	}
	if s.dialect.Name == "postgres" && len(all) > 1 {
		// One statement for the batch: a round trip per row would make an
		// erasure's rewrap take seconds on a busy server.
		_, err := tx.ExecContext(ctx, `UPDATE persons AS p SET wrapped_key = v.k
			FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) AS v(id, k, old)
			WHERE p.id = v.id AND p.wrapped_key = v.old`, ids, news, olds)
		return len(all), err
	}
	for i := range all {
		if _, err := s.txExec(ctx, tx, `UPDATE persons SET wrapped_key = ? WHERE id = ? AND wrapped_key = ?`, news[i], ids[i], olds[i]); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}

// markEpochForRetire asks, in tx, for the epoch of an erased person's
// wrapped key to be retired (if the key is under an epoch at all).
func (s *Store) markEpochForRetire(ctx context.Context, tx *sql.Tx, wrapped []byte) error {
	if len(wrapped) != 81 || wrapped[0] != 0 {
		return nil
	}
	_, err := s.txExec(ctx, tx, `INSERT INTO key_epochs (id, retire) VALUES (?, 1)
		ON CONFLICT (id) DO UPDATE SET retire = 1`, wrapped[:epochPrefix])
	return err
}
