package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"
)

// Kinds of measure: which figure of a sample is the headline, and so what
// the ratio Haven ÷ floor compares.
const (
	kindRate = "rate" // per second, higher is better
	kindP99  = "p99"  // 99th percentile latency, lower is better
	kindNs   = "ns"   // ns/op, lower is better
	kindRSS  = "rss"  // resident memory after the burst, lower is better
	// The sync measures' kinds.
	kindPeak  = "peak_rss" // peak resident memory during a phase, lower is better
	kindBytes = "bytes"    // bytes per operation, lower is better
	// The overload measures' kinds.
	kindSeconds = "seconds" // a time (Seconds), lower is better
	kindRefused = "refused" // the share of answers that were 503 (Share), with their latencies
)

// sample is what one round measured of Haven or of its floor.
type sample struct {
	PerSecond float64       `json:"per_second,omitempty"`
	P50       time.Duration `json:"p50_ns,omitempty"`
	P99       time.Duration `json:"p99_ns,omitempty"`
	Max       time.Duration `json:"max_ns,omitempty"`
	Errors    int           `json:"errors,omitempty"`
	NsPerOp   float64       `json:"ns_per_op,omitempty"`
	RSSIdle   int64         `json:"rss_idle_bytes,omitempty"` // after start, before any load
	RSS       int64         `json:"rss_bytes,omitempty"`      // 2 s after the burst (kindPeak: the peak)
	// Count operations took Seconds (a catch-up: doses moved in that time).
	Count   int     `json:"count,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	// BytesPerOp is the wire cost of one operation (kindBytes).
	BytesPerOp float64 `json:"bytes_per_op,omitempty"`
	// Share is a fraction of the answers (kindRefused: those that were 503,
	// Count of them, their latencies in P50, P99 and Max).
	Share float64 `json:"share,omitempty"`
}

func fromLoad(r loadgen.Result) sample {
	return sample{PerSecond: r.PerSecond, P50: r.P50, P99: r.P99, Max: r.Max, Errors: r.Errors}
}

func (s sample) headline(kind string) float64 {
	switch kind {
	case kindP99:
		return float64(s.P99)
	case kindNs:
		return s.NsPerOp
	case kindRSS, kindPeak:
		return float64(s.RSS)
	case kindBytes:
		return s.BytesPerOp
	case kindSeconds:
		return s.Seconds
	case kindRefused:
		return s.Share
	}
	return s.PerSecond
}

// side is one side of a measure (Haven or its floor) over the rounds.
// Median holds the median of each figure over the rounds, except Errors,
// which is their sum.
type side struct {
	What   string   `json:"what"`
	Median sample   `json:"median"`
	Rounds []sample `json:"rounds"`
}

func (s *side) add(x sample) {
	s.Rounds = append(s.Rounds, x)
	med := func(f func(sample) float64) float64 {
		v := make([]float64, len(s.Rounds))
		for i, r := range s.Rounds {
			v[i] = f(r)
		}
		return median(v)
	}
	s.Median = sample{
		PerSecond:  med(func(r sample) float64 { return r.PerSecond }),
		P50:        time.Duration(med(func(r sample) float64 { return float64(r.P50) })),
		P99:        time.Duration(med(func(r sample) float64 { return float64(r.P99) })),
		Max:        time.Duration(med(func(r sample) float64 { return float64(r.Max) })),
		NsPerOp:    med(func(r sample) float64 { return r.NsPerOp }),
		RSSIdle:    int64(med(func(r sample) float64 { return float64(r.RSSIdle) })),
		RSS:        int64(med(func(r sample) float64 { return float64(r.RSS) })),
		Count:      int(med(func(r sample) float64 { return float64(r.Count) })),
		Seconds:    med(func(r sample) float64 { return r.Seconds }),
		BytesPerOp: med(func(r sample) float64 { return r.BytesPerOp }),
		Share:      med(func(r sample) float64 { return r.Share }),
	}
	for _, r := range s.Rounds {
		s.Median.Errors += r.Errors
	}
}

// median returns the median of v (the mean of the middle two for an even
// count), or 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// measure is one row of the table: Haven's figure beside its floor's, in
// the same run.
type measure struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Haven     *side     `json:"haven,omitempty"`
	Floor     *side     `json:"floor,omitempty"`
	Ratio     *float64  `json:"ratio,omitempty"`  // median over the rounds of Haven ÷ floor (headline figures)
	Ratios    []float64 `json:"ratios,omitempty"` // per round
	Evaluated string    `json:"doses_evaluated"`
	Note      string    `json:"note,omitempty"`
	// Extra holds other figures of the rounds, by name.
	Extra map[string][]float64 `json:"extra,omitempty"`
	// Cell, when set, is Haven's cell of the table instead of its median
	// figure: the outcome of a check (an import's re-run, an audit
	// verification) rather than a number.
	Cell string `json:"result,omitempty"`
	Err  string `json:"error,omitempty"`
}

// addRound records one round's pair of samples; floor may be nil for a
// measure without one.
func (m *measure) addRound(haven sample, floor *sample) {
	m.Haven.add(haven)
	if floor == nil {
		return
	}
	m.Floor.add(*floor)
	if f := floor.headline(m.Kind); f != 0 {
		m.Ratios = append(m.Ratios, haven.headline(m.Kind)/f)
		r := median(m.Ratios)
		m.Ratio = &r
	}
}

// report is the whole output of a run.
type report struct {
	Date      time.Time `json:"date"`
	Machine   machine   `json:"machine"`
	LoadStart string    `json:"load_average_start"`
	LoadEnd   string    `json:"load_average_end"`
	Command   string    `json:"command"`
	Revision  string    `json:"revision"`
	Rounds    int       `json:"rounds"`
	Duration  string    `json:"duration"`
	Benchtime string    `json:"benchtime"`
	Clients   int       `json:"clients"`
	Persons   int       `json:"persons"`
	// Sync describes the setup of the sync measures, when they ran.
	Sync string `json:"sync,omitempty"`
	// Setup describes the setup of other measures that ran, a line each.
	Setup    []string   `json:"setup,omitempty"`
	Measures []*measure `json:"measures"`
}

// machine describes where the figures were taken.
type machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemBytes int64  `json:"memory_bytes"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
}

func (m machine) String() string {
	return fmt.Sprintf("%s, %d cores, %.1f GiB, %s (Linux %s), %s", m.CPU, m.Cores, float64(m.MemBytes)/(1<<30), m.OS, m.Kernel, m.Go)
}

// thisMachine reads the machine's description from /proc and /etc.
func thisMachine() machine {
	m := machine{CPU: runtime.GOARCH, Cores: runtime.NumCPU(), OS: runtime.GOOS, Kernel: "?", Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m.MemBytes = kb << 10
			}
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// revision names the commit of the working tree at root, and whether it
// has uncommitted changes to tracked files (read-only git commands).
func revision(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	st, err := exec.CommandContext(ctx, "git", "--no-optional-locks", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}

// shellQuote quotes args for a POSIX shell where needed.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
		}) < 0 {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// markdown renders the report as a section of docs/benchmarks.md.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Haven beside its floors (%s)\n\n", r.Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Date: %s\n", r.Date.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(&b, "- Machine: %s\n", r.Machine)
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min): %s at the start, %s at the end\n", r.LoadStart, r.LoadEnd)
	fmt.Fprintf(&b, "- Revision: %s\n", r.Revision)
	fmt.Fprintf(&b, "- Command: `%s`\n", r.Command)
	if slices.ContainsFunc(r.Measures, func(m *measure) bool { return !strings.HasPrefix(m.ID, "sync-") }) {
		fmt.Fprintf(&b, "- Rounds: %d, interleaved (Haven, then its floor, in each round); each figure is the median over the rounds, "+
			"errors are summed. Load runs: %s each, %d clients on keep-alive connections, %d persons; Go benchmarks: %s each, -cpu 1.\n",
			r.Rounds, r.Duration, r.Clients, r.Persons, r.Benchtime)
	} else {
		fmt.Fprintf(&b, "- Load runs: %s each, %d clients on keep-alive connections, %d persons.\n", r.Duration, r.Clients, r.Persons)
	}
	if r.Sync != "" {
		fmt.Fprintf(&b, "- Offline clinic node (sync): %s; the floor column holds the goal, or the same load without the catch-up.\n", r.Sync)
	}
	for _, s := range r.Setup {
		fmt.Fprintf(&b, "- %s\n", s)
	}
	b.WriteString("\n")
	b.WriteString("| measure | Haven | floor | floor's figure | Haven ÷ floor | doses evaluated |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, m := range r.Measures {
		havenCell, floorWhat, floorCell, ratio := "–", "none", "–", "–"
		if m.Err != "" {
			havenCell = "failed: " + strings.ReplaceAll(firstLine(m.Err), "|", `\|`)
		} else if m.Cell != "" {
			havenCell = strings.ReplaceAll(m.Cell, "|", `\|`)
		} else if m.Haven != nil && len(m.Haven.Rounds) > 0 {
			havenCell = m.Haven.Median.format(m.Kind)
		}
		if m.Floor != nil {
			floorWhat = m.Floor.What
			if len(m.Floor.Rounds) > 0 {
				floorCell = m.Floor.Median.format(m.Kind)
			}
		}
		if m.Ratio != nil {
			ratio = formatRatio(*m.Ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", m.Name, havenCell, floorWhat, floorCell, ratio, m.Evaluated)
	}
	var notes []string
	for _, m := range r.Measures {
		if m.Note != "" {
			notes = append(notes, fmt.Sprintf("- **%s**: %s", m.Name, m.Note))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// format renders the median sample of a measure of the given kind, its
// headline first.
func (s sample) format(kind string) string {
	errs := ""
	if s.Errors > 0 {
		errs = fmt.Sprintf(", **%d errors**", s.Errors)
	}
	switch kind {
	case kindP99:
		if s.P50 == 0 && s.PerSecond == 0 { // a goal
			return fmt.Sprintf("p99 **%s**", formatDuration(s.P99))
		}
		return fmt.Sprintf("p99 **%s** (p50 %s, %s/s%s)", formatDuration(s.P99), formatDuration(s.P50), thousands(s.PerSecond), errs)
	case kindSeconds:
		return fmt.Sprintf("**%s**", formatDuration(time.Duration(s.Seconds*float64(time.Second))))
	case kindRefused:
		if s.Count == 0 {
			return "**none** answered 503"
		}
		return fmt.Sprintf("**%s %%** answered 503 (%s; p50 %s, p99 %s, max %s)", sig3(s.Share*100), thousands(float64(s.Count)),
			formatDuration(s.P50), formatDuration(s.P99), formatDuration(s.Max))
	case kindNs:
		return fmt.Sprintf("**%s**/op", formatDuration(time.Duration(math.Round(s.NsPerOp))))
	case kindRSS:
		if s.RSSIdle == 0 { // a goal
			return fmt.Sprintf("**%s**", formatBytes(s.RSS))
		}
		return fmt.Sprintf("**%s** (idle after start: %s)", formatBytes(s.RSS), formatBytes(s.RSSIdle))
	case kindPeak:
		if s.RSSIdle == 0 {
			return fmt.Sprintf("**%s**", formatBytes(s.RSS))
		}
		return fmt.Sprintf("**%s** peak (%s before)", formatBytes(s.RSS), formatBytes(s.RSSIdle))
	case kindBytes:
		return fmt.Sprintf("**%s bytes**/dose", thousands(s.BytesPerOp))
	}
	if s.Count > 0 {
		return fmt.Sprintf("**%s/s** (%s in %s)%s", thousands(s.PerSecond), thousands(float64(s.Count)),
			formatDuration(time.Duration(s.Seconds*float64(time.Second))), errs)
	}
	if s.P99 == 0 {
		return fmt.Sprintf("**%s/s**%s", thousands(s.PerSecond), errs)
	}
	return fmt.Sprintf("**%s/s** (p50 %s, p99 %s%s)", thousands(s.PerSecond), formatDuration(s.P50), formatDuration(s.P99), errs)
}

// thousands formats v rounded to a whole number with comma separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatDuration gives three significant figures in ns, µs, ms or s.
func formatDuration(d time.Duration) string {
	v := float64(d)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%.0f ns", v)
	case d < time.Millisecond:
		return sig3(v/1e3) + " µs"
	case d < time.Second:
		return sig3(v/1e6) + " ms"
	}
	return sig3(v/1e9) + " s"
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func formatBytes(n int64) string { return sig3(float64(n)/(1<<20)) + " MiB" }

// formatRatio gives a ratio with two or three significant figures.
func formatRatio(r float64) string {
	if r < 0.1 {
		return fmt.Sprintf("%.3f", r)
	}
	return sig3(r)
}
