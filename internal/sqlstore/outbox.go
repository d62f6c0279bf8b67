package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/haven-registry/haven/internal/registry"
)

// queueReports appends reports to the outbox in tx, in order.
func (s *Store) queueReports(ctx context.Context, tx *sql.Tx, reports []registry.Report) error {
	for _, r := range reports {
		if _, err := s.txExec(ctx, tx, `INSERT INTO outbox (person_id, record_id, deleted, queued_at) VALUES (?, ?, ?, ?)`,
			r.PersonID[:], r.RecordID[:], boolInt(r.Deleted), micros(r.At)); err != nil {
			return s.personMissing(err)
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const outboxColumns = `o.seq, o.person_id, o.record_id, o.deleted, o.queued_at, o.attempts, o.last_error, o.failed, p.card_code`

func (s *Store) queryOutbox(ctx context.Context, where string, args ...any) ([]registry.OutboxItem, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.Rebind(`SELECT `+outboxColumns+` FROM outbox o JOIN persons p ON p.id = o.person_id `+where), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []registry.OutboxItem
	for rows.Next() {
		var (
			it              registry.OutboxItem
			person, record  []byte
			deleted, failed int
			queued          int64
			card            string
		)
		if err := rows.Scan(&it.Seq, &person, &record, &deleted, &queued, &it.Attempts, &it.LastError, &failed, &card); err != nil {
			return nil, err
		}
		copy(it.Report.PersonID[:], person)
		copy(it.Report.RecordID[:], record)
		it.Report.Deleted, it.Failed = deleted == 1, failed == 1
		it.QueuedAt, it.Card = fromMicros(queued), registry.CardCode(card)
		out = append(out, it)
	}
	return out, rows.Err()
}

// PendingReports implements registry.Store.
func (s *Store) PendingReports(ctx context.Context, limit int) ([]registry.OutboxItem, error) {
	items, err := s.queryOutbox(ctx, `WHERE o.failed = 0 ORDER BY o.seq LIMIT ?`, limit)
	return items, s.wrap("pending reports", err)
}

// ListOutbox implements registry.Store.
func (s *Store) ListOutbox(ctx context.Context, limit int) ([]registry.OutboxItem, error) {
	items, err := s.queryOutbox(ctx, `ORDER BY o.seq LIMIT ?`, limit)
	return items, s.wrap("list outbox", err)
}

// SettleReport implements registry.Store.
func (s *Store) SettleReport(ctx context.Context, seq int64, o registry.ReportOutcome) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		var (
			res sql.Result
			err error
		)
		switch {
		case o.Sent:
			res, err = s.txExec(ctx, tx, `DELETE FROM outbox WHERE seq = ?`, seq)
		default:
			res, err = s.txExec(ctx, tx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, failed = ? WHERE seq = ?`,
				o.Error, boolInt(o.Failed), seq)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return registry.Errorf(registry.ENOTFOUND, "No report %d in the outbox.", seq)
		}
		return nil
	})
	return s.wrap("settle report", err)
}

// RetryReport implements registry.Store.
func (s *Store) RetryReport(ctx context.Context, seq int64) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `UPDATE outbox SET failed = 0 WHERE seq = ?`, seq)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return registry.Errorf(registry.ENOTFOUND, "No report %d in the outbox.", seq)
		}
		return nil
	})
	return s.wrap("retry report", err)
}

// OutboxStatus implements registry.Store.
func (s *Store) OutboxStatus(ctx context.Context) (registry.OutboxStatus, error) {
	var (
		st     registry.OutboxStatus
		oldest sql.NullInt64
	)
	err := s.queryRow(ctx, `SELECT
		COALESCE(SUM(CASE WHEN failed = 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(failed), 0),
		MIN(CASE WHEN failed = 0 THEN queued_at END)
		FROM outbox`).Scan(&st.Pending, &st.Failed, &oldest)
	if err != nil {
		return st, s.wrap("outbox status", err)
	}
	if oldest.Valid {
		st.Oldest = fromMicros(oldest.Int64)
	}
	err = s.queryRow(ctx, `SELECT last_error FROM outbox WHERE last_error <> '' ORDER BY attempts DESC, seq DESC LIMIT 1`).Scan(&st.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return st, s.wrap("outbox status", err)
}
