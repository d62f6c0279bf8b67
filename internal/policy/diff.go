package policy

import (
	"sort"
)

// Change is one status and place combination whose outcome differs between
// two packs on a date.
type Change struct {
	Date         Date    `json:"date"`
	Jurisdiction string  `json:"jurisdiction"`
	Service      string  `json:"service"`
	Status       Status  `json:"status"`
	From         Outcome `json:"from"`      // "" when the pack cannot decide (see FromError)
	FromRule     string  `json:"from_rule"` // rule that fired in the from pack
	FromError    string  `json:"from_error,omitempty"`
	To           Outcome `json:"to"`
	ToRule       string  `json:"to_rule"`
	ToError      string  `json:"to_error,omitempty"`
}

// ChangeDates returns every date on which some version of any of the packs
// starts or stops being in force (the day after an effective_to), sorted.
// Between two consecutive dates neither pack changes, so these dates are
// enough to compare the packs over all time.
func ChangeDates(packs ...*Pack) []Date {
	set := map[Date]bool{}
	for _, p := range packs {
		for _, n := range p.nodes {
			for _, v := range n.versions {
				set[v.from] = true
				if v.to != 0 {
					set[dayOf(v.to.Time().AddDate(0, 0, 1))] = true
				}
			}
		}
	}
	out := make([]Date, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Diff compares two packs for every jurisdiction of either pack, every
// residence status and every service in services, on each date, deciding
// from the residence status alone. It returns the combinations whose outcome
// or fee differ, in date, jurisdiction, service and status order. A
// jurisdiction missing from one pack, or a rule needing another fact, shows
// as an error on that side.
func Diff(from, to *Pack, dates []Date, services []string) []Change {
	codes := map[string]bool{}
	for _, p := range []*Pack{from, to} {
		for c := range p.nodes {
			codes[c] = true
		}
	}
	sorted := make([]string, 0, len(codes))
	for c := range codes {
		sorted = append(sorted, c)
	}
	sort.Strings(sorted)
	facts := statusFacts()
	var out []Change
	for _, d := range dates {
		t := d.Time()
		for _, code := range sorted {
			for _, svc := range services {
				for i, s := range Statuses {
					a, aerr := from.Decide(facts[i], code, svc, t, WithoutAlternatives())
					b, berr := to.Decide(facts[i], code, svc, t, WithoutAlternatives())
					ch := Change{Date: d, Jurisdiction: code, Service: svc, Status: s}
					if aerr != nil {
						ch.FromError = aerr.Error()
					} else {
						ch.From, ch.FromRule = a.Outcome, a.Rule
					}
					if berr != nil {
						ch.ToError = berr.Error()
					} else {
						ch.To, ch.ToRule = b.Outcome, b.Rule
					}
					same := ch.From == ch.To && (aerr == nil) == (berr == nil) && feeString(a.Fee) == feeString(b.Fee)
					if !same {
						out = append(out, ch)
					}
				}
			}
		}
	}
	return out
}

// statusFacts returns one Facts per status, in Statuses order.
func statusFacts() []Facts {
	out := make([]Facts, len(Statuses))
	for i, s := range Statuses {
		f, _ := NewFacts(map[string]any{"residence_status": string(s)}) // statuses are valid by construction
		out[i] = f
	}
	return out
}
