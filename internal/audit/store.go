package audit

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/haven-registry/haven/internal/registry"
)

// Store keeps audit entries. Implementations must be append-only: there is
// no update or delete. The SQLite and PostgreSQL stores implement it on a
// table with seq as primary key.
type Store interface {
	// Append stores e. It must fail with ECONFLICT if an entry with e.Seq
	// exists or e.Seq is not the last Seq plus one (Seq 1 for an empty log).
	Append(ctx context.Context, e Entry) error
	// Last returns the entry with the highest Seq. Returns ENOTFOUND if the
	// log is empty.
	Last(ctx context.Context) (Entry, error)
	// Scan calls fn for every entry with Seq >= fromSeq, in ascending Seq
	// order, and stops at the first error fn returns, returning it. Stores
	// return entries exactly as stored (Time in UTC with at least
	// microsecond precision), without checking them.
	Scan(ctx context.Context, fromSeq uint64, fn func(Entry) error) error
}

// CheckpointStore keeps signed checkpoints beside the log. Outside parties
// should keep their own copies: the ones in the database can be deleted by
// whoever controls it (though not forged without the signing key).
type CheckpointStore interface {
	// SaveCheckpoint stores c. Saving the same checkpoint twice is not an
	// error.
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints returns every stored checkpoint in ascending Seq order.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// Mem is an in-memory Store and CheckpointStore, for tests and tools. The
// zero value is an empty log. It is safe for concurrent use.
type Mem struct {
	mu      sync.RWMutex
	entries []Entry
	cps     []Checkpoint
}

var (
	_ Store           = (*Mem)(nil)
	_ CheckpointStore = (*Mem)(nil)
)

// Append implements Store.
func (m *Mem) Append(ctx context.Context, e Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if want := uint64(len(m.entries)) + 1; e.Seq != want {
		return registry.FieldErrorf(registry.ECONFLICT, "seq", "audit entry %d appended where %d was expected", e.Seq, want)
	}
	m.entries = append(m.entries, e)
	return nil
}

// Last implements Store.
func (m *Mem) Last(ctx context.Context) (Entry, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.entries) == 0 {
		return Entry{}, registry.Errorf(registry.ENOTFOUND, "audit log is empty")
	}
	return m.entries[len(m.entries)-1], nil
}

// Scan implements Store. fn runs without the lock held, so it may append.
func (m *Mem) Scan(ctx context.Context, fromSeq uint64, fn func(Entry) error) error {
	m.mu.RLock()
	entries := m.entries // append-only: this prefix never changes
	m.mu.RUnlock()
	start := uint64(0)
	if fromSeq > 1 {
		start = fromSeq - 1
	}
	for i := start; i < uint64(len(entries)); i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(entries[i]); err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of entries.
func (m *Mem) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}

// SaveCheckpoint implements CheckpointStore.
func (m *Mem) SaveCheckpoint(ctx context.Context, c Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, have := range m.cps {
		if have.Seq == c.Seq && have.Hash == c.Hash && have.KeyID == c.KeyID {
			return nil
		}
	}
	m.cps = append(m.cps, c)
	return nil
}

// Checkpoints implements CheckpointStore.
func (m *Mem) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := append([]Checkpoint(nil), m.cps...)
	slices.SortStableFunc(out, func(a, b Checkpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}
