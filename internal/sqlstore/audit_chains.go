package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// Chains of the audit log (docs/adr/0005-audit-chains-per-writer.md).
//
// With Dialect.AuditChains (PostgreSQL), a write transaction appends its
// audit entry to a chain that no other transaction touches while it runs:
// the store keeps a pool of chains, hands one to each transaction that
// needs one, and takes it back when the transaction ends. The head of each
// chain (seq, hash, MAC) is kept in memory, and is trusted only after the
// transaction that wrote it committed; after a rollback or a failed commit
// it is read again from the database. So there is no lock, no shared
// counter and no extra read on the write path: one INSERT.
//
// A chain is claimed once, in the first transaction that needs it, as a
// row of audit_chains with this store's owner name and a lease that a
// background goroutine renews; on Close the store releases its chains,
// and another process (or the next `haven` command) takes them over,
// reading their head from the database. The chain count therefore stays
// near the largest number of writes ever in flight at once. Should two
// writers ever append to one chain (a process stalled past its lease while
// another took the chain over), the primary key (chain, seq) refuses the
// second entry: the chain cannot fork, and that writer's transaction fails
// with EUNAVAILABLE and drops the chain.
//
// Without AuditChains (SQLite, which has one writer at a time), every
// entry goes to chain 0 and each transaction reads its head inside the
// transaction, as before chains existed.
//
// Chain 0 is the spine. Besides the entries of a one-writer database, it
// holds the entries that start a chain key's epoch for the installation
// (StartAuditEpoch) and the joins (JoinAuditChains), which name the head
// of every other chain; the server signs checkpoints of chain 0 alone.
// Writers to chain 0 on PostgreSQL (servers starting, checkpoint loops)
// are rare and may collide; they retry (spineTx).

const (
	// chainLeaseTime is how long a claimed chain stays claimed without a
	// renewal; chainRenewEvery is how often the store renews its claims.
	chainLeaseTime  = 2 * time.Minute
	chainRenewEvery = 30 * time.Second
	// spineAttempts bounds the retries of a write to chain 0 that
	// collided with another writer's.
	spineAttempts = 20
)

// errSpineRace is a write to chain 0 that lost to another writer's.
var errSpineRace = errors.New("audit: another writer appended to chain 0 first")

// chainHead is where a chain ends.
type chainHead struct {
	seq   uint64
	hash  audit.Hash
	mac   *audit.MAC
	valid bool // known to be committed (or written earlier in this transaction)
}

// entry returns the head as the entry Next chains after (nil for an empty
// chain).
func (h chainHead) entry(chain uint64) *audit.Entry {
	if h.seq == 0 {
		return nil
	}
	return &audit.Entry{Chain: chain, Seq: h.seq, Hash: h.hash, MAC: h.mac}
}

func headOf(e audit.Entry) chainHead {
	return chainHead{seq: e.Seq, hash: e.Hash, mac: e.MAC, valid: true}
}

// chainLease is a chain held by this store.
type chainLease struct {
	id      uint64
	head    chainHead
	claimed bool // the claim (its audit_chains row) is committed
}

// auditTx is what one transaction of the store did to the audit log, to
// settle when it ends.
type auditTx struct {
	lease   *chainLease      // the chain it appends to (AuditChains)
	pending chainHead        // the lease's head after this transaction's entries
	names   map[string]int64 // dictionary names it learnt or added
	lost    bool             // another writer appended to the lease's chain
	// batch, while set, collects the entries appended, for one multi-row
	// insert at flushAudit.
	batch *auditBatch
}

// auditBatch is entries computed but not yet inserted (see flushAudit).
type auditBatch struct {
	first audit.Entry // for the errors of the insert
	last  chainHead   // the head after the entries held back
	rows  int
	args  []any
}

// auditRunner is the Store's TxRunner: it runs the dialect's runner and,
// when a transaction ends, settles what it did to the audit log (commits
// the chain head and the names it learnt, or forgets them). It holds all of
// the audit log's state in memory.
type auditRunner struct {
	inner TxRunner
	s     *Store
	txs   sync.Map // *sql.Tx → **auditTx, while a caller's fn runs
	names *auditNames
	key   atomic.Pointer[func() *audit.ChainKey]

	// With AuditChains: the pool of chains, and its claims' upkeep.
	owner      string
	mu         sync.Mutex
	free       []*chainLease
	claimed    atomic.Bool
	renewStart sync.Once
	stop       chan struct{}
	stopped    chan struct{}

	// joined holds, per chain, the seq of the head this store last named
	// in a join; joinMu serialises joins.
	joinMu sync.Mutex
	joined map[uint64]uint64
}

func newAuditRunner(s *Store, inner TxRunner) *auditRunner {
	r := &auditRunner{inner: inner, s: s, names: newAuditNames(), joined: map[uint64]uint64{}}
	if s.dialect.AuditChains {
		host, _ := os.Hostname()
		var b [6]byte
		rand.Read(b[:])
		r.owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
		r.stop, r.stopped = make(chan struct{}), make(chan struct{})
		s.closers = append(s.closers, r.releaseChains)
	}
	return r
}

func (s *Store) auditLog() *auditRunner { return s.runner.(*auditRunner) }

// RunTx implements TxRunner.
func (r *auditRunner) RunTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var at *auditTx
	err := r.inner.RunTx(ctx, func(tx *sql.Tx) error {
		at = nil
		r.txs.Store(tx, &at)
		defer r.txs.Delete(tx)
		return fn(tx)
	})
	if at != nil {
		r.settle(at, err == nil)
	}
	return err
}

// state returns the audit state of the caller's transaction tx.
func (r *auditRunner) state(tx *sql.Tx) (*auditTx, error) {
	v, ok := r.txs.Load(tx)
	if !ok {
		return nil, errors.New("audit: a transaction the store's runner did not start")
	}
	slot := v.(**auditTx)
	if *slot == nil {
		*slot = &auditTx{}
	}
	return *slot, nil
}

// settle keeps what a transaction did once it committed (ok), and forgets
// what it may have done otherwise.
func (r *auditRunner) settle(at *auditTx, ok bool) {
	if ok && len(at.names) > 0 {
		r.names.remember(at.names)
	}
	l := at.lease
	if l == nil {
		return
	}
	switch {
	case at.lost:
		return // dropped: another writer holds the chain
	case ok:
		l.claimed = true
		if at.pending.valid {
			l.head = at.pending
		}
		r.startRenewal()
	case !l.claimed:
		return // its claim was rolled back
	default:
		// Rolled back, or the commit failed and may or may not have
		// happened: read the head again next time.
		l.head.valid = false
	}
	r.mu.Lock()
	r.free = append(r.free, l)
	r.mu.Unlock()
}

// lease returns a chain for the transaction tx to append to: one from the
// pool, or one it claims (inside tx).
func (s *Store) lease(ctx context.Context, tx *sql.Tx, at *auditTx) (*chainLease, error) {
	if at.lease != nil {
		return at.lease, nil
	}
	r := s.auditLog()
	r.mu.Lock()
	var l *chainLease
	if n := len(r.free); n > 0 {
		l, r.free = r.free[n-1], r.free[:n-1]
	}
	r.mu.Unlock()
	if l == nil {
		var err error
		if l, err = s.claimChain(ctx, tx); err != nil {
			return nil, err
		}
	}
	at.lease = l
	return l, nil
}

// claimChain claims, inside tx, a chain whose lease has lapsed (released
// by a store that closed, or left by one that died), or else a new one.
func (s *Store) claimChain(ctx context.Context, tx *sql.Tx) (*chainLease, error) {
	r := s.auditLog()
	now := time.Now()
	until := micros(now.Add(chainLeaseTime))
	for range 2 {
		var id int64
		err := tx.QueryRowContext(ctx, s.dialect.Rebind(`UPDATE audit_chains SET owner = ?, lease_until = ?
			WHERE chain = (SELECT chain FROM audit_chains WHERE lease_until < ? ORDER BY lease_until LIMIT 1) AND lease_until < ?
			RETURNING chain`), r.owner, until, micros(now), micros(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue // none free, or another claimer took it first
		}
		if err != nil {
			return nil, fmt.Errorf("claim audit chain: %w", err)
		}
		head, err := s.readHead(ctx, tx, uint64(id))
		if err != nil {
			return nil, err
		}
		return &chainLease{id: uint64(id), head: head}, nil
	}
	var b [8]byte
	rand.Read(b[:])
	id := binary.BigEndian.Uint64(b[:])>>1 | 1 // positive, never 0
	if _, err := tx.ExecContext(ctx, s.dialect.Rebind(`INSERT INTO audit_chains (chain, owner, lease_until, created_at) VALUES (?, ?, ?, ?)`),
		int64(id), r.owner, until, micros(now)); err != nil {
		return nil, fmt.Errorf("claim audit chain: %w", err)
	}
	return &chainLease{id: id, head: chainHead{valid: true}}, nil
}

// startRenewal starts renewing this store's claims, once.
func (r *auditRunner) startRenewal() {
	r.claimed.Store(true)
	r.renewStart.Do(func() {
		go func() {
			defer close(r.stopped)
			t := time.NewTicker(chainRenewEvery)
			defer t.Stop()
			for {
				select {
				case <-r.stop:
					return
				case <-t.C:
				}
				ctx, cancel := context.WithTimeout(context.Background(), chainRenewEvery)
				// A failed renewal is retried at the next tick; should the
				// lease lapse meanwhile, the primary key still keeps two
				// writers from forking a chain.
				r.s.db.ExecContext(ctx, r.s.dialect.Rebind(`UPDATE audit_chains SET lease_until = ? WHERE owner = ?`),
					micros(time.Now().Add(chainLeaseTime)), r.owner)
				cancel()
			}
		}()
	})
}

// releaseChains stops the renewals and gives this store's chains back, so
// that the next process takes them over instead of starting new ones. It
// runs when the store closes.
func (r *auditRunner) releaseChains() error {
	select {
	case <-r.stop:
		return nil // released already
	default:
	}
	close(r.stop)
	if !r.claimed.Load() {
		return nil
	}
	<-r.stopped
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.s.db.ExecContext(ctx, r.s.dialect.Rebind(`UPDATE audit_chains SET lease_until = 0 WHERE owner = ?`), r.owner); err != nil {
		return fmt.Errorf("%s: release audit chains: %w", r.s.dialect.Name, err)
	}
	return nil
}

// spineTx runs fn in a transaction that appends to chain 0, again if
// another writer appended to chain 0 first.
func (s *Store) spineTx(ctx context.Context, fn func(tx *sql.Tx, at *auditTx) error) error {
	var err error
	for attempt := range spineAttempts {
		err = s.runner.RunTx(ctx, func(tx *sql.Tx) error {
			at, err := s.auditLog().state(tx)
			if err != nil {
				return err
			}
			return fn(tx, at)
		})
		if !errors.Is(err, errSpineRace) {
			return err
		}
		var b [1]byte
		rand.Read(b[:])
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1+attempt) * time.Duration(1+int(b[0])%8) * time.Millisecond):
		}
	}
	return registry.Errorf(registry.EUNAVAILABLE, "The audit log's chain 0 is busy; try again.")
}

// JoinAuditChains appends to chain 0 an entry that names the head of every
// chain that moved since this store last joined (every chain, the first
// time), if any did, and returns the head of chain 0: what a checkpoint
// signs. Servers call it before each checkpoint (cmd/haven), so that a
// checkpoint covers every chain as far as its writes had committed.
// Returns ENOTFOUND if chain 0 is empty and no chain has entries.
func (s *Store) JoinAuditChains(ctx context.Context, now time.Time) (audit.Entry, error) {
	r := s.auditLog()
	r.joinMu.Lock()
	defer r.joinMu.Unlock()
	chains, err := s.Chains(ctx)
	if err != nil {
		return audit.Entry{}, err
	}
	var moved []audit.Head
	for _, c := range chains {
		if c == 0 {
			continue
		}
		var (
			seq  int64
			hash []byte
		)
		err := s.db.QueryRowContext(ctx, s.dialect.Rebind(`SELECT seq, hash FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 1`), int64(c)).Scan(&seq, &hash)
		if err != nil {
			return audit.Entry{}, s.wrap("read audit chain head", err)
		}
		if r.joined[c] == uint64(seq) {
			continue
		}
		h := audit.Head{Chain: c, Seq: uint64(seq)}
		copy(h.Hash[:], hash)
		moved = append(moved, h)
	}
	if len(moved) > 0 {
		rec, err := audit.JoinRecord(moved)
		if err != nil {
			return audit.Entry{}, err
		}
		err = s.spineTx(ctx, func(tx *sql.Tx, at *auditTx) error {
			head, err := s.readHead(ctx, tx, 0)
			if err != nil {
				return err
			}
			key := s.auditChainKey()
			if key != nil {
				if head, _, err = s.startEpoch(ctx, tx, at, 0, head, key, now); err != nil {
					return err
				}
			}
			e, err := audit.NextInChain(0, head.entry(0), rec, now)
			if err != nil {
				return err
			}
			e.Heads = moved
			if key != nil {
				key.Seal(&e)
			}
			return s.insertAudit(ctx, tx, at, e)
		})
		if err != nil {
			return audit.Entry{}, s.wrap("join audit chains", err)
		}
		for _, h := range moved {
			r.joined[h.Chain] = h.Seq
		}
	}
	return s.chainLast(ctx, 0)
}
