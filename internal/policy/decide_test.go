package policy_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
)

var (
	april = time.Date(2021, 4, 15, 0, 0, 0, 0, time.UTC)
	sept  = time.Date(2021, 9, 17, 0, 0, 0, 0, time.UTC)
)

func facts(tb testing.TB, p *policy.Pack, m map[string]any) policy.Facts {
	tb.Helper()
	f, err := p.NewFacts(m)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func TestDecideChainAndFallback(t *testing.T) {
	p := mustLoad(t, "2021-09")
	tests := []struct {
		name      string
		j         string
		service   string
		asOf      time.Time
		status    string
		outcome   policy.Outcome
		rule      string
		decidedBy string
		chain     []string
		fallback  bool
	}{
		{"ok/province-decides", "CN-JL", "vaccination", sept, "temporary_hukou", policy.Eligible, "cn-jl-2021-hukou", "CN-JL", []string{"CN", "CN-JL"}, false},
		{"ok/sub-area-inherits-province", "CN-JL-YB", "vaccination", sept, "unregistered", policy.NotEligible, "cn-jl-2021-unregistered", "CN-JL", []string{"CN", "CN-JL", "CN-JL-YB"}, false},
		{"ok/centre-decides-before-june", "CN-JL-YB", "vaccination", april, "registered_irregular", policy.NotEligible, "cn-2020-no-provision", "CN", []string{"CN", "CN-JL", "CN-JL-YB"}, false},
		{"ok/no-rule-falls-back", "CN-GD", "vaccination", sept, "registered_irregular", policy.Referral, "cn-2021-fallback-as-they-see-fit", "CN", []string{"CN", "CN-GD"}, true},
		{"ok/no-service-rule-falls-back", "CN-BJ", "testing", sept, "unregistered", policy.Referral, "cn-2021-fallback-testing", "CN", []string{"CN", "CN-BJ"}, true},
		{"ok/delegating-node-itself", "CN", "vaccination", sept, "unregistered", policy.Referral, "cn-2021-fallback-as-they-see-fit", "CN", []string{"CN"}, true},
		{"ok/korea", "KR-49", "testing", sept, "unregistered", policy.Eligible, "kr-2021-testing-all", "KR", []string{"KR", "KR-49"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := p.Decide(facts(t, p, map[string]any{"residence_status": tc.status}), tc.j, tc.service, tc.asOf)
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != tc.outcome || d.Rule != tc.rule || d.DecidedBy != tc.decidedBy || d.Fallback != tc.fallback {
				t.Errorf("got %s %s by %s fallback=%v", d.Outcome, d.Rule, d.DecidedBy, d.Fallback)
			}
			if diff := cmp.Diff(tc.chain, d.JurisdictionChain); diff != "" {
				t.Errorf("chain (-want +got):\n%s", diff)
			}
			if d.Pack != "2021-09" || d.PolicyVersion != p.Version || d.Jurisdiction != tc.j || d.Service != tc.service {
				t.Errorf("identity fields: %+v", d)
			}
			if len(d.Reasons) == 0 || d.Reasons[0].Message == "" {
				t.Errorf("no reasons: %+v", d.Reasons)
			}
		})
	}
}

func TestDecideErrors(t *testing.T) {
	p := mustLoad(t, "2021-09")
	f := facts(t, p, map[string]any{"residence_status": "citizen"})
	tests := []struct {
		name, j, service string
		asOf             time.Time
		facts            policy.Facts
		code, field      string
	}{
		{"fail/unknown-jurisdiction", "CN-ZZ", "vaccination", sept, f, registry.ENOTFOUND, "jurisdiction"},
		{"fail/unknown-service", "CN", "dental", sept, f, registry.EINVALID, "service"},
		{"fail/no-policy-yet", "CN", "vaccination", time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), f, registry.ENOTFOUND, "as_of"},
		{"fail/missing-status", "CN-JL", "vaccination", sept, policy.Facts{}, registry.EINVALID, "facts.residence_status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Decide(tc.facts, tc.j, tc.service, tc.asOf)
			if registry.ErrorCode(err) != tc.code || registry.ErrorField(err) != tc.field {
				t.Errorf("got %s %q (%v), want %s %q", registry.ErrorCode(err), registry.ErrorField(err), err, tc.code, tc.field)
			}
		})
	}
}

func TestDecideExplain(t *testing.T) {
	p := mustLoad(t, "2021-09")
	d, err := p.Decide(facts(t, p, map[string]any{"residence_status": "registered_irregular"}), "CN-BJ", "testing", sept, policy.Explain(true))
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, e := range d.Evaluated {
		steps = append(steps, e.Jurisdiction+" "+e.Step+" "+e.Rule+" "+e.Result)
	}
	want := []string{
		"CN delegates  ",
		"CN-BJ rule cn-bj-2021-hukou false",
		"CN-BJ rule cn-bj-2021-lawful-foreigner false",
		"CN-BJ rule cn-bj-2021-registered-irregular skipped",
		"CN-BJ rule cn-bj-2021-unregistered skipped",
		"CN fallback_rule cn-2021-fallback-hukou false",
		"CN fallback_rule cn-2021-fallback-lawful-foreigner false",
		"CN fallback_rule cn-2021-fallback-testing true",
	}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("explanation (-want +got):\n%s", diff)
	}
	// Explain mode and the combined fast path agree on every case.
	plain, err := p.Decide(facts(t, p, map[string]any{"residence_status": "registered_irregular"}), "CN-BJ", "testing", sept)
	if err != nil || plain.Rule != d.Rule || plain.Evaluated != nil {
		t.Errorf("plain %+v, %v", plain, err)
	}
}

func TestDecideAlternatives(t *testing.T) {
	p := mustLoad(t, "2021-09")
	d, err := p.Decide(facts(t, p, map[string]any{"residence_status": "registered_irregular", "years_resident": 22, "has_child_with_citizen": true}), "CN-LN", "vaccination", sept)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Alternatives) != 3 {
		t.Fatalf("alternatives %+v", d.Alternatives)
	}
	st := d.Alternatives[2]
	if st.Kind != "status" || st.Status != policy.StatusTemporaryHukou || st.CriteriaMet == nil || !*st.CriteriaMet ||
		st.Rule != "cn-ln-2021-hukou" || st.Outcome != policy.Eligible || !st.Assumption || st.Criteria == "" {
		t.Errorf("status alternative %+v", st)
	}
	if len(st.Reasons) < 2 || st.Reasons[0].Key != "cn.pathway.temporary_hukou" {
		t.Errorf("status alternative reasons %+v", st.Reasons)
	}
	if d.Alternatives[0].Jurisdiction != "CN-BJ" || d.Alternatives[0].Name != "Beijing" || d.Alternatives[0].Kind != "jurisdiction" {
		t.Errorf("place alternative %+v", d.Alternatives[0])
	}
	// Criteria not judged: facts missing, so criteria_met is null.
	d, err = p.Decide(facts(t, p, map[string]any{"residence_status": "registered_irregular"}), "CN-LN", "vaccination", sept)
	if err != nil || len(d.Alternatives) != 3 || d.Alternatives[2].CriteriaMet != nil {
		t.Errorf("alternatives without criteria facts: %+v, %v", d.Alternatives, err)
	}
	// WithoutAlternatives skips the search.
	d, err = p.Decide(facts(t, p, map[string]any{"residence_status": "registered_irregular"}), "CN-LN", "vaccination", sept, policy.WithoutAlternatives())
	if err != nil || len(d.Alternatives) != 0 {
		t.Errorf("WithoutAlternatives: %+v, %v", d.Alternatives, err)
	}
}

func TestDecideLanguage(t *testing.T) {
	p := mustLoad(t, "2021-09")
	f := facts(t, p, map[string]any{"residence_status": "unregistered"})
	en, _ := p.Decide(f, "KR", "vaccination", sept)
	ko, err := p.Decide(f, "KR", "vaccination", sept, policy.Language("ko"))
	if err != nil {
		t.Fatal(err)
	}
	if en.Reasons[0].Key != ko.Reasons[0].Key || en.Reasons[0].Message == ko.Reasons[0].Message || !strings.Contains(ko.Reasons[0].Message, "무료") {
		t.Errorf("en %+v ko %+v", en.Reasons, ko.Reasons)
	}
	xx, _ := p.Decide(f, "KR", "vaccination", sept, policy.Language("xx"))
	if xx.Reasons[0].Message != en.Reasons[0].Message {
		t.Errorf("unknown language did not fall back to English: %+v", xx.Reasons)
	}
}

// The JSON decision carries the fields the HTTP API promises and never the
// facts it was computed from.
func TestDecisionJSON(t *testing.T) {
	p := mustLoad(t, "inclusive-paid")
	f := facts(t, p, map[string]any{"residence_status": "registered_irregular", "age_years": 47, "years_resident": 37, "has_child_with_citizen": false, "pregnant": true})
	d, err := p.Decide(f, "CN-JL", "vaccination", sept, policy.Explain(true))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"outcome", "fee", "rule", "jurisdiction_chain", "policy_version", "reasons", "alternatives", "evaluated", "as_of"} {
		if _, ok := m[k]; !ok {
			t.Errorf("decision JSON has no %q: %s", k, b)
		}
	}
	if m["outcome"] != "eligible_paid" || m["as_of"] != "2021-09-17" {
		t.Errorf("outcome/as_of: %s", b)
	}
	if fee, _ := m["fee"].(map[string]any); fee["amount"] != "100.00" || fee["currency"] != "CNY" {
		t.Errorf("fee: %s", b)
	}
	// The facts themselves are not echoed. (The rule that fired may name a
	// status class, as here; that is the answer, not an echo.) In KR the same
	// person gets a rule that names no status, so nothing of the input shows.
	kr, err := p.Decide(f, "KR", "vaccination", sept, policy.Explain(true))
	if err != nil {
		t.Fatal(err)
	}
	kr.PolicyVersion = "" // a hex hash may contain any digits
	b, err = json.Marshal(kr)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"registered_irregular", "37", "47", "pregnant", "years_resident", "age_years"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("decision JSON contains the input %q: %s", secret, b)
		}
	}
}

// Decisions do not change the pack: the engine keeps nothing between calls.
func TestDecideKeepsNothing(t *testing.T) {
	p := mustLoad(t, "2021-09")
	a := facts(t, p, map[string]any{"residence_status": "temporary_hukou"})
	b := facts(t, p, map[string]any{"residence_status": "unregistered"})
	first, _ := p.Decide(a, "CN-JL", "vaccination", sept)
	for range 100 {
		if _, err := p.Decide(b, "CN-JL", "vaccination", sept, policy.Explain(true)); err != nil {
			t.Fatal(err)
		}
	}
	again, _ := p.Decide(a, "CN-JL", "vaccination", sept)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("a decision changed after others (-first +again):\n%s", diff)
	}
}

func TestReceiptNamesNoStatus(t *testing.T) {
	p := mustLoad(t, "inclusive-paid")
	for _, s := range policy.Statuses {
		d, err := p.Decide(facts(t, p, map[string]any{"residence_status": string(s)}), "CN-JL", "vaccination", sept)
		if err != nil {
			t.Fatal(err)
		}
		r := d.Receipt()
		r.PolicyVersion = "" // a hex hash may contain anything
		b, _ := json.Marshal(r)
		for _, w := range policy.Statuses {
			if strings.Contains(string(b), string(w)) || strings.Contains(string(b), "hukou") || strings.Contains(string(b), "irregular") {
				t.Errorf("receipt %s names a status", b)
			}
		}
		if r.Outcome != d.Outcome || r.Pack != "inclusive-paid" || r.AsOf != d.AsOf {
			t.Errorf("receipt %+v for %+v", r, d)
		}
	}
}
