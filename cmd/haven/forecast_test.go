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

// TestForecastCommandObservations: observations in the input (pregnant, 007,
// with the onset of pregnancy, 170) give the DTaP/Tdap/Td group a second
// forecast, for the pregnancy's series group; each forecast names its series
// group and type, in JSON, FHIR and text.
func TestForecastCommandObservations(t *testing.T) {
	const in = `{"birth_date":"1995-03-15","sex":"F","assessment_date":"2025-11-10",` +
		`"doses":[{"date":"1995-05-15","cvx":"20"},{"date":"1995-07-15","cvx":"20"},{"date":"1995-09-15","cvx":"20"},` +
		`{"date":"1996-06-15","cvx":"20"},{"date":"1999-03-15","cvx":"20"},{"date":"2006-04-15","cvx":"115"},{"date":"2018-01-10","cvx":"113"}],` +
		`"observations":[{"code":"007"},{"code":"170","date":"2025-05-01"}]}`
	type entry struct {
		Group       string `json:"vaccine_group"`
		Status      string `json:"series_status"`
		Earliest    string `json:"earliest"`
		SeriesGroup string `json:"series_group"`
		SeriesType  string `json:"series_type"`
	}
	tests := []struct {
		name  string
		input string
		want  []entry // DTaP/Tdap/Td forecasts, in order
	}{
		{"ok/pregnant: pregnancy Tdap first", in, []entry{
			{"DTaP/Tdap/Td", "not_complete", "2025-11-06", "2", "risk"},
			{"DTaP/Tdap/Td", "not_complete", "2023-01-10", "1", "standard"},
		}},
		{"ok/not pregnant: routine path only", strings.Replace(in, `"observations":[{"code":"007"},{"code":"170","date":"2025-05-01"}]`, `"observations":[]`, 1), []entry{
			{"DTaP/Tdap/Td", "not_complete", "2023-01-10", "1", "standard"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, out := forecastEnv(tt.input)
			if err := forecastCommand(context.Background(), env, []string{"--json", "-"}); err != nil {
				t.Fatal(err)
			}
			var res struct {
				Forecasts []entry `json:"forecasts"`
			}
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			var got []entry
			for _, f := range res.Forecasts {
				if f.Group == "DTaP/Tdap/Td" {
					got = append(got, f)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("DTaP/Tdap/Td forecasts %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("forecast %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
	env, out := forecastEnv(in)
	if err := forecastCommand(context.Background(), env, []string{"-"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SERIES GROUP", "2 Increased Risk (risk)", "1 Standard (standard)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	env, out = forecastEnv(in)
	if err := forecastCommand(context.Background(), env, []string{"--fhir", "-"}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "cdsi-series-group"); n < 2 {
		t.Errorf("FHIR output has %d series group extensions, want one per forecast", n)
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

// TestForecastCommandCasesSeriesGroups: a case in the CDC layout whose
// vaccine group has two forecasts is compared with the one the CDC layout
// states (the pregnancy dose), and the JSON line lists both.
func TestForecastCommandCasesSeriesGroups(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cases.csv")
	csv := "CDC_Test_ID,Test_Case_Name,DOB,Gender,Observation_Code_1,Observation_Date_1,Observation_Code_2,Observation_Date_2,Series_Status,Earliest_Date,Recommended_Date,Past_Due_Date,Vaccine_Group,Assessment_Date\n" +
		"P-1,pregnant at 27 weeks,1988-06-23,F,007,,170,2016-08-22,Not Complete,2017-02-27,2017-02-27,2017-04-30,DTAP,2016-08-22\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	env, out := forecastEnv("")
	if err := forecastCommand(context.Background(), env, []string{"--cdsi-cases", file, "--json"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var first struct {
		Pass     bool `json:"pass"`
		Forecast struct {
			SeriesGroup string `json:"series_group"`
			SeriesType  string `json:"series_type"`
		} `json:"forecast"`
		Forecasts []json.RawMessage `json:"forecasts"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if !first.Pass || first.Forecast.SeriesGroup != "2" || first.Forecast.SeriesType != "risk" || len(first.Forecasts) != 2 {
		t.Errorf("case line = %s", lines[0])
	}
}
