package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/haven-registry/haven/internal/registry"
)

// Case is one expected decision shipped with a pack (cases/*.yaml):
//
//	cases:
//	  - name: jl-temporary-hukou-after-june
//	    jurisdiction: CN-JL
//	    service: vaccination
//	    as_of: 2021-09-17
//	    facts: {residence_status: temporary_hukou}
//	    expect:
//	      outcome: eligible            # or error: <code>, e.g. not_found
//	      rule: cn-jl-2021-hukou       # optional
//	      decided_by: CN-JL            # optional
//	      fee: {amount: "100.00", currency: CNY}  # optional
//	      alternatives: [CN-BJ, "status:temporary_hukou"]  # optional, exact set
type Case struct {
	Name         string
	File         string
	Line         int
	Jurisdiction string
	Service      string
	AsOf         time.Time
	Facts        map[string]any
	Want         Expectation
}

// Expectation is what a case expects.
type Expectation struct {
	Outcome      Outcome
	Rule         string
	DecidedBy    string
	Fee          *Fee
	Alternatives []string // nil: not checked
	Error        string   // an error code expected instead of a decision
}

// CaseResult is the result of running one case.
type CaseResult struct {
	Case    Case
	Pass    bool
	Problem string // why it failed
}

// LoadCasesDir loads the cases of the pack in folder dir.
func LoadCasesDir(dir string) ([]Case, error) {
	return loadCases(os.DirFS(dir), ".", dir)
}

// LoadCases loads every cases/*.yaml file of the pack in folder dir of fsys.
// Errors name the file and line.
func LoadCases(fsys fs.FS, dir string) ([]Case, error) {
	return loadCases(fsys, dir, dir)
}

func loadCases(fsys fs.FS, dir, label string) ([]Case, error) {
	cd := path.Join(dir, "cases")
	entries, err := fs.ReadDir(fsys, cd)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, path.Join(label, "cases"), "Cannot list cases: %v", err)
	}
	var out []Case
	names := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		src, err := fs.ReadFile(fsys, path.Join(cd, e.Name()))
		if err != nil {
			return nil, registry.FieldErrorf(registry.EINVALID, path.Join(label, "cases", e.Name()), "Cannot read: %v", err)
		}
		d := ydoc{file: path.Join(label, "cases", e.Name())}
		cs, err := parseCases(d, src)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if where, dup := names[c.Name]; dup {
				return nil, loadError(c.File, c.Line, "", "case %q is already defined at %s", c.Name, where)
			}
			names[c.Name] = fmt.Sprintf("%s:%d", c.File, c.Line)
		}
		out = append(out, cs...)
	}
	return out, nil
}

func parseCases(d ydoc, src []byte) ([]Case, error) {
	root, err := d.parse(src)
	if err != nil {
		return nil, err
	}
	f, err := d.fields(root, "cases file", "cases!")
	if err != nil {
		return nil, err
	}
	items, err := d.seq(f["cases"], "cases")
	if err != nil {
		return nil, err
	}
	var out []Case
	for _, cn := range items {
		cf, err := d.fields(cn, "case", "name!", "jurisdiction!", "service!", "as_of!", "facts", "expect!", "note")
		if err != nil {
			return nil, err
		}
		c := Case{File: d.file, Line: cn.Line, Facts: map[string]any{}}
		if c.Name, err = d.str(cf["name"], "name"); err != nil {
			return nil, err
		}
		if c.Jurisdiction, err = d.str(cf["jurisdiction"], "jurisdiction"); err != nil {
			return nil, err
		}
		if c.Service, err = d.str(cf["service"], "service"); err != nil {
			return nil, err
		}
		day, err := d.date(cf["as_of"], "as_of")
		if err != nil {
			return nil, err
		}
		c.AsOf = day.Time()
		if fn := cf["facts"]; fn != nil {
			if fn.Kind != yaml.MappingNode {
				return nil, d.errf(fn, "case %s: facts must be a mapping", c.Name)
			}
			if err := fn.Decode(&c.Facts); err != nil {
				return nil, d.errf(fn, "case %s: facts: %v", c.Name, err)
			}
		}
		ef, err := d.fields(cf["expect"], "expect", "outcome", "rule", "decided_by", "fee", "alternatives", "error")
		if err != nil {
			return nil, err
		}
		o, err := d.str(ef["outcome"], "outcome")
		if err != nil {
			return nil, err
		}
		c.Want.Outcome = Outcome(o)
		if c.Want.Error, err = d.str(ef["error"], "error"); err != nil {
			return nil, err
		}
		if (o == "") == (c.Want.Error == "") {
			return nil, d.errf(cf["expect"], "case %s: expect needs exactly one of outcome or error", c.Name)
		}
		if o != "" && c.Want.Outcome.rank() == 0 && c.Want.Outcome != NotEligible {
			return nil, d.errf(ef["outcome"], "case %s: unknown outcome %q", c.Name, o)
		}
		if c.Want.Rule, err = d.str(ef["rule"], "rule"); err != nil {
			return nil, err
		}
		if c.Want.DecidedBy, err = d.str(ef["decided_by"], "decided_by"); err != nil {
			return nil, err
		}
		if fn := ef["fee"]; fn != nil {
			ff, err := d.fields(fn, "fee", "amount!", "currency!")
			if err != nil {
				return nil, err
			}
			fee := &Fee{}
			if fee.Amount, err = d.str(ff["amount"], "amount"); err != nil {
				return nil, err
			}
			if fee.Currency, err = d.str(ff["currency"], "currency"); err != nil {
				return nil, err
			}
			c.Want.Fee = fee
		}
		if an := ef["alternatives"]; an != nil {
			if c.Want.Alternatives, err = d.strs(an, "alternatives"); err != nil {
				return nil, err
			}
			if c.Want.Alternatives == nil {
				c.Want.Alternatives = []string{}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// RunCases runs every case against the pack and reports each result, in the
// order given.
func RunCases(p *Pack, cases []Case) []CaseResult {
	out := make([]CaseResult, 0, len(cases))
	for _, c := range cases {
		out = append(out, runCase(p, c))
	}
	return out
}

func runCase(p *Pack, c Case) CaseResult {
	res := CaseResult{Case: c}
	fail := func(format string, args ...any) CaseResult {
		res.Problem = fmt.Sprintf(format, args...)
		return res
	}
	facts, err := p.NewFacts(c.Facts)
	var dec Decision
	if err == nil {
		dec, err = p.Decide(facts, c.Jurisdiction, c.Service, c.AsOf)
	}
	if c.Want.Error != "" {
		if err == nil {
			return fail("want error %s, got outcome %s (rule %s)", c.Want.Error, dec.Outcome, dec.Rule)
		}
		if code := registry.ErrorCode(err); code != c.Want.Error {
			return fail("want error %s, got %s: %v", c.Want.Error, code, err)
		}
		res.Pass = true
		return res
	}
	if err != nil {
		return fail("want outcome %s, got error: %v", c.Want.Outcome, err)
	}
	if dec.Outcome != c.Want.Outcome {
		return fail("want outcome %s, got %s (rule %s)", c.Want.Outcome, dec.Outcome, dec.Rule)
	}
	if c.Want.Rule != "" && dec.Rule != c.Want.Rule {
		return fail("want rule %s, got %s", c.Want.Rule, dec.Rule)
	}
	if c.Want.DecidedBy != "" && dec.DecidedBy != c.Want.DecidedBy {
		return fail("want decided_by %s, got %s", c.Want.DecidedBy, dec.DecidedBy)
	}
	if c.Want.Fee != nil && (dec.Fee == nil || *dec.Fee != *c.Want.Fee) {
		return fail("want fee %s %s, got %s", c.Want.Fee.Amount, c.Want.Fee.Currency, feeString(dec.Fee))
	}
	if c.Want.Fee == nil && dec.Fee != nil && c.Want.Outcome != EligiblePaid {
		return fail("want no fee, got %s", feeString(dec.Fee))
	}
	if c.Want.Alternatives != nil {
		got := AlternativeKeys(dec.Alternatives)
		want := append([]string(nil), c.Want.Alternatives...)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			return fail("want alternatives [%s], got [%s]", strings.Join(want, ", "), strings.Join(got, ", "))
		}
	}
	res.Pass = true
	return res
}

// AlternativeKeys names alternatives compactly and sorted: a jurisdiction
// code, or "status:STATUS" for an obtainable status.
func AlternativeKeys(alts []Alternative) []string {
	out := make([]string, 0, len(alts))
	for _, a := range alts {
		if a.Kind == "status" {
			out = append(out, "status:"+string(a.Status))
		} else {
			out = append(out, a.Jurisdiction)
		}
	}
	sort.Strings(out)
	return out
}

func feeString(f *Fee) string {
	if f == nil {
		return "none"
	}
	return f.Amount + " " + f.Currency
}

// NewFacts builds Facts checked against the pack's vocabulary (the built-in
// facts plus the pack's own).
func (p *Pack) NewFacts(values map[string]any) (Facts, error) {
	return NewFacts(values, p.Facts...)
}

// ParseFacts parses a JSON facts object against the pack's vocabulary.
func (p *Pack) ParseFacts(raw []byte) (Facts, error) {
	return ParseFacts(raw, p.Facts...)
}
