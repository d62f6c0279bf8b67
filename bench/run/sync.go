package main

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"
)

// The sync measures: an offline clinic node (haven serve --upstream, on
// SQLite) and its central (haven serve on PostgreSQL, over TLS), each its
// own process, measured against the goals of
// docs/adr/0006-offline-clinic-nodes.md, "Performance: goals and how they
// are measured". They have no floor: the floor column holds the goal, or
// the same load without the catch-up.
const (
	goalCatchUp        = 5000.0   // doses/s, node → central, the central otherwise idle
	goalCatchUpSeconds = 30.0     // for 100,000 doses
	goalWireBytes      = 300.0    // pushed bytes (compressed bodies) per dose
	goalNodeRSS        = 60 << 20 // peak VmRSS of the node during the catch-up
	goalRatio          = 0.80     // dose writes during a catch-up ÷ without it
)

const (
	syncNodeSite    = "BENCH-1" // the node's site
	syncCentralSite = "BENCH-C" // the site of the central's own vaccinator
	// backlogSeconds is how long the backlog of a loaded run should last
	// at the idle catch-up rate, so that it outlasts a run of --duration.
	backlogSeconds = 1.3
)

// sync runs the sync measures: a timed catch-up of --sync-doses doses
// queued at the node while the central was down (rate, wire cost, node
// memory), then --sync-rounds rounds of the node's clinic load while it
// catches up a backlog vs while the central is down, then the central's
// own clinic load during a node's catch-up vs without it.
func (r *runner) sync(ctx context.Context) error {
	c, n := r.opts.clients, r.opts.syncDoses
	world := "node `haven serve --upstream https://… --upstream-ca …` (SQLite) → central `haven --db postgres://… serve --tls-cert … --tls-key …`"
	catchUp := r.measure(&measure{ID: "sync-catchup", Kind: kindRate, Evaluated: "yes, at the node (persons with birth dates)",
		Name:  fmt.Sprintf("Offline node catch-up, %s doses queued at the node, node → central (goal ≥ 5,000 doses/s; 100,000 in ≤ 30 s)", thousands(float64(n))),
		Haven: &side{What: world}, Floor: &side{What: "goal (ADR 0006): 5,000 doses/s, 100,000 in ≤ 30 s"}})
	wire := r.measure(&measure{ID: "sync-wire", Kind: kindBytes, Evaluated: "–",
		Name:  "Sync wire cost of the catch-up: pushed bytes (compressed bodies) ÷ pushed events (goal ≤ 300 bytes a dose)",
		Haven: &side{What: world}, Floor: &side{What: "goal (ADR 0006): 300 bytes a dose"},
		Note: "`pushed_bytes` ÷ `pushed_events` of the node's `GET /api/v1/sync/status`, the difference between before and after the catch-up."})
	rss := r.measure(&measure{ID: "sync-rss", Kind: kindPeak, Evaluated: "–",
		Name:  "Node memory (VmRSS), peak during the catch-up, sampled every 100 ms (goal ≤ 60 MiB)",
		Haven: &side{What: "the node's haven serve"}, Floor: &side{What: "goal (ADR 0006): 60 MiB"},
		Note: "From /proc/PID/status of the node, every 100 ms from the central's start until the central had applied the node's last event; " +
			"\"before\" is after the node recorded the queued doses, just before the central started."})
	node := r.measure(&measure{ID: "sync-node", Kind: kindRate, Evaluated: "yes (persons with birth dates)",
		Name:  fmt.Sprintf("Node dose writes over HTTP while it catches up a backlog ÷ while the central is down, %d clients (goal ≥ 0.80)", c),
		Haven: &side{What: "the node, catching up"}, Floor: &side{What: "the same node, the central down (sync idle)"}})
	central := r.measure(&measure{ID: "sync-central", Kind: kindRate, Evaluated: "yes (persons with birth dates; the central keeps their birth years)",
		Name:  fmt.Sprintf("Central dose writes over HTTPS, PostgreSQL, during a node's catch-up ÷ without it, %d clients (goal ≥ 0.80)", c),
		Haven: &side{What: "the central, a node catching up"}, Floor: &side{What: "the same central, no node catching up"}})
	all := []*measure{catchUp, wire, rss, node, central}

	w, err := r.startSyncWorld(ctx)
	if err != nil {
		return fail(err, all...)
	}
	defer w.close()
	// The central's load with the node idle, before anything is queued
	// (compared below with the run during a catch-up, as is the run after).
	without1, err := w.load(ctx, w.centralLG, w.centralCards, w.central.log)
	if err != nil {
		return fail(err, all...)
	}
	r.logf("[sync] central, no catch-up: %s", strings.ReplaceAll(without1.format(kindRate), "**", ""))

	// 1. The timed catch-up, the central otherwise idle.
	cu, err := w.catchUp(ctx, n)
	if err != nil {
		return fail(err, all...)
	}
	r.logf("[sync] catch-up: %s doses in %s from the node's resume (%s/s), resumed %s after the central was ready; %s bytes/event; node peak RSS %s (%s before)",
		thousands(float64(n)), formatDuration(cu.seconds), thousands(cu.rate), formatDuration(cu.resumeWait),
		thousands(cu.bytesPerEvent), formatBytes(cu.peakRSS), formatBytes(cu.rssBefore))
	catchUp.addRound(sample{PerSecond: cu.rate, Count: n, Seconds: cu.seconds.Seconds()}, &sample{PerSecond: goalCatchUp})
	for100k := 100000 / cu.rate
	if n == 100000 {
		for100k = cu.seconds.Seconds() // measured, not extrapolated
	}
	catchUp.Extra = map[string][]float64{"seconds_for_100000": {for100k}, "resume_wait_seconds": {cu.resumeWait.Seconds()},
		"recording_per_second": {cu.recordRate}, "cpu_seconds_central": {cu.cpu.central}, "cpu_seconds_node": {cu.cpu.node},
		"cpu_seconds_postgres": {cu.cpu.postgres}, "wall_seconds": {cu.cpu.wall}}
	catchUp.Note = fmt.Sprintf("The central is stopped; %s doses (%d persons with birth dates, registered and synced before) are recorded at the node "+
		"over HTTP by %d clients (not timed: %s/s), then the central started. Timed from the node's resume (the first batch applied, "+
		"`sync_nodes.applied_seq` polled every 50 ms) until `applied_seq` reached the node's last seq; the rate leaves out the first batch. "+
		"%s. The node resumed %s after the central answered /readyz (its back-off while the "+
		"central was down, up to 15 s). CPU from the central's readiness to the end (%s wall, 2 cores): central %s s, node %s s, "+
		"PostgreSQL server %s s. Goals: %s; %s.",
		thousands(float64(n)), r.opts.persons, c, thousands(cu.recordRate), took(n, cu.seconds, for100k), formatDuration(cu.resumeWait),
		formatDuration(time.Duration(cu.cpu.wall*float64(time.Second))), sig3(cu.cpu.central), sig3(cu.cpu.node), sig3(cu.cpu.postgres),
		verdict("≥ 5,000 doses/s", cu.rate >= goalCatchUp), verdict("100,000 in ≤ 30 s", for100k <= goalCatchUpSeconds))
	wire.addRound(sample{BytesPerOp: cu.bytesPerEvent}, &sample{BytesPerOp: goalWireBytes})
	wire.Note += fmt.Sprintf(" %s bytes for %s events. Goal ≤ 300 bytes: %s.", thousands(float64(cu.pushedBytes)), thousands(float64(cu.pushedEvents)),
		metWord(cu.bytesPerEvent <= goalWireBytes))
	rss.addRound(sample{RSS: cu.peakRSS, RSSIdle: cu.rssBefore}, &sample{RSS: goalNodeRSS})
	rss.Note += fmt.Sprintf(" The node's VmRSS once its %d persons were registered and synced, before any dose: %s. Goal ≤ 60 MiB: %s.",
		r.opts.persons, formatBytes(w.nodeIdleRSS), metWord(cu.peakRSS <= goalNodeRSS))
	rss.Extra = map[string][]float64{"rss_idle_bytes": {float64(w.nodeIdleRSS)}}

	// The backlog a loaded run starts from: enough for --duration at the
	// idle catch-up rate, and more.
	backlog := int64(backlogSeconds * r.opts.duration.Seconds() * cu.rate)

	// 2. The node's clinic load, syncing vs not.
	var lasted []string
	for round := 1; round <= r.opts.syncRounds; round++ {
		unsynced, syncing, ls, err := w.nodeRound(ctx, backlog)
		if err != nil {
			return fail(err, node, central)
		}
		r.logf("[sync] round %d/%d: node, the central down: %s", round, r.opts.syncRounds, strings.ReplaceAll(unsynced.format(kindRate), "**", ""))
		r.logf("[sync] round %d/%d: node, catching up: %s; %s", round, r.opts.syncRounds, strings.ReplaceAll(syncing.format(kindRate), "**", ""), ls)
		node.addRound(syncing, &unsynced)
		lasted = append(lasted, fmt.Sprintf("%d) %s", round, ls))
	}
	node.Note = fmt.Sprintf("`haven bench`'s dose load (`POST /api/v1/persons/{card}/vaccinations`, %d clients, %s) on the node, each run on persons of its own registered for it with no dose yet, in each round first "+
		"with the central stopped (sync idle, the doses queue), then, after topping the backlog up to %s doses at least and starting the central, "+
		"once the node has resumed, while it catches up. The ratio is the median of the rounds' ratios. Round by round: %s. "+
		"Goal ≥ 0.80: %s.", c, r.opts.duration, thousands(float64(backlog)), strings.Join(lasted, "; "), metWord(node.Ratio != nil && *node.Ratio >= goalRatio))

	// 3. The central's clinic load, during a catch-up vs without.
	with, without2, ls, err := w.centralRound(ctx, backlog)
	if err != nil {
		return fail(err, central)
	}
	r.logf("[sync] central, a node catching up: %s; %s", strings.ReplaceAll(with.format(kindRate), "**", ""), ls)
	r.logf("[sync] central, no catch-up: %s", strings.ReplaceAll(without2.format(kindRate), "**", ""))
	central.addRound(with, &without1)
	central.addRound(with, &without2)
	central.Note = fmt.Sprintf("`haven bench`'s dose load (%d clients, %s, a vaccinator token of the central, %d persons registered at the central) "+
		"over HTTPS (Go's client: HTTP/2 where offered) against the central before anything was queued at the node, during a catch-up (of the backlog "+
		"the node's last round left, or topped up), and after it (the node stopped); the one run during the catch-up is compared with each of the other two, and the "+
		"ratio is their median. The node's backlog at the start: at least %s doses; %s. "+
		"Goal ≥ 0.80: %s.", c, r.opts.duration, r.opts.persons, thousands(float64(backlog)), ls, metWord(central.Ratio != nil && *central.Ratio >= goalRatio))
	return nil
}

// took says how long the catch-up of n doses took, and at its rate
// 100,000 would (when n is not 100,000).
func took(n int, d time.Duration, for100k float64) string {
	s := fmt.Sprintf("%s doses took %s", thousands(float64(n)), formatDuration(d))
	if n != 100000 {
		s += fmt.Sprintf(", so 100,000 take %s at that rate (goal ≤ 30 s)", formatDuration(time.Duration(for100k*float64(time.Second))))
	}
	return s
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func verdict(goal string, ok bool) string { return goal + " " + metWord(ok) }

// syncWorld is a central and one node, with what drives them.
type syncWorld struct {
	r        *runner
	bin, dir string
	// certFile and keyFile are the central's throw-away certificate for
	// 127.0.0.1, which the node (--upstream-ca) and this process trust.
	certFile, keyFile string
	restoreTLS        func()
	schema            *pgSchema
	db                *sql.DB // the central's schema, for sync_nodes
	addr              string  // the central's address, the same at each start
	starts            int
	central           *havenServer // proc nil while the central is down
	node              *havenServer
	nodeAdmin         *loadgen.Gen // an admin token of the node
	nodeLG, centralLG *loadgen.Gen // a vaccinator of each
	nodeCards         []string
	centralCards      []string
	nodeIdleRSS       int64        // the node's VmRSS once its persons are synced
	doses             atomic.Int64 // doses recorded by recordAtNode, for unique lots
}

// startSyncWorld starts a central on a fresh schema with keys, two sites
// and a node token, and a node enrolled with it; it registers --persons
// persons with birth dates at the node (and waits until the central has
// them) and as many at the central.
func (r *runner) startSyncWorld(ctx context.Context) (_ *syncWorld, err error) {
	bin, err := r.haven(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(r.tmp, "sync-")
	if err != nil {
		return nil, err
	}
	w := &syncWorld{r: r, bin: bin, dir: dir}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	pool, err := w.makeTLS()
	if err != nil {
		return nil, err
	}
	w.restoreTLS = trustForClients(pool)
	if w.schema, err = createSchema(ctx, r.opts.postgres); err != nil {
		return nil, err
	}
	if w.db, err = sql.Open("pgx", w.schema.url); err != nil {
		return nil, err
	}
	if w.addr, err = freeAddr(); err != nil {
		return nil, err
	}

	r.logf("[sync] central: keys init, haven serve on PostgreSQL schema %s, TLS on %s", w.schema.name, w.addr)
	w.central = &havenServer{bin: bin, data: filepath.Join(dir, "central"), db: w.schema.url, site: syncCentralSite}
	if err := os.MkdirAll(w.central.data, 0o700); err != nil {
		return nil, err
	}
	if _, err := w.central.cli(ctx, "keys", "init", "--country", "KR"); err != nil {
		return nil, err
	}
	if err := w.startCentral(ctx); err != nil {
		return nil, err
	}
	admin, err := w.central.cli(ctx, "token", "create", "--role", "admin", "--label", "bench/run")
	if err != nil {
		return nil, err
	}
	adminLG := loadgen.New(w.central.base, admin, syncCentralSite, loadgen.Doses, 1)
	defer adminLG.Close()
	for _, site := range []string{syncNodeSite, syncCentralSite} {
		body, _ := json.Marshal(map[string]any{"code": site, "name": "Benchmark site " + site, "jurisdiction": "KR", "services": []string{"vaccination"}})
		status, out, err := adminLG.Do(ctx, "POST", "/api/v1/sites", "application/json", "", body)
		if err != nil || status != http.StatusCreated {
			return nil, fmt.Errorf("central: create site %s: %d %v %s", site, status, err, out)
		}
	}
	if w.central.token, err = w.central.cli(ctx, "token", "create", "--role", "vaccinator", "--site", syncCentralSite, "--label", "bench/run"); err != nil {
		return nil, err
	}
	nodeToken, err := w.central.cli(ctx, "token", "create", "--role", "node", "--site", syncNodeSite, "--label", "bench-node")
	if err != nil {
		return nil, err
	}

	r.logf("[sync] node: haven serve --upstream https://%s, enrolment", w.addr)
	w.node = &havenServer{bin: bin, data: filepath.Join(dir, "node"), site: syncNodeSite}
	if err := os.MkdirAll(w.node.data, 0o700); err != nil {
		return nil, err
	}
	args := append(w.node.globalArgs(), "--addr", "127.0.0.1:0", "serve", "--log-level", "warn",
		"--upstream", "https://"+w.addr, "--upstream-ca", w.certFile, "--node-label", "bench-node")
	p, err := startProc(ctx, bin, args, append(childEnv(), "HAVEN_UPSTREAM_TOKEN="+nodeToken), filepath.Join(dir, "node.log"))
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	w.node.proc = p
	if err := waitReady(ctx, p.base+"/readyz"); err != nil {
		return nil, fmt.Errorf("node: %w: %s", err, tail(p.log))
	}
	nodeAdmin, err := w.node.cli(ctx, "token", "create", "--role", "admin", "--label", "bench/run")
	if err != nil {
		return nil, err
	}
	w.nodeAdmin = loadgen.New(p.base, nodeAdmin, syncNodeSite, loadgen.Doses, 2)
	if err := w.waitFor(ctx, "the node's enrolment (its sites copied from the central)", time.Minute, func() (bool, error) {
		status, body, err := w.nodeAdmin.Do(ctx, "GET", "/api/v1/sites", "", "", nil)
		return err == nil && status == http.StatusOK && strings.Contains(string(body), syncNodeSite), nil
	}); err != nil {
		return nil, err
	}
	if w.node.token, err = w.node.cli(ctx, "token", "create", "--role", "vaccinator", "--site", syncNodeSite, "--label", "bench/run"); err != nil {
		return nil, err
	}
	w.nodeLG = loadgen.New(p.base, w.node.token, syncNodeSite, loadgen.Doses, r.opts.clients)
	w.centralLG = loadgen.New(w.central.base, w.central.token, syncCentralSite, loadgen.Doses, r.opts.clients)

	r.logf("[sync] registering %d persons at the node and %d at the central", r.opts.persons, r.opts.persons)
	if w.nodeCards, err = w.nodeLG.RegisterPersons(ctx, r.opts.persons, r.opts.clients, true); err != nil {
		return nil, fmt.Errorf("node: %w: %s", err, tail(w.node.log))
	}
	if err := w.drain(ctx, 5*time.Minute); err != nil {
		return nil, err
	}
	if w.nodeIdleRSS, err = w.node.rss(); err != nil {
		return nil, err
	}
	if w.centralCards, err = w.centralLG.RegisterPersons(ctx, r.opts.persons, r.opts.clients, true); err != nil {
		return nil, fmt.Errorf("central: %w: %s", err, tail(w.central.log))
	}
	return w, nil
}

// close stops the node and the central and drops the schema.
func (w *syncWorld) close() {
	for _, lg := range []*loadgen.Gen{w.nodeAdmin, w.nodeLG, w.centralLG} {
		if lg != nil {
			lg.Close()
		}
	}
	if w.node != nil && w.node.proc != nil {
		w.node.stop()
	}
	w.stopCentral()
	if w.db != nil {
		w.db.Close()
	}
	if w.schema != nil {
		if err := w.schema.drop(); err != nil {
			w.r.logf("[sync] %v", err)
		}
	}
	if w.restoreTLS != nil {
		w.restoreTLS()
	}
}

// startCentral starts the central on its address and waits until it is
// ready.
func (w *syncWorld) startCentral(ctx context.Context) error {
	w.starts++
	args := append(w.central.globalArgs(), "--addr", w.addr, "serve", "--log-level", "warn", "--tls-cert", w.certFile, "--tls-key", w.keyFile)
	p, err := startProc(ctx, w.bin, args, childEnv(), filepath.Join(w.dir, fmt.Sprintf("central-%d.log", w.starts)))
	if err != nil {
		return fmt.Errorf("central: %w", err)
	}
	if err := waitReady(ctx, p.base+"/readyz"); err != nil {
		p.stop()
		return fmt.Errorf("central: %w: %s", err, tail(p.log))
	}
	w.central.proc = p
	if w.centralLG != nil {
		w.centralLG.Close() // connections to the last process
	}
	return nil
}

// stopCentral stops the central if it runs.
func (w *syncWorld) stopCentral() {
	if w.central != nil && w.central.proc != nil {
		w.central.stop()
		w.central.proc = nil
	}
}

// syncStatus is what the measures read of the node's GET /api/v1/sync/status.
type syncStatus struct {
	State        string `json:"state"`
	Pending      int64  `json:"pending"`
	Failed       int64  `json:"failed"`
	AckedSeq     int64  `json:"acked_seq"`
	PushedEvents int64  `json:"pushed_events"`
	PushedBytes  int64  `json:"pushed_bytes"`
	LastError    string `json:"last_error"`
}

func (w *syncWorld) nodeStatus(ctx context.Context) (syncStatus, error) {
	var st syncStatus
	status, body, err := w.nodeAdmin.Do(ctx, "GET", "/api/v1/sync/status", "", "", nil)
	if err != nil {
		return st, fmt.Errorf("node sync status: %w", err)
	}
	if status != http.StatusOK {
		return st, fmt.Errorf("node sync status: %d %s", status, body)
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("node sync status: %w", err)
	}
	return st, nil
}

// applied is the central's applied_seq of the node (0 before it enrolled).
func (w *syncWorld) applied(ctx context.Context) (int64, error) {
	var seq int64
	err := w.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(applied_seq), 0) FROM sync_nodes`).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("central: read sync_nodes: %w", err)
	}
	return seq, nil
}

// waitFor polls cond every 100 ms until it holds, fails, or d passes.
func (w *syncWorld) waitFor(ctx context.Context, what string, d time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s; node: %s", d, what, tail(w.node.log))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// drain starts the central if it is down and waits until the node has
// nothing pending and the central has applied all it acknowledged.
func (w *syncWorld) drain(ctx context.Context, d time.Duration) error {
	if w.central.proc == nil {
		if err := w.startCentral(ctx); err != nil {
			return err
		}
	}
	return w.waitFor(ctx, "the node's outbox to drain", d, func() (bool, error) {
		st, err := w.nodeStatus(ctx)
		if err != nil {
			return false, err
		}
		if st.Failed > 0 {
			return false, fmt.Errorf("the central refused %d of the node's events: %s", st.Failed, st.LastError)
		}
		if st.Pending > 0 {
			return false, nil
		}
		a, err := w.applied(ctx)
		return a >= st.AckedSeq, err
	})
}

// recordAtNode records n doses at the node from --clients clients, the
// persons in turn, as the load generator's doses.
func (w *syncWorld) recordAtNode(ctx context.Context, n int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	base := w.doses.Add(int64(n)) - int64(n)
	var next atomic.Int64
	var wg sync.WaitGroup
	products := [...]string{"coronavac", "bbibp-corv", "comirnaty", "zf2001"}
	for range min(w.r.opts.clients, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				k := int(base) + i
				body := fmt.Appendf(nil, `{"product":%q,"date":"2021-09-%02d","site":%q,"lot":"S%d"}`, products[k%4], 1+k%28, syncNodeSite, k)
				status, out, err := w.nodeLG.Do(ctx, "POST", "/api/v1/persons/"+w.nodeCards[k%len(w.nodeCards)]+"/vaccinations", "application/json", "", body)
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("record a dose at the node: %d %s", status, out)
				}
				if err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// catchUpResult is what the timed catch-up measured.
type catchUpResult struct {
	rate         float64       // doses/s from the node's resume
	seconds      time.Duration // from the resume to the last event applied
	resumeWait   time.Duration // from the central's readiness to the resume
	recordRate   float64       // doses/s recorded at the node beforehand
	pushedEvents int64
	pushedBytes  int64
	// bytesPerEvent is pushedBytes ÷ pushedEvents.
	bytesPerEvent      float64
	rssBefore, peakRSS int64
	cpu                cpuUse
}

// catchUp stops the central, records n doses at the node, starts the
// central and times the node's catch-up, sampling the node's memory.
func (w *syncWorld) catchUp(ctx context.Context, n int) (catchUpResult, error) {
	var res catchUpResult
	if err := w.drain(ctx, 5*time.Minute); err != nil {
		return res, err
	}
	w.stopCentral()
	w.r.logf("[sync] the central stopped; recording %s doses at the node", thousands(float64(n)))
	t := time.Now()
	if err := w.recordAtNode(ctx, n); err != nil {
		return res, fmt.Errorf("%w: %s", err, tail(w.node.log))
	}
	res.recordRate = float64(n) / time.Since(t).Seconds()
	before, err := w.nodeStatus(ctx)
	if err != nil {
		return res, err
	}
	if before.Pending < int64(n) {
		return res, fmt.Errorf("the node has %d events pending after recording %d doses", before.Pending, n)
	}
	target := before.AckedSeq + before.Pending
	a0, err := w.applied(ctx)
	if err != nil {
		return res, err
	}
	if res.rssBefore, err = w.node.rss(); err != nil {
		return res, err
	}
	w.r.logf("[sync] recorded at %s doses/s; %s events pending; starting the central", thousands(res.recordRate), thousands(float64(before.Pending)))

	sampleCtx, stopSampling := context.WithCancel(ctx)
	peakc := make(chan int64, 1)
	go func() {
		peak := res.rssBefore
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := w.node.rss(); err == nil {
				peak = max(peak, v)
			}
			select {
			case <-sampleCtx.Done():
				peakc <- peak
				return
			case <-tick.C:
			}
		}
	}()
	err = w.startCentral(ctx)
	if err != nil {
		stopSampling()
		<-peakc
		return res, err
	}
	ready := time.Now()
	cpu0 := w.cpuNow()
	pr, err := w.watchCatchUp(ctx, a0, target, 15*time.Minute)
	cpu1 := w.cpuNow()
	stopSampling()
	res.peakRSS = <-peakc
	if err != nil {
		return res, err
	}
	res.cpu = cpu1.since(cpu0)
	res.resumeWait = pr.resumed.Sub(ready)
	res.seconds = pr.end.Sub(pr.resumed)
	if pr.firstSeq < target && pr.end.After(pr.first) {
		res.rate = float64(target-pr.firstSeq) / pr.end.Sub(pr.first).Seconds()
	} else { // all in one batch
		res.rate = float64(target-a0) / res.seconds.Seconds()
	}
	var after syncStatus
	if err := w.waitFor(ctx, "the node to see its events acknowledged", time.Minute, func() (bool, error) {
		after, err = w.nodeStatus(ctx)
		return err == nil && after.Pending == 0, err
	}); err != nil {
		return res, err
	}
	if after.AckedSeq != target || after.Failed > 0 {
		return res, fmt.Errorf("after the catch-up the node acknowledged seq %d, want %d (%d refused: %s)", after.AckedSeq, target, after.Failed, after.LastError)
	}
	res.pushedEvents = after.PushedEvents - before.PushedEvents
	res.pushedBytes = after.PushedBytes - before.PushedBytes
	if res.pushedEvents <= 0 {
		return res, fmt.Errorf("the node's pushed_events did not grow (%d → %d)", before.PushedEvents, after.PushedEvents)
	}
	res.bytesPerEvent = float64(res.pushedBytes) / float64(res.pushedEvents)
	return res, nil
}

// catchUpProgress is when the central applied what of a catch-up.
type catchUpProgress struct {
	resumed  time.Time // the last poll before the first batch was applied
	first    time.Time // the first poll that saw a batch applied
	firstSeq int64     // applied_seq then
	end      time.Time // the first poll that saw the target applied
}

// watchCatchUp polls the central's applied_seq every 50 ms until it
// reaches target, starting from from. It fails when nothing was applied for
// two minutes, or after limit.
func (w *syncWorld) watchCatchUp(ctx context.Context, from, target int64, limit time.Duration) (catchUpProgress, error) {
	var pr catchUpProgress
	start := time.Now()
	last, lastChange, lastLog := from, start, start
	prev := start
	for {
		a, err := w.applied(ctx)
		if err != nil {
			return pr, err
		}
		now := time.Now()
		if a != last {
			if pr.first.IsZero() {
				pr.resumed, pr.first, pr.firstSeq = prev, now, a
			}
			last, lastChange = a, now
		}
		if a >= target {
			pr.end = now
			return pr, nil
		}
		if now.Sub(lastLog) >= 5*time.Second {
			w.r.logf("[sync] catch-up: applied %s of %s", thousands(float64(a-from)), thousands(float64(target-from)))
			lastLog = now
		}
		if now.Sub(lastChange) > 2*time.Minute || now.Sub(start) > limit {
			st, _ := w.nodeStatus(ctx)
			return pr, fmt.Errorf("catch-up stalled at applied_seq %d of %d after %s (node: state %s, pending %d, last error %q): %s",
				a, target, now.Sub(start).Round(time.Second), st.State, st.Pending, st.LastError, tail(w.node.log))
		}
		prev = now
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return pr, err
		}
	}
}

// topUp stops the central and records doses at the node until at least
// backlog events are pending; it returns the node's last seq.
func (w *syncWorld) topUp(ctx context.Context, backlog int64) (int64, error) {
	w.stopCentral()
	st, err := w.nodeStatus(ctx)
	if err != nil {
		return 0, err
	}
	if more := backlog - st.Pending; more > 0 {
		if err := w.recordAtNode(ctx, int(more)); err != nil {
			return 0, fmt.Errorf("%w: %s", err, tail(w.node.log))
		}
		if st, err = w.nodeStatus(ctx); err != nil {
			return 0, err
		}
	}
	return st.AckedSeq + st.Pending, nil
}

// resume starts the central and waits until it has applied a batch of the
// node's backlog.
func (w *syncWorld) resume(ctx context.Context) error {
	a0, err := w.applied(ctx)
	if err != nil {
		return err
	}
	if err := w.startCentral(ctx); err != nil {
		return err
	}
	return w.waitFor(ctx, "the node to resume its catch-up", 2*time.Minute, func() (bool, error) {
		a, err := w.applied(ctx)
		return a > a0, err
	})
}

// backlogWatch follows the central's applied_seq during a loaded run: how
// much of the catch-up it applied and whether the backlog (up to seq last)
// lasted the run.
type backlogWatch struct {
	w       *syncWorld
	cpu0    cpuSnapshot
	stop    func()
	done    chan struct{}
	start   time.Time
	a0, a1  int64
	last    int64
	emptyAt time.Time // when applied_seq reached last; zero if it never did
	err     error
}

func (w *syncWorld) watchBacklog(ctx context.Context, last int64) *backlogWatch {
	ctx, cancel := context.WithCancel(ctx)
	b := &backlogWatch{w: w, cpu0: w.cpuNow(), stop: cancel, done: make(chan struct{}), start: time.Now(), last: last}
	b.a0, b.err = w.applied(ctx)
	go func() {
		defer close(b.done)
		for {
			a, err := w.applied(context.WithoutCancel(ctx))
			if err != nil {
				b.err = err
				return
			}
			b.a1 = a
			if a >= last && b.emptyAt.IsZero() {
				b.emptyAt = time.Now()
			}
			if sleep(ctx, 100*time.Millisecond) != nil {
				return
			}
		}
	}()
	return b
}

// end stops the watch and describes the backlog over the run of d; st
// is the node's sync status after the run.
func (b *backlogWatch) end(d time.Duration, st syncStatus) (string, error) {
	b.stop()
	<-b.done
	if b.err != nil {
		return "", b.err
	}
	cpu := b.w.cpuNow().since(b.cpu0)
	rate := float64(b.a1-b.a0) / time.Since(b.start).Seconds()
	var out string
	if b.emptyAt.IsZero() {
		out = fmt.Sprintf("the backlog lasted the run (%s events left; catch-up at %s/s during it)", thousands(float64(b.last-b.a1)), thousands(rate))
	} else {
		out = fmt.Sprintf("**the backlog ran out %s into the run of %s** (catch-up at %s/s during it)",
			formatDuration(b.emptyAt.Sub(b.start).Round(100*time.Millisecond)), d, thousands(rate))
	}
	out += fmt.Sprintf("; CPU over the run (%s s, 2 cores): node %s s, central %s s, PostgreSQL %s s, load generator %s s",
		sig3(cpu.wall), sig3(cpu.node), sig3(cpu.central), sig3(cpu.postgres), sig3(cpu.self))
	if st.LastError != "" {
		out += fmt.Sprintf(" (the node's sync: %s, last error: %s)", st.State, st.LastError)
	}
	return out, nil
}

// load runs the load generator's doses against lg for --duration.
func (w *syncWorld) load(ctx context.Context, lg *loadgen.Gen, cards []string, log string) (sample, error) {
	res, err := lg.Run(ctx, cards, w.r.opts.clients, w.r.opts.duration)
	if err != nil {
		return sample{}, err
	}
	if res.OK == 0 {
		return sample{}, fmt.Errorf("no request succeeded (%d errors): %s", res.Errors, tail(log))
	}
	return fromLoad(res), nil
}

// nodeRound loads the node with the central down, then tops its backlog
// up to backlog, starts the central and loads the node while it catches
// up.
//
// Each of the two loads runs on persons of its own, registered for it
// with no dose yet: a dose's evaluation reads the person's history, so
// loads on the same persons one after the other would each find longer
// histories than the one before (and the backlog's doses go to other
// persons again).
func (w *syncWorld) nodeRound(ctx context.Context, backlog int64) (unsynced, syncing sample, lasted string, err error) {
	w.stopCentral()
	var fresh [2][]string
	for i := range fresh {
		if fresh[i], err = w.nodeLG.RegisterPersons(ctx, w.r.opts.persons, w.r.opts.clients, true); err != nil {
			return
		}
	}
	cpu0 := w.cpuNow()
	if unsynced, err = w.load(ctx, w.nodeLG, fresh[0], w.node.log); err != nil {
		return
	}
	cpu := w.cpuNow().since(cpu0)
	last, err := w.topUp(ctx, backlog)
	if err != nil {
		return
	}
	if err = w.resume(ctx); err != nil {
		return
	}
	b := w.watchBacklog(ctx, last)
	syncing, err = w.load(ctx, w.nodeLG, fresh[1], w.node.log)
	st, berr := w.nodeStatus(ctx)
	ls, eerr := b.end(w.r.opts.duration, st)
	berr = cmp.Or(berr, eerr)
	if err == nil {
		err = berr
	}
	ls = fmt.Sprintf("the central down: CPU node %s s, load generator %s s; catching up: %s", sig3(cpu.node), sig3(cpu.self), ls)
	return unsynced, syncing, ls, err
}

// centralRound loads the central during the node's catch-up of at least
// backlog events (what is left of the last round, if enough), then with
// the node stopped.
func (w *syncWorld) centralRound(ctx context.Context, backlog int64) (with, without sample, lasted string, err error) {
	st, err := w.nodeStatus(ctx)
	if err != nil {
		return
	}
	last := st.AckedSeq + st.Pending
	if w.central.proc == nil || st.Pending < backlog {
		if last, err = w.topUp(ctx, backlog); err != nil {
			return
		}
		if err = w.resume(ctx); err != nil {
			return
		}
	}
	b := w.watchBacklog(ctx, last)
	with, err = w.load(ctx, w.centralLG, w.centralCards, w.central.log)
	st, berr := w.nodeStatus(ctx)
	ls, eerr := b.end(w.r.opts.duration, st)
	berr = cmp.Or(berr, eerr)
	if err == nil {
		err = berr
	}
	if err != nil {
		return
	}
	// Rather than wait for the rest of the backlog, stop the node: the
	// central then has no catch-up to serve either.
	w.node.stop()
	w.node.proc = nil
	without, err = w.load(ctx, w.centralLG, w.centralCards, w.central.log)
	return with, without, ls, err
}

// makeTLS writes a throw-away self-signed certificate for 127.0.0.1 and
// its key into the world's folder and returns a pool that trusts it.
func (w *syncWorld) makeTLS() (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "haven bench/run"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	w.certFile, w.keyFile = filepath.Join(w.dir, "cert.pem"), filepath.Join(w.dir, "key.pem")
	if err := os.WriteFile(w.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pool.AddCert(cert)
	return pool, nil
}

// trustForClients has http.DefaultTransport, and so the load generators
// made from it while it holds, trust pool; the function it returns undoes
// it.
func trustForClients(pool *x509.CertPool) func() {
	tr := http.DefaultTransport.(*http.Transport)
	old := tr.TLSClientConfig
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return func() { tr.TLSClientConfig = old }
}

// freeAddr returns a loopback address with a port free now, for a server
// that must listen on the same address at each start.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// pgSchema is a fresh schema on the server of --postgres, as
// internal/storetest makes them for tests.
type pgSchema struct {
	admin *sql.DB
	name  string
	url   string // --postgres with search_path set to the schema
}

func createSchema(ctx context.Context, rawURL string) (*pgSchema, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("--postgres: want postgres://…, got %q", rawURL)
	}
	b := make([]byte, 6)
	rand.Read(b)
	s := &pgSchema{name: "haven_bench_" + hex.EncodeToString(b)}
	if s.admin, err = sql.Open("pgx", rawURL); err != nil {
		return nil, err
	}
	if _, err := s.admin.ExecContext(ctx, "CREATE SCHEMA "+s.name); err != nil {
		s.admin.Close()
		return nil, fmt.Errorf("postgres: create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", s.name)
	u.RawQuery = q.Encode()
	s.url = u.String()
	return s, nil
}

// drop drops the schema with what it holds; it runs on its own context,
// so that it still cleans up after an interrupt.
func (s *pgSchema) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	defer s.admin.Close()
	if _, err := s.admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+s.name+" CASCADE"); err != nil {
		return fmt.Errorf("postgres: drop schema %s: %w", s.name, err)
	}
	return nil
}

// cpuSnapshot is the CPU time used so far by the central, the node and
// each process of the PostgreSQL server, in seconds (Linux; zero
// elsewhere).
type cpuSnapshot struct {
	at            time.Time
	central, node float64
	self          float64 // this process: the load generator and the polls
	postgres      map[int]float64
}

// cpuUse is CPU seconds used over wall seconds.
type cpuUse struct {
	wall, central, node, self, postgres float64
}

func (w *syncWorld) cpuNow() cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), postgres: map[int]float64{}}
	if w.central.proc != nil {
		s.central, _ = cpuSeconds(w.central.cmd.Process.Pid)
	}
	if w.node.proc != nil {
		s.node, _ = cpuSeconds(w.node.cmd.Process.Pid)
	}
	s.self, _ = cpuSeconds(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			if v, err := cpuSeconds(pid); err == nil {
				s.postgres[pid] = v
			}
		}
	}
	return s
}

// since is the CPU used from s0 to s, PostgreSQL counting the processes
// alive at the end (those started in between from zero).
func (s cpuSnapshot) since(s0 cpuSnapshot) cpuUse {
	u := cpuUse{wall: s.at.Sub(s0.at).Seconds(), central: s.central - s0.central, node: s.node - s0.node, self: s.self - s0.self}
	for pid, v := range s.postgres {
		u.postgres += v - s0.postgres[pid]
	}
	return u
}

// cpuSeconds is the user and system CPU time of a process, from
// /proc/PID/stat (in clock ticks of 1/100 s).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	return (utime + stime) / 100, nil
}
