package policy_test

import (
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/policy"
)

var sink policy.Decision

// benchDecide measures one decision on the seed pack after the June 2021
// order, when CN delegates and the province decides.
func benchDecide(b *testing.B, jurisdiction, status string, opts ...policy.Option) {
	p := mustLoad(b, "2021-09")
	facts, err := p.NewFacts(map[string]any{"residence_status": status})
	if err != nil {
		b.Fatal(err)
	}
	asOf := time.Date(2021, 9, 17, 0, 0, 0, 0, time.UTC)
	if _, err := p.Decide(facts, jurisdiction, "vaccination", asOf, opts...); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d, err := p.Decide(facts, jurisdiction, "vaccination", asOf, opts...)
		if err != nil {
			b.Fatal(err)
		}
		sink = d
	}
}

// BenchmarkDecide is the performance goal: a province under a delegating
// parent, ≤ 3 µs/op and ≤ 10 allocs/op on one core.
func BenchmarkDecide(b *testing.B) {
	b.Run("province/temporary_hukou", func(b *testing.B) { benchDecide(b, "CN-JL", "temporary_hukou") })
	b.Run("province/unregistered", func(b *testing.B) { benchDecide(b, "CN-JL", "unregistered", policy.WithoutAlternatives()) })
	b.Run("sub-area/citizen", func(b *testing.B) { benchDecide(b, "CN-JL-YB", "citizen") })
	b.Run("fallback/registered_irregular", func(b *testing.B) {
		benchDecide(b, "CN-GD", "registered_irregular", policy.WithoutAlternatives())
	})
	b.Run("with-alternatives/registered_irregular", func(b *testing.B) { benchDecide(b, "CN-JL", "registered_irregular") })
	b.Run("explain/registered_irregular", func(b *testing.B) {
		benchDecide(b, "CN-JL", "registered_irregular", policy.Explain(true), policy.WithoutAlternatives())
	})
}
