//go:build !race

package policy_test

import (
	"testing"

	"github.com/haven-registry/haven/internal/policy"
)

// TestDecideAllocs guards the allocation goal (≤ 10 per decision for a
// province under a delegating parent); timing is left to BenchmarkDecide.
func TestDecideAllocs(t *testing.T) {
	p := mustLoad(t, "2021-09")
	for _, s := range policy.Statuses {
		f := facts(t, p, map[string]any{"residence_status": string(s)})
		n := testing.AllocsPerRun(200, func() {
			if _, err := p.Decide(f, "CN-JL", "vaccination", sept, policy.WithoutAlternatives()); err != nil {
				t.Fatal(err)
			}
		})
		if n > 10 {
			t.Errorf("%s: %.0f allocations per decision, goal ≤ 10", s, n)
		}
	}
}
