package fhir_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
	"github.com/haven-registry/haven/internal/server/fhir"
)

// needTool skips the test outside CI and fails it in CI (CI set), where
// every test must run.
func needTool(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this fails instead of skipping)", msg)
	}
	t.Skipf("%s; skipped outside CI", msg)
}

// validator returns the node binary and the folder of the validator
// project, installing its pinned npm packages (npm ci) when node_modules is
// missing. The install happens in a fresh folder that is renamed into place,
// so that two test processes never see half an install.
func validator(t *testing.T) (node, dir string) {
	t.Helper()
	dir, err := filepath.Abs("validator")
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		needTool(t, "node is not installed: the FHIR validator (internal/server/fhir/validator) needs Node.js 18 or later")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "fhir", "package.json")); err == nil {
		return node, dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		needTool(t, "npm is not installed: the FHIR validator's packages are installed with npm ci")
	}
	tmp, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		needTool(t, "npm ci for the FHIR validator failed: %v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "fhir", "package.json")); statErr != nil {
			t.Fatalf("install the validator's packages: %v", err)
		}
	}
	return node, dir
}

// report is validate.js's output.
type report struct {
	Errors, Warnings int
	Results          []struct {
		File, ResourceType      string
		Errors, Warnings, Notes []string
	}
}

// runValidator validates the files and returns the report.
func runValidator(t *testing.T, node, dir string, files []string) report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"validate.js"}, files...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("node validate.js: %v\n%s", err, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("validator report: %v\n%s", err, stdout.String())
	}
	if len(rep.Results) != len(files) {
		t.Fatalf("validator checked %d of %d files", len(rep.Results), len(files))
	}
	return rep
}

// TestEmittedResourcesValidate runs every request of the tests above (and
// every error code) and validates every body Haven answers, and the
// forecast Bundle of "haven forecast --fhir", with an independent validator
// against the R4 base definitions: there must be no error and no warning,
// value-set warnings on the elements bound to standard code systems
// included (see validator/validate.js). FHIR_VALIDATOR_NOTES=1 logs the
// notes too (value sets the validator does not have: CVX, currencies…).
func TestEmittedResourcesValidate(t *testing.T) {
	node, dir := validator(t)
	f := newFixture(t, nil)
	f.emitted = &collector{}
	// The creates come last: they add doses that the other tables do not
	// expect.
	for _, table := range [][]httpCase{patientCases, immunizationCases, forecastCases, immdsCases, otherCases, createCases} {
		for _, c := range table {
			t.Run(c.name, func(t *testing.T) { c.run(t, f) })
		}
	}
	for _, s := range refusedSearches {
		f.do(t, "vaccinator", "GET", s.target, "")
	}
	// Records that came through HL7: a refusal, a dose not given with no
	// vaccine named (CVX 998), a dose from another provider's record, and a
	// dose paid for with no amount known.
	hist, err := f.svc.RecordHistory(context.Background(), actors["vaccinator"], clinic.HistoryInput{
		Person: clinic.PersonInput{BirthDate: "2019-02-03"}, Source: "EHR",
		Vaccinations: []clinic.HistoryVaccination{
			{Key: "1", CVX: "08", Date: "2021-03-01", NotGiven: true, Reason: registry.ReasonPatientObjection},
			{Key: "2", CVX: "998", Date: "2021-03-02", NotGiven: true},
			{Key: "3", CVX: "03", Date: "2020-03-01", Source: string(registry.SourceHistoricalRecord)},
			{Key: "4", CVX: "03", Date: "2021-03-03", Source: string(registry.SourceHistoricalRecord), Payment: &registry.Payment{Kind: "paid"}},
		}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if rec := f.do(t, "vaccinator", "GET", "/fhir/r4/Immunization?patient.identifier="+string(hist.Card), ""); rec.Code != 200 ||
		!strings.Contains(rec.Body.String(), `"not-done"`) || !strings.Contains(rec.Body.String(), "PATOBJ") {
		t.Errorf("search of HL7 records: %d %s", rec.Code, rec.Body)
	}
	h := fhir.New(f.svc, fhir.Options{})
	for _, c := range errorCases {
		rec := httptest.NewRecorder()
		h.Error(rec, httptest.NewRequest("GET", "/fhir/r4/Patient/x", nil), c.err)
		f.emitted.add("error/"+registry.ErrorCode(c.err), rec.Body.Bytes())
	}
	// The forecast Bundle of package schedule, for histories that reach
	// every series status of the CDC data.
	for _, name := range []string{"cdc", "who", "cn"} {
		sch, err := schedule.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		d := func(s string) time.Time { v, _ := time.Parse(time.DateOnly, s); return v }
		patients := []schedule.Patient{
			{BirthDate: d("1950-11-10"), Sex: "F", Doses: []schedule.Dose{{Date: d("2025-09-10"), CVX: "511"}, {Date: d("2025-09-20"), CVX: "511"}}},
			{BirthDate: d("1970-05-05"), Sex: "M"},
		}
		if name == "cdc" {
			patients = []schedule.Patient{
				{BirthDate: d("1950-11-10"), Sex: "F", Doses: []schedule.Dose{{Date: d("2025-09-10"), CVX: "309"}, {Date: d("2025-09-20"), CVX: "309"}, {Date: d("1980-01-01"), CVX: "08"}}},
				{BirthDate: d("2024-01-15"), Doses: []schedule.Dose{{Date: d("2024-01-16"), CVX: "08"}, {Date: d("2024-03-15"), CVX: "20"}, {Date: d("2024-03-20"), CVX: "20"}}},
				{BirthDate: d("1970-05-05"), Sex: "M"},
			}
		}
		for _, p := range patients {
			res, err := sch.Forecast(p, d("2025-11-10"))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(res.FHIR(d("2025-11-10"), schedule.FHIROptions{Authority: "CDSi schedule " + name}))
			f.emitted.add("schedule/"+name, raw)
		}
	}

	tmp := t.TempDir()
	var files []string
	names := map[string]string{}
	types := map[string]bool{}
	clean := regexp.MustCompile(`[^A-Za-z0-9]+`)
	for i, e := range f.emitted.bodies {
		if len(bytes.TrimSpace(e.body)) == 0 {
			continue
		}
		var probe struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal(e.body, &probe); err != nil {
			t.Errorf("%s answered a body that is not JSON: %s", e.name, e.body)
			continue
		}
		types[probe.ResourceType] = true
		for _, nested := range []string{"ImmunizationEvaluation", "ImmunizationRecommendation", "Patient", "Immunization"} {
			if bytes.Contains(e.body, []byte(`"resourceType":"`+nested+`"`)) {
				types[nested] = true
			}
		}
		file := filepath.Join(tmp, fmt.Sprintf("%03d-%s.json", i, strings.Trim(clean.ReplaceAllString(e.name, "-"), "-")))
		if err := os.WriteFile(file, e.body, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
		names[filepath.Base(file)] = e.name
	}
	for _, want := range []string{"Patient", "Immunization", "ImmunizationEvaluation", "ImmunizationRecommendation", "Bundle",
		"Parameters", "OperationOutcome", "CapabilityStatement"} {
		if !types[want] {
			t.Errorf("no %s was emitted, so none was validated", want)
		}
	}
	rep := runValidator(t, node, dir, files)
	notes := 0
	for _, r := range rep.Results {
		for _, m := range r.Errors {
			t.Errorf("%s (%s): error: %s", names[r.File], r.ResourceType, m)
		}
		for _, m := range r.Warnings {
			t.Errorf("%s (%s): warning: %s", names[r.File], r.ResourceType, m)
		}
		notes += len(r.Notes)
		for _, m := range r.Notes {
			if os.Getenv("FHIR_VALIDATOR_NOTES") != "" {
				t.Logf("%s: note: %s", names[r.File], m)
			}
		}
	}
	t.Logf("validated %d resources: %d errors, %d warnings, %d notes (value sets the validator does not have)",
		len(files), rep.Errors, rep.Warnings, notes)
}

// TestValidatorCatchesMistakes: the validator is not a rubber stamp. A
// forecast whose status starts with a non-standard coding, a resource with
// an element R4 does not define and one that lacks a required element are
// each reported.
func TestValidatorCatchesMistakes(t *testing.T) {
	node, dir := validator(t)
	tmp := t.TempDir()
	bad := map[string]string{
		"status-order.json": `{"resourceType":"ImmunizationRecommendation","patient":{"reference":"Patient/p"},"date":"2025-11-10",
			"recommendation":[{"targetDisease":{"text":"COVID-19"},"forecastStatus":{"coding":[
			{"system":"https://haven-registry.org/fhir/CodeSystem/cdsi-status","code":"not_complete"},
			{"system":"http://terminology.hl7.org/CodeSystem/immunization-recommendation-status","code":"due"}]}}]}`,
		"unknown-element.json": `{"resourceType":"Patient","id":"x","nickname":"Kim"}`,
		"missing-status.json": `{"resourceType":"Immunization","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"511"}]},
			"patient":{"reference":"Patient/p"},"occurrenceDateTime":"2021-08-01"}`,
		"vaccine-not-cvx.json": `{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://snomed.info/sct","code":"1119349007"}]},
			"patient":{"reference":"Patient/p"},"occurrenceDateTime":"2021-08-01"}`,
	}
	var files []string
	for name, body := range bad {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	rep := runValidator(t, node, dir, files)
	for _, r := range rep.Results {
		if len(r.Errors)+len(r.Warnings) == 0 {
			t.Errorf("%s passed the validator", r.File)
		}
	}
}
