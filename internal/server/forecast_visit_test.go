package server_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestForecastWithVisitObservations: what the clinic knows at the visit
// (here a pregnancy and its onset) changes the forecast, one entry per
// series group, and is never kept: not in the database, its WAL, the access
// log or the server's log.
func TestForecastWithVisitObservations(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(`{"birth_date":"1990-01-01","sex":"female"}`)
	type entry struct {
		VaccineGroup string `json:"vaccine_group"`
		SeriesType   string `json:"series_type"`
		SeriesGroup  string `json:"series_group"`
		Earliest     string
	}
	forecast := func(query string) (int, []entry, []byte) {
		res := e.do("GET", "/api/v1/persons/"+p.CardCode+"/forecast?schedule=cdc"+query, e.vaccinator, "")
		var f struct{ Forecasts []entry }
		if res.status == http.StatusOK {
			res.decode(t, &f)
		}
		return res.status, f.Forecasts, res.body
	}
	tdap := func(fs []entry) (out []entry) {
		for _, f := range fs {
			if f.VaccineGroup == "DTaP/Tdap/Td" {
				out = append(out, f)
			}
		}
		return out
	}
	// Onset 1999-12-31 is a date that appears nowhere else in this test.
	status, with, body := forecast("&observation=007&observation=170:1999-12-31")
	if status != 200 {
		t.Fatalf("pregnant: %d %s", status, body)
	}
	status, without, body := forecast("")
	if status != 200 {
		t.Fatalf("not pregnant: %d %s", status, body)
	}
	hasRisk := func(fs []entry) bool {
		for _, f := range tdap(fs) {
			if f.SeriesType == "risk" {
				return true
			}
		}
		return false
	}
	if !hasRisk(with) || hasRisk(without) {
		t.Fatalf("Tdap entries pregnant %+v, not pregnant %+v; want the pregnancy series only when pregnant", tdap(with), tdap(without))
	}
	for _, tc := range []struct{ name, query, field string }{
		{"fail/pregnancy-without-onset", "&observation=007", "observations"},
		{"fail/unknown-code", "&observation=999", "observations"},
		{"fail/onset-without-date", "&observation=007&observation=170", "observations"},
		{"fail/bad-date", "&observation=170:1999-13-01", "observations"},
		{"fail/twice", "&observation=055&observation=055", "observations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := forecast(tc.query)
			if status != 422 || !bytes.Contains(body, []byte(`"field":"`+tc.field+`"`)) {
				t.Fatalf("%d %s", status, body)
			}
		})
	}
	// Nothing of the observation was kept anywhere.
	e.store.Close()
	dir := filepath.Dir(e.dbPath)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	haystacks := map[string][]byte{"server log": e.logs.Bytes()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			haystacks[f] = b
		}
	}
	for name, b := range haystacks {
		for _, needle := range []string{"1999-12-31", "19991231", "170:", "observation"} {
			if bytes.Contains(b, []byte(needle)) || strings.Contains(strings.ToLower(string(b)), needle) {
				t.Errorf("%s holds %q", name, needle)
			}
		}
	}
}
