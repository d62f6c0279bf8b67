package stats_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/stats"
)

// weekly makes one dose row per week: baseline counts for 2026-W05..W08,
// then the assessed week 2026-W09.
func weekly(jur, site string, counts ...int64) []stats.DoseRow {
	var out []stats.DoseRow
	for w, n := range counts {
		if n == 0 {
			continue
		}
		out = append(out, stats.DoseRow{Jurisdiction: jur, Site: site, Product: "p", DoseNumber: 1,
			Date: registry.DateOf(monday0.AddDate(0, 0, 7*w+2)), Count: n})
	}
	return out
}

func f(x float64) *float64 { return &x }

func TestGaps(t *testing.T) {
	var doses []stats.DoseRow
	for _, d := range [][]stats.DoseRow{
		weekly("CN-JL-YB", "S1", 40, 40, 38, 42, 10), // collapses: below its trend and its peers
		weekly("CN-JL-YB", "S2", 30, 30, 30, 30, 30),
		weekly("CN-JL-YB", "S3", 50, 50, 50, 50, 45),
		weekly("CN-JL-YB", "S4", 5, 5, 5, 5, 5), // too small to judge
		weekly("CN-JL-CC", "T1", 100, 100, 100, 100, 60),
		weekly("CN-JL-CC", "T2", 20, 20, 20, 20, 20),
		weekly("CN-JL-SP", "U1", 60, 60, 60, 60, 12),
		{{Jurisdiction: "CN-JL-SP", Site: "U1", Product: "p", DoseNumber: 1, Date: registry.DateOf(monday0.AddDate(0, 0, -70)), Count: 999}}, // long before
	} {
		doses = append(doses, d...)
	}
	rep, err := stats.Gaps(doses, stats.GapOptions{Week: monday0.AddDate(0, 0, 7*4+3)})
	if err != nil {
		t.Fatal(err)
	}
	want := stats.GapReport{
		Week:          "2026-W09",
		BaselineWeeks: []string{"2026-W05", "2026-W06", "2026-W07", "2026-W08"},
		Ratio:         0.5, Judged: 9, Skipped: 1,
		Gaps: []stats.Gap{
			{Level: "site", Code: "S1", Jurisdiction: "CN-JL-YB", Ratio: nil, PeerRatio: f(1), // 10 doses: below K, no ratio
				Reasons: []string{stats.ReasonBelowOwnTrend, stats.ReasonBelowPeers}},
			{Level: "site", Code: "U1", Jurisdiction: "CN-JL-SP", Ratio: f(0.2),
				Reasons: []string{stats.ReasonBelowOwnTrend}},
			{Level: "jurisdiction", Code: "CN-JL-SP", Ratio: f(0.2), PeerRatio: f(0.7),
				Reasons: []string{stats.ReasonBelowOwnTrend, stats.ReasonBelowPeers}},
		},
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Fatalf("gap report (-want +got):\n%s", diff)
	}

	var buf bytes.Buffer
	if err := stats.WriteGapsText(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "below_own_trend,below_peers") || !strings.Contains(buf.String(), "S1") {
		t.Fatalf("text report:\n%s", buf.String())
	}
	buf.Reset()
	if err := stats.WriteGapsCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 4 {
		t.Fatalf("CSV report has %d lines, want 4:\n%s", lines, buf.String())
	}
}

// TestGapsHoliday: a drop everywhere is below each unit's own trend, but
// nobody lags their peers.
func TestGapsHoliday(t *testing.T) {
	var doses []stats.DoseRow
	for _, s := range []string{"A", "B", "C"} {
		doses = append(doses, weekly("XX", s, 50, 50, 50, 50, 20)...)
	}
	rep, err := stats.Gaps(doses, stats.GapOptions{Week: monday0.AddDate(0, 0, 28)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Gaps) != 4 {
		t.Fatalf("got %d gaps, want 4 (three sites and XX)", len(rep.Gaps))
	}
	for _, g := range rep.Gaps {
		if !cmp.Equal(g.Reasons, []string{stats.ReasonBelowOwnTrend}) {
			t.Errorf("%s %s: reasons %v, want only below_own_trend", g.Level, g.Code, g.Reasons)
		}
	}
}

func TestGapsOptions(t *testing.T) {
	for _, tt := range []struct {
		opts  stats.GapOptions
		field string
	}{
		{stats.GapOptions{}, "week"},
		{stats.GapOptions{Week: monday0, Baseline: 60}, "baseline"},
		{stats.GapOptions{Week: monday0, Ratio: 1.5}, "ratio"},
		{stats.GapOptions{Week: monday0, K: 1}, "k"},
	} {
		_, err := stats.Gaps(nil, tt.opts)
		wantCode(t, err, registry.EINVALID)
		if registry.ErrorField(err) != tt.field {
			t.Errorf("field = %q, want %q", registry.ErrorField(err), tt.field)
		}
	}
}
