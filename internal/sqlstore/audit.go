package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// The Store implements audit.Store and audit.CheckpointStore over the
// audit_log and audit_checkpoints tables.
var (
	_ audit.Store           = (*Store)(nil)
	_ audit.CheckpointStore = (*Store)(nil)
)

// appendAudit chains r after the current head of the log inside tx.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, r registry.AuditRecord) error {
	if s.dialect.AuditLock != "" {
		if _, err := tx.ExecContext(ctx, s.dialect.AuditLock); err != nil {
			return fmt.Errorf("lock audit log: %w", err)
		}
	}
	var last *audit.Entry
	head, err := scanEntry(s.txQueryRow(ctx, tx, `SELECT seq, at, actor, role, action, purpose, subject, prev_hash, hash
		FROM audit_log ORDER BY seq DESC LIMIT 1`))
	switch {
	case err == nil:
		last = &head
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("read audit head: %w", err)
	}
	e, err := audit.Next(last, audit.Record{Actor: r.Actor, Role: r.Role, Action: r.Action, Purpose: r.Purpose, Subject: r.Subject}, r.Time)
	if err != nil {
		return err
	}
	return s.insertEntry(ctx, tx, e)
}

func (s *Store) insertEntry(ctx context.Context, tx *sql.Tx, e audit.Entry) error {
	_, err := s.txExec(ctx, tx, `INSERT INTO audit_log
		(seq, at, actor, role, action, purpose, subject, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(e.Seq), micros(e.Time), e.Actor, e.Role, e.Action, e.Purpose, e.Subject, e.PrevHash[:], e.Hash[:])
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	return nil
}

func scanEntry(row interface{ Scan(...any) error }) (audit.Entry, error) {
	var (
		e          audit.Entry
		seq, at    int64
		prev, hash []byte
	)
	if err := row.Scan(&seq, &at, &e.Actor, &e.Role, &e.Action, &e.Purpose, &e.Subject, &prev, &hash); err != nil {
		return e, err
	}
	e.Seq, e.Time = uint64(seq), fromMicros(at)
	copy(e.PrevHash[:], prev)
	copy(e.Hash[:], hash)
	return e, nil
}

// AppendAudit implements registry.Store.
func (s *Store) AppendAudit(ctx context.Context, r registry.AuditRecord) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error { return s.appendAudit(ctx, tx, r) })
	return s.wrap("append audit entry", err)
}

// Append implements audit.Store: it stores e as computed by the caller.
// Returns ECONFLICT if e.Seq is taken.
func (s *Store) Append(ctx context.Context, e audit.Entry) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error { return s.insertEntry(ctx, tx, e) })
	return s.wrap("append audit entry", err)
}

// Last implements audit.Store. Returns ENOTFOUND for an empty log.
func (s *Store) Last(ctx context.Context) (audit.Entry, error) {
	e, err := scanEntry(s.queryRow(ctx, `SELECT seq, at, actor, role, action, purpose, subject, prev_hash, hash
		FROM audit_log ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return e, registry.Errorf(registry.ENOTFOUND, "The audit log is empty.")
	}
	return e, s.wrap("read audit head", err)
}

// Scan implements audit.Store: it calls fn for every entry from fromSeq on,
// in storage order by seq, reading in pages so that a long log never sits
// in memory at once.
func (s *Store) Scan(ctx context.Context, fromSeq uint64, fn func(audit.Entry) error) error {
	const page = 5000
	next := int64(fromSeq)
	for {
		rows, err := s.db.QueryContext(ctx, s.dialect.Rebind(`SELECT seq, at, actor, role, action, purpose, subject, prev_hash, hash
			FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?`), next, page)
		if err != nil {
			return s.wrap("scan audit log", err)
		}
		n := 0
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return s.wrap("scan audit log", err)
			}
			n++
			next = int64(e.Seq) + 1
			if err := fn(e); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return s.wrap("scan audit log", err)
		}
		if n < page {
			return nil
		}
	}
}

// SaveCheckpoint implements audit.CheckpointStore.
func (s *Store) SaveCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, `INSERT INTO audit_checkpoints
			(origin, seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)`,
			c.Origin, int64(c.Seq), c.Hash[:], micros(c.Time), c.KeyID, c.Signature)
		return err
	})
	return s.wrap("save checkpoint", err)
}

// Checkpoints implements audit.CheckpointStore, in seq order.
func (s *Store) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT origin, seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq, origin`)
	if err != nil {
		return nil, s.wrap("read checkpoints", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		var (
			c       audit.Checkpoint
			seq, at int64
			hash    []byte
		)
		if err := rows.Scan(&c.Origin, &seq, &hash, &at, &c.KeyID, &c.Signature); err != nil {
			return nil, s.wrap("read checkpoints", err)
		}
		c.Seq, c.Time = uint64(seq), fromMicros(at)
		copy(c.Hash[:], hash)
		out = append(out, c)
	}
	return out, s.wrap("read checkpoints", rows.Err())
}
