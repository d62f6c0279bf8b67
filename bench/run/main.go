// Command run reproduces the comparative figures of docs/benchmarks.md in
// one command, each of Haven's figures beside its floor (what the building
// block underneath achieves alone) measured in the same run:
//
//	go run ./bench/run [--rounds 3] [--duration 10s] [--clients 32] [--persons 5000] [--vxu-batch 1]
//	                   [--only doses,vxu,fhir,sqlite,postgres,dcc,forecast,sync,import,overload,postgres2,rss-idle]
//	                   [--postgres URL] [--benchtime 1s] [--json] [--out FILE]
//	                   [--sync-doses 100000] [--sync-rounds 2]
//	                   [--import-doses 300000] [--overload-factor 8] [--burst-clients 128]
//
// Haven runs as users run it: a haven serve process built from this tree
// on a fresh data folder (and, for PostgreSQL, a fresh database), driven
// over loopback HTTP by the tool's own load generator, which drives the
// floor server the same way. Haven and its floor alternate round by round
// and each figure is the median over the rounds. The Markdown (or JSON)
// report gives the date, the machine, the command and whether doses were
// evaluated. Everything the tool starts it stops and removes, also on
// Ctrl-C: processes, temporary folders, PostgreSQL databases and schemas.
//
// The sync measures (--only sync, see sync.go) have no floor but goals:
// an offline clinic node's catch-up with a central on PostgreSQL, its wire
// cost and memory, and what the catch-up costs the clinic's and the
// central's own dose writes (docs/adr/0006-offline-clinic-nodes.md).
//
// The throughput and scale measures of issue 13 have goals, and a floor
// where there is one: haven import into SQLite beside raw batched inserts,
// and its idempotent re-run (--only import, see import.go); 8× the clients
// that saturate a SQLite server (overload.go); two haven serve processes
// on one PostgreSQL database beside one, then haven audit verify
// (postgres2.go); and the server's memory 10 s after a burst (rssidle.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == floorCommand {
		if err := serveFloor(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "floor server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/run:", err)
		os.Exit(1)
	}
}

// groups are the values of --only, in the order they run.
var groups = []string{"doses", "vxu", "fhir", "sqlite", "postgres", "dcc", "forecast", "sync",
	"import", "overload", "postgres2", "rss-idle"}

// needsPostgres are the groups that run only with a PostgreSQL URL.
var needsPostgres = []string{"postgres", "sync", "postgres2"}

type options struct {
	rounds    int
	duration  time.Duration
	benchtime time.Duration
	clients   int
	vxuBatch  int
	persons   int
	only      []string
	postgres  string
	json      bool
	out       string
	// The sync group's: doses queued at the node for the catch-up, and
	// rounds of the node's clinic load (syncing, then not).
	syncDoses  int
	syncRounds int
	// The import group's doses (over a third as many persons), the
	// overload group's multiple of the saturating clients (--clients), and
	// the rss-idle group's burst clients.
	importDoses    int
	overloadFactor int
	burstClients   int
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench/run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench/run [flags]   (from the module root; see docs/benchmarks.md)")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.vxuBatch, "vxu-batch", 1, "VXUs per request of the vxu measure, each for another person (an EHR's batch upload); 1: one message a request")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs Haven then its floor, and figures are the medians over the rounds")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each load run (and of each SQLite insert run)")
	fs.DurationVar(&o.benchtime, "benchtime", time.Second, "-test.benchtime of each Go benchmark (dcc, forecast)")
	fs.IntVar(&o.clients, "clients", 32, "concurrent HTTP clients, and PostgreSQL connections of the pgbench-style floor")
	fs.IntVar(&o.persons, "persons", 5000, "persons registered on each server; requests cycle through them (5,000 keep a 10 s run near a handful of doses each, as in real use)")
	only := fs.String("only", "", "comma-separated measures to run: "+strings.Join(groups, ",")+" (default: all; postgres and sync only with a URL)")
	fs.StringVar(&o.postgres, "postgres", getenv("HAVEN_TEST_POSTGRES"), "PostgreSQL server URL for the postgres and sync measures (env HAVEN_TEST_POSTGRES); postgres creates a database for each round, sync a schema, each dropped after")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON instead of Markdown")
	fs.StringVar(&o.out, "out", "", "also write the Markdown section for docs/benchmarks.md to this file")
	fs.IntVar(&o.syncDoses, "sync-doses", 100000, "sync: doses queued at the offline node (over --persons persons) before the timed catch-up")
	fs.IntVar(&o.syncRounds, "sync-rounds", 2, "sync: rounds of the node's clinic load while it catches up vs while the central is down")
	fs.IntVar(&o.importDoses, "import-doses", 300000, "import: doses in the generated NDJSON file, over a third as many persons")
	fs.IntVar(&o.overloadFactor, "overload-factor", 8, "overload: the overload runs this many times --clients (the clients that saturate the server)")
	fs.IntVar(&o.burstClients, "burst-clients", 128, "rss-idle: clients of the dose burst before the idle memory is read")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.rounds < 1 || o.duration <= 0 || o.benchtime <= 0 || o.clients < 1 || o.persons < 1 || o.vxuBatch < 1 || o.vxuBatch > 1000 {
		return o, errors.New("--rounds, --duration, --benchtime, --clients and --persons must be positive")
	}
	if o.syncDoses < 1 || o.syncRounds < 1 {
		return o, errors.New("--sync-doses and --sync-rounds must be positive")
	}
	if o.importDoses < 3 || o.overloadFactor < 1 || o.burstClients < 1 {
		return o, errors.New("--import-doses must be at least 3, --overload-factor and --burst-clients positive")
	}
	if *only == "" {
		for _, g := range groups {
			if !slices.Contains(needsPostgres, g) || o.postgres != "" {
				o.only = append(o.only, g)
			}
		}
		return o, nil
	}
	for g := range strings.SplitSeq(*only, ",") {
		g = strings.TrimSpace(g)
		if !slices.Contains(groups, g) {
			return o, fmt.Errorf("--only: unknown measure %q (want some of %s)", g, strings.Join(groups, ","))
		}
		if !slices.Contains(o.only, g) {
			o.only = append(o.only, g)
		}
	}
	slices.SortFunc(o.only, func(a, b string) int { return slices.Index(groups, a) - slices.Index(groups, b) })
	for _, g := range needsPostgres {
		if slices.Contains(o.only, g) && o.postgres == "" {
			return o, fmt.Errorf("--only %s needs --postgres URL or HAVEN_TEST_POSTGRES", g)
		}
	}
	return o, nil
}

// run runs the measures that args select and prints the report to
// stdout, progress to stderr. It fails if a measure failed; the others
// are still reported.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args[1:], getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "haven-bench-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r := &runner{opts: opts, root: root, tmp: tmp, log: stderr}
	r.rep = &report{Date: time.Now().UTC().Truncate(time.Second), Machine: thisMachine(), LoadStart: loadAverage(),
		Command: strings.TrimSpace("go run ./bench/run " + shellQuote(args[1:])), Revision: revision(ctx, root),
		Rounds: opts.rounds, Duration: opts.duration.String(), Benchtime: opts.benchtime.String(),
		Clients: opts.clients, Persons: opts.persons}
	if slices.Contains(opts.only, "sync") {
		r.rep.Sync = fmt.Sprintf("%s doses queued at the node over %d persons for the catch-up; the node's clinic load in %d rounds, the central down, then catching up",
			thousands(float64(opts.syncDoses)), opts.persons, opts.syncRounds)
	}
	r.logf("machine: %s; load average %s", r.rep.Machine, r.rep.LoadStart)
	defer func() {
		if r.pg != nil {
			if err := r.pg.close(); err != nil {
				r.logf("%v", err)
			}
		}
	}()

	var failed []string
	for _, g := range opts.only {
		if g == "sqlite" && slices.Contains(opts.only, "doses") {
			continue // measured within the doses rounds
		}
		err := r.group(ctx, g)
		if ctx.Err() != nil {
			return errors.New("interrupted; what it started is stopped and removed")
		}
		if err != nil {
			r.logf("[%s] failed: %v", g, err)
			failed = append(failed, g)
		}
	}
	r.rep.LoadEnd = loadAverage()
	r.rep.sortMeasures()

	md := r.rep.markdown()
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r.rep)
	} else {
		_, err = io.WriteString(stdout, md)
	}
	if err != nil {
		return err
	}
	if opts.out != "" {
		if err := os.WriteFile(opts.out, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// moduleRoot is the folder of the go.mod of the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run it from inside the Haven module: go run ./bench/run")
	}
	return filepath.Dir(mod), nil
}

// runner holds what the measures share.
type runner struct {
	opts     options
	root     string // module root
	tmp      string // removed at the end
	log      io.Writer
	rep      *report
	havenBin string // built on first use
	pg       *pgAdmin
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// measure adds a measure to the report and returns it.
func (r *runner) measure(m *measure) *measure {
	if m.Haven == nil {
		m.Haven = &side{}
	}
	r.rep.Measures = append(r.rep.Measures, m)
	return m
}

// fail marks ms as failed with err and returns err.
func fail(err error, ms ...*measure) error {
	for _, m := range ms {
		m.Err = err.Error()
	}
	return err
}

func (r *runner) group(ctx context.Context, g string) error {
	switch g {
	case "doses":
		return r.doses(ctx, slices.Contains(r.opts.only, "sqlite"))
	case "vxu":
		return r.vxu(ctx)
	case "fhir":
		return r.fhir(ctx)
	case "sqlite":
		return r.sqliteOnly(ctx)
	case "postgres":
		return r.postgres(ctx)
	case "dcc":
		return r.dcc(ctx)
	case "forecast":
		return r.forecast(ctx)
	case "sync":
		return r.sync(ctx)
	case "import":
		return r.importGroup(ctx)
	case "overload":
		return r.overload(ctx)
	case "postgres2":
		return r.postgres2(ctx)
	case "rss-idle":
		return r.rssIdle(ctx)
	}
	return fmt.Errorf("unknown measure %q", g)
}

// order is the order of the rows of the table.
var order = []string{"doses", "doses-unevaluated", "rss", "vxu", "fhir", "sqlite", "postgres", "dcc", "dcc-alternated", "forecast",
	"sync-catchup", "sync-wire", "sync-rss", "sync-node", "sync-central",
	"import", "import-rerun", "overload-p99", "overload-goodput", "overload-refused", "overload-rss", "overload-recovery",
	"postgres2", "postgres2-64", "postgres2-audit", "rss-idle"}

func (rep *report) sortMeasures() {
	slices.SortStableFunc(rep.Measures, func(a, b *measure) int {
		return slices.Index(order, a.ID) - slices.Index(order, b.ID)
	})
}

// haven returns the haven binary, building it from the module on first
// use.
func (r *runner) haven(ctx context.Context) (string, error) {
	if r.havenBin != "" {
		return r.havenBin, nil
	}
	bin := filepath.Join(r.tmp, "haven")
	r.logf("go build -o %s ./cmd/haven", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/haven")
	cmd.Dir = r.root
	cmd.Env = childEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/haven: %w: %s", err, strings.TrimSpace(string(out)))
	}
	r.havenBin = bin
	return bin, nil
}

// havenRun says how to set up and load one haven serve process.
type havenRun struct {
	mode       string
	birthDates bool     // register persons with birth dates, so that their doses are evaluated
	db         string   // --db; "" for SQLite in a fresh data folder
	serveArgs  []string // extra haven serve flags
	rss        bool     // measure resident memory idle and 2 s after the burst
}

// havenLoad starts a fresh haven serve, registers the persons (and, for a
// search run, records 10 doses for each), runs one load and stops the
// server. It returns the sample and the size of the answer to one search.
func (r *runner) havenLoad(ctx context.Context, hr havenRun) (sample, int, error) {
	bin, err := r.haven(ctx)
	if err != nil {
		return sample{}, 0, err
	}
	dir, err := os.MkdirTemp(r.tmp, "haven-")
	if err != nil {
		return sample{}, 0, err
	}
	defer os.RemoveAll(dir)
	h, err := startHaven(ctx, bin, filepath.Join(dir, "data"), hr.db, hr.serveArgs...)
	if err != nil {
		return sample{}, 0, err
	}
	defer h.stop()
	var s sample
	if hr.rss {
		if s.RSSIdle, err = h.rss(); err != nil {
			return s, 0, err
		}
	}
	lg := loadgen.New(h.base, h.token, h.site, hr.mode, r.opts.clients)
	defer lg.Close()
	cards, err := lg.RegisterPersons(ctx, r.opts.persons, r.opts.clients, hr.birthDates)
	if err != nil {
		return s, 0, fmt.Errorf("%w: %s", err, tail(h.log))
	}
	if hr.mode == loadgen.VXU {
		lg.Batch, lg.Cards = r.opts.vxuBatch, cards
	}
	size := 0
	if hr.mode == loadgen.FHIR {
		if err := lg.RecordDoses(ctx, cards, 10, r.opts.clients); err != nil {
			return s, 0, fmt.Errorf("%w: %s", err, tail(h.log))
		}
		status, body, err := lg.Do(ctx, "GET", "/fhir/r4/Immunization?patient.identifier="+cards[0], "", "", nil)
		if err != nil || status != 200 {
			return s, 0, fmt.Errorf("FHIR search: %d %v %s", status, err, body)
		}
		size = len(body)
	}
	res, err := lg.Run(ctx, cards, r.opts.clients, r.opts.duration)
	if err != nil {
		return s, 0, err
	}
	if res.OK == 0 {
		return s, 0, fmt.Errorf("no request succeeded (%d errors): %s", res.Errors, tail(h.log))
	}
	rss := s.RSSIdle
	s = fromLoad(res)
	s.RSSIdle = rss
	if hr.rss {
		if err := sleep(ctx, 2*time.Second); err != nil {
			return s, 0, err
		}
		if s.RSS, err = h.rss(); err != nil {
			return s, 0, err
		}
	}
	return s, size, nil
}

// floorLoad starts the HTTP floor server, runs one load of mode against
// it and stops it.
func (r *runner) floorLoad(ctx context.Context, mode string, fhirBytes int, rss bool) (sample, error) {
	dir, err := os.MkdirTemp(r.tmp, "floor-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	p, err := startFloor(ctx, filepath.Join(dir, "floor.log"), fhirBytes)
	if err != nil {
		return sample{}, err
	}
	defer p.stop()
	if err := waitReady(ctx, p.base+"/fhir/r4/Immunization?patient.identifier=X"); err != nil {
		return sample{}, err
	}
	var s sample
	if rss {
		if s.RSSIdle, err = p.rss(); err != nil {
			return s, err
		}
	}
	cards := make([]string, r.opts.persons)
	for i := range cards {
		cards[i] = fmt.Sprintf("FLR0-%04d-%04d", i/10000, i%10000)
	}
	lg := loadgen.New(p.base, "floor", "BENCH-1", mode, r.opts.clients)
	defer lg.Close()
	if mode == loadgen.VXU {
		lg.Batch, lg.Cards = r.opts.vxuBatch, cards
	}
	res, err := lg.Run(ctx, cards, r.opts.clients, r.opts.duration)
	if err != nil {
		return s, err
	}
	rssIdle := s.RSSIdle
	s = fromLoad(res)
	s.RSSIdle = rssIdle
	if rss {
		if err := sleep(ctx, 2*time.Second); err != nil {
			return s, err
		}
		if s.RSS, err = p.rss(); err != nil {
			return s, err
		}
	}
	return s, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// describe logs one sample.
func (r *runner) describe(g string, round int, what string, s sample, kind string) {
	r.logf("[%s] round %d/%d: %s: %s", g, round, r.opts.rounds, what, strings.ReplaceAll(s.format(kind), "**", ""))
}

const floorHTTPDoses = "HTTP floor server (net/http, own process): decodes the dose JSON, answers 201 with a small JSON, stores nothing"

// doses measures dose writes over HTTP to haven serve on SQLite, with and
// without evaluation, and the server's memory, beside the HTTP floor; with
// withSQLite, also raw SQLite inserts in each round.
func (r *runner) doses(ctx context.Context, withSQLite bool) error {
	c := r.opts.clients
	eval := r.measure(&measure{ID: "doses", Kind: kindRate, Evaluated: "yes (persons with birth dates)",
		Name:  fmt.Sprintf("Dose writes over HTTP, SQLite, durable, %d clients", c),
		Haven: &side{What: "haven serve"}, Floor: &side{What: floorHTTPDoses},
		Note: "`POST /api/v1/persons/{card}/vaccinations` with a unique `Idempotency-Key`, answered 201 after the durable commit " +
			"(WAL, synchronous=FULL, group commit), with the token check, validation, audit entry and the dose's evaluation."})
	uneval := r.measure(&measure{ID: "doses-unevaluated", Kind: kindRate, Evaluated: "no (persons without birth dates)",
		Name:  fmt.Sprintf("Dose writes over HTTP, SQLite, durable, %d clients, not evaluated", c),
		Haven: &side{What: "haven serve"}, Floor: &side{What: floorHTTPDoses}})
	rss := r.measure(&measure{ID: "rss", Kind: kindRSS, Evaluated: "yes",
		Name:  "Server memory (VmRSS) 2 s after the dose burst",
		Haven: &side{What: "haven serve"}, Floor: &side{What: "HTTP floor server"},
		Note: "Resident memory of the server process from /proc/PID/status, once after start and setup (idle), and 2 s after the end of the evaluated dose run."})
	all := []*measure{eval, uneval, rss}
	var sq *measure
	if withSQLite {
		sq = r.sqliteMeasure()
		all = append(all, sq)
	}
	for round := 1; round <= r.opts.rounds; round++ {
		hs, _, err := r.havenLoad(ctx, havenRun{mode: loadgen.Doses, birthDates: true, rss: true})
		if err != nil {
			return fail(err, all...)
		}
		r.describe("doses", round, "haven serve, evaluated", hs, kindRate)
		hu, _, err := r.havenLoad(ctx, havenRun{mode: loadgen.Doses})
		if err != nil {
			return fail(err, all...)
		}
		r.describe("doses", round, "haven serve, not evaluated", hu, kindRate)
		fs, err := r.floorLoad(ctx, loadgen.Doses, 0, true)
		if err != nil {
			return fail(err, all...)
		}
		r.describe("doses", round, "HTTP floor", fs, kindRate)
		eval.addRound(hs, &fs)
		uneval.addRound(hu, &fs)
		rss.addRound(hs, &fs)
		if sq != nil {
			if err := r.sqliteRound(ctx, sq, round, hs); err != nil {
				return fail(err, all...)
			}
		}
	}
	return nil
}

// sqliteMeasure adds the measure of raw SQLite inserts.
func (r *runner) sqliteMeasure() *measure {
	return r.measure(&measure{ID: "sqlite", Kind: kindRate, Evaluated: "yes (Haven's doses)",
		Name:  "Dose writes/s on SQLite vs raw batched SQLite inserts",
		Haven: &side{What: "haven serve (the evaluated dose run)"},
		Floor: &side{What: "modernc.org/sqlite, WAL, synchronous=FULL, one connection: rows of the vaccinations table's shape, 100 per transaction"},
		Note: "The floor inserts rows shaped like a vaccinations row (with its index) into a fresh database, for the run's duration " +
			"one row per transaction, then 100 per transaction; the ratio compares Haven's acknowledged doses with the batched rows. " +
			"Each of Haven's dose transactions also writes an audit entry and an idempotency record."})
}

// sqliteRound runs the SQLite floor once and pairs it with Haven's sample.
func (r *runner) sqliteRound(ctx context.Context, m *measure, round int, haven sample) error {
	dir, err := os.MkdirTemp(r.tmp, "sqlite-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	f, err := runSQLiteFloor(ctx, dir, r.opts.duration, r.opts.persons)
	if err != nil {
		return err
	}
	r.logf("[sqlite] round %d/%d: raw inserts: %s rows/s one per transaction, %s rows/s 100 per transaction",
		round, r.opts.rounds, thousands(f.single), thousands(f.batched))
	m.addRound(haven, &sample{PerSecond: f.batched})
	const key = "floor_one_row_per_transaction_per_second"
	if m.Extra == nil {
		m.Extra = map[string][]float64{}
	}
	m.Extra[key] = append(m.Extra[key], f.single)
	m.Floor.What = fmt.Sprintf("modernc.org/sqlite, WAL, synchronous=FULL, one connection: rows of the vaccinations table's shape, "+
		"100 per transaction (one per transaction: %s rows/s)", thousands(median(m.Extra[key])))
	return nil
}

// sqliteOnly measures raw SQLite inserts beside Haven's evaluated dose
// writes when the doses measure does not run.
func (r *runner) sqliteOnly(ctx context.Context) error {
	m := r.sqliteMeasure()
	for round := 1; round <= r.opts.rounds; round++ {
		hs, _, err := r.havenLoad(ctx, havenRun{mode: loadgen.Doses, birthDates: true})
		if err != nil {
			return fail(err, m)
		}
		r.describe("sqlite", round, "haven serve, evaluated doses", hs, kindRate)
		if err := r.sqliteRound(ctx, m, round, hs); err != nil {
			return fail(err, m)
		}
	}
	return nil
}

// vxu measures HL7 VXU ingest beside the HTTP floor answering a fixed ACK.
func (r *runner) vxu(ctx context.Context) error {
	m := r.measure(&measure{ID: "vxu", Kind: kindRate, Evaluated: "no (imported history is stored, not evaluated)",
		Name:  fmt.Sprintf("HL7 VXU ingest over HTTP, SQLite, one dose a message, %d a request, %d clients (messages/s)", r.opts.vxuBatch, r.opts.clients),
		Haven: &side{What: "haven serve"}, Floor: &side{What: "HTTP floor server: reads the message, answers a fixed ACK (AA)"},
		Note: "`POST /api/v1/hl7` (application/hl7-v2), a VXU^V04 with one RXA for a registered card (PID-3 `CARD^^^HAVEN^PI`), " +
			"unique MSH-10 and ORC-3, counted when the ACK says AA. The persons have birth dates."})
	for round := 1; round <= r.opts.rounds; round++ {
		hs, _, err := r.havenLoad(ctx, havenRun{mode: loadgen.VXU, birthDates: true})
		if err != nil {
			return fail(err, m)
		}
		r.describe("vxu", round, "haven serve", hs, kindRate)
		fs, err := r.floorLoad(ctx, loadgen.VXU, 0, false)
		if err != nil {
			return fail(err, m)
		}
		r.describe("vxu", round, "HTTP floor", fs, kindRate)
		m.addRound(hs, &fs)
	}
	return nil
}

// fhir measures FHIR Immunization searches by card beside the HTTP floor
// answering a fixed body of the same size.
func (r *runner) fhir(ctx context.Context) error {
	m := r.measure(&measure{ID: "fhir", Kind: kindP99, Evaluated: "– (reads 10 stored doses)",
		Name:  fmt.Sprintf("FHIR Immunization search by card, 10 doses each, %d clients (goal: p99 ≤ 10 ms)", r.opts.clients),
		Haven: &side{What: "haven serve --read-limit 1000000000"},
		Floor: &side{What: "HTTP floor server: answers a fixed JSON body of the same size"},
		Note: "`GET /fhir/r4/Immunization?patient.identifier=CARD` for persons holding 10 doses each; the per-token read limit is lifted " +
			"so that it does not answer 429. The ratio compares p99 latencies (closed loop: latency includes queueing behind the other clients)."})
	for round := 1; round <= r.opts.rounds; round++ {
		hs, size, err := r.havenLoad(ctx, havenRun{mode: loadgen.FHIR, birthDates: true, serveArgs: []string{"--read-limit", "1000000000"}})
		if err != nil {
			return fail(err, m)
		}
		r.describe("fhir", round, fmt.Sprintf("haven serve (answers of %d bytes)", size), hs, kindP99)
		fs, err := r.floorLoad(ctx, loadgen.FHIR, size, false)
		if err != nil {
			return fail(err, m)
		}
		r.describe("fhir", round, "HTTP floor", fs, kindP99)
		m.addRound(hs, &fs)
		m.Floor.What = fmt.Sprintf("HTTP floor server: answers a fixed JSON body of the same size (%d bytes)", size)
	}
	return nil
}

// postgres measures dose writes over HTTP to haven serve on PostgreSQL
// beside pgbench-style plain inserts.
func (r *runner) postgres(ctx context.Context) error {
	c := r.opts.clients
	m := r.measure(&measure{ID: "postgres", Kind: kindRate, Evaluated: "yes (persons with birth dates)",
		Name:  fmt.Sprintf("Dose writes over HTTP, PostgreSQL, durable, %d clients", c),
		Haven: &side{What: "haven --db postgres://… serve"},
		Floor: &side{What: fmt.Sprintf("pgbench-style: %d connections, one single-row INSERT per transaction into a plain table", c)}})
	if r.pg == nil {
		pg, err := openPGAdmin(ctx, r.opts.postgres)
		if err != nil {
			return fail(err, m)
		}
		r.pg = pg
	}
	m.Note = fmt.Sprintf("Each round, haven serve runs on a fresh database (created for the round and dropped after it); the floor inserts "+
		"rows of the vaccinations table's shape through the same driver (pgx), each statement its own transaction. Server settings: "+
		"synchronous_commit=%s, fsync=%s.", r.pg.setting(ctx, "synchronous_commit"), r.pg.setting(ctx, "fsync"))
	floorDB, err := r.pg.create(ctx)
	if err != nil {
		return fail(err, m)
	}
	defer r.pg.drop(context.WithoutCancel(ctx), floorDB)
	for round := 1; round <= r.opts.rounds; round++ {
		hs, err := r.postgresHaven(ctx)
		if err != nil {
			return fail(err, m)
		}
		r.describe("postgres", round, "haven serve", hs, kindRate)
		res, err := runPGFloor(ctx, floorDB, c, r.opts.duration, r.opts.persons)
		if err != nil {
			return fail(err, m)
		}
		fs := fromLoad(res)
		r.describe("postgres", round, "pgbench-style inserts", fs, kindRate)
		m.addRound(hs, &fs)
	}
	return nil
}

func (r *runner) postgresHaven(ctx context.Context) (sample, error) {
	db, err := r.pg.create(ctx)
	if err != nil {
		return sample{}, err
	}
	defer r.pg.drop(context.WithoutCancel(ctx), db)
	hs, _, err := r.havenLoad(ctx, havenRun{mode: loadgen.Doses, birthDates: true, db: db})
	return hs, err
}

// dcc measures a DCC verification beside a bare ECDSA P-256 verification,
// from the benchmarks of internal/cert.
func (r *runner) dcc(ctx context.Context) error {
	const verify, bare, alternated = "BenchmarkVerifyES256Schema", "BenchmarkECDSAVerifyBaseline", "BenchmarkVerifyES256SchemaRatio"
	m := r.measure(&measure{ID: "dcc", Kind: kindNs, Evaluated: "–",
		Name:  "EU DCC verification, all ten steps (schema included)",
		Haven: &side{What: verify}, Floor: &side{What: bare + ": `ecdsa.VerifyASN1` alone, same key and digest size"},
		Note: "`go test ./internal/cert/ -run '^$' -bench '^(" + verify + "|" + bare + ")$' -cpu 1`, one run of each per round, from one compiled test binary."})
	r.logf("[dcc] go test -c ./internal/cert/")
	g, err := buildGoBench(ctx, r.root, "./internal/cert/", r.tmp)
	if err != nil {
		return fail(err, m)
	}
	if !g.has(verify) || !g.has(bare) {
		return fail(fmt.Errorf("internal/cert has no %s and %s; its benchmarks: %s", verify, bare, strings.Join(g.names, ", ")), m)
	}
	names := []string{verify, bare}
	var alt *measure
	if g.has(alternated) {
		names = append(names, alternated)
		alt = r.measure(&measure{ID: "dcc-alternated", Kind: kindNs, Evaluated: "–",
			Name:  "EU DCC verification, alternated op by op with a bare ECDSA verification",
			Haven: &side{What: alternated + " (verify-ns/op)"}, Floor: &side{What: alternated + " (ecdsa-ns/op)"},
			Note: "One benchmark loop alternating the two operations, so that both see the same load; issue 13 wants the ratio at most 1.3."})
	}
	for round := 1; round <= r.opts.rounds; round++ {
		res, err := g.run(ctx, r.opts.benchtime, names...)
		if err != nil {
			return fail(err, m)
		}
		hs, fs := sample{NsPerOp: res[verify]["ns/op"]}, sample{NsPerOp: res[bare]["ns/op"]}
		r.describe("dcc", round, verify, hs, kindNs)
		r.describe("dcc", round, bare, fs, kindNs)
		m.addRound(hs, &fs)
		if alt != nil {
			ha, fa := sample{NsPerOp: res[alternated]["verify-ns/op"]}, sample{NsPerOp: res[alternated]["ecdsa-ns/op"]}
			if ha.NsPerOp == 0 || fa.NsPerOp == 0 {
				return fail(fmt.Errorf("%s reported no verify-ns/op or ecdsa-ns/op: %v", alternated, res[alternated]), alt)
			}
			r.describe("dcc", round, alternated, ha, kindNs)
			alt.addRound(ha, &fa)
		}
	}
	return nil
}

// forecast measures the CDSi forecast of a COVID-19 history in isolation
// (it has no floor).
func (r *runner) forecast(ctx context.Context) error {
	m := r.measure(&measure{ID: "forecast", Kind: kindNs, Evaluated: "yes (the forecast evaluates the 4 doses)",
		Name: "CDSi forecast of a COVID-19 history, in isolation (goal ≤ 20 µs)"})
	r.logf("[forecast] go test -c ./internal/schedule/")
	g, err := buildGoBench(ctx, r.root, "./internal/schedule/", r.tmp)
	if err != nil {
		return fail(err, m)
	}
	name := "BenchmarkForecastCOVID19"
	if !g.has(name) {
		i := slices.IndexFunc(g.names, func(n string) bool { return strings.Contains(n, "Forecast") && strings.Contains(n, "COVID") })
		if i < 0 {
			return fail(fmt.Errorf("internal/schedule has no COVID-19 forecast benchmark; its benchmarks: %s", strings.Join(g.names, ", ")), m)
		}
		name = g.names[i]
	}
	m.Haven.What = name
	m.Note = "`go test ./internal/schedule/ -run '^$' -bench '^" + name + "$' -cpu 1`: `ForecastGroups(…, \"COVID-19\")` for a " +
		"67-year-old with 4 doses on the CDC schedule. No floor: nothing simpler computes a forecast."
	for round := 1; round <= r.opts.rounds; round++ {
		res, err := g.run(ctx, r.opts.benchtime, name)
		if err != nil {
			return fail(err, m)
		}
		hs := sample{NsPerOp: res[name]["ns/op"]}
		r.describe("forecast", round, name, hs, kindNs)
		m.addRound(hs, nil)
	}
	return nil
}
