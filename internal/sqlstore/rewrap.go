package sqlstore

import (
	"context"
	"database/sql"
)

// RewrapKeys replaces every stored wrapped data key with rewrap(key), in one
// transaction, and returns how many it rewrote. It is the middle step of a
// key-encryption-key rotation: vault.Rotate, then RewrapKeys with
// vault.Rewrap (which moves every key to fresh epochs), then vault.Retire.
// If rewrap fails, nothing is changed. The key_epochs trigger registers the
// new epochs as the rows are rewritten. Erasure retires one epoch at a time
// instead, in batches (see epoch.go).
func (s *Store) RewrapKeys(ctx context.Context, rewrap func(wrapped []byte) ([]byte, error)) (int, error) {
	n := 0
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT id, wrapped_key FROM persons WHERE wrapped_key IS NOT NULL`)
		if err != nil {
			return err
		}
		type row struct{ id, key []byte }
		var all []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.key); err != nil {
				rows.Close()
				return err
			}
			all = append(all, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range all {
			fresh, err := rewrap(r.key)
			if err != nil {
				return err
			}
			if _, err := s.txExec(ctx, tx, `UPDATE persons SET wrapped_key = ? WHERE id = ?`, fresh, r.id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, s.wrap("rewrap keys", err)
}
