package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"
)

const (
	goalIdleRSS = 60 << 20 // issue 13: VmRSS 10 s after a 128-client burst
	// idleAfterBurst is how long after the burst the idle memory is read.
	idleAfterBurst = 10 * time.Second
)

// rssIdle measures a SQLite haven serve's resident memory right after its
// start, during a dose burst of --burst-clients clients for --duration,
// and 2 s and 10 s after it, in each round on a fresh server.
func (r *runner) rssIdle(ctx context.Context) error {
	bc := r.opts.burstClients
	m := r.measure(&measure{ID: "rss-idle", Kind: kindRSS, Evaluated: "yes (persons with birth dates)",
		Name:  fmt.Sprintf("Server memory (VmRSS) 10 s after a %d-client dose burst, SQLite (goal ≤ 60 MiB)", bc),
		Haven: &side{What: "haven serve"}, Floor: &side{What: "goal (issue 13): 60 MiB"}})
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("Idle memory: in each of %d rounds a fresh SQLite haven serve, %d persons with birth dates registered "+
		"by %d clients, then a dose burst of %d clients for %s, then %s idle (the clients' keep-alive connections left open, idle).", r.opts.rounds, r.opts.persons, r.opts.clients, bc, r.opts.duration, idleAfterBurst))
	extra := map[string][]float64{}
	add := func(k string, v float64) { extra[k] = append(extra[k], v) }
	for round := 1; round <= r.opts.rounds; round++ {
		s, err := r.rssIdleRound(ctx, bc)
		if err != nil {
			return fail(err, m)
		}
		r.logf("[rss-idle] round %d/%d: after start %s (anon %s, file %s); burst %s, peak %s; 2 s after %s; 10 s after %s (anon %s, file %s)",
			round, r.opts.rounds, formatBytes(s.start.rss), formatBytes(s.start.anon), formatBytes(s.start.file),
			stripBold(fromLoad(s.burst).format(kindRate)), formatBytes(s.peak), formatBytes(s.after2s),
			formatBytes(s.idle.rss), formatBytes(s.idle.anon), formatBytes(s.idle.file))
		m.addRound(sample{RSS: s.idle.rss, RSSIdle: s.start.rss}, &sample{RSS: goalIdleRSS})
		add("rss_anon_bytes", float64(s.idle.anon))
		add("rss_file_bytes", float64(s.idle.file))
		add("start_rss_anon_bytes", float64(s.start.anon))
		add("start_rss_file_bytes", float64(s.start.file))
		add("burst_peak_rss_bytes", float64(s.peak))
		add("rss_2s_after_bytes", float64(s.after2s))
		add("burst_per_second", s.burst.PerSecond)
	}
	m.Extra = extra
	med := func(k string) string { return formatBytes(int64(median(extra[k]))) }
	m.Note = fmt.Sprintf("VmRSS, RssAnon and RssFile of the server from /proc/PID/status, medians over the rounds. 10 s after the burst: "+
		"RssAnon %s, RssFile %s. Right after start (and setup: a site and two tokens): VmRSS %s, RssAnon %s, RssFile %s. "+
		"During the burst (%s doses/s), sampled every 100 ms: peak %s; 2 s after it: %s. Goal ≤ 60 MiB 10 s after the burst: %s.",
		med("rss_anon_bytes"), med("rss_file_bytes"), formatBytes(m.Haven.Median.RSSIdle), med("start_rss_anon_bytes"), med("start_rss_file_bytes"),
		thousands(median(extra["burst_per_second"])), med("burst_peak_rss_bytes"), med("rss_2s_after_bytes"),
		metWord(m.Haven.Median.RSS <= goalIdleRSS))
	return nil
}

// rssIdleResult is what one round of rss-idle measured.
type rssIdleResult struct {
	start, idle   memory
	burst         loadgen.Result
	peak, after2s int64
}

func (r *runner) rssIdleRound(ctx context.Context, bc int) (rssIdleResult, error) {
	var s rssIdleResult
	bin, err := r.haven(ctx)
	if err != nil {
		return s, err
	}
	dir, err := os.MkdirTemp(r.tmp, "rss-idle-")
	if err != nil {
		return s, err
	}
	defer os.RemoveAll(dir)
	h, err := startHaven(ctx, bin, filepath.Join(dir, "data"), "")
	if err != nil {
		return s, err
	}
	defer h.stop()
	if s.start, err = h.memory(); err != nil {
		return s, err
	}
	lg := loadgen.New(h.base, h.token, h.site, loadgen.Doses, bc)
	defer lg.Close()
	cards, err := lg.RegisterPersons(ctx, r.opts.persons, r.opts.clients, true)
	if err != nil {
		return s, fmt.Errorf("%w: %s", err, tail(h.log))
	}
	peak := h.samplePeakRSS(ctx)
	s.burst, err = lg.Run(ctx, cards, bc, r.opts.duration)
	end := time.Now()
	s.peak = peak()
	if err != nil {
		return s, err
	}
	if s.burst.OK == 0 {
		return s, fmt.Errorf("no request succeeded (%d errors): %s", s.burst.Errors, tail(h.log))
	}
	if err := sleep(ctx, time.Until(end.Add(2*time.Second))); err != nil {
		return s, err
	}
	if s.after2s, err = h.rss(); err != nil {
		return s, err
	}
	if err := sleep(ctx, time.Until(end.Add(idleAfterBurst))); err != nil {
		return s, err
	}
	s.idle, err = h.memory()
	return s, err
}
