package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
)

// BenchmarkAppend is one audited action: chain the record to the head and
// store it (in memory), with a checkpoint signed every 1000 entries.
func BenchmarkAppend(b *testing.B) {
	signer, err := audit.NewSigner("haven.bench/audit", testKey(b, 1))
	if err != nil {
		b.Fatal(err)
	}
	m := &audit.Mem{}
	l := &audit.Log{Store: m, Signer: signer, Checkpoints: m}
	ctx := context.Background()
	r := rec(1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Append(ctx, r, t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
		i++
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
// against a checkpoint every 1000 entries. The goal is under 10 s per op.
func BenchmarkVerify1M(b *testing.B) {
	const n = 1_000_000
	key := testKey(b, 1)
	signer, err := audit.NewSigner("haven.bench/audit", key)
	if err != nil {
		b.Fatal(err)
	}
	m := &audit.Mem{}
	ctx := context.Background()
	var cps []audit.Checkpoint
	var last *audit.Entry
	recs := make([]audit.Record, 64)
	for i := range recs {
		recs[i] = rec(i)
	}
	for i := 0; i < n; i++ {
		e, err := audit.Next(last, recs[i%len(recs)], t0.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Append(ctx, e); err != nil {
			b.Fatal(err)
		}
		if e.Seq%1000 == 0 {
			c, err := signer.Sign(e, t0)
			if err != nil {
				b.Fatal(err)
			}
			cps = append(cps, c)
		}
		last = &e
	}
	pub := signer.PublicKey()
	b.ReportAllocs()
	for b.Loop() {
		rep, err := audit.Verify(ctx, m, cps, pub)
		if err != nil || rep.Entries != n {
			b.Fatalf("verify: %+v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n), "entries/op")
}
