package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"
)

// TestRun runs the fastest measures end to end (it builds cmd/haven and
// runs one haven serve for the SQLite comparison) and checks the table.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs haven serve")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"run", "--only", "sqlite,forecast", "--duration", "300ms", "--rounds", "1",
		"--benchtime", "100ms", "--persons", "20", "--clients", "8"}
	if err := run(ctx, args, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"| measure | Haven | floor | floor's figure | Haven ÷ floor | doses evaluated |",
		"- Command: `go run ./bench/run --only sqlite,forecast --duration 300ms",
		"- Machine: ",
		"| CDSi forecast of a COVID-19 history",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	row := regexp.MustCompile(`(?m)^\| Dose writes/s on SQLite vs raw batched SQLite inserts \|.*$`).FindString(out)
	cells := strings.Split(strings.Trim(row, "|"), "|")
	if len(cells) != 6 {
		t.Fatalf("SQLite row %q: want 6 cells", row)
	}
	if r, err := strconv.ParseFloat(strings.TrimSpace(cells[4]), 64); err != nil || r <= 0 {
		t.Errorf("SQLite row: ratio %q is not a positive number", cells[4])
	}
	if strings.Contains(out, "failed:") {
		t.Errorf("a measure failed:\n%s", out)
	}
}

// TestFloorLoad drives the HTTP floor with the load generator in each
// mode.
func TestFloorLoad(t *testing.T) {
	srv := httptest.NewServer(newFloorHandler(3000))
	defer srv.Close()
	for _, mode := range []string{loadgen.Doses, loadgen.VXU, loadgen.FHIR} {
		t.Run(mode, func(t *testing.T) {
			lg := loadgen.New(srv.URL, "floor", "BENCH-1", mode, 4)
			defer lg.Close()
			res, err := lg.Run(context.Background(), []string{"AAAA-BBBB-CCCC", "DDDD-EEEE-FFFF"}, 4, 100*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK == 0 || res.Errors != 0 || res.P99 < res.P50 || res.Max < res.P99 {
				t.Errorf("got %+v", res)
			}
		})
	}
	lg := loadgen.New(srv.URL, "floor", "BENCH-1", loadgen.FHIR, 1)
	defer lg.Close()
	status, body, err := lg.Do(context.Background(), "GET", "/fhir/r4/Immunization?patient.identifier=X", "", "", nil)
	if err != nil || status != 200 || len(body) != 3000 || !json.Valid(body) {
		t.Errorf("FHIR search: %d, %d bytes, %v", status, len(body), err)
	}
}

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkVerifyES256Schema    	   17000	     70123 ns/op	   17230 B/op	     314 allocs/op
BenchmarkECDSAVerifyBaseline-2	   24000	     48000 ns/op
BenchmarkVerifyES256SchemaRatio 	   8000	    118000 ns/op	     70100 verify-ns/op	     47900 ecdsa-ns/op	         1.463 ratio
PASS
`)
	got := parseBench(out)
	for _, c := range []struct {
		name, unit string
		want       float64
	}{
		{"BenchmarkVerifyES256Schema", "ns/op", 70123},
		{"BenchmarkVerifyES256Schema", "allocs/op", 314},
		{"BenchmarkECDSAVerifyBaseline", "ns/op", 48000},
		{"BenchmarkVerifyES256SchemaRatio", "ecdsa-ns/op", 47900},
		{"BenchmarkVerifyES256SchemaRatio", "ratio", 1.463},
	} {
		if v := got[c.name][c.unit]; v != c.want {
			t.Errorf("%s %s = %v, want %v", c.name, c.unit, v, c.want)
		}
	}
}

func TestMedianAndRatio(t *testing.T) {
	m := &measure{Kind: kindRate, Haven: &side{}, Floor: &side{}}
	m.addRound(sample{PerSecond: 100}, &sample{PerSecond: 1000})
	m.addRound(sample{PerSecond: 300, Errors: 2}, &sample{PerSecond: 1000})
	m.addRound(sample{PerSecond: 200, Errors: 1}, &sample{PerSecond: 500})
	if m.Haven.Median.PerSecond != 200 || m.Haven.Median.Errors != 3 {
		t.Errorf("Haven median %+v", m.Haven.Median)
	}
	if m.Ratio == nil || *m.Ratio != 0.3 { // ratios 0.1, 0.3, 0.4
		t.Errorf("ratio %v, want 0.3", m.Ratio)
	}
	if got := thousands(1234567.4); got != "1,234,567" {
		t.Errorf("thousands = %q", got)
	}
}

// TestSyncFlags checks the sync group's selection and flags; the group
// itself (a central, a node and minutes of load) runs only by hand.
func TestSyncFlags(t *testing.T) {
	const pg = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "HAVEN_TEST_POSTGRES" {
				return v
			}
			return ""
		}
	}
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"--only", "sync", "--sync-doses", "20000"}, env(pg), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.only) != 1 || o.only[0] != "sync" || o.syncDoses != 20000 || o.syncRounds != 2 || o.postgres != pg {
		t.Errorf("--only sync --sync-doses 20000: got only %v, doses %d, rounds %d, postgres %q", o.only, o.syncDoses, o.syncRounds, o.postgres)
	}
	if o, err := parseFlags(nil, env(pg), &stderr); err != nil || !slices.Contains(o.only, "sync") || o.syncDoses != 100000 {
		t.Errorf("default with a PostgreSQL URL: only %v, doses %d, %v", o.only, o.syncDoses, err)
	}
	if o, err := parseFlags(nil, env(""), &stderr); err != nil || slices.Contains(o.only, "sync") || slices.Contains(o.only, "postgres") {
		t.Errorf("default without a PostgreSQL URL: only %v, %v", o.only, err)
	}
	if _, err := parseFlags([]string{"--only", "sync"}, env(""), &stderr); err == nil || !strings.Contains(err.Error(), "--only sync needs --postgres") {
		t.Errorf("--only sync without a URL: %v", err)
	}
	if _, err := parseFlags([]string{"--only", "sync", "--sync-doses", "0"}, env(pg), &stderr); err == nil {
		t.Error("--sync-doses 0 accepted")
	}
	if !slices.Contains(groups, "sync") {
		t.Errorf("groups %v lack sync", groups)
	}
	for _, id := range []string{"sync-catchup", "sync-wire", "sync-rss", "sync-node", "sync-central"} {
		if !slices.Contains(order, id) {
			t.Errorf("order lacks %s", id)
		}
	}
	for _, c := range []struct {
		s    sample
		kind string
		want string
	}{
		{sample{PerSecond: 5234.4, Count: 100000, Seconds: 19.1}, kindRate, "**5,234/s** (100,000 in 19.1 s)"},
		{sample{BytesPerOp: 61.6}, kindBytes, "**62 bytes**/dose"},
		{sample{RSS: 50 << 20, RSSIdle: 40 << 20}, kindPeak, "**50.0 MiB** peak (40.0 MiB before)"},
		{sample{RSS: goalNodeRSS}, kindPeak, "**60.0 MiB**"},
	} {
		if got := c.s.format(c.kind); got != c.want {
			t.Errorf("format(%s) = %q, want %q", c.kind, got, c.want)
		}
	}
}

// TestThroughputFlags checks the selection and flags of the groups of
// issue 13's throughput and scale targets (import, overload, postgres2,
// rss-idle) and the formats of their figures; the groups themselves
// (minutes of load each) run only by hand.
func TestThroughputFlags(t *testing.T) {
	const pg = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "HAVEN_TEST_POSTGRES" {
				return v
			}
			return ""
		}
	}
	var stderr bytes.Buffer
	for _, g := range []string{"import", "overload", "postgres2", "rss-idle"} {
		if !slices.Contains(groups, g) {
			t.Errorf("groups %v lack %s", groups, g)
		}
	}
	o, err := parseFlags([]string{"--only", "rss-idle,postgres2,overload,import"}, env(pg), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"import", "overload", "postgres2", "rss-idle"}; !slices.Equal(o.only, want) {
		t.Errorf("--only: got %v, want %v (in the order of groups)", o.only, want)
	}
	if o.importDoses != 300000 || o.overloadFactor != 8 || o.burstClients != 128 {
		t.Errorf("defaults: import doses %d, overload factor %d, burst clients %d", o.importDoses, o.overloadFactor, o.burstClients)
	}
	o, err = parseFlags([]string{"--only", "import,overload", "--import-doses", "3000", "--overload-factor", "4", "--burst-clients", "64"}, env(""), &stderr)
	if err != nil || o.importDoses != 3000 || o.overloadFactor != 4 || o.burstClients != 64 {
		t.Errorf("flags: got %+v, %v", o, err)
	}
	for _, args := range [][]string{{"--import-doses", "2"}, {"--overload-factor", "0"}, {"--burst-clients", "0"}} {
		if _, err := parseFlags(args, env(""), &stderr); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if _, err := parseFlags([]string{"--only", "postgres2"}, env(""), &stderr); err == nil || !strings.Contains(err.Error(), "--only postgres2 needs --postgres") {
		t.Errorf("--only postgres2 without a URL: %v", err)
	}
	if o, err := parseFlags(nil, env(""), &stderr); err != nil || slices.Contains(o.only, "postgres2") || !slices.Contains(o.only, "import") ||
		!slices.Contains(o.only, "overload") || !slices.Contains(o.only, "rss-idle") {
		t.Errorf("default without a PostgreSQL URL: only %v, %v", o.only, err)
	}
	for _, id := range []string{"import", "import-rerun", "overload-p99", "overload-goodput", "overload-refused", "overload-rss",
		"overload-recovery", "postgres2", "postgres2-64", "postgres2-audit", "rss-idle"} {
		if !slices.Contains(order, id) {
			t.Errorf("order lacks %s", id)
		}
	}
	for _, c := range []struct {
		s    sample
		kind string
		want string
	}{
		{sample{P99: goalOverloadP99}, kindP99, "p99 **200 ms**"},
		{sample{Seconds: 0.0123}, kindSeconds, "**12.3 ms**"},
		{sample{}, kindRefused, "**none** answered 503"},
		{sample{Share: 0.125, Count: 1234, P50: 300 * time.Microsecond, P99: 2 * time.Millisecond, Max: 5 * time.Millisecond}, kindRefused,
			"**12.5 %** answered 503 (1,234; p50 300 µs, p99 2.00 ms, max 5.00 ms)"},
		{sample{RSS: goalIdleRSS}, kindRSS, "**60.0 MiB**"},
		{sample{RSS: 50 << 20, RSSIdle: 40 << 20}, kindRSS, "**50.0 MiB** (idle after start: 40.0 MiB)"},
	} {
		if got := c.s.format(c.kind); got != c.want {
			t.Errorf("format(%s) = %q, want %q", c.kind, got, c.want)
		}
	}
	rep := &report{Measures: []*measure{{ID: "import-rerun", Name: "re-run", Kind: kindRate, Haven: &side{}, Cell: "**adds nothing** | x"}}}
	if md := rep.markdown(); !strings.Contains(md, `| re-run | **adds nothing** \| x | none |`) {
		t.Errorf("a measure's Cell is not its Haven cell:\n%s", md)
	}
}

// TestImportFile checks the generated import file: three doses a person on
// consecutive lines, each with a key, the person's fields on their first.
func TestImportFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doses.ndjson")
	if _, err := writeImportFile(path, 7, "BENCH-1"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines, want 7", len(lines))
	}
	keys := map[string]bool{}
	for i, l := range lines {
		var f map[string]string
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		if want := "P" + strconv.Itoa(i/3); f["person"] != want {
			t.Errorf("line %d: person %q, want %q", i+1, f["person"], want)
		}
		if _, ok := f["birth_date"]; ok != (i%3 == 0) {
			t.Errorf("line %d: birth_date on it: %v", i+1, ok)
		}
		if f["key"] == "" || keys[f["key"]] || f["site"] != "BENCH-1" || f["product"] == "" || f["date"] == "" {
			t.Errorf("line %d: %v", i+1, f)
		}
		keys[f["key"]] = true
	}
}
