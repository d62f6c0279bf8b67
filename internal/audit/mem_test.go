package audit_test

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// memStore is an in-memory audit.Store and audit.CheckpointStore, the test
// double for the database tables. The zero value is an empty log.
type memStore struct {
	mu      sync.RWMutex
	entries []audit.Entry
	cps     []audit.Checkpoint
}

var (
	_ audit.Store           = (*memStore)(nil)
	_ audit.CheckpointStore = (*memStore)(nil)
)

func (m *memStore) Append(ctx context.Context, e audit.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if want := uint64(len(m.entries)) + 1; e.Seq != want {
		return registry.FieldErrorf(registry.ECONFLICT, "seq", "audit entry %d appended where %d was expected", e.Seq, want)
	}
	m.entries = append(m.entries, e)
	return nil
}

func (m *memStore) Last(ctx context.Context) (audit.Entry, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.entries) == 0 {
		return audit.Entry{}, registry.Errorf(registry.ENOTFOUND, "audit log is empty")
	}
	return m.entries[len(m.entries)-1], nil
}

func (m *memStore) Scan(ctx context.Context, fromSeq uint64, fn func(audit.Entry) error) error {
	m.mu.RLock()
	entries := m.entries
	m.mu.RUnlock()
	for _, e := range entries {
		if e.Seq >= fromSeq {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memStore) SaveCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, have := range m.cps {
		if have.Origin == c.Origin && have.Seq == c.Seq {
			return nil
		}
	}
	m.cps = append(m.cps, c)
	return nil
}

func (m *memStore) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := slices.Clone(m.cps)
	slices.SortStableFunc(out, func(a, b audit.Checkpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}
