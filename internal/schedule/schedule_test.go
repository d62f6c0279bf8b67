package schedule_test

import (
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

func day(s string) time.Time {
	d, err := schedule.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d.Time()
}

func mustLoad(t testing.TB, name string) *schedule.Schedule {
	t.Helper()
	s, err := schedule.Load(name)
	if err != nil {
		t.Fatalf("Load(%q): %v", name, err)
	}
	return s
}

func TestLoad(t *testing.T) {
	s := mustLoad(t, "cdc")
	if len(s.Antigens()) != 30 {
		t.Errorf("cdc has %d antigens, want 30", len(s.Antigens()))
	}
	if s2 := mustLoad(t, "cdc"); s2 != s {
		t.Error("Load is not cached")
	}
	for _, name := range []string{"", "nope", "../cdc", "cdc/.."} {
		if _, err := schedule.Load(name); registry.ErrorCode(err) != registry.ENOTFOUND {
			t.Errorf("Load(%q) = %v, want ENOTFOUND", name, err)
		}
	}
	names := schedule.Names()
	if len(names) == 0 || names[0] != "cdc" && !contains(names, "cdc") {
		t.Errorf("Names() = %v, want cdc among them", names)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestLoadFSMalformed checks that bad supporting data gives an EMALFORMED
// error that names the file.
func TestLoadFSMalformed(t *testing.T) {
	good, err := os.ReadFile("data/cdc/ScheduleSupportingData.xml")
	if err != nil {
		t.Fatal(err)
	}
	antigen, err := os.ReadFile("data/cdc/AntigenSupportingData-COVID-19-508.xml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]string
		code  string
		want  string
	}{
		{"fail/unclosed element", map[string]string{"ScheduleSupportingData.xml": string(good), "AntigenSupportingData-X.xml": "<antigenSupportingData><series>"}, registry.EMALFORMED, "AntigenSupportingData-X.xml"},
		{"fail/mismatched tag", map[string]string{"ScheduleSupportingData.xml": "<scheduleSupportingData><a></b></scheduleSupportingData>"}, registry.EMALFORMED, "ScheduleSupportingData.xml"},
		{"fail/bad duration", map[string]string{"ScheduleSupportingData.xml": string(good), "A.xml": strings.Replace(string(antigen), "<minAge>2 years</minAge>", "<minAge>2 eons</minAge>", 1)}, registry.EMALFORMED, "A.xml"},
		{"fail/bad date", map[string]string{"ScheduleSupportingData.xml": string(good), "A.xml": strings.Replace(string(antigen), "<cessationDate>20211024</cessationDate>", "<cessationDate>20210231</cessationDate>", 1)}, registry.EMALFORMED, "A.xml"},
		{"fail/no schedule data", map[string]string{"A.xml": string(antigen)}, registry.EMALFORMED, "no ScheduleSupportingData"},
		{"fail/unknown root", map[string]string{"S.xml": "<html></html>"}, registry.EMALFORMED, "S.xml"},
		{"fail/empty folder", map[string]string{"README.md": "x"}, registry.ENOTFOUND, "no supporting data"},
		{"fail/bad entity", map[string]string{"S.xml": "<scheduleSupportingData>&bogus;</scheduleSupportingData>"}, registry.EMALFORMED, "S.xml"},
		{"fail/text after root", map[string]string{"S.xml": "<scheduleSupportingData/>junk"}, registry.EMALFORMED, "S.xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, c := range tt.files {
				fsys[n] = &fstest.MapFile{Data: []byte(c)}
			}
			_, err := schedule.LoadFS("test", fsys)
			if err == nil {
				t.Fatal("LoadFS accepted bad data")
			}
			if registry.ErrorCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadFS error = %v (code %s), want code %s mentioning %q", err, registry.ErrorCode(err), tt.code, tt.want)
			}
		})
	}
	// The same data with comments, a declaration and entities loads.
	fsys := fstest.MapFS{
		"ScheduleSupportingData.xml": {Data: append([]byte("<?xml version=\"1.0\"?>\n<!-- source: CDC -->\n"), good...)},
		"A.xml":                      {Data: []byte(strings.Replace(string(antigen), "<seriesName>COVID-19 start at 2 years+", "<seriesName>COVID-19 &amp; start at 2 years+", 1))},
	}
	if _, err := schedule.LoadFS("test", fsys); err != nil {
		t.Errorf("LoadFS with comments and entities: %v", err)
	}
}

// TestForecastBadInput checks that each kind of bad input is an EINVALID
// error naming the dose or field.
func TestForecastBadInput(t *testing.T) {
	s := mustLoad(t, "cdc")
	base := schedule.Patient{BirthDate: day("2000-01-01")}
	asOf := day("2025-11-10")
	tests := []struct {
		name  string
		p     schedule.Patient
		asOf  time.Time
		field string
	}{
		{"fail/unknown CVX", withDoses(base, schedule.Dose{Date: day("2021-01-01"), CVX: "208"}, schedule.Dose{Date: day("2021-02-01"), CVX: "99999"}), asOf, "doses[1].cvx"},
		{"fail/dose before birth", withDoses(base, schedule.Dose{Date: day("1999-12-31"), CVX: "208"}), asOf, "doses[0].date"},
		{"fail/dose after assessment", withDoses(base, schedule.Dose{Date: day("2025-11-11"), CVX: "208"}), asOf, "doses[0].date"},
		{"fail/dose without date", withDoses(base, schedule.Dose{CVX: "208"}), asOf, "doses[0].date"},
		{"fail/no birth date", schedule.Patient{}, asOf, "birth_date"},
		{"fail/no assessment date", base, time.Time{}, "assessment_date"},
		{"fail/assessment before birth", base, day("1999-01-01"), "assessment_date"},
		{"fail/bad sex", schedule.Patient{BirthDate: base.BirthDate, Sex: "X"}, asOf, "sex"},
		{"fail/empty observation", schedule.Patient{BirthDate: base.BirthDate, Observations: []schedule.Observation{{}}}, asOf, "observations[0].code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Forecast(tt.p, tt.asOf)
			if registry.ErrorCode(err) != registry.EINVALID || registry.ErrorField(err) != tt.field {
				t.Errorf("Forecast error = %v, want EINVALID on %s", err, tt.field)
			}
		})
	}
}

func withDoses(p schedule.Patient, d ...schedule.Dose) schedule.Patient {
	p.Doses = d
	return p
}

func TestParseInput(t *testing.T) {
	tests := []struct {
		name, in string
		code     string
		field    string
	}{
		{"ok/minimal", `{"birth_date":"2025-05-10","doses":[{"date":"2025-11-10","cvx":"311"}]}`, "", ""},
		{"ok/full", `{"birth_date":"2025-05-10","sex":"F","assessment_date":"2025-11-10","doses":[{"date":"2025-11-10","cvx":"511","mvx":"SNV"}],"observations":[{"code":"055"},{"code":"007","date":"2025-01-01"}]}`, "", ""},
		{"fail/empty document", "  ", registry.EINVALID, "doses"},
		{"fail/empty history", `{"birth_date":"2025-05-10","doses":[]}`, registry.EINVALID, "doses"},
		{"fail/missing history", `{"birth_date":"2025-05-10"}`, registry.EINVALID, "doses"},
		{"fail/impossible dose date", `{"birth_date":"2025-05-10","doses":[{"date":"2025-11-10","cvx":"311"},{"date":"2025-02-30","cvx":"311"}]}`, registry.EINVALID, "doses[1].date"},
		{"fail/dose before birth", `{"birth_date":"2025-05-10","doses":[{"date":"2025-05-09","cvx":"311"}]}`, registry.EINVALID, "doses[0].date"},
		{"fail/missing cvx", `{"birth_date":"2025-05-10","doses":[{"date":"2025-06-09"}]}`, registry.EINVALID, "doses[0].cvx"},
		{"fail/US date", `{"birth_date":"05/10/2025","doses":[{"date":"2025-06-09","cvx":"311"}]}`, registry.EINVALID, "birth_date"},
		{"fail/unknown field", `{"birth_date":"2025-05-10","residence":"x","doses":[{"date":"2025-06-09","cvx":"311"}]}`, registry.EMALFORMED, ""},
		{"fail/not json", `{"birth_date":`, registry.EMALFORMED, ""},
		{"fail/trailing data", `{"birth_date":"2025-05-10","doses":[{"date":"2025-06-09","cvx":"311"}]} {}`, registry.EMALFORMED, ""},
		{"fail/wrong type", `{"birth_date":"2025-05-10","doses":[{"date":20250609,"cvx":"311"}]}`, registry.EMALFORMED, "doses.date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := schedule.ParseInput(strings.NewReader(tt.in))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("ParseInput: %v", err)
				}
				return
			}
			if registry.ErrorCode(err) != tt.code || registry.ErrorField(err) != tt.field {
				t.Errorf("ParseInput error = %v (field %q), want %s on %q", err, registry.ErrorField(err), tt.code, tt.field)
			}
		})
	}
}

// TestForecastJSONShape checks the design.md output contract.
func TestForecastJSONShape(t *testing.T) {
	s := mustLoad(t, "cdc")
	p := schedule.Patient{BirthDate: day("1960-11-10"), Sex: "F", Doses: []schedule.Dose{{Date: day("2025-11-10"), CVX: "309"}}}
	res, err := s.ForecastGroups(p, day("2025-11-10"), "COVID-19")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"evaluations":[{"date":"2025-11-10","cvx":"309","antigen":"COVID-19","status":"valid","reason":""}],` +
		`"forecasts":[{"vaccine_group":"COVID-19","series_status":"not_complete","earliest":"2026-01-05","recommended":"2026-05-10","past_due":"","latest":"",` +
		`"series_group":"1","series_group_name":"Standard","series_type":"standard"}]}`
	if string(b) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", b, want)
	}
	if _, err := s.ForecastGroups(p, day("2025-11-10"), "Nonsense"); registry.ErrorCode(err) != registry.EINVALID {
		t.Errorf("unknown group: %v", err)
	}
}

// TestEvaluationReasons checks statuses and reasons of the CDSi grace period
// and absolute minimum (schedules.md §5): with an 8 week minimum interval,
// 52 days is valid and 51 days is too soon.
func TestEvaluationReasons(t *testing.T) {
	s := mustLoad(t, "cdc")
	tests := []struct {
		name       string
		second     string
		wantStatus schedule.Status
		wantReason string
	}{
		{"ok/8 weeks", "2025-10-22", schedule.Valid, ""},
		{"ok/52 days grace", "2025-10-18", schedule.Valid, "Interval: Grace Period"},
		{"fail/51 days too soon", "2025-10-17", schedule.NotValid, "Interval: Too Soon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := schedule.Patient{BirthDate: day("1950-01-01"), Doses: []schedule.Dose{{Date: day("2025-08-27"), CVX: "309"}, {Date: day(tt.second), CVX: "309"}}}
			res, err := s.ForecastGroups(p, day("2025-11-10"), "COVID-19")
			if err != nil {
				t.Fatal(err)
			}
			ev := res.Evaluations[1]
			if ev.Status != tt.wantStatus || ev.Reason != tt.wantReason {
				t.Errorf("dose 2 = %s %q, want %s %q", ev.Status, ev.Reason, tt.wantStatus, tt.wantReason)
			}
		})
	}
}

func TestFHIR(t *testing.T) {
	s := mustLoad(t, "cdc")
	p := schedule.Patient{BirthDate: day("1950-11-10"), Doses: []schedule.Dose{{Date: day("2025-09-10"), CVX: "309"}, {Date: day("2025-09-20"), CVX: "309"}}}
	asOf := day("2025-11-10")
	res, err := s.ForecastGroups(p, asOf, "COVID-19")
	if err != nil {
		t.Fatal(err)
	}
	b := res.FHIR(asOf, schedule.FHIROptions{Patient: "Patient/42"})
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ResourceType != "Bundle" || len(doc.Entry) != 3 {
		t.Fatalf("bundle %s with %d entries, want Bundle with 3", doc.ResourceType, len(doc.Entry))
	}
	if doc.Entry[1].Resource["resourceType"] != "ImmunizationEvaluation" {
		t.Errorf("entry 2 is %v", doc.Entry[1].Resource["resourceType"])
	}
	ds := doc.Entry[1].Resource["doseStatus"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]
	if ds != "notvalid" {
		t.Errorf("too-soon dose has FHIR dose status %v, want notvalid", ds)
	}
	rec := doc.Entry[2].Resource
	if rec["resourceType"] != "ImmunizationRecommendation" {
		t.Fatalf("last entry is %v", rec["resourceType"])
	}
	crit := rec["recommendation"].([]any)[0].(map[string]any)["dateCriterion"].([]any)
	got := map[string]string{}
	for _, c := range crit {
		m := c.(map[string]any)
		code := m["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
		got[code] = m["value"].(string)
	}
	if got[schedule.LOINCEarliest] != "2025-11-15" || got[schedule.LOINCRecommended] != "2026-03-20" {
		t.Errorf("date criteria = %v", got)
	}
	if _, ok := got[schedule.LOINCPastDue]; ok {
		t.Errorf("empty past-due date emitted: %v", got)
	}
}

// FuzzForecast runs random histories through every schedule: the engine must
// return a result or an application error, never panic.
func FuzzForecast(f *testing.F) {
	f.Add(int64(1), uint8(5), uint16(2000))
	f.Add(int64(42), uint8(25), uint16(6*365))
	f.Add(int64(7), uint8(0), uint16(30))
	s := mustLoad(f, "cdc")
	var cvxs []string
	for _, c := range []string{"03", "08", "10", "20", "21", "33", "43", "48", "49", "62", "83", "94", "106", "107", "110", "113", "115", "116", "119", "120", "133", "135", "140", "141", "150", "152", "165", "187", "207", "208", "212", "213", "215", "300", "309", "311", "313", "502", "506", "510", "511", "999999", ""} {
		cvxs = append(cvxs, c)
	}
	f.Fuzz(func(t *testing.T, seed int64, n uint8, ageDays uint16) {
		rng := rand.New(rand.NewSource(seed))
		dob := schedule.MakeDate(1940+rng.Intn(85), 1+rng.Intn(12), 1+rng.Intn(28))
		asOf := dob.AddDays(int(ageDays))
		p := schedule.Patient{BirthDate: dob.Time(), Sex: []string{"F", "M", ""}[rng.Intn(3)]}
		for i := 0; i < int(n%40); i++ {
			d := dob.AddDays(rng.Intn(int(ageDays) + 2))
			p.Doses = append(p.Doses, schedule.Dose{Date: d.Time(), CVX: cvxs[rng.Intn(len(cvxs))], MVX: []string{"", "PFR", "MOD"}[rng.Intn(3)]})
		}
		for i := 0; i < rng.Intn(3); i++ {
			p.Observations = append(p.Observations, schedule.Observation{Code: []string{"055", "007", "145", "010", "080", "122"}[rng.Intn(6)]})
		}
		res, err := s.Forecast(p, asOf.Time())
		if err != nil {
			var e *registry.Error
			if !errors.As(err, &e) || e.Code == registry.EINTERNAL {
				t.Fatalf("engine failure: %v", err)
			}
			return
		}
		if len(res.Evaluations) == 0 && len(p.Doses) > 0 {
			t.Fatalf("no evaluations for %d doses", len(p.Doses))
		}
		for _, fc := range res.Forecasts {
			if fc.SeriesStatus == "" {
				t.Fatalf("forecast without status: %+v", fc)
			}
		}
	})
}

// FuzzParseInput feeds arbitrary documents to the input parser.
func FuzzParseInput(f *testing.F) {
	f.Add(`{"birth_date":"2025-05-10","sex":"F","assessment_date":"2025-11-10","doses":[{"date":"2025-11-10","cvx":"511","mvx":"SNV"}]}`)
	f.Add(`{"birth_date":"2025-02-29","doses":[]}`)
	f.Add(`[]`)
	s := mustLoad(f, "cdc")
	f.Fuzz(func(t *testing.T, in string) {
		p, asOf, err := schedule.ParseInput(strings.NewReader(in))
		if err != nil {
			return
		}
		if asOf.IsZero() {
			asOf = day("2025-11-10")
		}
		_, _ = s.Forecast(p, asOf)
	})
}

// FuzzLoadXML feeds arbitrary bytes to the supporting-data loader.
func FuzzLoadXML(f *testing.F) {
	f.Add([]byte("<scheduleSupportingData><vaccineGroups/></scheduleSupportingData>"))
	f.Add([]byte("<antigenSupportingData><series><targetDisease>X</targetDisease><seriesDose><age><minAge>2 years</minAge></age></seriesDose></series></antigenSupportingData>"))
	f.Add([]byte("<?xml version='1.0'?><!-- c --><a b='c'>&amp;&#x41;<![CDATA[x]]></a>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"A.xml": {Data: data}}
		_, err := schedule.LoadFS("fuzz", fsys)
		if err == nil {
			t.Fatal("a schedule without ScheduleSupportingData loaded")
		}
	})
}

func TestResultHelpers(t *testing.T) {
	s := mustLoad(t, "cdc")
	// MMRV then a too-early MMR: the second dose is not valid for measles,
	// mumps and rubella; Haven records it and reports why.
	p := schedule.Patient{BirthDate: day("2020-01-01"), Doses: []schedule.Dose{
		{Date: day("2021-01-05"), CVX: "94"}, {Date: day("2021-01-20"), CVX: "03"},
	}}
	res, err := s.Forecast(p, day("2021-02-01"))
	if err != nil {
		t.Fatal(err)
	}
	evs := res.EvaluationsFor(1)
	if len(evs) != 3 {
		t.Fatalf("dose 2 has %d evaluations, want 3 (measles, mumps, rubella): %+v", len(evs), evs)
	}
	for _, ev := range evs {
		if ev.Status != schedule.NotValid || !strings.Contains(ev.Reason, "Interval: Too Soon") {
			t.Errorf("%s: %s %q, want not_valid, too soon", ev.Antigen, ev.Status, ev.Reason)
		}
	}
	if f, ok := res.ForecastFor("MMR"); !ok || f.SeriesStatus != schedule.NotComplete {
		t.Errorf("MMR forecast = %+v, %v", f, ok)
	}
	if _, ok := res.ForecastFor("Nope"); ok {
		t.Error("forecast for an unknown group")
	}
}

func TestParseCasesDates(t *testing.T) {
	csv := "CDC_Test_ID,DOB,Gender,Series_Status,Date_Administered_1,CVX_1,Evaluation_Status_1,Earliest_Date,Recommended_Date,Past_Due_Date,Vaccine_Group,Assessment_Date,Observation_Code_1,Observation_Date_1\n" +
		"X-1,5/9/2025,F,Not Complete,11/10/2025,311,Valid,2025-12-08,20251208,1/4/2026,COVID-19,2025-11-10,055,\n" +
		"X-2,2025-02-30,F,Not Complete,,,,,,,COVID-19,2025-11-10,,\n"
	_, err := schedule.ParseCases(strings.NewReader(csv), "x.csv")
	if registry.ErrorCode(err) != registry.EMALFORMED || !strings.Contains(err.Error(), "x.csv:3:DOB") {
		t.Fatalf("impossible DOB: %v, want EMALFORMED at x.csv:3:DOB", err)
	}
	cases, err := schedule.ParseCases(strings.NewReader(strings.SplitAfterN(csv, "\n", 3)[0]+strings.SplitAfterN(csv, "\n", 3)[1]), "x.csv")
	if err != nil {
		t.Fatal(err)
	}
	c := cases[0]
	if got := schedule.DateOf(c.Patient.BirthDate).String(); got != "2025-05-09" {
		t.Errorf("DOB %s", got)
	}
	if c.Expected.Recommended != "2025-12-08" || len(c.Patient.Observations) != 1 || c.Expected.SeriesStatus != "not_complete" {
		t.Errorf("case = %+v", c)
	}
	if r := mustLoad(t, "cdc").RunCase(c); !r.Pass {
		t.Errorf("case fails: %v %s", r.Mismatches, r.Error)
	}
}
