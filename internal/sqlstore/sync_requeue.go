package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// RequeueOwn implements registry.SyncStore: after a central restored from
// a backup (or a node restored from one), every record of the node's own
// persons is queued again, in one transaction, under seqs above floor.
func (s *Store) RequeueOwn(ctx context.Context, floor, hlc int64, at time.Time) (int, error) {
	n := 0
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		n = 0
		// Seqs above floor: the central skips seqs at or below its
		// applied_seq.
		if s.dialect.Name == "postgres" {
			if _, err := tx.ExecContext(ctx, `SELECT setval('sync_outbox_seq_seq', GREATEST($1::bigint, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync_outbox_seq_seq)), $1::bigint > 0 OR (SELECT is_called FROM sync_outbox_seq_seq))`, floor); err != nil {
				return fmt.Errorf("move the outbox sequence: %w", err)
			}
		} else if floor > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) SELECT 'sync_outbox', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sync_outbox')`); err != nil {
				return fmt.Errorf("move the outbox sequence: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'sync_outbox'`, floor); err != nil {
				return fmt.Errorf("move the outbox sequence: %w", err)
			}
		}
		// The persons, then their records, then the corrections, each in
		// the order they were recorded, as they were first queued.
		steps := []struct{ kind, query string }{
			{registry.SyncPerson, `SELECT id, NULL FROM persons WHERE origin = '' ORDER BY created_at, id`},
			{registry.SyncDose, `SELECT v.person_id, v.id FROM vaccinations v JOIN persons p ON p.id = v.person_id WHERE p.origin = '' ORDER BY v.recorded_at, v.id`},
			{registry.SyncTest, `SELECT t.person_id, t.id FROM tests t JOIN persons p ON p.id = t.person_id WHERE p.origin = '' ORDER BY t.recorded_at, t.id`},
			{registry.SyncCorrect, `SELECT v.person_id, v.id FROM vaccinations v JOIN persons p ON p.id = v.person_id WHERE p.origin = '' AND v.status = 'entered-in-error' ORDER BY v.recorded_at, v.id`},
			{registry.SyncCorrect, `SELECT t.person_id, t.id FROM tests t JOIN persons p ON p.id = t.person_id WHERE p.origin = '' AND t.status = 'entered-in-error' ORDER BY t.recorded_at, t.id`},
			{registry.SyncCert, `SELECT c.person_id, c.id FROM certificates c JOIN persons p ON p.id = c.person_id WHERE p.origin = '' ORDER BY c.issued_at, c.id`},
		}
		for _, st := range steps {
			rows, err := tx.QueryContext(ctx, st.query)
			if err != nil {
				return fmt.Errorf("requeue %s: %w", st.kind, err)
			}
			var events []registry.SyncEvent
			for rows.Next() {
				var person, record []byte
				if err := rows.Scan(&person, &record); err != nil {
					rows.Close()
					return err
				}
				ev := registry.SyncEvent{Kind: st.kind, HLC: hlc, At: at}
				copy(ev.PersonID[:], person)
				copy(ev.RecordID[:], record)
				events = append(events, ev)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if err := s.queuePush(ctx, tx, events); err != nil {
				return err
			}
			n += len(events)
		}
		return nil
	})
	return n, s.wrap("requeue sync events", err)
}

// SyncRejects implements registry.SyncStore.
func (s *Store) SyncRejects(ctx context.Context, node string, after, upto int64) ([]registry.SyncReject, error) {
	if err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, `DELETE FROM sync_rejects WHERE node_id = ? AND seq <= ?`, node, after)
		return err
	}); err != nil {
		return nil, s.wrap("forget refusals", err)
	}
	rows, err := s.db.QueryContext(ctx, s.dialect.Rebind(`SELECT seq, code, field, message FROM sync_rejects WHERE node_id = ? AND seq > ? AND seq <= ? ORDER BY seq`), node, after, upto)
	if err != nil {
		return nil, s.wrap("read refusals", err)
	}
	defer rows.Close()
	var out []registry.SyncReject
	for rows.Next() {
		var r registry.SyncReject
		if err := rows.Scan(&r.Seq, &r.Code, &r.Field, &r.Message); err != nil {
			return nil, s.wrap("read refusals", err)
		}
		out = append(out, r)
	}
	return out, s.wrap("read refusals", rows.Err())
}

// LapseFollows implements registry.SyncStore: up to limit follows other
// than a person's home whose last use is before cutoff are removed, each
// with an unfollow event fed to its node, in one transaction.
func (s *Store) LapseFollows(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	n := 0
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, s.dialect.Rebind(`SELECT node_id, person_id FROM sync_follows WHERE home = 0 AND last_used < ? ORDER BY last_used LIMIT ?`),
			micros(cutoff), limit)
		if err != nil {
			return err
		}
		type follow struct {
			node   string
			person registry.ID
		}
		var lapsed []follow
		for rows.Next() {
			var f follow
			var person []byte
			if err := rows.Scan(&f.node, &person); err != nil {
				rows.Close()
				return err
			}
			copy(f.person[:], person)
			lapsed = append(lapsed, f)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(lapsed) == 0 {
			return nil
		}
		var events []registry.SyncEvent
		followers := map[registry.ID][]string{}
		for _, f := range lapsed {
			if _, err := s.txExec(ctx, tx, `DELETE FROM sync_follows WHERE node_id = ? AND person_id = ?`, f.node, f.person[:]); err != nil {
				return err
			}
			if _, ok := followers[f.person]; !ok {
				events = append(events, registry.SyncEvent{Kind: registry.SyncUnfollow, PersonID: f.person})
			}
			followers[f.person] = append(followers[f.person], f.node)
		}
		n = len(lapsed)
		return s.fanOut(ctx, tx, buildPlan(events, followers, ""))
	})
	return n, s.wrap("lapse follows", err)
}
