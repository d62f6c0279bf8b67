// Package opa compares Haven's policy engine with Open Policy Agent on the
// same decision logic (testdata/eligibility.rego over testdata/data.json,
// mirroring the 2021-09 seed pack). It is its own module so that OPA never
// enters Haven's dependencies.
package opa_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/haven-registry/haven/internal/policy"
)

var statuses = []string{"citizen", "permanent_resident", "registered_foreigner", "temporary_hukou", "registered_irregular", "unregistered"}

func prepareOPA(tb testing.TB) rego.PreparedEvalQuery {
	tb.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "eligibility.rego"))
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "data.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		tb.Fatal(err)
	}
	pq, err := rego.New(
		rego.Query("data.haven.eligibility.decision"),
		rego.Module("eligibility.rego", string(src)),
		rego.Store(inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))),
	).PrepareForEval(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return pq
}

func loadHaven(tb testing.TB) *policy.Pack {
	tb.Helper()
	p, err := policy.LoadPackDir(filepath.Join("..", "..", "policies", "2021-09"))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func opaInput(j, service, asOf, status string) map[string]any {
	return map[string]any{"jurisdiction": j, "service": service, "as_of": asOf, "facts": map[string]any{"residence_status": status}}
}

type opaDecision struct {
	Outcome   string   `json:"outcome"`
	Rule      string   `json:"rule"`
	DecidedBy string   `json:"decided_by"`
	Chain     []string `json:"chain"`
	Fallback  bool     `json:"fallback"`
}

func evalOPA(tb testing.TB, pq rego.PreparedEvalQuery, opts ...rego.EvalOption) (opaDecision, bool) {
	rs, err := pq.Eval(context.Background(), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return opaDecision{}, false
	}
	b, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		tb.Fatal(err)
	}
	var d opaDecision
	if err := json.Unmarshal(b, &d); err != nil {
		tb.Fatal(err)
	}
	return d, true
}

// TestSameDecisions proves the Rego port decides like Haven on every status,
// CN jurisdiction, service and a date on each side of the June 2021 order.
func TestSameDecisions(t *testing.T) {
	pq := prepareOPA(t)
	p := loadHaven(t)
	n := 0
	for _, j := range p.Jurisdictions() {
		if j[:2] != "CN" {
			continue
		}
		for _, day := range []string{"2021-04-15", "2021-05-31", "2021-06-01", "2021-09-17"} {
			asOf, _ := time.Parse(time.DateOnly, day)
			for _, svc := range []string{"vaccination", "testing"} {
				for _, s := range statuses {
					f, err := p.NewFacts(map[string]any{"residence_status": s})
					if err != nil {
						t.Fatal(err)
					}
					want, err := p.Decide(f, j, svc, asOf, policy.WithoutAlternatives())
					if err != nil {
						t.Fatal(err)
					}
					got, ok := evalOPA(t, pq, rego.EvalInput(opaInput(j, svc, day, s)))
					if !ok {
						t.Fatalf("%s %s %s %s: OPA gave no decision", j, day, svc, s)
					}
					if got.Outcome != string(want.Outcome) || got.Rule != want.Rule || got.DecidedBy != want.DecidedBy ||
						got.Fallback != want.Fallback || len(got.Chain) != len(want.JurisdictionChain) {
						t.Errorf("%s %s %s %s: OPA %+v, Haven %s %s by %s chain %v fallback %v", j, day, svc, s, got,
							want.Outcome, want.Rule, want.DecidedBy, want.JurisdictionChain, want.Fallback)
					}
					n++
				}
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d comparisons", n)
	}
}

var (
	sinkHaven policy.Decision
	sinkOPA   rego.ResultSet
)

// The benchmark case: a province (CN-JL) under a delegating parent (CN),
// September 2021, a temporary-hukou holder asking for vaccination.
const (
	benchJ      = "CN-JL"
	benchDay    = "2021-09-17"
	benchStatus = "temporary_hukou"
)

func BenchmarkHaven(b *testing.B) {
	p := loadHaven(b)
	f, err := p.NewFacts(map[string]any{"residence_status": benchStatus})
	if err != nil {
		b.Fatal(err)
	}
	asOf, _ := time.Parse(time.DateOnly, benchDay)
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Decide(f, benchJ, "vaccination", asOf)
		if err != nil {
			b.Fatal(err)
		}
		sinkHaven = d
	}
}

// BenchmarkOPA uses OPA's prepared query with input already converted to an
// AST value (EvalParsedInput), OPA's fastest path, and EvalInput, which
// converts a Go map per call as a typical caller would.
func BenchmarkOPA(b *testing.B) {
	pq := prepareOPA(b)
	in := opaInput(benchJ, "vaccination", benchDay, benchStatus)
	parsed, err := ast.InterfaceToValue(in)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("parsed-input", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rs, err := pq.Eval(ctx, rego.EvalParsedInput(parsed))
			if err != nil || len(rs) == 0 {
				b.Fatal(err)
			}
			sinkOPA = rs
		}
	})
	b.Run("go-input", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rs, err := pq.Eval(ctx, rego.EvalInput(in))
			if err != nil || len(rs) == 0 {
				b.Fatal(err)
			}
			sinkOPA = rs
		}
	})
}
