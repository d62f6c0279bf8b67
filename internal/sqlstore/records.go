package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// create runs write in a transaction together with storing w.Idem and
// appending w.Audit. If the idempotency key was stored before, it writes
// nothing and returns the earlier entry (or EIDEMPOTENCY if the earlier
// request differed).
//
// The sync fields of w run in the same transaction (sync.go): w.Cursor's
// compare-and-set first, then the followers of w.Feed's persons are read
// (before write, which may erase the person and with them their follows),
// and after write, w.Push is queued in the sync outbox, w.Reports in the
// IIS outbox, and w.Feed fanned out to the followers' feeds. A Write
// without them costs nothing more.
func (s *Store) create(ctx context.Context, op string, w registry.Write, write func(tx *sql.Tx) error) (*registry.Idempotency, error) {
	var replay *registry.Idempotency
	idem := w.Idem
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		replay = nil
		if w.Cursor != nil {
			if err := s.advanceCursor(ctx, tx, *w.Cursor); err != nil {
				return err
			}
		}
		if idem != nil {
			res, err := s.txExec(ctx, tx, `INSERT INTO idempotency (scope, key, request_hash, kind, resource_id, created_at)
				 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING`,
				idem.Scope, idem.Key, idem.RequestHash, idem.Kind, idem.ResourceID, micros(idem.CreatedAt))
			if err != nil {
				return fmt.Errorf("store idempotency key: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("store idempotency key: %w", err)
			} else if n == 0 {
				prev, err := s.findIdempotency(ctx, tx, idem.Scope, idem.Key)
				if err != nil {
					return err
				}
				if !bytes.Equal(prev.RequestHash, idem.RequestHash) || prev.Kind != idem.Kind {
					return registry.FieldErrorf(registry.EIDEMPOTENCY, "Idempotency-Key",
						"This Idempotency-Key was already used for a different request.")
				}
				replay = prev
				return nil
			}
		}
		var feed *feedPlan
		if len(w.Feed) > 0 {
			var err error
			if feed, err = s.planFeed(ctx, tx, w.Feed, w.FeedExcept); err != nil {
				return err
			}
		}
		if err := write(tx); err != nil {
			return err
		}
		if err := s.queuePush(ctx, tx, w.Push); err != nil {
			return err
		}
		if err := s.queueReports(ctx, tx, w.Reports); err != nil {
			return err
		}
		if feed != nil {
			if err := s.fanOut(ctx, tx, feed); err != nil {
				return err
			}
		}
		if w.Audit != nil {
			return s.appendAudit(ctx, tx, *w.Audit)
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return replay, nil
}

// wrap adds the dialect and operation to err, keeping application errors'
// codes reachable through errors.As.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var appErr *registry.Error
	if errors.As(err, &appErr) {
		return err
	}
	if s.dialect.IsUniqueViolation(err) {
		return &registry.Error{Code: registry.ECONFLICT, Message: "The record already exists.", Err: err}
	}
	if s.dialect.IsDiskFull != nil && s.dialect.IsDiskFull(err) {
		return &registry.Error{Code: registry.EDISKFULL, Message: "The disk is full; nothing was saved. Free space, then save again.",
			Err: fmt.Errorf("%s: %s: %w", s.dialect.Name, op, err)}
	}
	if unavailable(s.dialect, err) {
		return &registry.Error{Code: registry.EUNAVAILABLE, Message: "The database cannot be reached or cannot write now; try again shortly.",
			Err: fmt.Errorf("%s: %s: %w", s.dialect.Name, op, err)}
	}
	return fmt.Errorf("%s: %s: %w", s.dialect.Name, op, err)
}

// unavailable reports whether err is a storage failure that may pass: the
// dialect's own (full disk, I/O error, lost connection), a connection
// database/sql gave up on, a closed database, or a deadline.
func unavailable(d Dialect, err error) bool {
	switch {
	case d.IsUnavailable != nil && d.IsUnavailable(err),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return strings.Contains(err.Error(), "sql: database is closed")
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) findIdempotency(ctx context.Context, q querier, scope, key string) (*registry.Idempotency, error) {
	var (
		e       = registry.Idempotency{Scope: scope, Key: key}
		created int64
	)
	err := q.QueryRowContext(ctx, s.dialect.Rebind(
		`SELECT request_hash, kind, resource_id, created_at FROM idempotency WHERE scope = ? AND key = ?`),
		scope, key).Scan(&e.RequestHash, &e.Kind, &e.ResourceID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.Errorf(registry.ENOTFOUND, "Idempotency key not found.")
	}
	if err != nil {
		return nil, fmt.Errorf("find idempotency key: %w", err)
	}
	e.CreatedAt = fromMicros(created)
	return &e, nil
}

// FindIdempotency implements registry.Store.
func (s *Store) FindIdempotency(ctx context.Context, scope, key string) (*registry.Idempotency, error) {
	e, err := s.findIdempotency(ctx, s.db, scope, key)
	return e, s.wrap("find idempotency key", err)
}

// CreatePerson implements registry.Store.
func (s *Store) CreatePerson(ctx context.Context, p registry.SealedPerson, w registry.Write) (*registry.Idempotency, error) {
	return s.create(ctx, "create person", w, func(tx *sql.Tx) error {
		return s.insertPerson(ctx, tx, p)
	})
}

func (s *Store) insertPerson(ctx context.Context, tx *sql.Tx, p registry.SealedPerson) error {
	_, err := s.txExec(ctx, tx, `INSERT INTO persons (id, card_code, created_at, wrapped_key, sealed, source_ref, origin) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.ID[:], string(p.CardCode), micros(p.CreatedAt), p.WrappedKey, p.Sealed, nullString(p.SourceRef), p.Origin)
	if s.dialect.IsUniqueViolation(err) && p.SourceRef != "" {
		return registry.FieldErrorf(registry.ECONFLICT, "source_ref", "A person with this source reference is already registered.")
	}
	return err
}

// UpdatePerson implements registry.Store.
func (s *Store) UpdatePerson(ctx context.Context, p registry.SealedPerson, w registry.Write) (*registry.Idempotency, error) {
	return s.create(ctx, "update person", w, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `UPDATE persons SET sealed = ? WHERE id = ? AND wrapped_key IS NOT NULL`, p.Sealed, p.ID[:])
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return registry.Errorf(registry.ENOTFOUND, "Person not found.")
		}
		return nil
	})
}

const personColumns = `id, card_code, created_at, wrapped_key, sealed, source_ref, origin`

func scanPerson(row interface{ Scan(...any) error }) (*registry.SealedPerson, error) {
	var (
		p       registry.SealedPerson
		id      []byte
		code    string
		created int64
		ref     sql.NullString
	)
	if err := row.Scan(&id, &code, &created, &p.WrappedKey, &p.Sealed, &ref, &p.Origin); err != nil {
		return nil, err
	}
	p.SourceRef = ref.String
	copy(p.ID[:], id)
	p.CardCode = registry.CardCode(code)
	p.CreatedAt = fromMicros(created)
	return &p, nil
}

// FindPerson implements registry.Store.
func (s *Store) FindPerson(ctx context.Context, code registry.CardCode) (*registry.SealedPerson, error) {
	p, err := scanPerson(s.queryRow(ctx, `SELECT `+personColumns+` FROM persons WHERE card_code = ?`, string(code)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.Errorf(registry.ENOTFOUND, "Person not found.")
	}
	return p, s.wrap("find person", err)
}

// FindPersonBySourceRef implements registry.Store.
func (s *Store) FindPersonBySourceRef(ctx context.Context, ref string) (*registry.SealedPerson, error) {
	p, err := scanPerson(s.queryRow(ctx, `SELECT `+personColumns+` FROM persons WHERE source_ref = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.Errorf(registry.ENOTFOUND, "Person not found.")
	}
	return p, s.wrap("find person by source", err)
}

// ExpireIdempotency implements registry.Store.
func (s *Store) ExpireIdempotency(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	var n int64
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `DELETE FROM idempotency WHERE (scope, key) IN
			(SELECT scope, key FROM idempotency WHERE created_at < ? ORDER BY created_at LIMIT ?)`, micros(cutoff), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, s.wrap("expire idempotency keys", err)
}

// FindRecord implements registry.Store. It reads in one transaction so the
// person and their records are a consistent snapshot.
func (s *Store) FindRecord(ctx context.Context, code registry.CardCode) (*registry.SealedRecord, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.dialect.Name == "postgres"})
	if err != nil {
		return nil, s.wrap("find record", err)
	}
	defer tx.Rollback()
	st, err := s.stmtIn(ctx, tx, &s.readStmts, s.db, `SELECT `+personColumns+` FROM persons WHERE card_code = ?`)
	if err != nil {
		return nil, s.wrap("find record", err)
	}
	p, err := scanPerson(st.QueryRowContext(ctx, string(code)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.Errorf(registry.ENOTFOUND, "Person not found.")
	}
	if err != nil {
		return nil, s.wrap("find record", err)
	}
	rec := &registry.SealedRecord{Person: *p}
	if rec.Vaccinations, err = s.queryVaccinations(ctx, tx, false, `WHERE person_id = ? ORDER BY dose_date, recorded_at, id`, p.ID[:]); err != nil {
		return nil, s.wrap("find record", err)
	}
	if rec.Tests, err = s.queryTests(ctx, tx, false, `WHERE person_id = ? ORDER BY sample_date, recorded_at, id`, p.ID[:]); err != nil {
		return nil, s.wrap("find record", err)
	}
	return rec, nil
}

const vaccinationColumns = `id, person_id, product, dose_date, site, lot, source, payment_kind, payment_amount,
	payment_currency, recorded_at, status, replaces, replaced_by, status_reason, source_ref`

// FindVaccinations implements registry.Store.
func (s *Store) FindVaccinations(ctx context.Context, personID registry.ID) ([]registry.Vaccination, error) {
	vs, err := s.queryVaccinations(ctx, nil, false, `WHERE person_id = ? ORDER BY dose_date, recorded_at, id`, personID[:])
	return vs, s.wrap("find vaccinations", err)
}

// query runs a read prepared once: on the read pool when tx is nil, else in
// tx, a transaction of the write pool when write is set (of the read pool
// otherwise).
func (s *Store) query(ctx context.Context, tx *sql.Tx, write bool, query string, args ...any) (*sql.Rows, error) {
	if tx != nil {
		cache, db := &s.readStmts, s.db
		if write {
			cache, db = &s.txStmts, s.writeDB
		}
		st, err := s.stmtIn(ctx, tx, cache, db, query)
		if err != nil {
			return nil, err
		}
		return st.QueryContext(ctx, args...)
	}
	st, err := s.prepared(ctx, &s.readStmts, s.db, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (s *Store) queryVaccinations(ctx context.Context, tx *sql.Tx, write bool, where string, args ...any) ([]registry.Vaccination, error) {
	rows, err := s.query(ctx, tx, write, `SELECT `+vaccinationColumns+` FROM vaccinations `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []registry.Vaccination
	for rows.Next() {
		var (
			v                     registry.Vaccination
			id, person, rep, repd []byte
			date, source          string
			recorded              int64
			ref                   sql.NullString
		)
		if err := rows.Scan(&id, &person, &v.Product, &date, &v.Site, &v.Lot, &source, &v.Payment.Kind,
			&v.Payment.Amount, &v.Payment.Currency, &recorded, &v.Status, &rep, &repd, &v.StatusReason, &ref); err != nil {
			return nil, err
		}
		v.SourceRef = ref.String
		copy(v.ID[:], id)
		copy(v.PersonID[:], person)
		copy(v.Replaces[:], rep)
		copy(v.ReplacedBy[:], repd)
		if v.Date, err = registry.ParseDate(date); err != nil {
			return nil, fmt.Errorf("vaccination %x: dose date: %w", id, err)
		}
		v.Source = registry.Source(source)
		v.RecordedAt = fromMicros(recorded)
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *Store) queryTests(ctx context.Context, tx *sql.Tx, write bool, where string, args ...any) ([]registry.Test, error) {
	rows, err := s.query(ctx, tx, write,
		`SELECT id, person_id, kind, result, sample_date, site, recorded_at, status, replaces, replaced_by, source_ref FROM tests `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []registry.Test
	for rows.Next() {
		var (
			t                     registry.Test
			id, person, rep, repd []byte
			kind, result, date    string
			recorded              int64
			ref                   sql.NullString
		)
		if err := rows.Scan(&id, &person, &kind, &result, &date, &t.Site, &recorded, &t.Status, &rep, &repd, &ref); err != nil {
			return nil, err
		}
		t.SourceRef = ref.String
		copy(t.ID[:], id)
		copy(t.PersonID[:], person)
		copy(t.Replaces[:], rep)
		copy(t.ReplacedBy[:], repd)
		if t.Date, err = registry.ParseDate(date); err != nil {
			return nil, fmt.Errorf("test %x: sample date: %w", id, err)
		}
		t.Kind, t.Result = registry.TestKind(kind), registry.TestResult(result)
		t.RecordedAt = fromMicros(recorded)
		out = append(out, t)
	}
	return out, rows.Err()
}

// nullID stores the zero ID as NULL.
func nullID(id registry.ID) any {
	if id == (registry.ID{}) {
		return nil
	}
	return id[:]
}

// personMissing turns a foreign-key violation on person_id into ENOTFOUND:
// the person does not exist (or was erased).
func (s *Store) personMissing(err error) error {
	if err != nil && s.dialect.IsForeignKeyViolation(err) {
		return registry.FieldErrorf(registry.ENOTFOUND, "card_code", "Person not found.")
	}
	return err
}

// RecordVaccination implements registry.Store.
func (s *Store) RecordVaccination(ctx context.Context, v registry.Vaccination, w registry.Write) (*registry.Idempotency, error) {
	return s.create(ctx, "record vaccination", w, func(tx *sql.Tx) error {
		return s.insertVaccination(ctx, tx, v)
	})
}

// insertVaccination stores v.
func (s *Store) insertVaccination(ctx context.Context, tx *sql.Tx, v registry.Vaccination) error {
	return s.insertVaccinationOr(ctx, tx, v, "")
}

// Conflict clauses for insertVaccinationOr and insertTestOr.
const (
	// skipSameID skips a record whose ID is stored (a resend); any other
	// conflict (a source reference) is still an error.
	skipSameID = ` ON CONFLICT (id) DO NOTHING`
	// skipAnyConflict skips a record that clashes with a stored one on
	// its ID or its source reference.
	skipAnyConflict = ` ON CONFLICT DO NOTHING`
)

// insertVaccinationOr stores v, with the conflict clause onConflict ("",
// skipSameID or skipAnyConflict).
func (s *Store) insertVaccinationOr(ctx context.Context, tx *sql.Tx, v registry.Vaccination, onConflict string) error {
	_, err := s.txExec(ctx, tx, `INSERT INTO vaccinations (`+vaccinationColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`+onConflict,
		v.ID[:], v.PersonID[:], v.Product, v.Date.String(), v.Site, v.Lot, string(v.Source), v.Payment.Kind,
		v.Payment.Amount, v.Payment.Currency, micros(v.RecordedAt), v.Status, nullID(v.Replaces), nullID(v.ReplacedBy),
		v.StatusReason, nullString(v.SourceRef))
	if s.dialect.IsUniqueViolation(err) && v.SourceRef != "" {
		return registry.FieldErrorf(registry.ECONFLICT, "source_ref", "A record with this source reference is already stored.")
	}
	return s.personMissing(err)
}

// nullString stores "" as NULL.
func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// FindVaccination implements registry.Store.
func (s *Store) FindVaccination(ctx context.Context, id registry.ID) (*registry.Vaccination, error) {
	vs, err := s.queryVaccinations(ctx, nil, false, `WHERE id = ?`, id[:])
	if err != nil {
		return nil, s.wrap("find vaccination", err)
	}
	if len(vs) == 0 {
		return nil, registry.Errorf(registry.ENOTFOUND, "Vaccination not found.")
	}
	return &vs[0], nil
}

// RecordTest implements registry.Store.
func (s *Store) RecordTest(ctx context.Context, t registry.Test, w registry.Write) (*registry.Idempotency, error) {
	return s.create(ctx, "record test", w, func(tx *sql.Tx) error {
		return s.insertTest(ctx, tx, t)
	})
}

func (s *Store) insertTest(ctx context.Context, tx *sql.Tx, t registry.Test) error {
	return s.insertTestOr(ctx, tx, t, "")
}

// insertTestOr is insertVaccinationOr for a test.
func (s *Store) insertTestOr(ctx context.Context, tx *sql.Tx, t registry.Test, onConflict string) error {
	_, err := s.txExec(ctx, tx, `INSERT INTO tests
		(id, person_id, kind, result, sample_date, site, recorded_at, status, replaces, replaced_by, source_ref)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`+onConflict,
		t.ID[:], t.PersonID[:], string(t.Kind), string(t.Result), t.Date.String(), t.Site, micros(t.RecordedAt),
		t.Status, nullID(t.Replaces), nullID(t.ReplacedBy), nullString(t.SourceRef))
	if s.dialect.IsUniqueViolation(err) && t.SourceRef != "" {
		return registry.FieldErrorf(registry.ECONFLICT, "source_ref", "A record with this source reference is already stored.")
	}
	return s.personMissing(err)
}

// RecordHistory implements registry.Store. Corrections are applied before
// the new records are stored, so that a record replacing one with the same
// source reference (an HL7 update) does not collide with it.
func (s *Store) RecordHistory(ctx context.Context, h registry.History, w registry.Write) (*registry.Idempotency, error) {
	return s.create(ctx, "record history", w, func(tx *sql.Tx) error {
		if p := h.NewPerson; p != nil {
			if err := s.insertPerson(ctx, tx, *p); err != nil {
				return err
			}
		}
		if err := s.applyCorrections(ctx, tx, h.PersonID, h.Corrections, false); err != nil {
			return err
		}
		for _, v := range h.Vaccinations {
			if err := s.insertVaccination(ctx, tx, v); err != nil {
				return err
			}
		}
		for _, t := range h.Tests {
			if err := s.insertTest(ctx, tx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// applyCorrections marks the records of cs entered in error, each linked
// to its replacement (stored later in the same batch). A record already
// marked is ECONFLICT, or skipped when skipMarked is set.
func (s *Store) applyCorrections(ctx context.Context, tx *sql.Tx, personID registry.ID, cs []registry.Correction, skipMarked bool) error {
	for _, c := range cs {
		if err := s.markEnteredInError(ctx, tx, personID, c.RecordID, registry.ID{}); err != nil {
			var appErr *registry.Error
			if skipMarked && errors.As(err, &appErr) && appErr.Code == registry.ECONFLICT && appErr.Field == "record" {
				continue
			}
			return err
		}
		if c.Replacement != (registry.ID{}) {
			for _, table := range []string{"vaccinations", "tests"} {
				if _, err := s.txExec(ctx, tx, `UPDATE `+table+` SET replaced_by = ? WHERE id = ?`, c.Replacement[:], c.RecordID[:]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// FindTest implements registry.Store.
func (s *Store) FindTest(ctx context.Context, id registry.ID) (*registry.Test, error) {
	ts, err := s.queryTests(ctx, nil, false, `WHERE id = ?`, id[:])
	if err != nil {
		return nil, s.wrap("find test", err)
	}
	if len(ts) == 0 {
		return nil, registry.Errorf(registry.ENOTFOUND, "Test not found.")
	}
	return &ts[0], nil
}

// MarkEnteredInError implements registry.Store. The record may be a
// vaccination or a test; a replacement must be of the same kind and person.
func (s *Store) MarkEnteredInError(ctx context.Context, personID, recordID, replacement registry.ID, w registry.Write) (*registry.Idempotency, error) {
	return s.create(ctx, "mark entered in error", w, func(tx *sql.Tx) error {
		return s.markEnteredInError(ctx, tx, personID, recordID, replacement)
	})
}

func (s *Store) markEnteredInError(ctx context.Context, tx *sql.Tx, personID, recordID, replacement registry.ID) error {
	for _, table := range []string{"vaccinations", "tests"} {
		var status string
		err := s.txQueryRow(ctx, tx, `SELECT status FROM `+table+` WHERE id = ? AND person_id = ?`,
			recordID[:], personID[:]).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		if status == registry.StatusEnteredInError {
			return registry.FieldErrorf(registry.ECONFLICT, "record", "The record is already marked entered in error.")
		}
		if replacement != (registry.ID{}) {
			res, err := s.txExec(ctx, tx, `UPDATE `+table+` SET replaces = ?
				WHERE id = ? AND person_id = ? AND replaces IS NULL AND status <> ?`,
				recordID[:], replacement[:], personID[:], registry.StatusEnteredInError)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return registry.FieldErrorf(registry.EINVALID, "replaced_by",
					"The replacement must be a current record of the same kind for the same person.")
			}
		}
		_, err = s.txExec(ctx, tx, `UPDATE `+table+` SET status = ?, replaced_by = ? WHERE id = ?`,
			registry.StatusEnteredInError, nullID(replacement), recordID[:])
		return err
	}
	return registry.FieldErrorf(registry.ENOTFOUND, "record", "Record not found for this person.")
}

// CreateSite implements registry.Store.
func (s *Store) CreateSite(ctx context.Context, site registry.Site, w registry.Write) (*registry.Idempotency, error) {
	return s.create(ctx, "create site", w, func(tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, `INSERT INTO sites (code, name, jurisdiction, services, created_at) VALUES (?, ?, ?, ?, ?)`,
			site.Code, site.Name, site.Jurisdiction, joinList(site.Services), micros(site.CreatedAt))
		if s.dialect.IsUniqueViolation(err) {
			return registry.FieldErrorf(registry.ECONFLICT, "code", "A site with this code already exists.")
		}
		return err
	})
}

func (s *Store) querySites(ctx context.Context, where string, args ...any) ([]registry.Site, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.Rebind(
		`SELECT code, name, jurisdiction, services, created_at FROM sites `+where), args...)
	if err != nil {
		return nil, s.wrap("query sites", err)
	}
	defer rows.Close()
	var out []registry.Site
	for rows.Next() {
		var (
			site     registry.Site
			services string
			created  int64
		)
		if err := rows.Scan(&site.Code, &site.Name, &site.Jurisdiction, &services, &created); err != nil {
			return nil, s.wrap("query sites", err)
		}
		site.Services, site.CreatedAt = splitList(services), fromMicros(created)
		out = append(out, site)
	}
	return out, s.wrap("query sites", rows.Err())
}

// FindSite implements registry.Store.
func (s *Store) FindSite(ctx context.Context, code string) (*registry.Site, error) {
	sites, err := s.querySites(ctx, `WHERE code = ?`, code)
	if err != nil {
		return nil, err
	}
	if len(sites) == 0 {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "site", "Site %q not found.", code)
	}
	return &sites[0], nil
}

// ListSites implements registry.Store.
func (s *Store) ListSites(ctx context.Context) ([]registry.Site, error) {
	return s.querySites(ctx, `ORDER BY code`)
}

// CreateToken implements registry.Store.
func (s *Store) CreateToken(ctx context.Context, t registry.Token, w registry.Write) error {
	_, err := s.create(ctx, "create token", w, func(tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, `INSERT INTO tokens (id, hash, role, sites, created_at, label) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.Hash, string(t.Role), joinList(t.Sites), micros(t.CreatedAt), t.Label)
		return err
	})
	return err
}

// ListTokens implements registry.Store.
func (s *Store) ListTokens(ctx context.Context) ([]registry.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, hash, role, sites, created_at, label FROM tokens ORDER BY id`)
	if err != nil {
		return nil, s.wrap("list tokens", err)
	}
	defer rows.Close()
	var out []registry.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, s.wrap("list tokens", err)
		}
		out = append(out, *t)
	}
	return out, s.wrap("list tokens", rows.Err())
}

// RevokeToken implements registry.Store.
func (s *Store) RevokeToken(ctx context.Context, id string, w registry.Write) error {
	_, err := s.create(ctx, "revoke token", w, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `DELETE FROM tokens WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return registry.FieldErrorf(registry.ENOTFOUND, "id", "No token has this ID.")
		}
		return nil
	})
	return err
}

func scanToken(row interface{ Scan(...any) error }) (*registry.Token, error) {
	var (
		t           registry.Token
		role, sites string
		created     int64
	)
	if err := row.Scan(&t.ID, &t.Hash, &role, &sites, &created, &t.Label); err != nil {
		return nil, err
	}
	t.Role, t.Sites, t.CreatedAt = registry.Role(role), splitList(sites), fromMicros(created)
	return &t, nil
}

// FindTokenByHash implements registry.Store.
func (s *Store) FindTokenByHash(ctx context.Context, hash []byte) (*registry.Token, error) {
	t, err := scanToken(s.queryRow(ctx, `SELECT id, hash, role, sites, created_at, label FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.Errorf(registry.ENOTFOUND, "Token not found.")
	}
	if err != nil {
		return nil, s.wrap("find token", err)
	}
	return t, nil
}
