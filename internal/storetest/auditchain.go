package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// AuditChainStore is a store that keys its audit log (see
// sqlstore.Store.SetAuditChain).
type AuditChainStore interface {
	registry.Store
	audit.Store
	audit.CheckpointStore
	SetAuditChain(key func() *audit.ChainKey)
	StartAuditEpoch(ctx context.Context, now time.Time) (uint64, error)
	AuditEpoch(ctx context.Context, keyID string) (uint64, error)
	DeleteCheckpoint(ctx context.Context, origin string, seq uint64) error
}

// RunAuditChain checks the keyed audit log of stores made by newStore:
// entries carry MACs under the chain key once one is set, a chain key's
// epoch starts with its own entry in the same transaction as the first
// keyed write, entries from before keying still verify, and checkpoints can
// be saved twice and deleted.
func RunAuditChain(t *testing.T, newStore Factory) {
	open := func(t *testing.T) AuditChainStore {
		s := newStore(t)
		t.Cleanup(func() { s.Close() })
		cs, ok := s.(AuditChainStore)
		if !ok {
			t.Fatalf("%T does not key its audit log", s)
		}
		return cs
	}
	ctx := context.Background()
	chainKey := func(t *testing.T, seed byte) *audit.ChainKey {
		k, err := audit.NewChainKey(bytes.Repeat([]byte{seed}, audit.ChainKeySize))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	read := func(t *testing.T, s AuditChainStore) []audit.Entry {
		var out []audit.Entry
		if err := s.Scan(ctx, 1, func(e audit.Entry) error { out = append(out, e); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	verify := func(t *testing.T, s AuditChainStore, keys ...*audit.ChainKey) audit.Report {
		rep, err := audit.VerifyLog(ctx, s, audit.Options{ChainKeys: keys})
		if err != nil {
			t.Fatalf("VerifyLog = %+v, %v", rep, err)
		}
		return rep
	}

	t.Run("KeyedFromTheStart", func(t *testing.T) {
		s := open(t)
		k := chainKey(t, 1)
		s.SetAuditChain(func() *audit.ChainKey { return k })
		p := newPerson(t, s)
		if err := s.AppendAudit(ctx, *auditRec("person.read", "ps1_a")); err != nil {
			t.Fatal(err)
		}
		v := newDose(p, "2021-06-01")
		if _, err := s.RecordVaccination(ctx, v, registry.Write{Audit: auditRec("vaccination.create", "ps1_a")}); err != nil {
			t.Fatal(err)
		}
		got := read(t, s)
		if len(got) != 3 || got[0].Action != audit.EpochAction || got[0].Seq != 1 {
			t.Fatalf("entries = %v", got)
		}
		for _, e := range got {
			if !k.Signed(&e) {
				t.Fatalf("entry %d carries no valid MAC", e.Seq)
			}
		}
		rep := verify(t, s, k)
		if rep.MACs != 3 || rep.KeyedFrom != 1 {
			t.Fatalf("report = %+v", rep)
		}
		if seq, err := s.StartAuditEpoch(ctx, now); err != nil || seq != 1 {
			t.Fatalf("StartAuditEpoch on a keyed log = %d, %v", seq, err)
		}
		if seq, err := s.AuditEpoch(ctx, k.ID()); err != nil || seq != 1 {
			t.Fatalf("AuditEpoch = %d, %v", seq, err)
		}
		if _, err := s.AuditEpoch(ctx, "0000000000000000"); registry.ErrorCode(err) != registry.ENOTFOUND {
			t.Fatalf("AuditEpoch of another key = %v", err)
		}
		// Someone without the key changes an entry and recomputes the
		// chain: the stored MACs give it away.
		if _, err := audit.VerifyLog(ctx, s, audit.Options{ChainKeys: []*audit.ChainKey{chainKey(t, 9)}}); registry.ErrorCode(err) != registry.EINVALID {
			t.Fatalf("verified under the wrong chain key: %v", err)
		}
	})

	t.Run("PlainLogThenKeyed", func(t *testing.T) {
		s := open(t)
		for range 2 {
			if err := s.AppendAudit(ctx, *auditRec("person.read", "ps1_a")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.StartAuditEpoch(ctx, now); registry.ErrorCode(err) != registry.ESEALED {
			t.Fatalf("StartAuditEpoch without a key = %v", err)
		}
		k := chainKey(t, 1)
		var cur atomic.Pointer[audit.ChainKey]
		cur.Store(k)
		s.SetAuditChain(cur.Load)
		if seq, err := s.StartAuditEpoch(ctx, now); err != nil || seq != 3 {
			t.Fatalf("StartAuditEpoch = %d, %v", seq, err)
		}
		if err := s.AppendAudit(ctx, *auditRec("person.read", "ps1_b")); err != nil {
			t.Fatal(err)
		}
		// While no key is available (a sealed vault), entries go in
		// without a MAC; the next keyed one neither repeats the epoch's
		// entry nor leaves them uncovered.
		cur.Store(nil)
		op := registry.AuditRecord{Time: now, Actor: "cli", Role: audit.RoleOperator, Action: "token.create", Subject: "token:t1"}
		if err := s.AppendAudit(ctx, op); err != nil {
			t.Fatal(err)
		}
		cur.Store(k)
		if err := s.AppendAudit(ctx, *auditRec("person.read", "ps1_c")); err != nil {
			t.Fatal(err)
		}
		got := read(t, s)
		if len(got) != 6 || got[2].Action != audit.EpochAction || got[4].MAC != nil || got[0].MAC != nil {
			t.Fatalf("entries = %v", got)
		}
		rep := verify(t, s, k)
		if rep.KeyedFrom != 3 || rep.MACs != 3 || len(rep.Epochs) != 1 {
			t.Fatalf("report = %+v", rep)
		}
		// A new chain key (the ring was renewed) starts a new epoch.
		k2 := chainKey(t, 2)
		cur.Store(k2)
		if err := s.AppendAudit(ctx, *auditRec("person.read", "ps1_d")); err != nil {
			t.Fatal(err)
		}
		got = read(t, s)
		if len(got) != 8 || got[6].Action != audit.EpochAction || !k2.Signed(&got[6]) || !k2.Signed(&got[7]) {
			t.Fatalf("entries after the key changed = %v", got[5:])
		}
		rep = verify(t, s, k2)
		if len(rep.Epochs) != 2 || rep.Epochs[0].Checked || !rep.Epochs[1].Checked {
			t.Fatalf("report = %+v", rep)
		}
		if seq, err := s.AuditEpoch(ctx, k2.ID()); err != nil || seq != 7 {
			t.Fatalf("AuditEpoch = %d, %v", seq, err)
		}
	})

	t.Run("ConcurrentKeyedWrites", func(t *testing.T) {
		s := open(t)
		k := chainKey(t, 1)
		s.SetAuditChain(func() *audit.ChainKey { return k })
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 8 {
					if err := s.AppendAudit(ctx, *auditRec("person.read", fmt.Sprintf("ps1_%d_%d", g, i))); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rep := verify(t, s, k)
		if rep.Entries != 65 || rep.MACs != 65 || len(rep.Epochs) != 1 {
			t.Fatalf("report = %+v", rep)
		}
	})

	t.Run("Checkpoints", func(t *testing.T) {
		s := open(t)
		if err := s.AppendAudit(ctx, *auditRec("person.read", "ps1_a")); err != nil {
			t.Fatal(err)
		}
		last, _ := s.Last(ctx)
		for seq := range uint64(3) {
			cp := audit.Checkpoint{Origin: "test", Seq: seq + 1, Hash: last.Hash, Time: now.Truncate(time.Second), KeyID: "k1", Signature: []byte{1}}
			for range 2 {
				if err := s.SaveCheckpoint(ctx, cp); err != nil {
					t.Fatalf("SaveCheckpoint (twice): %v", err)
				}
			}
		}
		if err := s.DeleteCheckpoint(ctx, "test", 2); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteCheckpoint(ctx, "test", 9); err != nil {
			t.Fatal(err)
		}
		got, err := s.Checkpoints(ctx)
		if err != nil || len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 3 {
			t.Fatalf("Checkpoints = %+v, %v", got, err)
		}
	})
}
