package policy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/policies"
)

// FuzzParseFacts: any input gives Facts or a coded error, never a panic.
func FuzzParseFacts(f *testing.F) {
	for _, s := range []string{`{}`, `{"residence_status":"citizen"}`, `{"age_years":1e400}`, `[`, `{"a":{}}`, `{"pregnant":true,"pregnant":false}`, `null`, `{"age_years":-0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		facts, err := policy.ParseFacts(json.RawMessage(raw))
		if err != nil {
			if c := registry.ErrorCode(err); c != registry.EINVALID && c != registry.EMALFORMED {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		_ = facts.Names()
	})
}

// FuzzDecide runs random facts, places, services and dates through every
// bundled pack: Decide must never panic, and must return a valid outcome or a
// coded error.
func FuzzDecide(f *testing.F) {
	e, err := policy.NewEngine(policies.FS())
	if err != nil {
		f.Fatal(err)
	}
	packs := e.Packs()
	codes := packs[0].Jurisdictions()
	f.Add(uint8(0), uint8(3), true, int32(400), `{"residence_status":"registered_irregular","years_resident":22,"has_child_with_citizen":true}`, false)
	f.Add(uint8(1), uint8(9), false, int32(-30), `{}`, true)
	f.Add(uint8(2), uint8(200), true, int32(100000), `{"residence_status":"unregistered","age_years":3}`, true)
	base := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, pi, ji uint8, vacc bool, days int32, rawFacts string, explain bool) {
		p := packs[int(pi)%len(packs)]
		facts, err := p.ParseFacts([]byte(rawFacts))
		if err != nil {
			return
		}
		j := "XX"
		if int(ji) < len(codes) {
			j = codes[ji]
		}
		service := "testing"
		if vacc {
			service = "vaccination"
		}
		d, err := p.Decide(facts, j, service, base.AddDate(0, 0, int(days)%40000), policy.Explain(explain))
		if err != nil {
			if c := registry.ErrorCode(err); c != registry.EINVALID && c != registry.ENOTFOUND {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		switch d.Outcome {
		case policy.Eligible, policy.EligiblePaid, policy.NotEligible, policy.Referral:
		default:
			t.Fatalf("outcome %q", d.Outcome)
		}
		if (d.Outcome == policy.EligiblePaid) != (d.Fee != nil) {
			t.Fatalf("outcome %s with fee %v", d.Outcome, d.Fee)
		}
		if d.Rule == "" || len(d.JurisdictionChain) == 0 || d.JurisdictionChain[0] != j[:2] {
			t.Fatalf("decision %+v", d)
		}
	})
}

// FuzzLoadPack: arbitrary jurisdiction files load or fail with a coded error.
func FuzzLoadPack(f *testing.F) {
	f.Add(rootWith("            - id: ok\n              services: [vaccination]\n              outcome: eligible\n              reasons: [r.ok]\n"))
	f.Add("jurisdictions:\n  - code: AA-B\n    name: B\n    parent: AA-B\n")
	f.Add("jurisdictions: {")
	f.Fuzz(func(t *testing.T, jur string) {
		_, err := policy.LoadPack(pack(goodManifest, jur), "p")
		if err != nil {
			if c := registry.ErrorCode(err); c != registry.EINVALID && c != registry.EMALFORMED {
				t.Fatalf("code %s: %v", c, err)
			}
		}
	})
}
