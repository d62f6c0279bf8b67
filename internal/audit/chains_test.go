package audit_test

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// chainStore is a log of several chains after someone edited it: rows in
// any order, returned by chain and then seq, as SELECT … ORDER BY chain, seq
// would. It implements audit.ChainStore.
type chainStore struct{ rows []audit.Entry }

var _ audit.ChainStore = (*chainStore)(nil)

func (s *chainStore) Append(ctx context.Context, e audit.Entry) error {
	s.rows = append(s.rows, e)
	return nil
}

func (s *chainStore) sorted() []audit.Entry {
	rows := slices.Clone(s.rows)
	slices.SortStableFunc(rows, func(a, b audit.Entry) int {
		return cmp.Or(cmp.Compare(a.Chain, b.Chain), cmp.Compare(a.Seq, b.Seq))
	})
	return rows
}

func (s *chainStore) Last(ctx context.Context) (audit.Entry, error) {
	if len(s.rows) == 0 {
		return audit.Entry{}, registry.Errorf(registry.ENOTFOUND, "empty")
	}
	return s.rows[len(s.rows)-1], nil
}

func (s *chainStore) Chains(ctx context.Context) ([]uint64, error) {
	set := map[uint64]bool{}
	for _, e := range s.rows {
		set[e.Chain] = true
	}
	return slices.Sorted(maps.Keys(set)), nil
}

func (s *chainStore) ScanChain(ctx context.Context, chain, from uint64, fn func(audit.Entry) error) error {
	for _, e := range s.sorted() {
		if e.Chain == chain && e.Seq >= from {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *chainStore) Scan(ctx context.Context, from uint64, fn func(audit.Entry) error) error {
	for _, e := range s.sorted() {
		if e.Seq >= from {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// chainLog builds a log as a PostgreSQL store writes it: chain 0 starts the
// chain key's epoch; writers append to chains 11, 22 and 33 (each starting
// with its own epoch entry), and every round a join entry in chain 0 names
// the heads that moved, and a checkpoint of chain 0 is signed.
type chainLog struct {
	t      *testing.T
	rows   []audit.Entry
	heads  map[uint64]*audit.Entry
	signer *audit.Signer
	cps    []audit.Checkpoint
	key    *audit.ChainKey
	clock  time.Time
}

func newChainLog(t *testing.T, key *audit.ChainKey) *chainLog {
	signer, err := audit.NewSigner("haven.test/audit", testKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	l := &chainLog{t: t, heads: map[uint64]*audit.Entry{}, signer: signer, key: key, clock: t0}
	l.add(0, audit.EpochRecord(key), key)
	return l
}

func (l *chainLog) add(chain uint64, r audit.Record, key *audit.ChainKey) audit.Entry {
	l.t.Helper()
	l.clock = l.clock.Add(time.Millisecond)
	if l.heads[chain] == nil && chain != 0 && key != nil && r.Action != audit.EpochAction {
		l.add(chain, audit.EpochRecord(key), key)
	}
	e, err := audit.NextInChain(chain, l.heads[chain], r, l.clock)
	if err != nil {
		l.t.Fatal(err)
	}
	if key != nil {
		key.Seal(&e)
	}
	l.rows = append(l.rows, e)
	l.heads[chain] = &e
	return e
}

// join names every chain's head in chain 0 and signs chain 0's head.
func (l *chainLog) join(key *audit.ChainKey) {
	l.t.Helper()
	var heads []audit.Head
	for _, c := range slices.Sorted(maps.Keys(l.heads)) {
		if c != 0 {
			heads = append(heads, audit.Head{Chain: c, Seq: l.heads[c].Seq, Hash: l.heads[c].Hash})
		}
	}
	r, err := audit.JoinRecord(heads)
	if err != nil {
		l.t.Fatal(err)
	}
	l.clock = l.clock.Add(time.Millisecond)
	e, err := audit.Next(l.heads[0], r, l.clock)
	if err != nil {
		l.t.Fatal(err)
	}
	e.Heads = heads
	if key != nil {
		key.Seal(&e)
	}
	l.rows = append(l.rows, e)
	l.heads[0] = &e
	cp, err := l.signer.Sign(e, t0)
	if err != nil {
		l.t.Fatal(err)
	}
	l.cps = append(l.cps, cp)
}

func buildChains(t *testing.T, key *audit.ChainKey) *chainLog {
	l := newChainLog(t, key)
	for round := range 3 {
		for i, c := range []uint64{11, 22, 33} {
			l.add(c, rec(round*3+i), key)
			l.add(c, rec(round*3+i+1), key)
		}
		l.join(key)
	}
	return l
}

func (l *chainLog) opts(keys ...*audit.ChainKey) audit.Options {
	return audit.Options{Checkpoints: l.cps, Keys: []ed25519.PublicKey{l.signer.PublicKey()}, ChainKeys: keys}
}

// find returns the index of entry seq of chain in rows.
func find(rows []audit.Entry, chain, seq uint64) int {
	return slices.IndexFunc(rows, func(e audit.Entry) bool { return e.Chain == chain && e.Seq == seq })
}

func TestVerifyChainsIntact(t *testing.T) {
	key := testChainKey(t, 7)
	l := buildChains(t, key)
	rep, err := audit.VerifyLog(context.Background(), &chainStore{rows: l.rows}, l.opts(key))
	if err != nil {
		t.Fatalf("VerifyLog = %+v, %v", rep, err)
	}
	if rep.Entries != uint64(len(l.rows)) || rep.MACs != uint64(len(l.rows)) || len(rep.Chains) != 3 || rep.Checkpoints != 3 || len(rep.Epochs) != 4 {
		t.Fatalf("report = %+v", rep)
	}
	for _, c := range rep.Chains {
		if c.Joined != c.LastSeq || c.LastSeq != 7 || c.KeyedFrom != 1 {
			t.Fatalf("chain report = %+v", c)
		}
	}
	if rep.LastSeq != 4 || rep.LastHash != l.heads[0].Hash {
		t.Fatalf("chain 0 head = %d %s", rep.LastSeq, rep.LastHash)
	}
	// A store that is not a ChainStore shows chain 0 alone.
	var spine []audit.Entry
	for _, e := range l.rows {
		if e.Chain == 0 {
			spine = append(spine, e)
		}
	}
	if _, err := audit.VerifyLog(context.Background(), &tableStore{rows: spine}, l.opts(key)); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyChainsTampering: what someone with the database does to one
// chain shows in that chain, at the first bad entry, whether or not they
// hold the chain key: the joins in chain 0, covered by signed checkpoints,
// say where every chain ended.
func TestVerifyChainsTampering(t *testing.T) {
	key := testChainKey(t, 7)
	l := buildChains(t, key)
	// rekey recomputes chain's entries from seq on, sealing them under k
	// (nil: dropping the MACs), as someone who rewrites a chain would.
	rekey := func(rows []audit.Entry, chain, from uint64, k *audit.ChainKey) {
		var prev *audit.Entry
		for i := range rows {
			e := &rows[i]
			if e.Chain != chain {
				continue
			}
			if e.Seq >= from {
				if prev != nil {
					e.PrevHash = prev.Hash
				}
				e.Hash = e.ComputeHash()
				e.MAC = nil
				if k != nil {
					k.Seal(e)
				}
			}
			prev = e
		}
	}
	tests := []struct {
		name   string
		tamper func(r []audit.Entry) []audit.Entry
		chain  uint64
		seq    uint64
		kind   string
	}{
		{"ok/untouched", func(r []audit.Entry) []audit.Entry { return r }, 0, 0, ""},
		{"fail/truncated-chain", func(r []audit.Entry) []audit.Entry {
			return slices.DeleteFunc(r, func(e audit.Entry) bool { return e.Chain == 22 && e.Seq > 5 })
		}, 22, 6, audit.KindTruncated},
		{"fail/chain-deleted", func(r []audit.Entry) []audit.Entry {
			return slices.DeleteFunc(r, func(e audit.Entry) bool { return e.Chain == 33 })
		}, 33, 1, audit.KindTruncated},
		{"fail/changed", func(r []audit.Entry) []audit.Entry { r[find(r, 11, 3)].Actor = "tok-evil"; return r }, 11, 3, audit.KindChanged},
		{"fail/deleted", func(r []audit.Entry) []audit.Entry { return slices.Delete(r, find(r, 22, 4), find(r, 22, 4)+1) }, 22, 4, audit.KindDeleted},
		{"fail/rewritten-without-key", func(r []audit.Entry) []audit.Entry {
			r[find(r, 22, 4)].Action = "person.list"
			rekey(r, 22, 4, nil)
			return r
		}, 22, 4, audit.KindRewritten},
		{"fail/rewritten-with-stolen-key", func(r []audit.Entry) []audit.Entry {
			r[find(r, 22, 4)].Action = "person.list"
			rekey(r, 22, 4, key)
			return r
		}, 22, 5, audit.KindRewritten}, // the MACs hold: the first joined head that differs
		{"fail/moved-to-another-chain", func(r []audit.Entry) []audit.Entry {
			r = slices.DeleteFunc(r, func(e audit.Entry) bool { return e.Chain == 33 && e.Seq == 7 })
			e := r[find(r, 11, 7)]
			e.Chain = 33
			return append(r, e)
		}, 33, 7, audit.KindChanged},
		{"fail/join-heads-changed", func(r []audit.Entry) []audit.Entry {
			i := find(r, 0, 3)
			r[i].Heads = slices.Clone(r[i].Heads)
			r[i].Heads[1].Seq--
			return r
		}, 0, 3, audit.KindChanged},
		{"fail/appended-without-key", func(r []audit.Entry) []audit.Entry {
			e, _ := audit.Next(l.heads[11], rec(3), l.clock)
			return append(r, e)
		}, 11, 8, audit.KindUnkeyed},
		{"fail/join-in-data-chain", func(r []audit.Entry) []audit.Entry {
			j, _ := audit.JoinRecord(nil)
			e, _ := audit.Next(l.heads[11], j, l.clock)
			key.Seal(&e)
			return append(r, e)
		}, 11, 8, audit.KindInserted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := tt.tamper(slices.Clone(l.rows))
			rep, err := audit.VerifyLog(context.Background(), &chainStore{rows: rows}, l.opts(key))
			if tt.kind == "" {
				if err != nil {
					t.Fatalf("VerifyLog = %+v, %v", rep, err)
				}
				return
			}
			wantCode(t, err, registry.EINVALID)
			if rep.OK || rep.Problem == nil {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			if p := rep.Problem; p.Chain != tt.chain || p.Seq != tt.seq || p.Kind != tt.kind {
				t.Fatalf("problem = %+v, want chain %d seq %d kind %s", *p, tt.chain, tt.seq, tt.kind)
			}
			want := fmt.Sprintf("audit[chain=%d,seq=%d]", tt.chain, tt.seq)
			if tt.chain == 0 {
				want = fmt.Sprintf("audit[seq=%d]", tt.seq)
			}
			if registry.ErrorField(err) != want {
				t.Fatalf("error field = %q, want %q", registry.ErrorField(err), want)
			}
		})
	}
}

// TestVerifyChainsTruncatedSpine: cutting chain 0 back, with the joins
// and checkpoints that covered the other chains, is caught by the external
// checkpoints, as for a log of one chain.
func TestVerifyChainsTruncatedSpine(t *testing.T) {
	key := testChainKey(t, 7)
	l := buildChains(t, key)
	rows := slices.DeleteFunc(slices.Clone(l.rows), func(e audit.Entry) bool { return e.Chain == 0 && e.Seq > 2 })
	opt := l.opts(key)
	opt.Checkpoints, opt.External = l.cps[:1], l.cps
	rep, err := audit.VerifyLog(context.Background(), &chainStore{rows: rows}, opt)
	wantCode(t, err, registry.EINVALID)
	if rep.Problem == nil || rep.Problem.Chain != 0 || rep.Problem.Seq != 3 || rep.Problem.Kind != audit.KindTruncated {
		t.Fatalf("problem = %+v", rep.Problem)
	}
}

// TestVerifyChainsKeyChange: after the chain key changes, a chain that
// stopped under the old key verifies when a join under the new key covers
// it, and entries added to it later under the old key do not.
func TestVerifyChainsKeyChange(t *testing.T) {
	old, cur := testChainKey(t, 7), testChainKey(t, 8)
	l := buildChains(t, old)
	l.add(0, audit.EpochRecord(cur), cur)
	delete(l.heads, 33) // chain 33 starts again under the new key
	l.add(11, audit.EpochRecord(cur), cur)
	l.add(11, rec(1), cur)
	l.join(cur) // names 11 and 22; 22 stopped under the old key
	rep, err := audit.VerifyLog(context.Background(), &chainStore{rows: l.rows}, l.opts(cur))
	if err != nil {
		t.Fatalf("VerifyLog = %+v, %v", rep, err)
	}
	// Without the join, chain 22's last entries under the old key are not
	// covered by anything the current key vouches for.
	stale := slices.Clone(l.rows)
	e, _ := audit.Next(l.heads[22], rec(4), l.clock)
	old.Seal(&e)
	stale = append(stale, e)
	rep, err = audit.VerifyLog(context.Background(), &chainStore{rows: stale}, l.opts(cur))
	wantCode(t, err, registry.EINVALID)
	if p := rep.Problem; p == nil || p.Chain != 22 || p.Seq != 8 || p.Kind != audit.KindUnknownKey || !strings.Contains(p.Detail, "after the key changed") {
		t.Fatalf("problem = %+v", rep.Problem)
	}
}
