package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
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
	JoinAuditChains(ctx context.Context, now time.Time) (audit.Entry, error)
	DB() *sql.DB
}

// RunAuditChain checks the keyed audit log of stores made by newStore:
// entries carry MACs under the chain key once one is set, a chain key's
// epoch starts with its own entry in the same transaction as the first
// keyed write, entries from before keying still verify, and checkpoints can
// be saved twice and deleted. It holds for a store with one chain (SQLite:
// every entry in chain 0) and for one with a chain per writer (PostgreSQL:
// the writes go to chains of their own, chain 0 holds the epochs that
// StartAuditEpoch starts and the joins): "the writes" below are the entries
// of the chain that holds them.
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
	// writes returns the entries of the chain that holds a sequence of
	// writes by one client: chain 0 in a store with one chain, else the
	// chain other than 0 (one writer after another reuse one chain).
	writes := func(t *testing.T, s AuditChainStore) []audit.Entry {
		t.Helper()
		all := read(t, s)
		chain := uint64(0)
		for _, e := range all {
			if e.Chain != 0 {
				if chain != 0 && e.Chain != chain {
					t.Fatalf("sequential writes went to chains %d and %d", chain, e.Chain)
				}
				chain = e.Chain
			}
		}
		var out []audit.Entry
		for _, e := range all {
			if e.Chain == chain {
				out = append(out, e)
			}
		}
		return out
	}
	spine := func(t *testing.T, s AuditChainStore) []audit.Entry {
		t.Helper()
		var out []audit.Entry
		for _, e := range read(t, s) {
			if e.Chain == 0 {
				out = append(out, e)
			}
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
	// chainReport is the report's view of one chain: where it is keyed
	// from, its MACs checked, its epochs.
	chainReport := func(rep audit.Report, chain uint64) (keyedFrom, macs uint64, epochs []audit.Epoch) {
		for _, ep := range rep.Epochs {
			if ep.Chain == chain {
				epochs = append(epochs, ep)
			}
		}
		if chain == 0 {
			macs = rep.MACs
			for _, c := range rep.Chains {
				macs -= c.MACs
			}
			return rep.KeyedFrom, macs, epochs
		}
		for _, c := range rep.Chains {
			if c.Chain == chain {
				return c.KeyedFrom, c.MACs, epochs
			}
		}
		return 0, 0, epochs
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
		got := writes(t, s)
		if len(got) != 3 || got[0].Action != audit.EpochAction || got[0].Seq != 1 || len(read(t, s)) != 3 {
			t.Fatalf("entries = %v", got)
		}
		for _, e := range got {
			if !k.Signed(&e) {
				t.Fatalf("entry %d carries no valid MAC", e.Seq)
			}
		}
		rep := verify(t, s, k)
		if keyedFrom, macs, _ := chainReport(rep, got[0].Chain); rep.MACs != 3 || macs != 3 || keyedFrom != 1 {
			t.Fatalf("report = %+v", rep)
		}
		// Chain 0 is in the key's epoch already (one chain), or starts it
		// now (a chain per writer; chain 0 was empty).
		if seq, err := s.StartAuditEpoch(ctx, now); err != nil || seq != 1 {
			t.Fatalf("StartAuditEpoch on a keyed log = %d, %v", seq, err)
		}
		if n := len(spine(t, s)); n != 3 && n != 1 {
			t.Fatalf("chain 0 holds %d entries", n)
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
		// The epoch's entry follows what chain 0 holds: the two plain
		// entries (one chain), or nothing (a chain per writer).
		before := uint64(len(spine(t, s)))
		if seq, err := s.StartAuditEpoch(ctx, now); err != nil || seq != before+1 {
			t.Fatalf("StartAuditEpoch = %d, %v; chain 0 held %d entries", seq, err, before)
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
		got := writes(t, s)
		if len(got) != 6 || got[2].Action != audit.EpochAction || got[4].MAC != nil || got[0].MAC != nil {
			t.Fatalf("entries = %v", got)
		}
		rep := verify(t, s, k)
		if keyedFrom, macs, epochs := chainReport(rep, got[0].Chain); keyedFrom != 3 || macs != 3 || len(epochs) != 1 {
			t.Fatalf("report = %+v", rep)
		}
		// A new chain key (the ring was renewed) starts a new epoch, in
		// the writes' chain with the next write, and in chain 0 when the
		// server notices (StartAuditEpoch; in one chain, the same entry).
		k2 := chainKey(t, 2)
		cur.Store(k2)
		if err := s.AppendAudit(ctx, *auditRec("person.read", "ps1_d")); err != nil {
			t.Fatal(err)
		}
		epoch, err := s.StartAuditEpoch(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		got = writes(t, s)
		if len(got) != 8 || got[6].Action != audit.EpochAction || !k2.Signed(&got[6]) || !k2.Signed(&got[7]) {
			t.Fatalf("entries after the key changed = %v", got[5:])
		}
		rep = verify(t, s, k2)
		if _, _, epochs := chainReport(rep, got[0].Chain); len(epochs) != 2 || epochs[0].Checked || !epochs[1].Checked {
			t.Fatalf("report = %+v", rep)
		}
		sp := spine(t, s)
		if seq, err := s.AuditEpoch(ctx, k2.ID()); err != nil || seq != epoch || sp[seq-1].Action != audit.EpochAction || !k2.Signed(&sp[seq-1]) {
			t.Fatalf("AuditEpoch = %d, %v; StartAuditEpoch said %d", seq, err, epoch)
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
		// Each chain starts with the key's epoch, then holds writes: 64
		// writes and one epoch entry per chain, every one keyed.
		rep := verify(t, s, k)
		chains := map[uint64]bool{}
		for _, ep := range rep.Epochs {
			if ep.Seq != 1 || chains[ep.Chain] {
				t.Fatalf("epochs = %+v", rep.Epochs)
			}
			chains[ep.Chain] = true
		}
		if rep.Entries != 64+uint64(len(chains)) || rep.MACs != rep.Entries || len(chains) == 0 {
			t.Fatalf("report = %+v", rep)
		}
		t.Logf("8 concurrent writers appended to %d chains", len(chains))
	})

	t.Run("JoinedChains", func(t *testing.T) {
		// Writers append concurrently; a join in chain 0 names every
		// chain's head, and a signed checkpoint of chain 0 then covers
		// every chain: cutting any chain short, or deleting a whole chain,
		// shows, naming the chain.
		s := open(t)
		k := chainKey(t, 1)
		s.SetAuditChain(func() *audit.ChainKey { return k })
		if _, err := s.StartAuditEpoch(ctx, now); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					if err := s.AppendAudit(ctx, *auditRec("person.read", fmt.Sprintf("ps1_%d_%d", g, i))); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		head, err := s.JoinAuditChains(ctx, now)
		if err != nil || head.Chain != 0 {
			t.Fatalf("JoinAuditChains = %v, %v", head, err)
		}
		if again, err := s.JoinAuditChains(ctx, now); err != nil || again.Seq != head.Seq {
			t.Fatalf("a join with no chain moved wrote %v (%v), after %v", again, err, head)
		}
		priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
		signer, err := audit.NewSigner("test", priv)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := signer.Sign(head, now)
		if err != nil {
			t.Fatal(err)
		}
		opt := audit.Options{External: []audit.Checkpoint{cp}, Checkpoints: []audit.Checkpoint{cp}, Keys: []ed25519.PublicKey{signer.PublicKey()}, ChainKeys: []*audit.ChainKey{k}}
		rep, err := audit.VerifyLog(ctx, s, opt)
		if err != nil || rep.External != 1 {
			t.Fatalf("VerifyLog = %+v, %v", rep, err)
		}
		for _, c := range rep.Chains {
			if c.Joined != c.LastSeq {
				t.Fatalf("chain %d is joined up to %d of %d", c.Chain, c.Joined, c.LastSeq)
			}
		}
		// The chain with the most entries is cut short by one, then
		// deleted (in one chain, the log is cut short).
		var victim audit.ChainReport
		for _, c := range rep.Chains {
			if c.LastSeq > victim.LastSeq {
				victim = c
			}
		}
		if len(rep.Chains) == 0 {
			victim = audit.ChainReport{Chain: 0, LastSeq: rep.LastSeq}
		}
		for _, cut := range []uint64{victim.LastSeq - 1, 0} {
			if _, err := s.DB().ExecContext(ctx, `DELETE FROM audit_log WHERE chain = $1 AND seq > $2`, int64(victim.Chain), int64(cut)); err != nil {
				t.Fatal(err)
			}
			rep, err := audit.VerifyLog(ctx, s, opt)
			if registry.ErrorCode(err) != registry.EINVALID || rep.Problem == nil || rep.Problem.Chain != victim.Chain ||
				rep.Problem.Seq != cut+1 || rep.Problem.Kind != audit.KindTruncated {
				t.Fatalf("chain %d cut to %d: VerifyLog = %+v, %v", victim.Chain, cut, rep.Problem, err)
			}
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
