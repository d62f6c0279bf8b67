package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func forecastEnv(stdin string) (*commandEnv, *bytes.Buffer) {
	var out bytes.Buffer
	return &commandEnv{
		Getenv: func(string) string { return "" },
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &bytes.Buffer{},
		Now:    func() time.Time { return time.Date(2025, 11, 10, 9, 0, 0, 0, time.UTC) },
	}, &out
}

const forecastInput = `{"birth_date":"1960-11-10","sex":"F","assessment_date":"2025-11-10","doses":[{"date":"2025-11-10","cvx":"309","mvx":"PFR"}]}`

func TestForecastCommandJSON(t *testing.T) {
	env, out := forecastEnv(forecastInput)
	if err := forecastCommand(context.Background(), env, []string{"--json", "-"}); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Evaluations []map[string]string `json:"evaluations"`
		Forecasts   []map[string]string `json:"forecasts"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(res.Evaluations) != 1 || res.Evaluations[0]["status"] != "valid" || res.Evaluations[0]["antigen"] != "COVID-19" {
		t.Errorf("evaluations = %v", res.Evaluations)
	}
	var covid map[string]string
	for _, f := range res.Forecasts {
		if f["vaccine_group"] == "COVID-19" {
			covid = f
		}
	}
	if covid["series_status"] != "not_complete" || covid["earliest"] != "2026-01-05" || covid["recommended"] != "2026-05-10" {
		t.Errorf("COVID-19 forecast = %v", covid)
	}
}

func TestForecastCommandFHIR(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "in.json")
	if err := os.WriteFile(file, []byte(forecastInput), 0o600); err != nil {
		t.Fatal(err)
	}
	env, out := forecastEnv("")
	if err := forecastCommand(context.Background(), env, []string{"--schedule", "cdc", "--fhir", file}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"resourceType": "Bundle"`, `"ImmunizationEvaluation"`, `"ImmunizationRecommendation"`, `"30981-5"`, `"30980-7"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("FHIR output lacks %s", want)
		}
	}
}

func TestForecastCommandAsOfAndText(t *testing.T) {
	env, out := forecastEnv(`{"birth_date":"1960-11-10","doses":[{"date":"2025-09-10","cvx":"309"}]}`)
	if err := forecastCommand(context.Background(), env, []string{"--as-of", "2025-12-01", "-"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "assessed 2025-12-01") || !strings.Contains(out.String(), "COVID-19") {
		t.Errorf("text output:\n%s", out)
	}
}

func TestForecastCommandErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"fail/unknown cvx", []string{"-"}, `{"birth_date":"2000-01-01","assessment_date":"2025-01-01","doses":[{"date":"2020-01-01","cvx":"208"},{"date":"2021-01-01","cvx":"77777"}]}`, "doses[1].cvx"},
		{"fail/dose before birth", []string{"-"}, `{"birth_date":"2000-01-01","doses":[{"date":"1999-01-01","cvx":"208"}]}`, "doses[0].date"},
		{"fail/impossible date", []string{"-"}, `{"birth_date":"2000-01-01","doses":[{"date":"2021-02-29","cvx":"208"}]}`, "doses[0].date"},
		{"fail/empty history", []string{"-"}, `{"birth_date":"2000-01-01","doses":[]}`, "doses"},
		{"fail/empty input", []string{"-"}, ``, "empty input"},
		{"fail/unknown schedule", []string{"--schedule", "mars", "-"}, forecastInput, "mars"},
		{"fail/bad as-of", []string{"--as-of", "2025-02-30", "-"}, forecastInput, "--as-of"},
		{"fail/no file", []string{}, forecastInput, "exactly one input"},
		{"fail/missing file", []string{"/nonexistent/in.json"}, "", "nonexistent"},
		{"fail/json and fhir", []string{"--json", "--fhir", "-"}, forecastInput, "exclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := forecastEnv(tt.stdin)
			err := forecastCommand(context.Background(), env, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestForecastCommandCases(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cases.csv")
	csv := "CDC_Test_ID,Test_Case_Name,DOB,gender,Series_Status,Date_Administered_1,CVX_1,MVX_1,Evaluation_Status_1,Evaluation_Reason_1,Forecast_#,Earliest_Date,Recommended_Date,Past_Due_Date,Vaccine_Group,Assessment_Date\n" +
		"T-1,65 year old,1960-11-10,F,Not complete,2025-11-10,309,,Valid,,2,2026-01-05,2026-05-10,,COVID-19,2025-11-10\n" +
		"T-2,wrong expectation,1960-11-10,F,Complete,2025-11-10,309,,Valid,,,,,,COVID-19,2025-11-10\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	env, out := forecastEnv("")
	if err := forecastCommand(context.Background(), env, []string{"--cdsi-cases", file, "--json"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 2 cases + summary:\n%s", len(lines), out)
	}
	var first struct {
		ID   string `json:"id"`
		Pass bool   `json:"pass"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.ID != "T-1" || !first.Pass {
		t.Errorf("first line = %s (%v)", lines[0], err)
	}
	var sum caseSummary
	if err := json.Unmarshal([]byte(lines[2]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Summary.Total != 2 || sum.Summary.Pass != 1 || len(sum.Summary.Failed) != 1 || sum.Summary.Failed[0] != "T-2" {
		t.Errorf("summary = %+v", sum.Summary)
	}
}
