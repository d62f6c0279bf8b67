package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"
)

// goalTwoProcesses is issue 13's goal for two haven serve processes on one
// PostgreSQL database, as a multiple of one.
const goalTwoProcesses = 1.7

// postgres2 measures dose writes over HTTP to two haven serve processes on
// one PostgreSQL database, --clients clients each at once, beside one
// process with --clients clients and with twice as many (more clients
// without more processes), each on a fresh schema in each round; after
// each two-process run it runs haven audit verify on the schema.
func (r *runner) postgres2(ctx context.Context) error {
	c := r.opts.clients
	two := r.measure(&measure{ID: "postgres2", Kind: kindRate, Evaluated: "yes (persons with birth dates)",
		Name:  fmt.Sprintf("Dose writes over HTTP, PostgreSQL, durable: two processes on one database, %d clients each, ÷ one process, %d clients (goal ≥ 1.7)", c, c),
		Haven: &side{What: fmt.Sprintf("two `haven --db postgres://… serve` processes, one schema, %d clients each at once", c)},
		Floor: &side{What: fmt.Sprintf("one `haven --db postgres://… serve`, %d clients", c)}})
	more := r.measure(&measure{ID: "postgres2-64", Kind: kindRate, Evaluated: "yes (persons with birth dates)",
		Name:  fmt.Sprintf("Dose writes over HTTP, PostgreSQL, durable: two processes, %d clients each, ÷ one process, %d clients", c, 2*c),
		Haven: &side{What: fmt.Sprintf("two processes, %d clients each at once", c)},
		Floor: &side{What: fmt.Sprintf("one process, %d clients", 2*c)}})
	verify := r.measure(&measure{ID: "postgres2-audit", Kind: kindSeconds, Evaluated: "–",
		Name:  "`haven audit verify` after each two-process run (goal: every writer's chain verifies)",
		Haven: &side{What: "HAVEN_DB=postgres://…?search_path=SCHEMA haven --data DIR audit verify --json, the processes stopped"}})
	all := []*measure{two, more, verify}
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("Two PostgreSQL processes: in each of %d rounds three runs, each on a fresh schema of --postgres (dropped after it) "+
		"with %d persons with birth dates registered through the first process: one process with %d clients, two processes with %d clients each "+
		"(the persons split between them), one process with %d clients; the order turns round by round.", r.opts.rounds, r.opts.persons, c, c, 2*c))

	var rounds, verified []string
	var last auditCheck
	allOK := true
	for round := 1; round <= r.opts.rounds; round++ {
		var one32, one64 sample
		var tw twoResult
		steps := []func() error{
			func() (err error) { one32, err = r.postgresOne(ctx, c); return err },
			func() (err error) { tw, err = r.postgresTwo(ctx, c); return err },
			func() (err error) { one64, err = r.postgresOne(ctx, 2*c); return err },
		}
		for i := range steps {
			if err := steps[(i+round-1)%len(steps)](); err != nil {
				return fail(err, all...)
			}
		}
		r.logf("[postgres2] round %d/%d: one process, %d clients: %s", round, r.opts.rounds, c, stripBold(one32.format(kindRate)))
		r.logf("[postgres2] round %d/%d: two processes, %d clients each: %s (%s/s + %s/s; p99 %s and %s)", round, r.opts.rounds, c,
			stripBold(tw.sum.format(kindRate)), thousands(tw.each[0].PerSecond), thousands(tw.each[1].PerSecond),
			formatDuration(tw.each[0].P99), formatDuration(tw.each[1].P99))
		r.logf("[postgres2] round %d/%d: one process, %d clients: %s", round, r.opts.rounds, 2*c, stripBold(one64.format(kindRate)))
		r.logf("[postgres2] round %d/%d: audit verify: %s", round, r.opts.rounds, tw.audit.String())
		two.addRound(tw.sum, &one32)
		more.addRound(tw.sum, &one64)
		verify.addRound(sample{Seconds: tw.audit.took.Seconds()}, nil)
		rounds = append(rounds, fmt.Sprintf("%d) one process %d clients %s/s (p99 %s); two processes %s/s + %s/s = %s/s (p99 %s and %s); one process %d clients %s/s (p99 %s)",
			round, c, thousands(one32.PerSecond), formatDuration(one32.P99), thousands(tw.each[0].PerSecond), thousands(tw.each[1].PerSecond),
			thousands(tw.sum.PerSecond), formatDuration(tw.each[0].P99), formatDuration(tw.each[1].P99), 2*c, thousands(one64.PerSecond), formatDuration(one64.P99)))
		verified = append(verified, fmt.Sprintf("%d) %s", round, tw.audit.String()))
		allOK = allOK && tw.audit.ok
		last = tw.audit
	}
	two.Note = fmt.Sprintf("`haven bench`'s dose load (`POST /api/v1/persons/{card}/vaccinations`, %s a run). The two processes share the data folder "+
		"(key ring, audit signing key) and the schema, each with its own connection pool and its own audit chains (ADR 0005); the two-process figure "+
		"is the sum of both processes' acknowledged doses/s over the same %s, its p50 and p99 the larger of the two. Round by round: %s. "+
		"Goal ≥ 1.7× one process: %s.", r.opts.duration, r.opts.duration, strings.Join(rounds, "; "),
		metWord(two.Ratio != nil && *two.Ratio >= goalTwoProcesses))
	more.Note = fmt.Sprintf("The same rounds: separates the effect of a second process from that of more clients (%d in all either way).", 2*c)
	if allOK {
		verify.Cell = fmt.Sprintf("**verified** in all %d rounds (the last: %s)", r.opts.rounds, last)
	} else {
		verify.Cell = "**not verified**"
	}
	verify.Note = fmt.Sprintf("After each two-process run, both processes stopped: `haven --data DIR audit verify --json` with HAVEN_DB set to the "+
		"run's schema; it checks chain 0, every writer's chain and its joins to chain 0, the MACs and the signed checkpoints. Round by round: %s. "+
		"Goal (the chains verify): %s.", strings.Join(verified, "; "), metWord(allOK))
	if !allOK {
		return fail(fmt.Errorf("haven audit verify failed: %s", strings.Join(verified, "; ")), verify)
	}
	return nil
}

// postgresOne loads one haven serve on a fresh schema with clients clients.
func (r *runner) postgresOne(ctx context.Context, clients int) (sample, error) {
	bin, err := r.haven(ctx)
	if err != nil {
		return sample{}, err
	}
	schema, err := createSchema(ctx, r.opts.postgres)
	if err != nil {
		return sample{}, err
	}
	defer r.dropSchema(schema)
	dir, err := os.MkdirTemp(r.tmp, "postgres2-")
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	h, err := startHaven(ctx, bin, filepath.Join(dir, "data"), schema.url)
	if err != nil {
		return sample{}, err
	}
	defer h.stop()
	lg := loadgen.New(h.base, h.token, h.site, loadgen.Doses, clients)
	defer lg.Close()
	cards, err := lg.RegisterPersons(ctx, r.opts.persons, r.opts.clients, true)
	if err != nil {
		return sample{}, fmt.Errorf("%w: %s", err, tail(h.log))
	}
	res, err := lg.Run(ctx, cards, clients, r.opts.duration)
	if err != nil {
		return sample{}, err
	}
	if res.OK == 0 {
		return sample{}, fmt.Errorf("no request succeeded (%d errors): %s", res.Errors, tail(h.log))
	}
	return fromLoad(res), nil
}

func (r *runner) dropSchema(s *pgSchema) {
	if err := s.drop(); err != nil {
		r.logf("%v", err)
	}
}

// twoResult is what one two-process run measured.
type twoResult struct {
	sum   sample    // both processes: the sum of their rates
	each  [2]sample // each process
	audit auditCheck
}

// postgresTwo loads two haven serve processes on one fresh schema, each
// with clients clients at once, on half of the persons each; then it stops
// them and runs haven audit verify.
func (r *runner) postgresTwo(ctx context.Context, clients int) (twoResult, error) {
	var tr twoResult
	bin, err := r.haven(ctx)
	if err != nil {
		return tr, err
	}
	schema, err := createSchema(ctx, r.opts.postgres)
	if err != nil {
		return tr, err
	}
	defer r.dropSchema(schema)
	dir, err := os.MkdirTemp(r.tmp, "postgres2-")
	if err != nil {
		return tr, err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	a, err := startHaven(ctx, bin, data, schema.url)
	if err != nil {
		return tr, err
	}
	defer a.stop()
	// The second process: the same data folder (key ring, audit signing
	// key) and schema, its own port, log and connection pool.
	b := &havenServer{bin: bin, data: data, db: schema.url, token: a.token, site: a.site}
	args := append(b.globalArgs(), "--addr", "127.0.0.1:0", "serve", "--log-level", "error")
	p, err := startProc(ctx, bin, args, childEnv(), filepath.Join(dir, "data-b.log"))
	if err != nil {
		return tr, fmt.Errorf("second process: %w", err)
	}
	b.proc = p
	defer b.stop()
	if err := waitReady(ctx, p.base+"/readyz"); err != nil {
		return tr, fmt.Errorf("second process: %w: %s", err, tail(p.log))
	}
	lgs := [2]*loadgen.Gen{
		loadgen.New(a.base, a.token, a.site, loadgen.Doses, clients),
		loadgen.New(b.base, b.token, b.site, loadgen.Doses, clients),
	}
	defer lgs[0].Close()
	defer lgs[1].Close()
	cards, err := lgs[0].RegisterPersons(ctx, r.opts.persons, r.opts.clients, true)
	if err != nil {
		return tr, fmt.Errorf("%w: %s", err, tail(a.log))
	}
	if len(cards) < 2 {
		return tr, fmt.Errorf("two processes need at least 2 persons, --persons is %d", len(cards))
	}
	halves := [2][]string{cards[:len(cards)/2], cards[len(cards)/2:]}
	var (
		res  [2]loadgen.Result
		errs [2]error
		wg   sync.WaitGroup
	)
	for i := range lgs {
		wg.Go(func() { res[i], errs[i] = lgs[i].Run(ctx, halves[i], clients, r.opts.duration) })
	}
	wg.Wait()
	for i, h := range []*havenServer{a, b} {
		if errs[i] != nil {
			return tr, errs[i]
		}
		if res[i].OK == 0 {
			return tr, fmt.Errorf("process %d: no request succeeded (%d errors): %s", i+1, res[i].Errors, tail(h.log))
		}
		tr.each[i] = fromLoad(res[i])
	}
	tr.sum = sample{PerSecond: tr.each[0].PerSecond + tr.each[1].PerSecond, P50: max(tr.each[0].P50, tr.each[1].P50),
		P99: max(tr.each[0].P99, tr.each[1].P99), Max: max(tr.each[0].Max, tr.each[1].Max), Errors: tr.each[0].Errors + tr.each[1].Errors}
	lgs[0].Close()
	lgs[1].Close()
	a.stop()
	b.stop()
	tr.audit, err = auditVerify(ctx, bin, data, schema.url)
	return tr, err
}

// auditCheck is what haven audit verify --json reported.
type auditCheck struct {
	ok          bool
	entries     int
	chains      int // writers' chains besides chain 0
	macs        int
	checkpoints int
	took        time.Duration
	problem     string
}

func (a auditCheck) String() string {
	if !a.ok {
		return "**failed**: " + a.problem
	}
	return fmt.Sprintf("OK, %s entries (chain 0 and %d writers' chains joined to it), %s MACs and %d checkpoints checked, in %s",
		thousands(float64(a.entries)), a.chains, thousands(float64(a.macs)), a.checkpoints, formatDuration(a.took))
}

// auditVerify runs haven audit verify --json on the data folder with
// HAVEN_DB set to db. A report that says the log is bad is an auditCheck
// with ok false, not an error.
func auditVerify(ctx context.Context, bin, data, db string) (auditCheck, error) {
	var a auditCheck
	cmd := exec.CommandContext(ctx, bin, "--data", data, "audit", "verify", "--json")
	cmd.Env = append(childEnv(), "HAVEN_DB="+db)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t := time.Now()
	runErr := cmd.Run()
	a.took = time.Since(t)
	var rep struct {
		OK          bool              `json:"ok"`
		Entries     int               `json:"entries"`
		MACs        int               `json:"macs_checked"`
		Checkpoints int               `json:"checkpoints"`
		Chains      []json.RawMessage `json:"chains"`
		Problem     json.RawMessage   `json:"problem"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return a, fmt.Errorf("haven audit verify: %v: %s %s", runErr, strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()))
	}
	a.ok = rep.OK && runErr == nil
	a.entries, a.macs, a.checkpoints, a.chains = rep.Entries, rep.MACs, rep.Checkpoints, len(rep.Chains)
	if !a.ok {
		a.problem = strings.TrimSpace(string(rep.Problem) + " " + stderr.String())
	}
	return a, nil
}
