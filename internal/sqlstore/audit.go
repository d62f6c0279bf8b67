package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// The Store implements audit.ChainStore and audit.CheckpointStore over the
// tables audit_log (entries, keyed by chain and seq), audit_names (the
// dictionary, see audit_names.go), audit_chains (who holds which chain, see
// audit_chains.go) and audit_checkpoints (signed checkpoints of chain 0).
var (
	_ audit.ChainStore      = (*Store)(nil)
	_ audit.CheckpointStore = (*Store)(nil)
)

// SetAuditChain makes the store key the audit log: from then on, every
// entry it appends carries a MAC under the chain key that key returns, and
// the first one under a new key in each chain is preceded by the entry that
// starts the key's epoch there (audit.EpochRecord), in the same
// transaction. key is called on every append, inside the write
// transaction, so it must be fast; it returns nil while no key is
// available (a vault that has been sealed since start), and entries are
// then appended without a MAC.
//
// The chain key must never be stored in the database: whoever can read it
// there could recompute the chain.
func (s *Store) SetAuditChain(key func() *audit.ChainKey) {
	s.auditLog().key.Store(&key)
}

func (s *Store) auditChainKey() *audit.ChainKey {
	if f := s.auditLog().key.Load(); f != nil {
		return (*f)()
	}
	return nil
}

const (
	entryColumns = `chain, seq, at, actor, role, action, purpose, subject, hash, mac, heads`
	// The literal action ID (nameEpochAction, not a parameter) lets both
	// databases use the partial index audit_log_epochs.
	lastEpochQuery = `SELECT seq, subject FROM audit_log WHERE chain = ? AND action = 1 ORDER BY seq DESC LIMIT 1`
	headQuery      = `SELECT seq, hash, mac FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 1`
	// chainsQuery lists the chains that hold entries, ascending, in one
	// index probe per chain (a skip scan both databases can run).
	chainsQuery = `WITH RECURSIVE c(chain) AS (
		SELECT MIN(chain) FROM audit_log
		UNION ALL
		SELECT (SELECT MIN(l.chain) FROM audit_log l WHERE l.chain > c.chain) FROM c WHERE c.chain IS NOT NULL)
	SELECT chain FROM c WHERE chain IS NOT NULL`
)

// auditQueryRow runs a one-row query of the audit log in tx: through a
// statement prepared once on SQLite, where parsing costs; directly on
// PostgreSQL, where pgx caches the statement on each connection (and
// preparing through database/sql would need a second connection while tx
// holds one).
func (s *Store) auditQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if s.dialect.DollarParams {
		return tx.QueryRowContext(ctx, s.dialect.Rebind(query), args...)
	}
	return s.txQueryRow(ctx, tx, query, args...)
}

func (s *Store) auditExec(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	var err error
	if s.dialect.DollarParams {
		_, err = tx.ExecContext(ctx, s.dialect.Rebind(query), args...)
	} else {
		_, err = s.txExec(ctx, tx, query, args...)
	}
	return err
}

// appendAudit appends r inside tx: to a chain of the transaction's own with
// Dialect.AuditChains, to chain 0 otherwise.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, r registry.AuditRecord) error {
	rec := audit.Record{Actor: r.Actor, Role: r.Role, Action: r.Action, Purpose: r.Purpose, Subject: r.Subject}
	if err := rec.Validate(); err != nil {
		return err
	}
	at, err := s.auditLog().state(tx)
	if err != nil {
		return err
	}
	var (
		chain uint64
		head  chainHead
	)
	if s.dialect.AuditChains {
		l, err := s.lease(ctx, tx, at)
		if err != nil {
			return err
		}
		chain, head = l.id, l.head
		if at.pending.valid {
			head = at.pending // a second entry in the same transaction
		}
	}
	if b := at.batch; b != nil && b.rows > 0 {
		head = b.last // the entries held back are not in the table yet
	}
	if !head.valid {
		if head, err = s.readHead(ctx, tx, chain); err != nil {
			return err
		}
	}
	key := s.auditChainKey()
	if key != nil {
		if head, _, err = s.startEpoch(ctx, tx, at, chain, head, key, r.Time); err != nil {
			return err
		}
	}
	e, err := audit.NextInChain(chain, head.entry(chain), rec, r.Time)
	if err != nil {
		return err
	}
	if key != nil {
		key.Seal(&e)
	}
	if err := s.insertAudit(ctx, tx, at, e); err != nil {
		return err
	}
	at.pending = headOf(e)
	return nil
}

// readHead returns where chain ends, as tx sees it.
func (s *Store) readHead(ctx context.Context, tx *sql.Tx, chain uint64) (chainHead, error) {
	var (
		seq       int64
		hash, mac []byte
	)
	err := s.auditQueryRow(ctx, tx, headQuery, int64(chain)).Scan(&seq, &hash, &mac)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return chainHead{valid: true}, nil
	case err != nil:
		return chainHead{}, fmt.Errorf("read audit head: %w", err)
	}
	h := chainHead{seq: uint64(seq), valid: true}
	copy(h.hash[:], hash)
	if len(mac) > 0 {
		var m audit.MAC
		copy(m[:], mac)
		h.mac = &m
	}
	return h, nil
}

// startEpoch appends the entry that starts key's epoch in chain after head,
// unless the chain is in that epoch already. It returns the new head and
// the seq of the epoch's first entry (0 if unknown because the head is
// keyed already). The check costs one HMAC while the head carries key's
// MAC, and one indexed query otherwise (after entries written without the
// key).
func (s *Store) startEpoch(ctx context.Context, tx *sql.Tx, at *auditTx, chain uint64, head chainHead, key *audit.ChainKey, now time.Time) (chainHead, uint64, error) {
	if e := head.entry(chain); e != nil && key.Signed(e) {
		return head, 0, nil
	}
	var (
		seq     int64
		subject []byte
	)
	err := tx.QueryRowContext(ctx, s.dialect.Rebind(lastEpochQuery), int64(chain)).Scan(&seq, &subject)
	switch {
	case err == nil:
		reloaded := false
		subj, err := s.decodeSubject(ctx, subject, &reloaded)
		if err != nil {
			return chainHead{}, 0, err
		}
		marker := audit.Entry{Record: audit.Record{Action: audit.EpochAction, Subject: subj}}
		if id, _ := audit.EpochKeyID(&marker); id == key.ID() {
			return head, uint64(seq), nil
		}
	case !errors.Is(err, sql.ErrNoRows):
		return chainHead{}, 0, fmt.Errorf("read audit epoch: %w", err)
	}
	m, err := audit.NextInChain(chain, head.entry(chain), audit.EpochRecord(key), now)
	if err != nil {
		return chainHead{}, 0, err
	}
	key.Seal(&m)
	if err := s.insertAudit(ctx, tx, at, m); err != nil {
		return chainHead{}, 0, err
	}
	return headOf(m), m.Seq, nil
}

// insertAudit inserts e, the entry after the head the caller read, and
// says what a collision on (chain, seq) means: on chain 0 with
// AuditChains, another writer appended first (spineTx tries again); on
// the chain this transaction leased, another writer took the chain over
// (the lease lapsed): the chain is dropped and the caller may retry.
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, at *auditTx, e audit.Entry) error {
	return s.auditInsertErr(at, e, s.insertEntry(ctx, tx, at, e))
}

// auditInsertErr is the error of inserting e (or a batch starting at e).
func (s *Store) auditInsertErr(at *auditTx, e audit.Entry, err error) error {
	switch {
	case err == nil:
		return nil
	case !s.dialect.IsUniqueViolation(err) || !s.dialect.AuditChains:
	case e.Chain == 0:
		return errSpineRace
	case at.lease != nil && at.lease.id == e.Chain:
		at.lost = true
		return &registry.Error{Code: registry.EUNAVAILABLE, Message: "The audit chain this process held was taken over; try again.", Err: err}
	}
	return fmt.Errorf("append audit entry: %w", err)
}

// StartAuditEpoch makes sure chain 0 is in the epoch of the chain key set
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
	err := s.spineTx(ctx, func(tx *sql.Tx, at *auditTx) error {
		head, err := s.readHead(ctx, tx, 0)
		if err != nil {
			return err
		}
		if _, seq, err = s.startEpoch(ctx, tx, at, 0, head, key, now); err != nil || seq != 0 {
			return err
		}
		// The head is keyed under key: find where its epoch began.
		var subject []byte
		var epoch int64
		if err := tx.QueryRowContext(ctx, s.dialect.Rebind(lastEpochQuery), 0).Scan(&epoch, &subject); err != nil {
			return fmt.Errorf("read audit epoch: %w", err)
		}
		seq = uint64(epoch)
		return nil
	})
	return seq, s.wrap("start audit epoch", err)
}

// AuditEpoch returns the seq of the entry that started the epoch of the
// chain key named keyID in chain 0, if that is chain 0's latest epoch.
// Returns ENOTFOUND otherwise.
func (s *Store) AuditEpoch(ctx context.Context, keyID string) (uint64, error) {
	var (
		seq     int64
		subject []byte
	)
	err := s.db.QueryRowContext(ctx, s.dialect.Rebind(lastEpochQuery), 0).Scan(&seq, &subject)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, registry.Errorf(registry.ENOTFOUND, "The audit log has no chain-key entry.")
	}
	if err != nil {
		return 0, s.wrap("read audit epoch", err)
	}
	reloaded := false
	subj, err := s.decodeSubject(ctx, subject, &reloaded)
	if err != nil {
		return 0, s.wrap("read audit epoch", err)
	}
	marker := audit.Entry{Record: audit.Record{Action: audit.EpochAction, Subject: subj}}
	if id, _ := audit.EpochKeyID(&marker); id != keyID {
		return 0, registry.Errorf(registry.ENOTFOUND, "The audit log's latest epoch is under another chain key.")
	}
	return uint64(seq), nil
}

// insertEntry stores e in its compact form: names as dictionary IDs, the
// subject encoded (audit_names.go), no previous hash (it is the hash of
// the entry before in the chain), the MAC and the heads of a join.
func (s *Store) insertEntry(ctx context.Context, tx *sql.Tx, at *auditTx, e audit.Entry) error {
	var ids [4]int64
	for i, name := range [...]string{e.Actor, e.Role, e.Action, e.Purpose} {
		id, err := s.nameID(ctx, tx, at, name)
		if err != nil {
			return err
		}
		ids[i] = id
	}
	subject, err := s.encodeSubject(ctx, tx, at, e.Subject)
	if err != nil {
		return err
	}
	// No NULLs: an empty MAC or heads means none (see migration 0009).
	mac, heads := []byte{}, []byte{}
	if e.MAC != nil {
		mac = e.MAC[:]
	}
	if e.Action == audit.JoinAction {
		heads = audit.EncodeHeads(e.Heads)
	}
	args := []any{int64(e.Chain), int64(e.Seq), micros(e.Time), ids[0], ids[1], ids[2], ids[3], subject, e.Hash[:], mac, heads}
	if b := at.batch; b != nil {
		if b.rows == 0 {
			b.first = e
		}
		b.rows++
		b.last = headOf(e)
		b.args = append(b.args, args...)
		return nil
	}
	return s.auditExec(ctx, tx, `INSERT INTO audit_log (`+entryColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
}

// auditRowsPerInsert bounds one multi-row insert of entries.
const auditRowsPerInsert = 200

// batchAudit makes the entries appended in tx from now on wait for
// flushAudit, which inserts them a few hundred a statement: a push writes
// one entry per person, and one round trip each would dominate it.
func (s *Store) batchAudit(tx *sql.Tx) error {
	at, err := s.auditLog().state(tx)
	if err != nil {
		return err
	}
	at.batch = &auditBatch{}
	return nil
}

// flushAudit inserts the entries batchAudit held back, in order, and stops
// holding them back.
func (s *Store) flushAudit(ctx context.Context, tx *sql.Tx) error {
	at, err := s.auditLog().state(tx)
	if err != nil {
		return err
	}
	b := at.batch
	at.batch = nil
	if b == nil || b.rows == 0 {
		return nil
	}
	const cols = 11
	for start := 0; start < b.rows; start += auditRowsPerInsert {
		n := min(auditRowsPerInsert, b.rows-start)
		q := `INSERT INTO audit_log (` + entryColumns + `) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")
		if _, err := tx.ExecContext(ctx, s.dialect.Rebind(q), b.args[start*cols:(start+n)*cols]...); err != nil {
			return s.auditInsertErr(at, b.first, err)
		}
	}
	return nil
}

// entryScanner decodes stored rows into entries, filling in names from the
// dictionary and each entry's PrevHash from the entry before it.
type entryScanner struct {
	s        *Store
	ctx      context.Context
	prev     audit.Hash
	reloaded bool
}

func (d *entryScanner) scan(row interface{ Scan(...any) error }) (audit.Entry, error) {
	var (
		e                         audit.Entry
		chain, seq, at            int64
		ids                       [4]int64
		subject, hash, mac, heads []byte
	)
	if err := row.Scan(&chain, &seq, &at, &ids[0], &ids[1], &ids[2], &ids[3], &subject, &hash, &mac, &heads); err != nil {
		return e, err
	}
	e.Chain, e.Seq, e.Time = uint64(chain), uint64(seq), fromMicros(at)
	for i, f := range [...]*string{&e.Actor, &e.Role, &e.Action, &e.Purpose} {
		name, err := d.s.lookupName(d.ctx, ids[i], &d.reloaded)
		if err != nil {
			return e, err
		}
		*f = name
	}
	subj, err := d.s.decodeSubject(d.ctx, subject, &d.reloaded)
	if err != nil {
		return e, err
	}
	e.Subject = subj
	copy(e.Hash[:], hash)
	if len(mac) > 0 {
		var m audit.MAC
		copy(m[:], mac)
		e.MAC = &m
	}
	if len(heads) > 0 || e.Action == audit.JoinAction {
		// Heads that do not decode leave the join without heads, which
		// then fails its subject's digest when verified.
		e.Heads, _ = audit.DecodeHeads(heads)
		if e.Heads == nil {
			e.Heads = []audit.Head{}
		}
	}
	e.PrevHash, d.prev = d.prev, e.Hash
	return e, nil
}

// AppendAudit implements registry.Store.
func (s *Store) AppendAudit(ctx context.Context, r registry.AuditRecord) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error { return s.appendAudit(ctx, tx, r) })
	return s.wrap("append audit entry", err)
}

// Append implements audit.Store: it stores e as computed by the caller,
// MAC included, at the end of chain e.Chain. Returns ECONFLICT if e.Seq is
// taken or does not follow the chain's head, or if e.PrevHash is not the
// head's hash.
func (s *Store) Append(ctx context.Context, e audit.Entry) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		at, err := s.auditLog().state(tx)
		if err != nil {
			return err
		}
		head, err := s.readHead(ctx, tx, e.Chain)
		if err != nil {
			return err
		}
		if e.Seq != head.seq+1 || e.PrevHash != head.hash {
			return registry.FieldErrorf(registry.ECONFLICT, "seq", "Audit entry %d does not follow the head (%d) of chain %d.", e.Seq, head.seq, e.Chain)
		}
		return s.insertEntry(ctx, tx, at, e)
	})
	return s.wrap("append audit entry", err)
}

// Chains implements audit.ChainStore.
func (s *Store) Chains(ctx context.Context) ([]uint64, error) {
	rows, err := s.db.QueryContext(ctx, chainsQuery)
	if err != nil {
		return nil, s.wrap("list audit chains", err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var c int64
		if err := rows.Scan(&c); err != nil {
			return nil, s.wrap("list audit chains", err)
		}
		out = append(out, uint64(c))
	}
	return out, s.wrap("list audit chains", rows.Err())
}

// chainLast returns the last entry of chain. Returns ENOTFOUND if it is
// empty.
func (s *Store) chainLast(ctx context.Context, chain uint64) (audit.Entry, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.Rebind(`SELECT `+entryColumns+` FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 2`), int64(chain))
	if err != nil {
		return audit.Entry{}, s.wrap("read audit head", err)
	}
	defer rows.Close()
	d := &entryScanner{s: s, ctx: ctx}
	var got []audit.Entry
	for rows.Next() {
		e, err := d.scan(rows)
		if err != nil {
			return audit.Entry{}, s.wrap("read audit head", err)
		}
		got = append(got, e)
	}
	if err := rows.Err(); err != nil {
		return audit.Entry{}, s.wrap("read audit head", err)
	}
	if len(got) == 0 {
		return audit.Entry{}, registry.Errorf(registry.ENOTFOUND, "The audit chain is empty.")
	}
	last := got[0]
	last.PrevHash = audit.Hash{}
	if len(got) == 2 {
		last.PrevHash = got[1].Hash
	}
	return last, nil
}

// Last implements audit.Store: of the heads of every chain, the newest.
// Returns ENOTFOUND for an empty log.
func (s *Store) Last(ctx context.Context) (audit.Entry, error) {
	chains, err := s.Chains(ctx)
	if err != nil {
		return audit.Entry{}, err
	}
	var (
		last  audit.Entry
		found bool
	)
	for _, c := range chains {
		e, err := s.chainLast(ctx, c)
		if err != nil {
			return audit.Entry{}, err
		}
		if !found || e.Time.After(last.Time) {
			last, found = e, true
		}
	}
	if !found {
		return audit.Entry{}, registry.Errorf(registry.ENOTFOUND, "The audit log is empty.")
	}
	return last, nil
}

// ScanChain implements audit.ChainStore: it calls fn for every entry of
// chain from fromSeq on, in seq order, reading in pages so that a long
// chain never sits in memory at once.
func (s *Store) ScanChain(ctx context.Context, chain, fromSeq uint64, fn func(audit.Entry) error) error {
	const page = 5000
	d := &entryScanner{s: s, ctx: ctx}
	next := int64(max(fromSeq, 1))
	if next > 1 {
		var prev []byte
		err := s.db.QueryRowContext(ctx, s.dialect.Rebind(`SELECT hash FROM audit_log WHERE chain = ? AND seq < ? ORDER BY seq DESC LIMIT 1`),
			int64(chain), next).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return s.wrap("scan audit log", err)
		}
		copy(d.prev[:], prev)
	}
	for {
		rows, err := s.db.QueryContext(ctx, s.dialect.Rebind(`SELECT `+entryColumns+`
			FROM audit_log WHERE chain = ? AND seq >= ? ORDER BY seq LIMIT ?`), int64(chain), next, page)
		if err != nil {
			return s.wrap("scan audit log", err)
		}
		n := 0
		for rows.Next() {
			e, err := d.scan(rows)
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

// Scan implements audit.Store: ScanChain for every chain, chain 0 first.
func (s *Store) Scan(ctx context.Context, fromSeq uint64, fn func(audit.Entry) error) error {
	chains, err := s.Chains(ctx)
	if err != nil {
		return err
	}
	for _, c := range chains {
		if err := s.ScanChain(ctx, c, fromSeq, fn); err != nil {
			return err
		}
	}
	return nil
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
