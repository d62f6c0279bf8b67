package stats

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// Reasons a unit is listed in a gap report.
const (
	ReasonBelowOwnTrend = "below_own_trend" // this week < Ratio × the median of its own previous weeks
	ReasonBelowPeers    = "below_peers"     // its own-trend ratio < Ratio × the median ratio of its peers
)

// GapOptions define the gap report.
type GapOptions struct {
	Week        time.Time // any day of the ISO week to assess (required)
	Baseline    int       // previous weeks the baseline is the median of; 0 means 4
	Ratio       float64   // lag threshold; 0 means 0.5
	MinBaseline int64     // units whose baseline is below this are not judged; 0 means K
	K           int       // counts below K are not shown; 0 means DefaultK
	GeneratedAt time.Time
}

// Gap is one site or jurisdiction whose doses lag. It carries no counts:
// a jurisdiction's weekly count is a margin of its coverage table, and
// publishing it here could undo that table's suppression. Ratios are
// rounded to one decimal for the same reason.
type Gap struct {
	Level        string   `json:"level"`                  // "site" or "jurisdiction"
	Code         string   `json:"code"`                   // site code or jurisdiction code
	Jurisdiction string   `json:"jurisdiction,omitempty"` // a site's jurisdiction
	Ratio        *float64 `json:"ratio"`                  // this week / its baseline, one decimal; null when this week's count is below K
	PeerRatio    *float64 `json:"peer_ratio,omitempty"`   // median ratio of its peers (one decimal), when it has at least two
	Reasons      []string `json:"reasons"`
}

// GapReport lists the lagging sites and jurisdictions of one week.
type GapReport struct {
	GeneratedAt   time.Time `json:"generated_at"`
	Week          string    `json:"week"`
	BaselineWeeks []string  `json:"baseline_weeks"`
	Ratio         float64   `json:"ratio"`
	Judged        int       `json:"judged"`  // units with a large enough baseline
	Skipped       int       `json:"skipped"` // units too small to judge
	Gaps          []Gap     `json:"gaps"`
}

// Gaps finds the sites and jurisdictions whose doses in the assessed week
// lag, so that a provincial office can alert the centre. A unit (a site, or
// a jurisdiction as the sum of its sites) is judged only if the median of
// its weekly doses over the Baseline previous weeks is at least MinBaseline
// (small units are too noisy to judge, and judging them would expose small
// counts). Its ratio is this week's doses over that median. It lags:
//
//   - below_own_trend: ratio < Ratio (default: less than half its usual);
//   - below_peers: ratio < Ratio × the median ratio of its peers, when it has
//     at least two judged peers. A site's peers are the other sites of its
//     jurisdiction; a jurisdiction's peers are the others with the same
//     parent code (the part before the last "-": CN-JL-YB and CN-JL-CC are
//     peers under CN-JL; top-level codes are peers of each other).
//
// Comparing ratios, not counts, lets a small clinic be compared with a big
// hospital. A week-wide drop everywhere (a holiday) shows as below its own
// trend but not below peers. The report names units and reasons, with
// rounded ratios, and no counts.
func Gaps(doses []DoseRow, opts GapOptions) (GapReport, error) {
	if opts.Week.IsZero() {
		return GapReport{}, registry.FieldErrorf(registry.EINVALID, "week", "week is required")
	}
	if opts.Baseline == 0 {
		opts.Baseline = 4
	}
	if opts.Baseline < 1 || opts.Baseline > 52 {
		return GapReport{}, registry.FieldErrorf(registry.EINVALID, "baseline", "baseline must be 1 to 52 weeks")
	}
	if opts.Ratio == 0 {
		opts.Ratio = 0.5
	}
	if !(opts.Ratio > 0 && opts.Ratio <= 1) {
		return GapReport{}, registry.FieldErrorf(registry.EINVALID, "ratio", "ratio must be in (0, 1]")
	}
	if opts.K == 0 {
		opts.K = DefaultK
	}
	if opts.K < DefaultK {
		return GapReport{}, registry.FieldErrorf(registry.EINVALID, "k", "k must be at least %d", DefaultK)
	}
	if opts.MinBaseline == 0 {
		opts.MinBaseline = int64(opts.K)
	}
	cur := monday(opts.Week)
	week := Week(cur)
	base := weeksBetween(cur.AddDate(0, 0, -7*opts.Baseline), cur.AddDate(0, 0, -7), opts.Baseline)
	idx := map[string]int{week: opts.Baseline}
	for i, w := range base {
		idx[w] = i
	}

	type unit struct {
		level, code, jur string
		weekly           []int64 // baseline weeks, then the assessed week
	}
	units := map[[2]string]*unit{}
	get := func(level, code, jur string) *unit {
		u := units[[2]string{level, code}]
		if u == nil {
			u = &unit{level: level, code: code, jur: jur, weekly: make([]int64, opts.Baseline+1)}
			units[[2]string{level, code}] = u
		}
		return u
	}
	for i, r := range doses {
		if err := checkDose(i, r); err != nil {
			return GapReport{}, err
		}
		w, ok := idx[Week(r.Date.Time())]
		if !ok {
			continue
		}
		get("jurisdiction", r.Jurisdiction, "").weekly[w] += r.Count
		if r.Site != "" {
			get("site", r.Site, r.Jurisdiction).weekly[w] += r.Count
		}
	}

	rep := GapReport{GeneratedAt: opts.GeneratedAt, Week: week, BaselineWeeks: base, Ratio: opts.Ratio, Gaps: []Gap{}}
	type judged struct {
		u        *unit
		baseline float64
		ratio    float64
		peer     string
	}
	var js []judged
	for _, u := range units {
		b := median(u.weekly[:opts.Baseline])
		if b < float64(opts.MinBaseline) {
			rep.Skipped++
			continue
		}
		peer := u.jur
		if u.level == "jurisdiction" {
			peer = parent(u.code)
		}
		js = append(js, judged{u, b, float64(u.weekly[opts.Baseline]) / b, u.level + "\x00" + peer})
	}
	rep.Judged = len(js)
	groups := map[string][]float64{}
	for _, j := range js {
		groups[j.peer] = append(groups[j.peer], j.ratio)
	}
	for _, j := range js {
		var reasons []string
		if j.ratio < opts.Ratio {
			reasons = append(reasons, ReasonBelowOwnTrend)
		}
		var peerRatio *float64
		if others := without(groups[j.peer], j.ratio); len(others) >= 2 {
			pm := medianF(others)
			pr := round1(pm)
			peerRatio = &pr
			if j.ratio < opts.Ratio*pm {
				reasons = append(reasons, ReasonBelowPeers)
			}
		}
		if reasons == nil {
			continue
		}
		g := Gap{Level: j.u.level, Code: j.u.code, Jurisdiction: j.u.jur, PeerRatio: peerRatio, Reasons: reasons}
		if j.u.weekly[opts.Baseline] >= int64(opts.K) {
			r := round1(j.ratio)
			g.Ratio = &r
		}
		rep.Gaps = append(rep.Gaps, g)
	}
	slices.SortFunc(rep.Gaps, func(a, b Gap) int {
		if c := cmp.Compare(b.Level, a.Level); c != 0 { // sites first
			return c
		}
		return cmp.Compare(a.Code, b.Code)
	})
	return rep, nil
}

// parent returns the parent of a jurisdiction code ("CN-JL-YB" → "CN-JL"),
// or "" for a top-level code.
func parent(code string) string {
	if i := strings.LastIndexByte(code, '-'); i > 0 {
		return code[:i]
	}
	return ""
}

func median(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return float64(s[n/2-1]+s[n/2]) / 2
}

func medianF(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// without returns xs with one occurrence of x removed.
func without(xs []float64, x float64) []float64 {
	out := make([]float64, 0, len(xs))
	removed := false
	for _, v := range xs {
		if !removed && v == x {
			removed = true
			continue
		}
		out = append(out, v)
	}
	return out
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
