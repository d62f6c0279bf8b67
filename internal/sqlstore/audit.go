package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// The Store implements audit.Store and audit.CheckpointStore over the
// audit_log and audit_checkpoints tables.
var (
	_ audit.Store           = (*Store)(nil)
	_ audit.CheckpointStore = (*Store)(nil)
)

// auditChains holds each Store's source of the chain key (see
// SetAuditChain). It lives beside the Store rather than in it so that this
// file owns all of the audit log's state.
var auditChains sync.Map // *Store → func() *audit.ChainKey

// SetAuditChain makes the store key the audit log: from then on, every
// entry it appends carries a MAC under the chain key that key returns, and
// the first one under a new key is preceded by the entry that starts the
// key's epoch (audit.EpochRecord), in the same transaction. key is called
// on every append, inside the write transaction, so it must be fast; it
// returns nil while no key is available (a vault that has been sealed since
// start), and entries are then appended without a MAC.
//
// The chain key must never be stored in the database: whoever can read it
// there could recompute the chain.
func (s *Store) SetAuditChain(key func() *audit.ChainKey) {
	if _, loaded := auditChains.Swap(s, key); !loaded {
		s.closers = append(s.closers, func() error { auditChains.Delete(s); return nil })
	}
}

func (s *Store) auditChainKey() *audit.ChainKey {
	if f, ok := auditChains.Load(s); ok {
		return f.(func() *audit.ChainKey)()
	}
	return nil
}

const (
	entryColumns = `seq, at, actor, role, action, purpose, subject, prev_hash, hash, mac`
	// The literal action (not a parameter) lets both databases use the
	// partial index audit_log_epochs.
	lastEpochQuery = `SELECT seq, subject FROM audit_log WHERE action = 'audit.chain-key' ORDER BY seq DESC LIMIT 1`
)

// appendAudit chains r after the current head of the log inside tx.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, r registry.AuditRecord) error {
	last, err := s.lockedHead(ctx, tx)
	if err != nil {
		return err
	}
	rec := audit.Record{Actor: r.Actor, Role: r.Role, Action: r.Action, Purpose: r.Purpose, Subject: r.Subject}
	if err := rec.Validate(); err != nil {
		return err
	}
	key := s.auditChainKey()
	if key != nil {
		if last, _, err = s.startEpoch(ctx, tx, last, key, r.Time); err != nil {
			return err
		}
	}
	e, err := audit.Next(last, rec, r.Time)
	if err != nil {
		return err
	}
	if key != nil {
		key.Seal(&e)
	}
	return s.insertEntry(ctx, tx, e)
}

// lockedHead takes the audit lock (PostgreSQL) and returns the last entry,
// or nil for an empty log.
func (s *Store) lockedHead(ctx context.Context, tx *sql.Tx) (*audit.Entry, error) {
	if s.dialect.AuditLock != "" {
		if _, err := tx.ExecContext(ctx, s.dialect.AuditLock); err != nil {
			return nil, fmt.Errorf("lock audit log: %w", err)
		}
	}
	head, err := scanEntry(s.txQueryRow(ctx, tx, `SELECT `+entryColumns+` FROM audit_log ORDER BY seq DESC LIMIT 1`))
	switch {
	case err == nil:
		return &head, nil
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	default:
		return nil, fmt.Errorf("read audit head: %w", err)
	}
}

// startEpoch appends the entry that starts key's epoch after last, unless
// the log is in that epoch already. It returns the new head and the seq of
// the epoch's first entry (0 if unknown because the head is keyed already).
// The check costs one HMAC while the head carries key's MAC, and one
// indexed query otherwise (after entries written without the key).
func (s *Store) startEpoch(ctx context.Context, tx *sql.Tx, last *audit.Entry, key *audit.ChainKey, now time.Time) (*audit.Entry, uint64, error) {
	if last != nil && key.Signed(last) {
		return last, 0, nil
	}
	var (
		seq     int64
		subject string
	)
	err := s.txQueryRow(ctx, tx, lastEpochQuery).Scan(&seq, &subject)
	switch {
	case err == nil:
		marker := audit.Entry{Record: audit.Record{Action: audit.EpochAction, Subject: subject}}
		if id, _ := audit.EpochKeyID(&marker); id == key.ID() {
			return last, uint64(seq), nil
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, 0, fmt.Errorf("read audit epoch: %w", err)
	}
	m, err := audit.Next(last, audit.EpochRecord(key), now)
	if err != nil {
		return nil, 0, err
	}
	key.Seal(&m)
	if err := s.insertEntry(ctx, tx, m); err != nil {
		return nil, 0, err
	}
	return &m, m.Seq, nil
}

// StartAuditEpoch makes sure the log is in the epoch of the chain key set
// with SetAuditChain, appending the entry that starts it if need be, and
// returns that entry's seq. Servers call it at start, so that a new key's
// epoch begins before any request is served. Returns ESEALED if no chain
// key is available.
func (s *Store) StartAuditEpoch(ctx context.Context, now time.Time) (uint64, error) {
	key := s.auditChainKey()
	if key == nil {
		return 0, registry.Errorf(registry.ESEALED, "No audit chain key is available.")
	}
	var seq uint64
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		last, err := s.lockedHead(ctx, tx)
		if err != nil {
			return err
		}
		if _, seq, err = s.startEpoch(ctx, tx, last, key, now); err != nil || seq != 0 {
			return err
		}
		// The head is keyed under key: find where its epoch began.
		var (
			epoch   int64
			subject string
		)
		if err := s.txQueryRow(ctx, tx, lastEpochQuery).Scan(&epoch, &subject); err != nil {
			return fmt.Errorf("read audit epoch: %w", err)
		}
		seq = uint64(epoch)
		return nil
	})
	return seq, s.wrap("start audit epoch", err)
}

// AuditEpoch returns the seq of the entry that started the epoch of the
// chain key named keyID, if that is the log's latest epoch. Returns
// ENOTFOUND otherwise.
func (s *Store) AuditEpoch(ctx context.Context, keyID string) (uint64, error) {
	var (
		seq     int64
		subject string
	)
	err := s.queryRow(ctx, lastEpochQuery).Scan(&seq, &subject)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, registry.Errorf(registry.ENOTFOUND, "The audit log has no chain-key entry.")
	}
	if err != nil {
		return 0, s.wrap("read audit epoch", err)
	}
	marker := audit.Entry{Record: audit.Record{Action: audit.EpochAction, Subject: subject}}
	if id, _ := audit.EpochKeyID(&marker); id != keyID {
		return 0, registry.Errorf(registry.ENOTFOUND, "The audit log's latest epoch is under another chain key.")
	}
	return uint64(seq), nil
}

func (s *Store) insertEntry(ctx context.Context, tx *sql.Tx, e audit.Entry) error {
	var mac []byte
	if e.MAC != nil {
		mac = e.MAC[:]
	}
	_, err := s.txExec(ctx, tx, `INSERT INTO audit_log (`+entryColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(e.Seq), micros(e.Time), e.Actor, e.Role, e.Action, e.Purpose, e.Subject, e.PrevHash[:], e.Hash[:], mac)
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	return nil
}

func scanEntry(row interface{ Scan(...any) error }) (audit.Entry, error) {
	var (
		e               audit.Entry
		seq, at         int64
		prev, hash, mac []byte
	)
	if err := row.Scan(&seq, &at, &e.Actor, &e.Role, &e.Action, &e.Purpose, &e.Subject, &prev, &hash, &mac); err != nil {
		return e, err
	}
	e.Seq, e.Time = uint64(seq), fromMicros(at)
	copy(e.PrevHash[:], prev)
	copy(e.Hash[:], hash)
	if mac != nil {
		var m audit.Hash
		copy(m[:], mac)
		e.MAC = &m
	}
	return e, nil
}

// AppendAudit implements registry.Store.
func (s *Store) AppendAudit(ctx context.Context, r registry.AuditRecord) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error { return s.appendAudit(ctx, tx, r) })
	return s.wrap("append audit entry", err)
}

// Append implements audit.Store: it stores e as computed by the caller,
// MAC included. Returns ECONFLICT if e.Seq is taken.
func (s *Store) Append(ctx context.Context, e audit.Entry) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error { return s.insertEntry(ctx, tx, e) })
	return s.wrap("append audit entry", err)
}

// Last implements audit.Store. Returns ENOTFOUND for an empty log.
func (s *Store) Last(ctx context.Context) (audit.Entry, error) {
	e, err := scanEntry(s.queryRow(ctx, `SELECT `+entryColumns+` FROM audit_log ORDER BY seq DESC LIMIT 1`))
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
		rows, err := s.db.QueryContext(ctx, s.dialect.Rebind(`SELECT `+entryColumns+`
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

// SaveCheckpoint implements audit.CheckpointStore. A checkpoint of the same
// origin and seq that is already stored is kept as it is.
func (s *Store) SaveCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, `INSERT INTO audit_checkpoints
			(origin, seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (origin, seq) DO NOTHING`,
			c.Origin, int64(c.Seq), c.Hash[:], micros(c.Time), c.KeyID, c.Signature)
		return err
	})
	return s.wrap("save checkpoint", err)
}

// DeleteCheckpoint removes the stored checkpoint of origin at seq, if any.
// The server keeps one checkpoint per interval and the latest, so that
// checkpoints signed every few seconds do not pile up; checkpoints exported
// outside the database are the ones that count.
func (s *Store) DeleteCheckpoint(ctx context.Context, origin string, seq uint64) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, `DELETE FROM audit_checkpoints WHERE origin = ? AND seq = ?`, origin, int64(seq))
		return err
	})
	return s.wrap("delete checkpoint", err)
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
