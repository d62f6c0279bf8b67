package api

import (
	"testing"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
)

// FuzzDecode feeds arbitrary bodies to the strict decoder of every request
// type: it must never panic, and must either succeed or return an
// application error with a code.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"product":"511","date":"2021-09-01","site":"YB-1","payment":{"kind":"paid","amount":"50.00","currency":"CNY"}}`,
		`{"given_name":"김","birth_date":"1985-02","sex":"female"}`,
		`{"kind":"pcr","result":"negative","date":"2021-09-01","site":"YB-1"}`,
		`{"code":"YB-1","name":"x","jurisdiction":"CN-JL-YB","services":["testing"]}`,
		`{"replaced_by":"00"}`, `{"role":"vaccinator","sites":["YB-1"]}`,
		`{`, `[]`, `null`, `{"a":1}`, `{"product":1e999}`, "\xff", `{"date":"2021-02-30"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{&clinic.VaccinationInput{}, &clinic.PersonInput{}, &clinic.TestInput{}, &clinic.SiteInput{},
			&clinic.Correction{}, &clinic.TokenInput{}, &clinic.PersonEdit{}, &policy.EligibilityRequest{}}
		for _, v := range targets {
			err := decodeJSON(body, v)
			if err != nil && registry.ErrorCode(err) == registry.EINTERNAL {
				t.Fatalf("decode %q: error without a code: %v", body, err)
			}
		}
	})
}
