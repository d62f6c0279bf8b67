package policy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/policies"
)

func TestEngineBundled(t *testing.T) {
	e, err := policy.NewEngine(policies.FS())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range e.Packs() {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "2021-09,inclusive,inclusive-paid" {
		t.Errorf("packs %v", names)
	}
	if e.Default().Name != "2021-09" {
		t.Errorf("default %s", e.Default().Name)
	}
	// The embedded pack is the same pack as the folder.
	if e.Default().Version != mustLoad(t, "2021-09").Version {
		t.Error("embedded and on-disk 2021-09 differ")
	}
}

func TestValidate(t *testing.T) {
	e, err := policy.NewEngine(policies.FS())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    string
		code    string
		field   string
		outcome policy.Outcome
		pack    string
	}{
		{"ok/issue-example", `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{"residence_status":"temporary_hukou"},"explain":false}`, "", "", policy.Eligible, "2021-09"},
		{"ok/other-pack", `{"pack":"inclusive","jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{"residence_status":"unregistered"}}`, "", "", policy.Eligible, "inclusive"},
		{"ok/explain-lang", `{"jurisdiction":"KR","service":"testing","as_of":"2021-09-17","facts":{},"explain":true,"lang":"ko"}`, "", "", policy.Eligible, "2021-09"},
		{"ok/timestamp-as-of", `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17T23:30:00+08:00","facts":{"residence_status":"unregistered"}}`, "", "", policy.NotEligible, "2021-09"},
		{"fail/unknown-pack", `{"pack":"nope","jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{}}`, registry.EINVALID, "pack", "", ""},
		{"fail/unknown-jurisdiction", `{"jurisdiction":"CN-XX","service":"vaccination","as_of":"2021-09-17","facts":{}}`, registry.EINVALID, "jurisdiction", "", ""},
		{"fail/missing-jurisdiction", `{"service":"vaccination","as_of":"2021-09-17","facts":{}}`, registry.EINVALID, "jurisdiction", "", ""},
		{"fail/unknown-service", `{"jurisdiction":"CN-JL","service":"x-ray","as_of":"2021-09-17","facts":{}}`, registry.EINVALID, "service", "", ""},
		{"fail/bad-date", `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"17/09/2021","facts":{}}`, registry.EINVALID, "as_of", "", ""},
		{"fail/missing-facts", `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17"}`, registry.EINVALID, "facts", "", ""},
		{"fail/unknown-fact", `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{"passport":"X"}}`, registry.EINVALID, "facts.passport", "", ""},
		{"fail/unknown-status", `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{"residence_status":"illegal"}}`, registry.EINVALID, "facts.residence_status", "", ""},
		{"fail/wrong-fact-type", `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{"age_years":"old"}}`, registry.EINVALID, "facts.age_years", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var req policy.EligibilityRequest
			if err := json.Unmarshal([]byte(tc.body), &req); err != nil {
				t.Fatal(err)
			}
			q, err := e.Validate(req)
			if tc.code != "" {
				if registry.ErrorCode(err) != tc.code || registry.ErrorField(err) != tc.field {
					t.Errorf("got %s %q (%v), want %s %q", registry.ErrorCode(err), registry.ErrorField(err), err, tc.code, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d, err := q.Decide()
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != tc.outcome || d.Pack != tc.pack {
				t.Errorf("got %s in %s", d.Outcome, d.Pack)
			}
			if q.Explain != (len(d.Evaluated) > 0) {
				t.Errorf("explain %v but %d evaluated", q.Explain, len(d.Evaluated))
			}
		})
	}
}

func TestEngineOf(t *testing.T) {
	a := mustLoad(t, "inclusive")
	b := mustLoad(t, "inclusive-paid")
	if _, err := policy.EngineOf(a, b); err == nil {
		t.Error("two packs and no default: want an error")
	}
	if _, err := policy.EngineOf(a, a); err == nil {
		t.Error("duplicate pack names: want an error")
	}
	e, err := policy.EngineOf(a)
	if err != nil || e.Default() != a {
		t.Errorf("single pack is the default: %v", err)
	}
}
