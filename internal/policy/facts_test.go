package policy_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
)

func TestParseFacts(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		code  string
		field string
		has   []string
	}{
		{"ok/empty", `{}`, "", "", nil},
		{"ok/all", `{"residence_status":"temporary_hukou","age_years":41,"years_resident":22,"has_child_with_citizen":true,"can_pay":false,"previous_doses":0,"months_since_last_dose":0,"pregnant":false,"immunocompromised":false}`, "", "",
			[]string{"residence_status", "age_years", "years_resident", "has_child_with_citizen", "can_pay", "previous_doses", "months_since_last_dose", "pregnant", "immunocompromised"}},
		{"ok/integral-float", `{"age_years":41.0}`, "", "", []string{"age_years"}},
		{"fail/not-object", `[1,2]`, registry.EMALFORMED, "facts", nil},
		{"fail/not-json", `{"age_years":`, registry.EMALFORMED, "facts.age_years", nil},
		{"fail/trailing", `{} {}`, registry.EMALFORMED, "facts", nil},
		{"fail/unknown-fact", `{"hukou_city":"Yanji"}`, registry.EINVALID, "facts.hukou_city", nil},
		{"fail/unknown-status", `{"residence_status":"tourist"}`, registry.EINVALID, "facts.residence_status", nil},
		{"fail/status-type", `{"residence_status":3}`, registry.EINVALID, "facts.residence_status", nil},
		{"fail/int-as-string", `{"age_years":"41"}`, registry.EINVALID, "facts.age_years", nil},
		{"fail/fractional-int", `{"age_years":41.5}`, registry.EINVALID, "facts.age_years", nil},
		{"fail/negative-age", `{"age_years":-1}`, registry.EINVALID, "facts.age_years", nil},
		{"fail/too-old", `{"age_years":151}`, registry.EINVALID, "facts.age_years", nil},
		{"fail/huge", `{"years_resident":1e300}`, registry.EINVALID, "facts.years_resident", nil},
		{"fail/bool-as-string", `{"pregnant":"yes"}`, registry.EINVALID, "facts.pregnant", nil},
		{"fail/null", `{"can_pay":null}`, registry.EINVALID, "facts.can_pay", nil},
		{"fail/duplicate", `{"age_years":3,"age_years":4}`, registry.EINVALID, "facts.age_years", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := policy.ParseFacts(json.RawMessage(tc.raw))
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range tc.has {
					if !f.Has(h) {
						t.Errorf("fact %s missing", h)
					}
				}
				if len(f.Names()) != len(tc.has) {
					t.Errorf("names %v, want %v", f.Names(), tc.has)
				}
				return
			}
			if err == nil {
				t.Fatal("parsed, want an error")
			}
			if registry.ErrorCode(err) != tc.code || registry.ErrorField(err) != tc.field {
				t.Errorf("got %s %q (%v), want %s %q", registry.ErrorCode(err), registry.ErrorField(err), err, tc.code, tc.field)
			}
		})
	}
}

// Error messages name the fact but never echo its value.
func TestParseFactsDoesNotEchoValues(t *testing.T) {
	for _, raw := range []string{`{"residence_status":"secret-status-XYZ"}`, `{"age_years":"secret-XYZ"}`, `{"pregnant":"secret-XYZ"}`} {
		_, err := policy.ParseFacts(json.RawMessage(raw))
		if err == nil {
			t.Fatalf("%s parsed", raw)
		}
		if strings.Contains(err.Error(), "XYZ") {
			t.Errorf("error %q echoes the value", err)
		}
	}
}

func TestPackExtraFacts(t *testing.T) {
	p, err := policy.LoadPack(pack(goodManifest, rootWith(`            - id: ok
              services: [vaccination]
              when: "lives_with_husband"
              outcome: eligible
              reasons: [r.ok]
            - id: no
              services: [vaccination]
              outcome: not_eligible
              reasons: [r.ok]
`)), "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy.ParseFacts(json.RawMessage(`{"lives_with_husband":true}`)); registry.ErrorField(err) != "facts.lives_with_husband" {
		t.Errorf("the built-in vocabulary accepted a pack fact: %v", err)
	}
	f, err := p.ParseFacts([]byte(`{"lives_with_husband":true}`))
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	d, err := p.Decide(f, "AA", "vaccination", asOf)
	if err != nil || d.Rule != "ok" {
		t.Fatalf("decision %+v, %v", d, err)
	}
	f, err = p.NewFacts(map[string]any{"lives_with_husband": false})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := p.Decide(f, "AA", "vaccination", asOf); err != nil || d.Rule != "no" {
		t.Fatalf("decision %+v, %v", d, err)
	}
	// A missing fact is an error naming the fact and the rule.
	_, err = p.Decide(policy.Facts{}, "AA", "vaccination", asOf)
	if registry.ErrorField(err) != "facts.lives_with_husband" || !strings.Contains(err.Error(), "Rule ok") {
		t.Errorf("missing fact: %v", err)
	}
	// The same through explain mode.
	_, err = p.Decide(policy.Facts{}, "AA", "vaccination", asOf, policy.Explain(true))
	if registry.ErrorField(err) != "facts.lives_with_husband" {
		t.Errorf("missing fact, explained: %v", err)
	}
}

func TestFactsWith(t *testing.T) {
	f, err := policy.NewFacts(map[string]any{"residence_status": "registered_irregular", "years_resident": 22})
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.With("residence_status", "temporary_hukou")
	if err != nil {
		t.Fatal(err)
	}
	if f.Status() != policy.StatusRegisteredIrregular || g.Status() != policy.StatusTemporaryHukou || !g.Has("years_resident") {
		t.Errorf("With changed the original or lost facts: %s %s %v", f.Status(), g.Status(), g.Names())
	}
	if _, err := f.With("residence_status", "nobody"); err == nil {
		t.Error("With accepted an unknown status")
	}
	if _, err := policy.NewFacts(map[string]any{"age_years": uint64(1 << 63)}); err == nil {
		t.Error("NewFacts accepted an out-of-range integer")
	}
}
