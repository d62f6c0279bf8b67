package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/sqlite"
)

func TestEligibility(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvOn(t, db)
	tests := []struct {
		name, body, outcome string
		alternatives        bool
	}{
		{"ok/jilin-registered-irregular-refused",
			`{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{"residence_status":"registered_irregular","age_years":41,"years_resident":22,"has_child_with_citizen":true,"can_pay":true}}`,
			"not_eligible", true},
		{"ok/korea-unregistered-eligible",
			`{"jurisdiction":"KR","service":"vaccination","as_of":"2021-09-17","facts":{"residence_status":"unregistered","age_years":41}}`,
			"eligible", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do("POST", "/api/v1/eligibility", e.vaccinator, tt.body)
			if res.status != 200 {
				t.Fatalf("eligibility: %d %s", res.status, res.body)
			}
			var dec struct {
				Outcome           string
				Rule              string
				JurisdictionChain []string `json:"jurisdiction_chain"`
				PolicyVersion     string   `json:"policy_version"`
				Alternatives      []any
			}
			res.decode(t, &dec)
			if dec.Outcome != tt.outcome || dec.Rule == "" || len(dec.JurisdictionChain) == 0 || dec.PolicyVersion == "" {
				t.Fatalf("decision = %s", res.body)
			}
			if tt.alternatives != (len(dec.Alternatives) > 0) {
				t.Fatalf("alternatives = %v, want present=%v", dec.Alternatives, tt.alternatives)
			}
		})
	}
	// A batch: every status in every place the 2021 pack names, on both
	// sides of the June 2021 order, for both services.
	statuses := []string{"citizen", "permanent_resident", "registered_foreigner", "temporary_hukou", "registered_irregular", "unregistered"}
	n := 0
	for _, place := range []string{"KR", "CN", "CN-BJ", "CN-TJ", "CN-JL", "CN-JL-YB", "CN-LN", "CN-HL"} {
		for _, status := range statuses {
			for _, date := range []string{"2021-05-01", "2021-09-17"} {
				for _, service := range []string{"vaccination", "testing"} {
					body := `{"jurisdiction":"` + place + `","service":"` + service + `","as_of":"` + date +
						`","facts":{"residence_status":"` + status + `","age_years":41,"years_resident":22,"has_child_with_citizen":true,"can_pay":true}}`
					if res := e.do("POST", "/api/v1/eligibility", e.vaccinator, body); res.status != 200 {
						t.Fatalf("%s %s %s %s: %d %s", place, status, date, service, res.status, res.body)
					}
					n++
				}
			}
		}
	}
	t.Logf("%d decisions made", n)
	bad := e.do("POST", "/api/v1/eligibility", e.vaccinator, `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{"residence_status":"tourist"}}`)
	if bad.status != 422 || !bytes.Contains(bad.body, []byte(`"field":"facts.residence_status"`)) {
		t.Fatalf("unknown status: %d %s", bad.status, bad.body)
	}
	// The facts are forgotten: no status word reaches the database files or
	// the logs.
	files, _ := filepath.Glob(filepath.Join(dir, "haven.db*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		scanFor(t, filepath.Base(f), data, append(statuses, "tourist", "years_resident", "residence"))
	}
	scanFor(t, "the logs", e.logs.Bytes(), append(statuses, "tourist", "residence", "hukou"))
	if !bytes.Contains(e.logs.Bytes(), []byte("/api/v1/eligibility")) {
		t.Fatal("the eligibility requests were not logged at all; the scan proved nothing")
	}
}

func TestDoseEvaluationAndForecast(t *testing.T) {
	e := newTestEnv(t) // the test server evaluates with the China schedule
	p := e.register(`{"birth_date":"1980","birth_date_estimated":true}`)
	dose := func(date string) map[string]any {
		res := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator,
			`{"product":"CoronaVac","date":"`+date+`","site":"YB-1"}`)
		if res.status != 201 {
			t.Fatalf("dose %s: %d %s", date, res.status, res.body)
		}
		var out map[string]any
		res.decode(t, &out)
		return out
	}
	first := dose("2021-07-01")
	if first["evaluation"] == nil || first["warnings"] != nil {
		t.Fatalf("first dose: %v", first)
	}
	early := dose("2021-07-08") // 7 days after dose 1: too soon under the NHC 21–56 day interval
	warns, _ := early["warnings"].([]any)
	if len(warns) == 0 || !strings.Contains(strings.ToLower(toJSON(warns)), "too soon") {
		t.Fatalf("early dose recorded without a too-soon warning: %v", early)
	}
	ok := dose("2021-07-29")
	if ok["warnings"] != nil {
		t.Fatalf("valid second dose warned: %v", ok)
	}
	res := e.do("GET", "/api/v1/persons/"+p.CardCode+"/forecast?schedule=cn&as_of=2021-09-17", e.vaccinator, "")
	if res.status != 200 {
		t.Fatalf("forecast: %d %s", res.status, res.body)
	}
	var fc struct {
		BirthDateUsed    string `json:"birth_date_used"`
		BirthDateReading string `json:"birth_date_reading"`
		Evaluations      []struct{ Status string }
		Forecasts        []struct {
			VaccineGroup string `json:"vaccine_group"`
			SeriesStatus string `json:"series_status"`
		}
	}
	res.decode(t, &fc)
	if fc.BirthDateUsed != "1980-01-01" || fc.BirthDateReading != "earliest" || len(fc.Evaluations) != 3 || len(fc.Forecasts) == 0 {
		t.Fatalf("forecast = %s", res.body)
	}
	noBirth := e.register(`{}`)
	if res := e.do("GET", "/api/v1/persons/"+noBirth.CardCode+"/forecast", e.vaccinator, ""); res.status != 422 || !bytes.Contains(res.body, []byte("birth_date")) {
		t.Fatalf("forecast without a birth date: %d %s", res.status, res.body)
	}
}

func toJSON(v any) string {
	var b bytes.Buffer
	for _, x := range v.([]any) {
		m := x.(map[string]any)
		b.WriteString(m["code"].(string) + ": " + m["message"].(string) + "\n")
	}
	return b.String()
}

// A person with no name and only a birth year gets a certificate with a
// temporary identity, and it verifies; a product with no EU code cannot be
// certified; a tampered certificate fails at the signature.
func TestCertificates(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(`{"birth_date":"1983","birth_date_estimated":true}`)
	res := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator, `{"product":"CoronaVac","date":"2021-08-01","site":"YB-1"}`)
	var v struct{ ID string }
	res.decode(t, &v)
	zf := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator, `{"product":"zf2001","date":"2021-09-01","site":"YB-1"}`)
	var z struct{ ID string }
	zf.decode(t, &z)

	issued := e.do("POST", "/api/v1/persons/"+p.CardCode+"/certificates", e.vaccinator, `{"record":"`+v.ID+`"}`)
	if issued.status != 201 {
		t.Fatalf("issue: %d %s", issued.status, issued.body)
	}
	var c struct {
		HC1   string `json:"hc1"`
		QRSVG string `json:"qr_svg"`
		QRPNG []byte `json:"qr_png"`
	}
	issued.decode(t, &c)
	if !strings.HasPrefix(c.HC1, "HC1:") || !strings.HasPrefix(strings.TrimSpace(c.QRSVG), "<") || !bytes.HasPrefix(c.QRPNG, []byte("\x89PNG")) {
		t.Fatalf("certificate = %s", issued.body)
	}
	check := func(text string) (bool, string, map[string]any) {
		body, _ := json.Marshal(map[string]string{"text": text})
		res := e.do("POST", "/api/v1/certificates/verify", "", string(body))
		if res.status != 200 {
			t.Fatalf("verify: %d %s", res.status, res.body)
		}
		var out struct {
			Valid   bool
			Failed  string
			Payload map[string]any
		}
		res.decode(t, &out)
		return out.Valid, out.Failed, out.Payload
	}
	valid, failed, payload := check(c.HC1)
	if !valid {
		t.Fatalf("issued certificate does not verify (failed %s)", failed)
	}
	nam, _ := payload["nam"].(map[string]any)
	if nam["fn"] != p.CardCode || payload["dob"] != "1983" {
		t.Fatalf("temporary identity: nam=%v dob=%v", nam, payload["dob"])
	}
	tampered := c.HC1[:len(c.HC1)-6] + "AAAAAA"
	if valid, failed, _ := check(tampered); valid || failed == "" {
		t.Fatalf("tampered certificate: valid=%v failed=%q", valid, failed)
	}
	if res := e.do("POST", "/api/v1/persons/"+p.CardCode+"/certificates", e.vaccinator, `{"record":"`+z.ID+`"}`); res.status != 422 || !bytes.Contains(res.body, []byte(`"field":"product"`)) {
		t.Fatalf("ZF2001 certificate: %d %s", res.status, res.body)
	}
}
