package audit_test

import (
	"context"
	"crypto/ed25519"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// recompute rewrites the chain from index i on as someone with the database
// but without the chain key would: every hash recomputed, each MAC left as
// stored (stale), removed, or recomputed under a key of their own.
func recompute(rows []audit.Entry, i int, mac func(*audit.Entry)) []audit.Entry {
	for ; i < len(rows); i++ {
		rows[i].Seq = uint64(i + 1)
		if i == 0 {
			rows[i].PrevHash = audit.Hash{}
		} else {
			rows[i].PrevHash = rows[i-1].Hash
		}
		rows[i].Hash = rows[i].ComputeHash()
		mac(&rows[i])
	}
	return rows
}

func keepMAC(*audit.Entry)   {}
func dropMAC(e *audit.Entry) { e.MAC = nil }

// appendEntries chains records after rows, sealing them under chain (nil:
// without a MAC).
func appendEntries(t *testing.T, rows []audit.Entry, chain *audit.ChainKey, recs ...audit.Record) []audit.Entry {
	t.Helper()
	for _, r := range recs {
		var last *audit.Entry
		if n := len(rows); n > 0 {
			last = &rows[n-1]
		}
		e, err := audit.Next(last, r, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if chain != nil {
			chain.Seal(&e)
		}
		rows = append(rows, e)
	}
	return rows
}

// TestVerifyKeyedDetects is the list of what someone with the
// database but without the chain key does to hide their tracks. Each case
// passed `haven audit verify` when the chain was a bare SHA-256 chain and
// checkpoints lived only in the database.
func TestVerifyKeyedDetects(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	chain := testChainKey(t, 7)
	attacker := testChainKey(t, 66)
	m, cps := buildLog(t, 50, key, chain)
	orig := entries(t, m)
	gens := []audit.Generation{{ChainKeyID: chain.ID(), Seq: 1}}

	tests := []struct {
		name   string
		tamper func(rows []audit.Entry) []audit.Entry
		// Checkpoints as the attacker leaves the database's table, and as
		// an outside party kept them (the export).
		stored, external []audit.Checkpoint
		gens             []audit.Generation
		seq              uint64
		kind             string
	}{
		{"fail/truncated-1", func(r []audit.Entry) []audit.Entry { return r[:49] }, cps[:4], cps, nil, 50, audit.KindTruncated},
		{"fail/truncated-10", func(r []audit.Entry) []audit.Entry { return r[:40] }, cps[:4], cps, nil, 41, audit.KindTruncated},
		{"fail/truncated-all", func(r []audit.Entry) []audit.Entry { return nil }, nil, cps, nil, 1, audit.KindTruncated},
		// Without any checkpoint, the installation's record of when its
		// chain key started catches a log emptied below that entry.
		{"fail/truncated-all-no-checkpoints", func(r []audit.Entry) []audit.Entry { return nil }, nil, nil, gens, 1, audit.KindTruncated},
		{"fail/checkpoints-deleted", func(r []audit.Entry) []audit.Entry { return r }, nil, cps, nil, 1, audit.KindCheckpointsDeleted},
		{"fail/recent-checkpoints-deleted", func(r []audit.Entry) []audit.Entry { return r }, cps[:2], cps, nil, 21, audit.KindCheckpointsDeleted},
		{"fail/deleted-recomputed", func(r []audit.Entry) []audit.Entry {
			return recompute(slices.Delete(r, 19, 20), 19, keepMAC)
		}, nil, nil, nil, 20, audit.KindRewritten},
		{"fail/deleted-recomputed-macs-dropped", func(r []audit.Entry) []audit.Entry {
			return recompute(slices.Delete(r, 19, 20), 19, dropMAC)
		}, nil, nil, nil, 20, audit.KindUnkeyed},
		{"fail/deleted-recomputed-own-key", func(r []audit.Entry) []audit.Entry {
			return recompute(slices.Delete(r, 19, 20), 19, attacker.Seal)
		}, nil, nil, nil, 20, audit.KindRewritten},
		{"fail/changed-recomputed", func(r []audit.Entry) []audit.Entry {
			r[30].Purpose = "other"
			return recompute(r, 30, keepMAC)
		}, nil, nil, nil, 31, audit.KindRewritten},
		{"fail/changed-recomputed-checkpoints-dropped", func(r []audit.Entry) []audit.Entry {
			r[30].Subject = "ps1_00000000000000000000000000000000"
			return recompute(r, 30, keepMAC)
		}, cps[:3], nil, nil, 31, audit.KindRewritten},
		{"fail/deleted-first-recomputed", func(r []audit.Entry) []audit.Entry {
			return recompute(r[1:], 0, keepMAC)
		}, nil, nil, nil, 1, audit.KindChanged},
		{"fail/marker-removed-recomputed", func(r []audit.Entry) []audit.Entry {
			// Drop the chain-key entry and every MAC: a plain chain again.
			return recompute(r[1:], 0, dropMAC)
		}, nil, nil, gens, 1, audit.KindRewritten},
		{"fail/new-epoch-under-own-key", func(r []audit.Entry) []audit.Entry {
			r = recompute(r[:30], 29, keepMAC)[:30]
			return appendEntries(t, r, attacker, audit.EpochRecord(attacker), rec(1), rec(2))
		}, nil, nil, gens, 31, audit.KindUnknownKey},
		{"fail/new-epoch-under-own-key-no-generations", func(r []audit.Entry) []audit.Entry {
			return appendEntries(t, r[:30], attacker, audit.EpochRecord(attacker), rec(1), rec(2))
		}, nil, nil, nil, 31, audit.KindUnknownKey},
		{"fail/appended-without-key", func(r []audit.Entry) []audit.Entry {
			return appendEntries(t, r, nil, rec(1), rec(2))
		}, nil, nil, nil, 51, audit.KindUnkeyed},
		{"fail/mac-before-chain-key-entry", func(r []audit.Entry) []audit.Entry {
			r = recompute(r[1:], 0, dropMAC)
			chain.Seal(&r[4])
			return r
		}, nil, nil, nil, 5, audit.KindChanged},
		{"fail/mac-altered", func(r []audit.Entry) []audit.Entry {
			bad := audit.MAC{1}
			r[9].MAC = &bad
			return r
		}, cps, nil, nil, 10, audit.KindChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := tt.tamper(slices.Clone(orig))
			rep, err := audit.VerifyLog(context.Background(), &tableStore{rows: rows}, audit.Options{
				Checkpoints: tt.stored, External: tt.external, Keys: []ed25519.PublicKey{pub},
				ChainKeys: []*audit.ChainKey{chain}, Generations: tt.gens})
			wantCode(t, err, registry.EINVALID)
			if rep.OK || rep.Problem == nil {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			if rep.Problem.Seq != tt.seq || rep.Problem.Kind != tt.kind {
				t.Fatalf("problem = %+v, want seq %d kind %s", *rep.Problem, tt.seq, tt.kind)
			}
		})
	}
}

// TestVerifyKeyedAccepts is what a keyed log legitimately looks like.
func TestVerifyKeyedAccepts(t *testing.T) {
	ctx := context.Background()
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	chain := testChainKey(t, 7)
	m, cps := buildLog(t, 50, key, chain)
	orig := entries(t, m)
	keys := []ed25519.PublicKey{pub}

	t.Run("ok/intact", func(t *testing.T) {
		rep, err := audit.VerifyLog(ctx, m, audit.Options{Checkpoints: cps, External: cps[3:], Keys: keys,
			ChainKeys: []*audit.ChainKey{chain}, Generations: []audit.Generation{{ChainKeyID: chain.ID(), Seq: 1}}})
		if err != nil || !rep.OK || rep.MACs != 50 || rep.KeyedFrom != 1 || rep.External != 2 || len(rep.Epochs) != 1 || !rep.Epochs[0].Checked {
			t.Fatalf("%+v, %v", rep, err)
		}
		if len(rep.Warnings) != 0 {
			t.Fatalf("warnings: %q", rep.Warnings)
		}
	})
	t.Run("ok/without-chain-key", func(t *testing.T) {
		// The HTTP verify route holds no chain key: it checks the hash
		// chain and the checkpoints, and says so.
		rep, err := audit.Verify(ctx, m, cps, pub)
		if err != nil || !rep.OK || rep.MACs != 0 || !strings.Contains(strings.Join(rep.Warnings, ";"), "MACs were not checked") {
			t.Fatalf("%+v, %v", rep, err)
		}
	})
	t.Run("ok/operator-entries-without-key", func(t *testing.T) {
		// haven token create on a stopped server: no MAC. Mid-log, the
		// next keyed entry covers them; at the end they are reported.
		op := audit.Record{Actor: "cli", Role: audit.RoleOperator, Action: "token.create", Subject: "token:abc"}
		rows := appendEntries(t, slices.Clone(orig), nil, op, op)
		rows = appendEntries(t, rows, chain, rec(3))
		rows = appendEntries(t, rows, nil, op)
		rep, err := audit.VerifyLog(ctx, &tableStore{rows: rows}, audit.Options{ChainKeys: []*audit.ChainKey{chain}})
		if err != nil || !rep.OK || rep.Unsealed != 1 || rep.MACs != 51 {
			t.Fatalf("%+v, %v", rep, err)
		}
	})
	t.Run("ok/server-entries-without-key-covered", func(t *testing.T) {
		// A server that started sealed writes before it can open the
		// chain key; a keyed entry after them covers them.
		rows := appendEntries(t, slices.Clone(orig), nil, rec(1), rec(2))
		rows = appendEntries(t, rows, chain, rec(3))
		if rep, err := audit.VerifyLog(ctx, &tableStore{rows: rows}, audit.Options{ChainKeys: []*audit.ChainKey{chain}}); err != nil || !rep.OK {
			t.Fatalf("%+v, %v", rep, err)
		}
		// So does a signed checkpoint of them.
		rows = appendEntries(t, slices.Clone(orig), nil, rec(1), rec(2))
		signer, _ := audit.NewSigner("haven.test/audit", key)
		c, _ := signer.Sign(rows[len(rows)-1], t0)
		if rep, err := audit.VerifyLog(ctx, &tableStore{rows: rows}, audit.Options{Checkpoints: []audit.Checkpoint{c}, Keys: keys,
			ChainKeys: []*audit.ChainKey{chain}}); err != nil || !rep.OK {
			t.Fatalf("%+v, %v", rep, err)
		}
	})
	t.Run("ok/plain-log-then-keyed", func(t *testing.T) {
		// A log from before keying: its entries stay a plain chain, and
		// the chain-key entry's MAC covers them.
		plain, _ := buildLog(t, 20, key, nil)
		rows := appendEntries(t, entries(t, plain), chain, audit.EpochRecord(chain), rec(1), rec(2))
		rep, err := audit.VerifyLog(ctx, &tableStore{rows: rows}, audit.Options{ChainKeys: []*audit.ChainKey{chain},
			Generations: []audit.Generation{{ChainKeyID: chain.ID(), Seq: 21}}})
		if err != nil || !rep.OK || rep.KeyedFrom != 21 || rep.MACs != 3 {
			t.Fatalf("%+v, %v", rep, err)
		}
		// Rewriting the plain part now needs the key.
		rows[4].Action = "person.list"
		rows = recompute(rows, 4, keepMAC)
		rep, err = audit.VerifyLog(ctx, &tableStore{rows: rows}, audit.Options{ChainKeys: []*audit.ChainKey{chain}})
		wantCode(t, err, registry.EINVALID)
		if rep.Problem.Seq != 1 || rep.Problem.Kind != audit.KindRewritten {
			t.Fatalf("problem = %+v", rep.Problem)
		}
	})
	t.Run("ok/key-changed", func(t *testing.T) {
		// After a shred the old chain key is gone: the new epoch's first
		// entry vouches for everything before it.
		next := testChainKey(t, 8)
		rows := appendEntries(t, slices.Clone(orig), next, audit.EpochRecord(next), rec(1), rec(2))
		gens := []audit.Generation{{ChainKeyID: chain.ID(), Seq: 1}, {ChainKeyID: next.ID(), Seq: 51}}
		opt := audit.Options{ChainKeys: []*audit.ChainKey{next}, Generations: gens}
		rep, err := audit.VerifyLog(ctx, &tableStore{rows: rows}, opt)
		if err != nil || !rep.OK || len(rep.Epochs) != 2 || rep.Epochs[0].Checked || !rep.Epochs[1].Checked || rep.MACs != 3 {
			t.Fatalf("%+v, %v", rep, err)
		}
		// The new key has not written yet: a warning, not a failure.
		rep, err = audit.VerifyLog(ctx, m, audit.Options{ChainKeys: []*audit.ChainKey{next}, Generations: gens[:1]})
		if err != nil || !rep.OK || len(rep.Warnings) == 0 {
			t.Fatalf("%+v, %v", rep, err)
		}
		// An entry of the old epoch changed and the chain recomputed
		// through the new epoch: the new key's MACs fail.
		rows[10].Actor = "tok-evil"
		rows = recompute(rows, 10, keepMAC)
		rep, err = audit.VerifyLog(ctx, &tableStore{rows: rows}, opt)
		wantCode(t, err, registry.EINVALID)
		if rep.Problem.Seq != 1 || rep.Problem.Kind != audit.KindRewritten {
			t.Fatalf("problem = %+v", rep.Problem)
		}
		// Going back to the old, unverifiable key after the new one.
		rows = appendEntries(t, slices.Clone(orig), next, audit.EpochRecord(next), rec(1))
		rows = appendEntries(t, rows, chain, audit.EpochRecord(chain), rec(2))
		rep, err = audit.VerifyLog(ctx, &tableStore{rows: rows}, audit.Options{Generations: gens})
		wantCode(t, err, registry.EINVALID)
		if rep.Problem.Seq != 53 || rep.Problem.Kind != audit.KindUnknownKey {
			t.Fatalf("problem = %+v", rep.Problem)
		}
	})
}

func TestChainKey(t *testing.T) {
	_, err := audit.NewChainKey([]byte("short"))
	wantCode(t, err, registry.EINVALID)
	a, b := testChainKey(t, 1), testChainKey(t, 2)
	if a.ID() == b.ID() || len(a.ID()) != 16 || a.ID() != testChainKey(t, 1).ID() {
		t.Fatalf("IDs %q %q", a.ID(), b.ID())
	}
	if !a.Is(slices.Repeat([]byte{1}, audit.ChainKeySize)) || a.Is(slices.Repeat([]byte{2}, audit.ChainKeySize)) {
		t.Fatal("Is")
	}
	e, _ := audit.Next(nil, rec(0), t0)
	if a.Signed(&e) {
		t.Fatal("an entry without a MAC is signed")
	}
	a.Seal(&e)
	if !a.Signed(&e) || b.Signed(&e) {
		t.Fatal("Signed does not tell the keys apart")
	}
	m := audit.EpochRecord(a)
	ep, _ := audit.Next(nil, m, t0)
	if id, ok := audit.EpochKeyID(&ep); !ok || id != a.ID() {
		t.Fatalf("EpochKeyID = %q, %v", id, ok)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, ok := audit.EpochKeyID(&e); ok {
		t.Fatal("an ordinary entry starts an epoch")
	}
}
