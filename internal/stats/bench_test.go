package stats_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/stats"
)

// BenchmarkBuild publishes a year of weekly counts for 20 jurisdictions and
// 6 products (4 dose rows each), with suppression.
func BenchmarkBuild(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var doses []stats.DoseRow
	var tests []stats.TestRow
	for j := 0; j < 20; j++ {
		jur := fmt.Sprintf("J%02d", j)
		for w := 0; w < 52; w++ {
			date := registry.DateOf(monday0.AddDate(0, 0, 7*w))
			for p := 0; p < 6; p++ {
				for d := 1; d <= 4; d++ {
					if n := rng.Int64N(60) - 10; n > 0 {
						doses = append(doses, stats.DoseRow{Jurisdiction: jur, Site: "S", Product: fmt.Sprint("p", p), DoseNumber: d, Date: date, Count: n})
					}
				}
			}
			if n := rng.Int64N(40); n > 0 {
				tests = append(tests, stats.TestRow{Jurisdiction: jur, Date: date, Count: n})
			}
		}
	}
	opts := stats.Options{From: monday0, To: monday0.AddDate(0, 0, 7*51), GeneratedAt: monday0.AddDate(1, 1, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := stats.Build(doses, tests, opts); err != nil {
			b.Fatal(err)
		}
	}
}
