package audit_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
)

// BenchmarkNextKeyed is the chaining cost of one entry of a keyed log: the
// hash, the MAC of the head (to see that the epoch is current, as the
// stores do) and the new entry's MAC.
func BenchmarkNextKeyed(b *testing.B) {
	chain := testChainKey(b, 7)
	last, _ := audit.Next(nil, rec(0), t0)
	chain.Seal(&last)
	r := rec(1)
	b.ReportAllocs()
	for b.Loop() {
		if !chain.Signed(&last) {
			b.Fatal("head is not in the key's epoch")
		}
		e, err := audit.Next(&last, r, t0)
		if err != nil {
			b.Fatal(err)
		}
		chain.Seal(&e)
	}
}

// BenchmarkNext is the pure chaining cost (hash of one entry).
func BenchmarkNext(b *testing.B) {
	last, _ := audit.Next(nil, rec(0), t0)
	r := rec(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := audit.Next(&last, r, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify1M verifies a log of one million entries held in memory,
// against a checkpoint every 1000 entries, plain and keyed (every MAC
// checked). The goal is under 10 s per op.
func BenchmarkVerify1M(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		name := "plain"
		if keyed {
			name = "keyed"
		}
		b.Run(name, func(b *testing.B) { benchmarkVerify1M(b, keyed) })
	}
}

func benchmarkVerify1M(b *testing.B, keyed bool) {
	const n = 1_000_000
	key := testKey(b, 1)
	signer, err := audit.NewSigner("haven.bench/audit", key)
	if err != nil {
		b.Fatal(err)
	}
	opt := audit.Options{Keys: []ed25519.PublicKey{signer.PublicKey()}}
	var chain *audit.ChainKey
	if keyed {
		chain = testChainKey(b, 7)
		opt.ChainKeys = []*audit.ChainKey{chain}
	}
	m := &memStore{}
	ctx := context.Background()
	var last *audit.Entry
	recs := make([]audit.Record, 64)
	for i := range recs {
		recs[i] = rec(i)
	}
	if keyed {
		recs[0] = audit.EpochRecord(chain)
	}
	for i := 0; i < n; i++ {
		r := recs[i%len(recs)]
		if i > 0 && r.Action == audit.EpochAction {
			r = rec(0)
		}
		e, err := audit.Next(last, r, t0.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		if keyed {
			chain.Seal(&e)
		}
		if err := m.Append(ctx, e); err != nil {
			b.Fatal(err)
		}
		if e.Seq%1000 == 0 {
			c, err := signer.Sign(e, t0)
			if err != nil {
				b.Fatal(err)
			}
			opt.Checkpoints = append(opt.Checkpoints, c)
		}
		last = &e
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := audit.VerifyLog(ctx, m, opt)
		if err != nil || rep.Entries != n {
			b.Fatalf("verify: %+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n), "entries/op")
}
