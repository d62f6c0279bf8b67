package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
)

// ErasePerson implements registry.Store. The wrapped data key and sealed
// fields are overwritten before the row is deleted, and the dialect's
// PostErase statements (SQLite: truncate the WAL; PostgreSQL: vacuum) then
// remove the old page images, so the key does not survive in free space.
//
// Old copies of the row may still survive elsewhere (PostgreSQL's heap and
// WAL keep dead tuples; replicas and backups keep theirs), so in the same
// transaction the erasure asks for the key epoch of the person's data key
// to be retired (key_epochs.retire). Erasure is complete only once the
// vault has destroyed that epoch's key: vault.Rotator.AfterErase does it at
// once, and a running Rotator within its Poll. See
// docs/adr/0004-epoch-keys.md.
func (s *Store) ErasePerson(ctx context.Context, code registry.CardCode, w registry.Write) error {
	_, err := s.create(ctx, "erase person", w, func(tx *sql.Tx) error {
		// On PostgreSQL the row is locked as it is read, so that the key
		// epoch marked below is the one the key is under when the row goes:
		// a rotator rewrapping the row meanwhile finishes first, or finds
		// it gone. (SQLite has one writer.)
		q := `SELECT id, wrapped_key FROM persons WHERE card_code = ?`
		if s.dialect.Name == "postgres" {
			q += ` FOR UPDATE`
		}
		var id, wrapped []byte
		err := s.txQueryRow(ctx, tx, q, string(code)).Scan(&id, &wrapped)
		if errors.Is(err, sql.ErrNoRows) {
			return registry.FieldErrorf(registry.ENOTFOUND, "card_code", "No person has this card code.")
		}
		if err != nil {
			return err
		}
		vs, err := s.queryVaccinations(ctx, tx, true, `WHERE person_id = ?`, id)
		if err != nil {
			return err
		}
		ts, err := s.queryTests(ctx, tx, true, `WHERE person_id = ?`, id)
		if err != nil {
			return err
		}
		numbers := doseNumbers(vs)
		for _, v := range vs {
			if err := s.forgetIdempotency(ctx, tx, v.ID.String()); err != nil {
				return err
			}
			if v.Status != registry.StatusCompleted || v.Site == "" {
				continue
			}
			if err := s.countErased(ctx, tx, "vaccination", v.Site, v.Product, numbers[v.ID], v.Date); err != nil {
				return err
			}
		}
		for _, t := range ts {
			if err := s.forgetIdempotency(ctx, tx, t.ID.String()); err != nil {
				return err
			}
			if t.Status != registry.StatusCompleted {
				continue
			}
			if err := s.countErased(ctx, tx, "test", t.Site, string(t.Kind), 0, t.Date); err != nil {
				return err
			}
		}
		if err := s.forgetIdempotency(ctx, tx, string(code)); err != nil {
			return err
		}
		if err := s.markEpochForRetire(ctx, tx, wrapped); err != nil {
			return err
		}
		// Sync: the person's pending events go (create then queues w.Push,
		// the erase event itself), and a tombstone keeps a late event from
		// bringing the person back. Their follows cascade away with the
		// row; create read them for w.Feed before this write.
		if _, err := s.txExec(ctx, tx, `DELETE FROM sync_outbox WHERE person_id = ?`, id); err != nil {
			return err
		}
		if _, err := s.txExec(ctx, tx, `INSERT INTO sync_tombstones (person_id, erased_on) VALUES (?, ?) ON CONFLICT (person_id) DO NOTHING`,
			id, erasureDay(w).String()); err != nil {
			return err
		}
		// The person's key and fields are cleared before the row is
		// deleted, so that the row version a delete may leave behind (until
		// vacuum) no longer holds them.
		for _, q := range []string{
			`DELETE FROM vaccinations WHERE person_id = ?`,
			`DELETE FROM tests WHERE person_id = ?`,
			`UPDATE persons SET wrapped_key = NULL, sealed = NULL WHERE id = ?`,
			`DELETE FROM persons WHERE id = ?`,
		} {
			if _, err := s.txExec(ctx, tx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, q := range s.dialect.PostErase {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: erase person: %s: %w", s.dialect.Name, q, err)
		}
	}
	return nil
}

// doseNumbers numbers a person's completed doses in the order they were
// given (date, then recording time, then ID), as DoseCounts does for the
// living.
func doseNumbers(vs []registry.Vaccination) map[registry.ID]int {
	done := make([]registry.Vaccination, 0, len(vs))
	for _, v := range vs {
		if v.Status == registry.StatusCompleted {
			done = append(done, v)
		}
	}
	slices.SortFunc(done, func(a, b registry.Vaccination) int {
		return cmp.Or(strings.Compare(a.Date.String(), b.Date.String()), a.RecordedAt.Compare(b.RecordedAt), bytes.Compare(a.ID[:], b.ID[:]))
	})
	out := make(map[registry.ID]int, len(done))
	for i, v := range done {
		out[v.ID] = i + 1
	}
	return out
}

func (s *Store) forgetIdempotency(ctx context.Context, tx *sql.Tx, resource string) error {
	_, err := s.txExec(ctx, tx, `DELETE FROM idempotency WHERE resource_id = ?`, resource)
	return err
}

// monday returns the Monday of d's ISO week.
func monday(d registry.Date) registry.Date {
	t := d.Time()
	return registry.DateOf(t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)))
}

func (s *Store) countErased(ctx context.Context, tx *sql.Tx, kind, site, product string, dose int, d registry.Date) error {
	_, err := s.txExec(ctx, tx, `INSERT INTO erased_counts (kind, site, product, dose_number, week, count)
		VALUES (?, ?, ?, ?, ?, 1)
		ON CONFLICT (kind, site, product, dose_number, week) DO UPDATE SET count = erased_counts.count + 1`,
		kind, site, product, dose, monday(d).String())
	return err
}

// DoseCounts implements registry.Store.
func (s *Store) DoseCounts(ctx context.Context, from, to registry.Date) ([]registry.DoseCount, error) {
	// A dose's number is its place among the person's completed doses by
	// date (then recording time and ID), counted here rather than stored
	// with every dose.
	rows, err := s.db.QueryContext(ctx, s.dialect.Rebind(`
		WITH numbered AS (
			SELECT site, product, dose_date,
				ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY dose_date, recorded_at, id) AS dose_number
			FROM vaccinations WHERE status = ? AND person_id IS NOT NULL)
		SELECT v.site, s.jurisdiction, v.product, v.dose_number, v.dose_date, COUNT(*)
		FROM numbered v JOIN sites s ON s.code = v.site
		WHERE v.dose_date BETWEEN ? AND ?
		GROUP BY v.site, s.jurisdiction, v.product, v.dose_number, v.dose_date
		UNION ALL
		SELECT e.site, s.jurisdiction, e.product, e.dose_number, e.week, e.count
		FROM erased_counts e JOIN sites s ON s.code = e.site
		WHERE e.kind = 'vaccination' AND e.week BETWEEN ? AND ?`),
		registry.StatusCompleted, from.String(), to.String(), monday(from).String(), to.String())
	if err != nil {
		return nil, s.wrap("count doses", err)
	}
	defer rows.Close()
	var out []registry.DoseCount
	for rows.Next() {
		var (
			c   registry.DoseCount
			day string
		)
		if err := rows.Scan(&c.Site, &c.Jurisdiction, &c.Product, &c.DoseNumber, &day, &c.Count); err != nil {
			return nil, s.wrap("count doses", err)
		}
		if c.Date, err = registry.ParseDate(day); err != nil {
			return nil, s.wrap("count doses", err)
		}
		out = append(out, c)
	}
	return out, s.wrap("count doses", rows.Err())
}

// TestCounts implements registry.Store.
func (s *Store) TestCounts(ctx context.Context, from, to registry.Date) ([]registry.TestCount, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.Rebind(`
		SELECT t.site, s.jurisdiction, t.sample_date, COUNT(*)
		FROM tests t JOIN sites s ON s.code = t.site
		WHERE t.status = ? AND t.sample_date BETWEEN ? AND ?
		GROUP BY t.site, s.jurisdiction, t.sample_date
		UNION ALL
		SELECT e.site, s.jurisdiction, e.week, SUM(e.count)
		FROM erased_counts e JOIN sites s ON s.code = e.site
		WHERE e.kind = 'test' AND e.week BETWEEN ? AND ?
		GROUP BY e.site, s.jurisdiction, e.week`),
		registry.StatusCompleted, from.String(), to.String(), monday(from).String(), to.String())
	if err != nil {
		return nil, s.wrap("count tests", err)
	}
	defer rows.Close()
	var out []registry.TestCount
	for rows.Next() {
		var (
			c   registry.TestCount
			day string
		)
		if err := rows.Scan(&c.Site, &c.Jurisdiction, &day, &c.Count); err != nil {
			return nil, s.wrap("count tests", err)
		}
		if c.Date, err = registry.ParseDate(day); err != nil {
			return nil, s.wrap("count tests", err)
		}
		out = append(out, c)
	}
	return out, s.wrap("count tests", rows.Err())
}
