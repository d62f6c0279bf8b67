package stats_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/stats"
)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := registry.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func day(s string) registry.Date {
	d, err := registry.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func p(x int64) *int64 { return &x }

// The release block 2026-W05/2026-W08 runs from Monday 26 January to
// Sunday 22 February 2026.
var (
	monday0    = time.Date(2026, 1, 26, 0, 0, 0, 0, time.UTC)
	afterBlock = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
)

// TestBuildShape checks a small release by hand.
func TestBuildShape(t *testing.T) {
	doses := []stats.DoseRow{
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 1, Date: day("2026-01-26"), Count: 20},
		{Jurisdiction: "CN-JL-YB", Site: "S2", Product: "comirnaty", DoseNumber: 1, Date: day("2026-02-01"), Count: 10}, // Sunday: still W05
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 1, Date: day("2026-02-02"), Count: 25},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 2, Date: day("2026-01-27"), Count: 15},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 2, Date: day("2026-02-03"), Count: 40},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 7, Date: day("2026-02-03"), Count: 12}, // 4+
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 4, Date: day("2026-01-28"), Count: 30},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 1, Date: day("2026-02-23"), Count: 99}, // W09: next block
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 1, Date: day("2026-01-25"), Count: 99}, // W04: block before
	}
	tests := []stats.TestRow{
		{Jurisdiction: "CN-JL-YB", Site: "S1", Date: day("2026-01-29"), Count: 50},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Date: day("2026-02-05"), Count: 60},
	}
	// From 20 January to 3 March: only the block W05–W08 lies wholly inside.
	cov, err := stats.Build(doses, tests, stats.Options{
		From: day("2026-01-20").Time(), To: day("2026-03-03").Time(), MaxDose: 4, Products: []string{"comirnaty"},
		GeneratedAt: afterBlock,
	})
	if err != nil {
		t.Fatal(err)
	}
	z := p(0)
	weeks := []string{"2026-W05", "2026-W06", "2026-W07", "2026-W08"}
	want := stats.Coverage{
		GeneratedAt: afterBlock,
		Block:       "2026-W05/2026-W08", From: "2026-W05", To: "2026-W08", K: 11,
		Doses: []stats.Table{{
			Name: "doses", Block: "2026-W05/2026-W08", Jurisdiction: "CN-JL-YB", RowHeader: []string{"product", "dose"},
			Rows:       [][]string{{"comirnaty", "1"}, {"comirnaty", "2"}, {"comirnaty", "3"}, {"comirnaty", "4+"}},
			Weeks:      weeks,
			Cells:      [][]*int64{{p(30), p(25), z, z}, {p(15), p(40), z, z}, {z, z, z, z}, {p(30), p(12), z, z}},
			RowTotals:  []*int64{p(55), p(55), z, p(42)},
			WeekTotals: []*int64{p(75), p(77), z, z},
			Total:      p(152),
		}},
		Tests: stats.Table{
			Name: "tests", Block: "2026-W05/2026-W08", RowHeader: []string{"jurisdiction"}, Rows: [][]string{{"CN-JL-YB"}},
			Weeks: weeks, Cells: [][]*int64{{p(50), p(60), z, z}},
			RowTotals: []*int64{p(110)}, WeekTotals: []*int64{p(50), p(60), z, z}, Total: p(110),
		},
	}
	if diff := cmp.Diff(want, cov); diff != "" {
		t.Fatalf("coverage (-want +got):\n%s", diff)
	}
}

// TestBuildBlocks: a release is one whole block that has ended (the latest
// in the period), so two requests never produce tables that overlap in part.
func TestBuildBlocks(t *testing.T) {
	rows := []stats.TestRow{{Jurisdiction: "XX", Date: day("2026-02-10"), Count: 40}}
	tests := []struct {
		name     string
		from, to string
		asOf     time.Time
		block    string
		total    int64
	}{
		{"ok/exact", "2026-01-26", "2026-02-22", afterBlock, "2026-W05/2026-W08", 40},
		{"ok/latest-of-two", "2026-01-01", "2026-02-28", afterBlock, "2026-W05/2026-W08", 40},
		{"ok/earlier", "2025-12-29", "2026-01-25", afterBlock, "2026-W01/2026-W04", 0},
		{"ok/partial-weeks-count", "2026-01-28", "2026-02-18", afterBlock, "2026-W05/2026-W08", 40},
		{"none/starts-mid-block", "2026-02-02", "2026-02-28", afterBlock, "", 0},
		{"none/not-ended", "2026-01-26", "2026-02-22", time.Date(2026, 2, 22, 23, 0, 0, 0, time.UTC), "", 0},
		{"ok/ended", "2026-01-26", "2026-02-22", time.Date(2026, 2, 23, 0, 0, 0, 0, time.UTC), "2026-W05/2026-W08", 40},
		{"ok/week-53", "2026-11-30", "2027-01-03", time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), "2026-W49/2026-W53", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cov, err := stats.Build(nil, rows, stats.Options{From: day(tt.from).Time(), To: day(tt.to).Time(), GeneratedAt: tt.asOf})
			if err != nil {
				t.Fatal(err)
			}
			if cov.Block != tt.block || cov.Tests.Block != tt.block {
				t.Fatalf("block = %q (tests table %q), want %q", cov.Block, cov.Tests.Block, tt.block)
			}
			if tt.block == "" {
				if len(cov.Doses) != 0 || len(cov.Tests.Rows) != 0 || cov.Tests.Total != nil {
					t.Fatalf("an empty release holds tables: %+v", cov)
				}
				return
			}
			if n := len(cov.Tests.Weeks); n < stats.BlockWeeks || n > stats.BlockWeeks+1 {
				t.Fatalf("block %s has %d weeks", cov.Block, n)
			}
			if cov.Tests.Total == nil || *cov.Tests.Total != tt.total {
				t.Fatalf("total = %v, want %d", cov.Tests.Total, tt.total)
			}
		})
	}
}

func TestBuildOptions(t *testing.T) {
	from, to := day("2026-01-05").Time(), day("2026-02-01").Time()
	ok := stats.DoseRow{Jurisdiction: "XX", Product: "a", DoseNumber: 1, Date: day("2026-01-05"), Count: 1}
	at := afterBlock
	tests := []struct {
		name  string
		doses []stats.DoseRow
		tests []stats.TestRow
		opts  stats.Options
		field string
	}{
		{"fail/no-period", nil, nil, stats.Options{GeneratedAt: at}, "from"},
		{"fail/no-release-time", nil, nil, stats.Options{From: from, To: to}, "generated_at"},
		{"fail/reversed", nil, nil, stats.Options{From: to, To: from, GeneratedAt: at}, "to"},
		{"fail/too-long", nil, nil, stats.Options{From: from, To: from.AddDate(6, 0, 0), GeneratedAt: at}, "to"},
		{"fail/k-too-small", nil, nil, stats.Options{From: from, To: to, K: 5, GeneratedAt: at}, "k"},
		{"fail/epsilon", nil, nil, stats.Options{From: from, To: to, Noise: &stats.Noise{Epsilon: 0}, GeneratedAt: at}, "noise.epsilon"},
		{"fail/noise-key", nil, nil, stats.Options{From: from, To: to, Noise: &stats.Noise{Epsilon: 1}, NoiseKey: []byte("short"), GeneratedAt: at}, "noise_key"},
		{"fail/dose-number", []stats.DoseRow{ok, {Jurisdiction: "XX", Product: "a", Date: day("2026-01-05"), Count: 1}}, nil, stats.Options{From: from, To: to, GeneratedAt: at}, "doses[1].dose_number"},
		{"fail/count", []stats.DoseRow{{Jurisdiction: "XX", Product: "a", DoseNumber: 1, Date: day("2026-01-05")}}, nil, stats.Options{From: from, To: to, GeneratedAt: at}, "doses[0].count"},
		{"fail/test-jurisdiction", nil, []stats.TestRow{{Date: day("2026-01-05"), Count: 1}}, stats.Options{From: from, To: to, GeneratedAt: at}, "tests[0].jurisdiction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stats.Build(tt.doses, tt.tests, tt.opts)
			wantCode(t, err, registry.EINVALID)
			if registry.ErrorField(err) != tt.field {
				t.Fatalf("field = %q, want %q", registry.ErrorField(err), tt.field)
			}
		})
	}
}

// TestNoStatusBreakdown guards the input and output shapes: nothing that
// could carry residence or immigration status, eligibility inputs or a
// person may ever be added to them.
func TestNoStatusBreakdown(t *testing.T) {
	banned := []string{"status", "residen", "immigra", "eligib", "nationality", "citizen", "document", "person", "card", "name", "phone", "birth"}
	for _, typ := range []reflect.Type{reflect.TypeOf(stats.DoseRow{}), reflect.TypeOf(stats.TestRow{})} {
		for i := 0; i < typ.NumField(); i++ {
			f := strings.ToLower(typ.Field(i).Name + " " + typ.Field(i).Tag.Get("json"))
			for _, b := range banned {
				if strings.Contains(f, b) {
					t.Errorf("%s.%s could carry %q", typ.Name(), typ.Field(i).Name, b)
				}
			}
		}
	}
	cov, err := stats.Build([]stats.DoseRow{{Jurisdiction: "XX", Product: "a", DoseNumber: 1, Date: day("2026-01-27"), Count: 30}},
		nil, stats.Options{From: monday0, To: monday0.AddDate(0, 0, 27), GeneratedAt: afterBlock})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(cov)
	for _, b := range banned {
		if strings.Contains(strings.ToLower(string(out)), `"`+b) {
			t.Errorf("coverage JSON has a key starting with %q: %s", b, out)
		}
	}
}

// TestNoise checks the noisy release: cells move, margins stay the sums of
// the published cells, counts stay non-negative; with a noise key the same
// request gets the same noise, so it cannot be averaged away.
func TestNoise(t *testing.T) {
	var rows []stats.TestRow
	for w := 0; w < stats.BlockWeeks; w++ {
		for j, jur := range []string{"AA", "BB", "CC", "DD", "EE"} {
			rows = append(rows, stats.TestRow{Jurisdiction: jur, Date: registry.DateOf(monday0.AddDate(0, 0, 7*w)), Count: int64(100 + 10*j + w)})
		}
	}
	opts := stats.Options{From: monday0, To: monday0.AddDate(0, 0, 27), GeneratedAt: afterBlock,
		Noise: &stats.Noise{Epsilon: 0.5}, Rand: rand.NewChaCha8([32]byte{1})}
	cov, err := stats.Build(nil, rows, opts)
	if err != nil {
		t.Fatal(err)
	}
	tab := cov.Tests
	moved := 0
	var total int64
	for i := range tab.Rows {
		var rowSum int64
		for w, c := range tab.Cells[i] {
			if c == nil {
				t.Fatalf("cell %d,%d suppressed; all counts are large", i, w)
			}
			if *c < 0 {
				t.Fatalf("negative count %d", *c)
			}
			if *c != int64(100+10*i+w) {
				moved++
			}
			rowSum += *c
		}
		if *tab.RowTotals[i] != rowSum {
			t.Fatalf("row total %d is not the sum %d of the noisy cells", *tab.RowTotals[i], rowSum)
		}
		total += rowSum
	}
	if *tab.Total != total {
		t.Fatalf("total %d, sum of cells %d", *tab.Total, total)
	}
	if moved < 10 {
		t.Fatalf("only %d of 20 cells changed with ε = 0.5", moved)
	}
	if cov.Noise == nil || cov.Noise.Epsilon != 0.5 {
		t.Fatalf("the release does not state its ε: %+v", cov.Noise)
	}

	// crypto/rand: two releases differ.
	opts.Rand = nil
	a, err := stats.Build(nil, rows, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := stats.Build(nil, rows, opts)
	if cmp.Equal(a, b) {
		t.Fatal("two releases with fresh noise are identical")
	}
	// A noise key: the same request gets the same noise; another key other noise.
	opts.NoiseKey = bytes.Repeat([]byte{7}, 32)
	a, _ = stats.Build(nil, rows, opts)
	b, _ = stats.Build(nil, rows, opts)
	if !cmp.Equal(a, b) {
		t.Fatal("a keyed release changed between two requests")
	}
	opts.NoiseKey = bytes.Repeat([]byte{8}, 32)
	c, _ := stats.Build(nil, rows, opts)
	if cmp.Equal(a, c) {
		t.Fatal("two noise keys gave the same noise")
	}
}

func TestRender(t *testing.T) {
	var doses []stats.DoseRow
	add := func(prod string, w int, n int64) {
		doses = append(doses, stats.DoseRow{Jurisdiction: "XX", Site: "S", Product: prod, DoseNumber: 1,
			Date: registry.DateOf(monday0.AddDate(0, 0, 7*w)), Count: n})
	}
	add("a", 0, 3)
	add("a", 1, 40)
	add("b", 0, 50)
	add("b", 1, 60)
	opts := stats.Options{From: monday0, To: monday0.AddDate(0, 0, 27), MaxDose: 1, GeneratedAt: afterBlock}
	cov, err := stats.Build(doses, []stats.TestRow{{Jurisdiction: "XX", Date: registry.DateOf(monday0), Count: 80}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := stats.WriteText(&text, cov); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Doses in XX", "2026-W05/2026-W08", "2026-W06", "total", stats.SuppressedMark, "Tests by jurisdiction", "80"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, text.String())
		}
	}
	if strings.Contains(text.String(), " 3 ") {
		t.Errorf("text output shows the small count:\n%s", text.String())
	}
	var buf bytes.Buffer
	if err := stats.WriteCSV(&buf, cov); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// header + doses 3×5 (2 rows + totals, 4 weeks + total) + tests 2×5
	if len(recs) != 1+15+10 {
		t.Fatalf("CSV has %d records, want 26:\n%v", len(recs), recs)
	}
	if !reflect.DeepEqual(recs[0], stats.CSVHeader) {
		t.Fatalf("header = %v", recs[0])
	}
	if got := recs[1]; !reflect.DeepEqual(got, []string{"doses", "2026-W05/2026-W08", "XX", "a", "1+", "2026-W05", "*"}) {
		t.Fatalf("first cell = %v", got)
	}
	if got := recs[15]; got[3] != "total" || got[5] != "total" {
		t.Fatalf("grand total row = %v", got)
	}

	// Nothing finished in the period: the text says so.
	opts.GeneratedAt = monday0
	empty, err := stats.Build(doses, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	text.Reset()
	stats.WriteText(&text, empty)
	if !strings.Contains(text.String(), "nothing to publish") {
		t.Fatalf("empty release text:\n%s", text.String())
	}
}
