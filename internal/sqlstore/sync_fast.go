package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// A push is first applied the fast way: the persons of the whole batch are
// locked, and their follows and tombstones read, a few statements for the
// batch rather than several for each person, and the parts are written
// without savepoints. A part that the batch's reads refuse (an unknown
// person, one the node does not follow, one erased here) is refused before
// anything of it is written. Any other failure abandons the fast way, and
// the batch is applied again the careful way, a savepoint per person (see
// ApplyPush), so the outcome is the same either way.

// errSlowPath abandons the fast way of applying a push.
var errSlowPath = errors.New("sqlstore: the push needs a savepoint per person")

// inChunk bounds the IDs of one IN list.
const inChunk = 500

// idsIn runs query (with one %s for an IN list) for ids, a chunk at a
// time, with args before the list, and calls row for each row.
func (s *Store) idsIn(ctx context.Context, tx *sql.Tx, query string, args []any, ids []registry.ID, row func(*sql.Rows) error) error {
	for start := 0; start < len(ids); start += inChunk {
		chunk := ids[start:min(start+inChunk, len(ids))]
		all := append([]any(nil), args...)
		for i := range chunk {
			all = append(all, chunk[i][:])
		}
		q := fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", "))
		rows, err := tx.QueryContext(ctx, s.dialect.Rebind(q), all...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := row(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// applyPushFast writes p's parts the fast way and returns the indexes of
// the parts applied and the followers of their persons (the pushing node
// included). It returns errSlowPath (wrapped) when the careful way must
// be taken; the caller's transaction is then rolled back.
func (s *Store) applyPushFast(ctx context.Context, tx *sql.Tx, p registry.PushApply, out *registry.PushOutcome) ([]int, map[registry.ID][]string, error) {
	c := p.Cursor
	pids := make([]registry.ID, len(p.Persons))
	var uniq []registry.ID
	seen := map[registry.ID]bool{}
	for i := range p.Persons {
		h := &p.Persons[i].History
		pid := h.PersonID
		if pid == (registry.ID{}) && h.NewPerson != nil {
			pid = h.NewPerson.ID
		}
		if h.NewPerson != nil && h.NewPerson.ID != pid {
			return nil, nil, errSlowPath
		}
		if r := p.Persons[i].Audit; r != (registry.AuditRecord{}) {
			if (audit.Record{Actor: r.Actor, Role: r.Role, Action: r.Action, Purpose: r.Purpose, Subject: r.Subject}).Validate() != nil {
				return nil, nil, errSlowPath
			}
		}
		pids[i] = pid
		if !seen[pid] {
			seen[pid] = true
			uniq = append(uniq, pid)
		}
	}
	lock := `SELECT id FROM persons WHERE id IN (%s)`
	if s.postgres() {
		lock += ` FOR SHARE`
	}
	exists := map[registry.ID]bool{}
	if err := s.idsIn(ctx, tx, lock, nil, uniq, func(r *sql.Rows) error {
		var b []byte
		err := r.Scan(&b)
		exists[registry.ID(b)] = true
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("lock persons: %w", err)
	}
	followers := map[registry.ID][]string{}
	if err := s.idsIn(ctx, tx, `SELECT person_id, node_id FROM sync_follows WHERE person_id IN (%s) ORDER BY node_id`, nil, uniq, func(r *sql.Rows) error {
		var b []byte
		var node string
		err := r.Scan(&b, &node)
		followers[registry.ID(b)] = append(followers[registry.ID(b)], node)
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("read followers: %w", err)
	}
	var fresh []registry.ID
	for i := range p.Persons {
		if pp := &p.Persons[i]; pp.Home && pp.History.NewPerson != nil && !exists[pids[i]] {
			fresh = append(fresh, pids[i])
		}
	}
	erased := map[registry.ID]bool{}
	if err := s.idsIn(ctx, tx, `SELECT person_id FROM sync_tombstones WHERE person_id IN (%s)`, nil, fresh, func(r *sql.Rows) error {
		var b []byte
		err := r.Scan(&b)
		erased[registry.ID(b)] = true
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("read tombstones: %w", err)
	}

	slow := func(err error) ([]int, map[registry.ID][]string, error) {
		return nil, nil, fmt.Errorf("%w: %w", errSlowPath, err)
	}
	var (
		applied []int
		used    []registry.ID
		doses   []registry.Vaccination // inserted a few hundred a statement
	)
	flush := func() error {
		err := s.insertVaccinations(ctx, tx, doses)
		doses = doses[:0]
		return err
	}
	for i := range p.Persons {
		pp, pid := &p.Persons[i], pids[i]
		h := &pp.History
		if pp.Home && h.NewPerson != nil && !exists[pid] {
			if erased[pid] {
				out.Rejected[i] = registry.FieldErrorf(registry.ECONFLICT, "person", "This person was erased at the central.")
				continue
			}
			if err := s.insertPerson(ctx, tx, *h.NewPerson); err != nil {
				return slow(err)
			}
			if _, err := s.txExec(ctx, tx, `INSERT INTO sync_follows (node_id, person_id, home, last_used) VALUES (?, ?, 1, ?)
				ON CONFLICT (node_id, person_id) DO UPDATE SET home = 1`, c.Node, pid[:], micros(c.At)); err != nil {
				return slow(err)
			}
			exists[pid] = true
			followers[pid] = append(followers[pid], c.Node)
			slices.Sort(followers[pid])
		} else {
			if !exists[pid] {
				out.Rejected[i] = registry.FieldErrorf(registry.ENOTFOUND, "person", "Person not found.")
				continue
			}
			if !slices.Contains(followers[pid], c.Node) {
				out.Rejected[i] = registry.FieldErrorf(registry.EFORBIDDEN, "person", "This clinic does not follow this person.")
				continue
			}
			used = append(used, pid)
		}
		if len(h.Corrections) > 0 {
			// A correction may name a dose of an earlier part.
			if err := flush(); err != nil {
				return slow(err)
			}
			if err := s.applyCorrections(ctx, tx, pid, h.Corrections, true); err != nil {
				return slow(err)
			}
		}
		for _, v := range h.Vaccinations {
			if v.PersonID != pid {
				return slow(errors.New("a record of another person"))
			}
			doses = append(doses, v)
		}
		for _, t := range h.Tests {
			if t.PersonID != pid {
				return slow(errors.New("a record of another person"))
			}
			if err := s.insertTestOr(ctx, tx, t, skipSameID); err != nil {
				return slow(err)
			}
		}
		for _, ct := range h.Certificates {
			if ct.PersonID != pid {
				return slow(errors.New("a certificate of another person"))
			}
			if err := s.insertCertificate(ctx, tx, ct, true); err != nil {
				return slow(err)
			}
		}
		if u := pp.Update; u != nil {
			if u.ID != pid && u.ID != (registry.ID{}) {
				return slow(errors.New("an edit of another person"))
			}
			if _, err := s.txExec(ctx, tx, `UPDATE persons SET sealed = ? WHERE id = ?`, u.Sealed, pid[:]); err != nil {
				return slow(err)
			}
		}
		if err := s.queueReports(ctx, tx, pp.Reports); err != nil {
			return slow(err)
		}
		applied = append(applied, i)
	}
	if err := flush(); err != nil {
		return slow(err)
	}
	if err := s.idsIn(ctx, tx, `UPDATE sync_follows SET last_used = ? WHERE node_id = ? AND last_used < ? AND person_id IN (%s)`,
		[]any{micros(c.At), c.Node, micros(c.At)}, used, func(*sql.Rows) error { return nil }); err != nil {
		return slow(err)
	}
	return applied, followers, nil
}

// dosesPerInsert bounds the rows of one multi-row insert (16 parameters a
// row, well below either database's limit).
const dosesPerInsert = 250

// insertVaccinations inserts vs, several rows a statement; a dose whose ID
// is stored already is skipped (a resent push). Any other clash fails.
func (s *Store) insertVaccinations(ctx context.Context, tx *sql.Tx, vs []registry.Vaccination) error {
	for start := 0; start < len(vs); start += dosesPerInsert {
		chunk := vs[start:min(start+dosesPerInsert, len(vs))]
		var b strings.Builder
		b.WriteString(`INSERT INTO vaccinations (` + vaccinationColumns + `) VALUES `)
		args := make([]any, 0, 16*len(chunk))
		for i, v := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, v.ID[:], v.PersonID[:], v.Product, v.Date.String(), v.Site, v.Lot, string(v.Source), v.Payment.Kind,
				v.Payment.Amount, v.Payment.Currency, micros(v.RecordedAt), v.Status, nullID(v.Replaces), nullID(v.ReplacedBy),
				v.StatusReason, nullString(v.SourceRef))
		}
		b.WriteString(skipSameID)
		if _, err := tx.ExecContext(ctx, s.dialect.Rebind(b.String()), args...); err != nil {
			return fmt.Errorf("insert doses: %w", err)
		}
	}
	return nil
}

// recordsPerRead is the IDs of one read of FindRecordsByID: every read has
// this many parameters (the last ID repeated), so one prepared statement
// serves them all.
const recordsPerRead = 100

// FindRecordsByID implements registry.SyncStore.
func (s *Store) FindRecordsByID(ctx context.Context, ids []registry.ID) ([]registry.Vaccination, []registry.Test, error) {
	var (
		vs []registry.Vaccination
		ts []registry.Test
	)
	in := "(" + strings.TrimSuffix(strings.Repeat("?, ", recordsPerRead), ", ") + ")"
	for start := 0; start < len(ids); start += recordsPerRead {
		chunk := ids[start:min(start+recordsPerRead, len(ids))]
		args := make([]any, recordsPerRead)
		for i := range args {
			id := chunk[min(i, len(chunk)-1)]
			args[i] = id[:]
		}
		v, err := s.queryVaccinations(ctx, nil, false, `WHERE id IN `+in, args...)
		if err != nil {
			return nil, nil, s.wrap("find records", err)
		}
		t, err := s.queryTests(ctx, nil, false, `WHERE id IN `+in, args...)
		if err != nil {
			return nil, nil, s.wrap("find records", err)
		}
		vs, ts = append(vs, v...), append(ts, t...)
	}
	return vs, ts, nil
}

// AppendAudits implements registry.SyncStore: the entries are chained in
// order and inserted together, in one transaction.
func (s *Store) AppendAudits(ctx context.Context, rs []registry.AuditRecord) error {
	if len(rs) == 0 {
		return nil
	}
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		if err := s.batchAudit(tx); err != nil {
			return err
		}
		for _, r := range rs {
			if err := s.appendAudit(ctx, tx, r); err != nil {
				return err
			}
		}
		return s.flushAudit(ctx, tx)
	})
	return s.wrap("append audit entries", err)
}
