package policy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// PopulationRow is one line of a population estimate: how many people of a
// residence status live in a jurisdiction. It is an aggregate, never a person.
type PopulationRow struct {
	Jurisdiction string
	Status       Status
	Count        float64
	Line         int
}

// ReadPopulation reads a population CSV with the columns jurisdiction,
// residence status and estimated count (a header line is optional). Empty
// lines and lines starting with # are skipped. Errors name the line: an
// unknown status, a negative or non-numeric count, or a wrong number of
// columns. Jurisdictions are checked by Simulate, against the pack.
func ReadPopulation(r io.Reader) ([]PopulationRow, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var rows []PopulationRow
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, registry.FieldErrorf(registry.EMALFORMED, fmt.Sprintf("line %d", line), "Malformed CSV: %v", err)
		}
		if len(rec) != 3 {
			return nil, registry.FieldErrorf(registry.EINVALID, fmt.Sprintf("line %d", line), "Want 3 columns (jurisdiction, residence status, count), got %d.", len(rec))
		}
		j, s, c := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
		n, err := strconv.ParseFloat(c, 64)
		if err != nil && first && !ValidStatus(s) {
			continue // a header line: neither its status nor its count parse
		}
		if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			return nil, registry.FieldErrorf(registry.EINVALID, fmt.Sprintf("line %d", line), "Count %q must be a non-negative number.", c)
		}
		if !ValidStatus(s) {
			return nil, registry.FieldErrorf(registry.EINVALID, fmt.Sprintf("line %d", line), "Unknown residence status %q; want one of %s.", s, statusList())
		}
		rows = append(rows, PopulationRow{Jurisdiction: j, Status: Status(s), Count: n, Line: line})
	}
	if len(rows) == 0 {
		return nil, registry.Errorf(registry.EINVALID, "The population file has no rows.")
	}
	return rows, nil
}

// SimRow is one jurisdiction × status line of a simulation.
type SimRow struct {
	Jurisdiction string  `json:"jurisdiction"`
	Status       Status  `json:"status"`
	Count        float64 `json:"count"`
	Outcome      Outcome `json:"outcome"`
	Rule         string  `json:"rule"`
	Fee          *Fee    `json:"fee"`
}

// SimSummary totals one jurisdiction. LeftOut counts people whose outcome is
// not_eligible or referral: no rule gives them the service.
type SimSummary struct {
	Jurisdiction string              `json:"jurisdiction"`
	Population   float64             `json:"population"`
	ByOutcome    map[Outcome]float64 `json:"by_outcome"`
	LeftOut      float64             `json:"left_out"`
	Share        float64             `json:"share_left_out"`
	Flagged      bool                `json:"flagged"`
}

// Simulation is the result of running a population through a pack.
type Simulation struct {
	Pack          string       `json:"pack"`
	PolicyVersion string       `json:"policy_version"`
	Service       string       `json:"service"`
	AsOf          Date         `json:"as_of"`
	FlagAbove     float64      `json:"flag_above"`
	Rows          []SimRow     `json:"rows"`
	Summaries     []SimSummary `json:"jurisdictions"`
	Total         SimSummary   `json:"total"`
}

// LeftOut reports whether an outcome leaves a person without the service.
func (o Outcome) LeftOut() bool { return o == NotEligible || o == Referral }

// Simulate decides, for each population row, the outcome for its status in
// its jurisdiction on asOf, from the residence status alone, and totals
// people left out by jurisdiction. Jurisdictions whose share left out is
// greater than flagAbove are flagged. Returns an error naming the CSV line
// for an unknown jurisdiction or a decision that fails (for example a rule
// that needs a fact other than the status).
func (p *Pack) Simulate(rows []PopulationRow, service string, asOf time.Time, flagAbove float64) (*Simulation, error) {
	if !validService(service) {
		return nil, registry.FieldErrorf(registry.EINVALID, "service", "Want vaccination or testing.")
	}
	sim := &Simulation{Pack: p.Name, PolicyVersion: p.Version, Service: service, AsOf: dayOf(asOf), FlagAbove: flagAbove,
		Total: SimSummary{Jurisdiction: "total", ByOutcome: map[Outcome]float64{}}}
	facts := statusFacts()
	sums := map[string]*SimSummary{}
	for _, r := range rows {
		if _, ok := p.nodes[r.Jurisdiction]; !ok {
			return nil, registry.FieldErrorf(registry.EINVALID, fmt.Sprintf("line %d", r.Line), "Unknown jurisdiction %q in pack %s.", r.Jurisdiction, p.Name)
		}
		var f Facts
		for i, s := range Statuses {
			if s == r.Status {
				f = facts[i]
			}
		}
		d, err := p.Decide(f, r.Jurisdiction, service, asOf, WithoutAlternatives())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", r.Line, err)
		}
		sim.Rows = append(sim.Rows, SimRow{Jurisdiction: r.Jurisdiction, Status: r.Status, Count: r.Count, Outcome: d.Outcome, Rule: d.Rule, Fee: d.Fee})
		s := sums[r.Jurisdiction]
		if s == nil {
			s = &SimSummary{Jurisdiction: r.Jurisdiction, ByOutcome: map[Outcome]float64{}}
			sums[r.Jurisdiction] = s
		}
		for _, t := range []*SimSummary{s, &sim.Total} {
			t.Population += r.Count
			t.ByOutcome[d.Outcome] += r.Count
			if d.Outcome.LeftOut() {
				t.LeftOut += r.Count
			}
		}
	}
	for _, s := range sums {
		sim.Summaries = append(sim.Summaries, *s)
	}
	sort.Slice(sim.Summaries, func(i, j int) bool { return sim.Summaries[i].Jurisdiction < sim.Summaries[j].Jurisdiction })
	sort.SliceStable(sim.Rows, func(i, j int) bool {
		a, b := sim.Rows[i], sim.Rows[j]
		if a.Jurisdiction != b.Jurisdiction {
			return a.Jurisdiction < b.Jurisdiction
		}
		return statusIndex(a.Status) < statusIndex(b.Status)
	})
	for i := range sim.Summaries {
		finish(&sim.Summaries[i], flagAbove)
	}
	finish(&sim.Total, flagAbove)
	return sim, nil
}

func finish(s *SimSummary, flagAbove float64) {
	if s.Population > 0 {
		s.Share = s.LeftOut / s.Population
	}
	s.Flagged = s.Share > flagAbove
}

func statusIndex(s Status) int {
	for i, v := range Statuses {
		if v == s {
			return i
		}
	}
	return len(Statuses)
}

// WriteTable writes the simulation as two plain-text tables: jurisdiction ×
// status × outcome, then the number and share left out per jurisdiction,
// with flagged jurisdictions marked.
func (sim *Simulation) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("Pack %s (%s), %s, as of %s\n\n", sim.Pack, shortHash(sim.PolicyVersion), sim.Service, sim.AsOf)
	ew.printf("%-12s %-22s %12s  %-14s %s\n", "jurisdiction", "status", "people", "outcome", "rule")
	for _, r := range sim.Rows {
		ew.printf("%-12s %-22s %12s  %-14s %s\n", r.Jurisdiction, r.Status, fmtCount(r.Count), r.Outcome, r.Rule)
	}
	ew.printf("\n%-12s %12s %12s %12s %12s %12s %12s %7s  %s\n", "jurisdiction", "people", "eligible", "paid", "referral", "not_eligible", "left_out", "share", "")
	all := append(append([]SimSummary(nil), sim.Summaries...), sim.Total)
	for _, s := range all {
		flag := ""
		if s.Flagged {
			flag = fmt.Sprintf("EXCLUDES > %.0f%%", sim.FlagAbove*100)
		}
		ew.printf("%-12s %12s %12s %12s %12s %12s %12s %6.1f%%  %s\n", s.Jurisdiction, fmtCount(s.Population),
			fmtCount(s.ByOutcome[Eligible]), fmtCount(s.ByOutcome[EligiblePaid]), fmtCount(s.ByOutcome[Referral]),
			fmtCount(s.ByOutcome[NotEligible]), fmtCount(s.LeftOut), s.Share*100, flag)
	}
	return ew.err
}

// Flagged returns the jurisdictions whose share left out is above the
// threshold.
func (sim *Simulation) Flagged() []string {
	var out []string
	for _, s := range sim.Summaries {
		if s.Flagged {
			out = append(out, s.Jurisdiction)
		}
	}
	return out
}

var outcomeColors = map[Outcome]string{
	Eligible:     "#2e7d32",
	EligiblePaid: "#f9a825",
	Referral:     "#90a4ae",
	NotEligible:  "#c62828",
}

// WriteSVG draws one horizontal bar per jurisdiction, split by outcome as
// shares of its population, with the share left out written beside it and
// flagged jurisdictions marked. The SVG is self-contained.
func (sim *Simulation) WriteSVG(w io.Writer) error {
	const (
		left, barW, barH, gap, top = 150, 480, 22, 10, 70
		right                      = 190
	)
	n := len(sim.Summaries)
	height := top + n*(barH+gap) + 60
	width := left + barW + right
	ew := &errWriter{w: w}
	ew.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	ew.printf(`<title>%s</title>`+"\n", html.EscapeString(fmt.Sprintf("Who is left out: pack %s, %s, as of %s", sim.Pack, sim.Service, sim.AsOf)))
	ew.printf(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	ew.printf(`<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(fmt.Sprintf("Who each jurisdiction leaves out (%s, %s)", sim.Service, sim.AsOf)))
	ew.printf(`<text x="10" y="40" fill="#555">%s</text>`+"\n", html.EscapeString(fmt.Sprintf("Pack %s %s. Share of the estimated population by outcome; flagged above %.0f%% left out.", sim.Pack, shortHash(sim.PolicyVersion), sim.FlagAbove*100)))
	// Legend.
	x := 10
	for _, o := range Outcomes {
		ew.printf(`<rect x="%d" y="50" width="12" height="12" fill="%s"/><text x="%d" y="60">%s</text>`+"\n", x, outcomeColors[o], x+16, o)
		x += 130
	}
	for i, s := range sim.Summaries {
		y := top + i*(barH+gap)
		label := s.Jurisdiction
		ew.printf(`<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH/2+4, html.EscapeString(label))
		ew.printf(`<rect x="%d" y="%d" width="%d" height="%d" fill="#eeeeee"/>`+"\n", left, y, barW, barH)
		off := 0.0
		for _, o := range Outcomes {
			v := s.ByOutcome[o]
			if v <= 0 || s.Population <= 0 {
				continue
			}
			wd := v / s.Population * barW
			ew.printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
				float64(left)+off, y, wd, barH, outcomeColors[o], html.EscapeString(fmt.Sprintf("%s %s: %s people", s.Jurisdiction, o, fmtCount(v))))
			off += wd
		}
		txt := fmt.Sprintf("%.1f%% left out (%s)", s.Share*100, fmtCount(s.LeftOut))
		color := "#333333"
		if s.Flagged {
			txt = "⚑ " + txt
			color = "#c62828"
			ew.printf(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#c62828" stroke-width="2"/>`+"\n", left, y, barW, barH)
		}
		ew.printf(`<text x="%d" y="%d" fill="%s">%s</text>`+"\n", left+barW+8, y+barH/2+4, color, html.EscapeString(txt))
	}
	y := top + n*(barH+gap) + 20
	ew.printf(`<text x="10" y="%d" fill="#555">%s</text>`+"\n", y, html.EscapeString(fmt.Sprintf("Total: %s people, %s left out (%.1f%%). Left out = not_eligible + referral.", fmtCount(sim.Total.Population), fmtCount(sim.Total.LeftOut), sim.Total.Share*100)))
	ew.printf("</svg>\n")
	return ew.err
}

func fmtCount(v float64) string {
	n := int64(math.Round(v))
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func shortHash(v string) string {
	if len(v) > len("sha256:")+12 {
		return v[:len("sha256:")+12]
	}
	return v
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
