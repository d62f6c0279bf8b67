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

// TestBuildShape checks a small release by hand: 2026-W02 is 5 to 11
// January, W03 12 to 18 January.
func TestBuildShape(t *testing.T) {
	doses := []stats.DoseRow{
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 1, Date: day("2026-01-05"), Count: 20},
		{Jurisdiction: "CN-JL-YB", Site: "S2", Product: "comirnaty", DoseNumber: 1, Date: day("2026-01-11"), Count: 10},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 1, Date: day("2026-01-12"), Count: 25},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 2, Date: day("2026-01-06"), Count: 15},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 2, Date: day("2026-01-13"), Count: 40},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 7, Date: day("2026-01-13"), Count: 12}, // 4+
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 4, Date: day("2026-01-07"), Count: 30},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 1, Date: day("2026-01-19"), Count: 99}, // after the period
		{Jurisdiction: "CN-JL-YB", Site: "S1", Product: "comirnaty", DoseNumber: 1, Date: day("2026-01-04"), Count: 99}, // before it (2026-W01)
	}
	tests := []stats.TestRow{
		{Jurisdiction: "CN-JL-YB", Site: "S1", Date: day("2026-01-08"), Count: 50},
		{Jurisdiction: "CN-JL-YB", Site: "S1", Date: day("2026-01-15"), Count: 60},
	}
	cov, err := stats.Build(doses, tests, stats.Options{
		From: day("2026-01-07").Time(), To: day("2026-01-18").Time(), MaxDose: 4, Products: []string{"comirnaty"},
		GeneratedAt: time.Date(2026, 1, 20, 9, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	z := p(0)
	want := stats.Coverage{
		GeneratedAt: time.Date(2026, 1, 20, 9, 0, 0, 0, time.UTC),
		From:        "2026-W02", To: "2026-W03", K: 11,
		Doses: []stats.Table{{
			Name: "doses", Jurisdiction: "CN-JL-YB", RowHeader: []string{"product", "dose"},
			Rows:       [][]string{{"comirnaty", "1"}, {"comirnaty", "2"}, {"comirnaty", "3"}, {"comirnaty", "4+"}},
			Weeks:      []string{"2026-W02", "2026-W03"},
			Cells:      [][]*int64{{p(30), p(25)}, {p(15), p(40)}, {z, z}, {p(30), p(12)}},
			RowTotals:  []*int64{p(55), p(55), z, p(42)},
			WeekTotals: []*int64{p(75), p(77)},
			Total:      p(152),
		}},
		Tests: stats.Table{
			Name: "tests", RowHeader: []string{"jurisdiction"}, Rows: [][]string{{"CN-JL-YB"}},
			Weeks: []string{"2026-W02", "2026-W03"}, Cells: [][]*int64{{p(50), p(60)}},
			RowTotals: []*int64{p(110)}, WeekTotals: []*int64{p(50), p(60)}, Total: p(110),
		},
	}
	if diff := cmp.Diff(want, cov); diff != "" {
		t.Fatalf("coverage (-want +got):\n%s", diff)
	}
}

// TestBuildSuppresses shows a small cell, and the cells that would give it
// away, withheld.
func TestBuildSuppresses(t *testing.T) {
	var doses []stats.DoseRow
	add := func(prod string, dose int, date string, n int64) {
		doses = append(doses, stats.DoseRow{Jurisdiction: "XX", Site: "S", Product: prod, DoseNumber: dose, Date: day(date), Count: n})
	}
	add("a", 1, "2026-01-05", 3) // small
	add("a", 1, "2026-01-12", 40)
	add("b", 1, "2026-01-05", 50)
	add("b", 1, "2026-01-12", 60)
	cov, err := stats.Build(doses, nil, stats.Options{From: day("2026-01-05").Time(), To: day("2026-01-12").Time(), MaxDose: 1})
	if err != nil {
		t.Fatal(err)
	}
	tab := cov.Doses[0]
	if tab.Cells[0][0] != nil {
		t.Fatalf("count 3 published: %v", *tab.Cells[0][0])
	}
	if tab.Suppressed < 4 {
		t.Fatalf("only %d cells suppressed; a lone small cell is recoverable from its row and column", tab.Suppressed)
	}
	a := newAttacker(t, tab, [][]int64{{3, 40}, {50, 60}}, 11)
	for _, c := range a.vars {
		if a.recoverable(c) {
			t.Fatalf("cell %v recoverable", c)
		}
	}
}

func TestBuildOptions(t *testing.T) {
	from, to := day("2026-01-05").Time(), day("2026-02-01").Time()
	ok := stats.DoseRow{Jurisdiction: "XX", Product: "a", DoseNumber: 1, Date: day("2026-01-05"), Count: 1}
	tests := []struct {
		name  string
		doses []stats.DoseRow
		tests []stats.TestRow
		opts  stats.Options
		field string
	}{
		{"fail/no-period", nil, nil, stats.Options{}, "from"},
		{"fail/reversed", nil, nil, stats.Options{From: to, To: from}, "to"},
		{"fail/too-long", nil, nil, stats.Options{From: from, To: from.AddDate(6, 0, 0)}, "to"},
		{"fail/k", nil, nil, stats.Options{From: from, To: to, K: 2}, "k"},
		{"fail/epsilon", nil, nil, stats.Options{From: from, To: to, Noise: &stats.Noise{Epsilon: 0}}, "noise.epsilon"},
		{"fail/dose-number", []stats.DoseRow{ok, {Jurisdiction: "XX", Product: "a", Date: day("2026-01-05"), Count: 1}}, nil, stats.Options{From: from, To: to}, "doses[1].dose_number"},
		{"fail/count", []stats.DoseRow{{Jurisdiction: "XX", Product: "a", DoseNumber: 1, Date: day("2026-01-05")}}, nil, stats.Options{From: from, To: to}, "doses[0].count"},
		{"fail/test-jurisdiction", nil, []stats.TestRow{{Date: day("2026-01-05"), Count: 1}}, stats.Options{From: from, To: to}, "tests[0].jurisdiction"},
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
	cov, err := stats.Build([]stats.DoseRow{{Jurisdiction: "XX", Product: "a", DoseNumber: 1, Date: day("2026-01-05"), Count: 30}},
		nil, stats.Options{From: day("2026-01-05").Time(), To: day("2026-01-05").Time()})
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
// the published cells, and counts stay non-negative.
func TestNoise(t *testing.T) {
	var rows []stats.TestRow
	for w := 0; w < 10; w++ {
		for j, jur := range []string{"AA", "BB", "CC"} {
			rows = append(rows, stats.TestRow{Jurisdiction: jur, Date: registry.DateOf(monday0.AddDate(0, 0, 7*w)), Count: int64(100 + 10*j + w)})
		}
	}
	opts := stats.Options{From: monday0, To: monday0.AddDate(0, 0, 63), Noise: &stats.Noise{Epsilon: 0.5}, Rand: rand.NewChaCha8([32]byte{1})}
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
	if moved < 15 {
		t.Fatalf("only %d of 30 cells changed with ε = 0.5", moved)
	}
	if cov.Noise == nil || cov.Noise.Epsilon != 0.5 {
		t.Fatalf("the release does not state its ε: %+v", cov.Noise)
	}
	// Without Rand, crypto/rand is used.
	opts.Rand = nil
	if _, err := stats.Build(nil, rows, opts); err != nil {
		t.Fatal(err)
	}
}

func TestRender(t *testing.T) {
	var doses []stats.DoseRow
	add := func(prod string, dose int, date string, n int64) {
		doses = append(doses, stats.DoseRow{Jurisdiction: "XX", Site: "S", Product: prod, DoseNumber: dose, Date: day(date), Count: n})
	}
	add("a", 1, "2026-01-05", 3)
	add("a", 1, "2026-01-12", 40)
	add("b", 1, "2026-01-05", 50)
	add("b", 1, "2026-01-12", 60)
	cov, err := stats.Build(doses, []stats.TestRow{{Jurisdiction: "XX", Date: day("2026-01-06"), Count: 80}},
		stats.Options{From: day("2026-01-05").Time(), To: day("2026-01-12").Time(), MaxDose: 1})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := stats.WriteText(&text, cov); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Doses in XX", "2026-W02", "2026-W03", "total", stats.SuppressedMark, "Tests by jurisdiction", "80"} {
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
	// header + doses 3×3 (2 rows + totals, 2 weeks + total) + tests 2×3
	if len(recs) != 1+9+6 {
		t.Fatalf("CSV has %d records, want 16:\n%v", len(recs), recs)
	}
	if !reflect.DeepEqual(recs[0], stats.CSVHeader) {
		t.Fatalf("header = %v", recs[0])
	}
	if got := recs[1]; !reflect.DeepEqual(got, []string{"doses", "XX", "a", "1+", "2026-W02", "*"}) {
		t.Fatalf("first cell = %v", got)
	}
	if got := recs[9]; got[2] != "total" || got[4] != "total" {
		t.Fatalf("grand total row = %v", got)
	}
}
