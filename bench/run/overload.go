package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"
)

// Issue 13's goals under overload: 8× the clients that saturate the server.
const (
	goalOverloadP99      = 200 * time.Millisecond // admitted requests
	goalOverloadRSS      = 100 << 20              // peak VmRSS during the overload
	goalOverloadRecovery = time.Second            // to a normal answer after it
	// recoveryLimit bounds the wait for a normal answer after the overload.
	recoveryLimit = 30 * time.Second
	// normalRun is the length of the single client's run that sets its
	// normal latency.
	normalRun = 2 * time.Second
)

// overload measures dose writes to a SQLite haven serve (default
// --max-in-flight) under --overload-factor times the clients that
// saturate it (--clients), in each round on a fresh server: first a single
// client (its normal latency), --clients/2 and --clients (the saturating
// load), then the overload, then the recovery.
func (r *runner) overload(ctx context.Context) error {
	c := r.opts.clients
	oc := c * r.opts.overloadFactor
	what := "haven serve (SQLite, default --max-in-flight)"
	p99 := r.measure(&measure{ID: "overload-p99", Kind: kindP99, Evaluated: "yes (persons with birth dates)",
		Name:  fmt.Sprintf("Overload: dose writes, %d clients (%d× the %d that saturate it), admitted requests' latency (goal: p99 ≤ 200 ms)", oc, r.opts.overloadFactor, c),
		Haven: &side{What: what}, Floor: &side{What: "goal (issue 13): p99 ≤ 200 ms"}})
	goodput := r.measure(&measure{ID: "overload-goodput", Kind: kindRate, Evaluated: "yes (persons with birth dates)",
		Name:  fmt.Sprintf("Overload: admitted dose writes/s at %d clients ÷ at the %d that saturate the server", oc, c),
		Haven: &side{What: fmt.Sprintf("the same server, %d clients", oc)}, Floor: &side{What: fmt.Sprintf("the same server, %d clients, just before", c)}})
	refused := r.measure(&measure{ID: "overload-refused", Kind: kindRefused, Evaluated: "–",
		Name:  fmt.Sprintf("Overload: share of answers that were 503 at %d clients, and their latency (goal: quick)", oc),
		Haven: &side{What: what}})
	rss := r.measure(&measure{ID: "overload-rss", Kind: kindPeak, Evaluated: "–",
		Name:  fmt.Sprintf("Overload: server memory (VmRSS), peak during the %d-client run, sampled every 100 ms (goal ≤ 100 MiB)", oc),
		Haven: &side{What: what}, Floor: &side{What: "goal (issue 13): 100 MiB"}})
	recovery := r.measure(&measure{ID: "overload-recovery", Kind: kindSeconds, Evaluated: "yes (persons with birth dates)",
		Name:  "Overload: recovery, from the end of the overload to a single client's 2xx within its normal latency (goal ≤ 1 s)",
		Haven: &side{What: what}, Floor: &side{What: "goal (issue 13): 1 s"}})
	all := []*measure{p99, goodput, refused, rss, recovery}
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("Overload: in each of %d rounds a fresh SQLite haven serve with the default --max-in-flight; "+
		"a single client for %s (its normal latency: that run's p99), %d and %d clients for %s each (the saturating load), then %d clients for %s, "+
		"then one client until an answer is 2xx within the normal latency; each run on %d persons with birth dates of its own, registered for it.",
		r.opts.rounds, normalRun, max(1, c/2), c, r.opts.duration, oc, r.opts.duration, r.opts.persons))

	var notes []string
	var normals, refusedTotal, answers []float64
	for round := 1; round <= r.opts.rounds; round++ {
		o, err := r.overloadRound(ctx, c, oc)
		if err != nil {
			return fail(err, all...)
		}
		r.logf("[overload] round %d/%d: 1 client: p99 %s; %d clients: %s; %d clients: %s", round, r.opts.rounds, formatDuration(o.normal),
			max(1, c/2), stripBold(o.half.format(kindRate)), c, stripBold(o.saturated.format(kindRate)))
		r.logf("[overload] round %d/%d: %d clients: %s; %s of %s answers 503 (p99 %s); peak RSS %s (%s before); recovery %s (%d requests)",
			round, r.opts.rounds, oc, stripBold(fromLoad(o.res).format(kindRate)), thousands(float64(o.res.Unavailable)),
			thousands(float64(o.answers())), formatDuration(o.res.UnavailableP99), formatBytes(o.peakRSS), formatBytes(o.rssBefore),
			formatDuration(o.recovery), o.recoveryTries)
		over := fromLoad(o.res)
		p99.addRound(over, &sample{P99: goalOverloadP99})
		goodput.addRound(over, &o.saturated)
		share := 0.0
		if a := o.answers(); a > 0 {
			share = float64(o.res.Unavailable) / float64(a)
		}
		refused.addRound(sample{Share: share, Count: o.res.Unavailable, P50: o.res.UnavailableP50, P99: o.res.UnavailableP99, Max: o.res.UnavailableMax}, nil)
		rss.addRound(sample{RSS: o.peakRSS, RSSIdle: o.rssBefore}, &sample{RSS: goalOverloadRSS})
		recovery.addRound(sample{Seconds: o.recovery.Seconds(), Count: o.recoveryTries}, &sample{Seconds: goalOverloadRecovery.Seconds()})
		normals = append(normals, float64(o.normal))
		refusedTotal = append(refusedTotal, float64(o.res.Unavailable))
		answers = append(answers, float64(o.answers()))
		notes = append(notes, fmt.Sprintf("%d) %d clients %s/s, %d clients %s/s (%s of it), %d clients %s/s admitted",
			round, max(1, c/2), thousands(o.half.PerSecond), c, thousands(o.saturated.PerSecond),
			formatRatio(o.saturated.PerSecond/max(o.half.PerSecond, 1)), oc, thousands(o.res.PerSecond)))
	}
	normal := time.Duration(median(normals))
	p99.Note = fmt.Sprintf("`POST /api/v1/persons/{card}/vaccinations` from %d clients on keep-alive connections (closed loop) for %s; the "+
		"latency of the requests answered 201 (503s and other errors are not in it; the errors column counts them). At %d clients each "+
		"client has one request in flight, so --max-in-flight (default 256) refuses only what is beyond it. Goal ≤ 200 ms: %s.",
		oc, r.opts.duration, oc, metWord(p99.Haven.Median.P99 <= goalOverloadP99))
	goodput.Note = fmt.Sprintf("Whether %d clients saturate the server: rate at %d clients and at %d, round by round: %s.",
		c, max(1, c/2), c, strings.Join(notes, "; "))
	refused.Note = fmt.Sprintf("503 answers (`Retry-After`) ÷ all answers of the %d-client run (median over the rounds: %s of %s); their latency "+
		"from the client's send to the answer, p50, p99 and max (medians over the rounds). Issue 13 wants them quick (no number).",
		oc, thousands(median(refusedTotal)), thousands(median(answers)))
	if slices.Max(refusedTotal) == 0 {
		refused.Note += fmt.Sprintf(" No answer was 503 in any round: %d clients have at most %d requests in flight, and the default --max-in-flight admits 256.", oc, oc)
	}
	rss.Note = fmt.Sprintf("VmRSS of the server from /proc/PID/status every 100 ms during the %d-client run; \"before\" is just before it, "+
		"after the saturating runs. Goal ≤ 100 MiB: %s.", oc, metWord(rss.Haven.Median.RSS <= goalOverloadRSS))
	recovery.Note = fmt.Sprintf("As soon as the %d clients stop (their requests in flight cancelled), one new client sends doses one after "+
		"another; the time from the end of the overload to the end of its first request answered 2xx within its normal latency "+
		"(the p99 of the single client's run on the idle server before, median %s), at most %s. Goal ≤ 1 s: %s.",
		oc, formatDuration(normal), recoveryLimit, metWord(recovery.Haven.Median.Seconds <= goalOverloadRecovery.Seconds()))
	recovery.Extra = map[string][]float64{"normal_latency_ns": normals}
	return nil
}

// overloadResult is what one round of the overload measured.
type overloadResult struct {
	normal             time.Duration // the single client's p99 on the idle server
	half, saturated    sample        // clients/2 and clients
	res                loadgen.Result
	rssBefore, peakRSS int64
	recovery           time.Duration
	recoveryTries      int
}

// answers is the number of answers the overload run counted.
func (o overloadResult) answers() int { return o.res.OK + o.res.Errors }

func (r *runner) overloadRound(ctx context.Context, c, oc int) (overloadResult, error) {
	var o overloadResult
	bin, err := r.haven(ctx)
	if err != nil {
		return o, err
	}
	dir, err := os.MkdirTemp(r.tmp, "overload-")
	if err != nil {
		return o, err
	}
	defer os.RemoveAll(dir)
	h, err := startHaven(ctx, bin, filepath.Join(dir, "data"), "")
	if err != nil {
		return o, err
	}
	defer h.stop()
	lg := loadgen.New(h.base, h.token, h.site, loadgen.Doses, oc)
	defer lg.Close()
	// run registers fresh persons and runs clients on them for d.
	run := func(clients int, d time.Duration) (loadgen.Result, error) {
		cards, err := lg.RegisterPersons(ctx, r.opts.persons, c, true)
		if err != nil {
			return loadgen.Result{}, fmt.Errorf("%w: %s", err, tail(h.log))
		}
		res, err := lg.Run(ctx, cards, clients, d)
		if err != nil {
			return res, err
		}
		if res.OK == 0 {
			return res, fmt.Errorf("%d clients: no request succeeded (%d errors): %s", clients, res.Errors, tail(h.log))
		}
		return res, nil
	}
	one, err := run(1, normalRun)
	if err != nil {
		return o, err
	}
	o.normal = one.P99
	res, err := run(max(1, c/2), r.opts.duration)
	if err != nil {
		return o, err
	}
	o.half = fromLoad(res)
	if res, err = run(c, r.opts.duration); err != nil {
		return o, err
	}
	o.saturated = fromLoad(res)

	cards, err := lg.RegisterPersons(ctx, r.opts.persons, c, true)
	if err != nil {
		return o, fmt.Errorf("%w: %s", err, tail(h.log))
	}
	if o.rssBefore, err = h.rss(); err != nil {
		return o, err
	}
	peak := h.samplePeakRSS(ctx)
	o.res, err = lg.Run(ctx, cards, oc, r.opts.duration)
	end := time.Now()
	o.peakRSS = max(peak(), o.rssBefore)
	if err != nil {
		return o, err
	}
	if o.recovery, o.recoveryTries, err = recoverAfter(ctx, h, cards, end, o.normal); err != nil {
		return o, err
	}
	return o, nil
}

// recoverAfter sends doses from one new client, one after another, until
// one is answered 2xx within normal, and returns the time from end to the
// end of that request and the number of requests sent.
func recoverAfter(ctx context.Context, h *havenServer, cards []string, end time.Time, normal time.Duration) (time.Duration, int, error) {
	lg := loadgen.New(h.base, h.token, h.site, loadgen.Doses, 1)
	defer lg.Close()
	statuses := map[int]int{}
	for i := 0; ; i++ {
		body := fmt.Appendf(nil, `{"product":"coronavac","date":"2021-10-%02d","site":%q,"lot":"R%d"}`, 1+i%28, h.site, i)
		t0 := time.Now()
		status, _, err := lg.Do(ctx, "POST", "/api/v1/persons/"+cards[i%len(cards)]+"/vaccinations", "application/json",
			fmt.Sprintf("recover-%d-%d", end.UnixNano(), i), body)
		done := time.Now()
		if ctx.Err() != nil {
			return 0, i + 1, ctx.Err()
		}
		if err == nil && status >= 200 && status < 300 && done.Sub(t0) <= normal {
			return done.Sub(end), i + 1, nil
		}
		statuses[status]++
		if done.Sub(end) > recoveryLimit {
			return 0, i + 1, fmt.Errorf("no dose answered 2xx within %s in the %s after the overload (answers by status: %v; last error %v): %s",
				formatDuration(normal), recoveryLimit, statuses, err, tail(h.log))
		}
	}
}

// stripBold drops the Markdown emphasis of a formatted figure, for the log.
func stripBold(s string) string { return strings.ReplaceAll(s, "**", "") }
