package schedule_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/schedule"
)

// wantEntry is the expected vaccine group forecast for one series group.
type wantEntry struct {
	group, typ, status                     string
	earliest, recommended, pastDue, latest string
	series                                 string // a substring of one of the forecast's series names
}

func checkEntries(t *testing.T, got []schedule.Forecast, want []wantEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d forecasts, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		f := got[i]
		if f.SeriesGroup != w.group || f.SeriesType != w.typ || string(f.SeriesStatus) != w.status ||
			f.Earliest != w.earliest || f.Recommended != w.recommended || f.PastDue != w.pastDue || f.Latest != w.latest {
			t.Errorf("forecast %d = group %s %s %s %s/%s/%s/%s, want group %s %s %s %s/%s/%s/%s", i,
				f.SeriesGroup, f.SeriesType, f.SeriesStatus, f.Earliest, f.Recommended, f.PastDue, f.Latest,
				w.group, w.typ, w.status, w.earliest, w.recommended, w.pastDue, w.latest)
		}
		if w.series != "" && !slices.ContainsFunc(f.Series, func(s string) bool { return strings.Contains(s, w.series) }) {
			t.Errorf("forecast %d has series %q, want one containing %q", i, f.Series, w.series)
		}
	}
}

// adultTdHistory is a complete childhood DTaP/Tdap history and a Td booster
// at 22 for a woman born 1995-03-15: her routine Td/Tdap path is next due
// ten years after the booster.
func adultTdHistory() []schedule.Dose {
	var out []schedule.Dose
	for _, d := range []struct{ date, cvx string }{
		{"1995-05-15", "20"}, {"1995-07-15", "20"}, {"1995-09-15", "20"}, {"1996-06-15", "20"}, {"1999-03-15", "20"},
		{"2006-04-15", "115"}, {"2018-01-10", "113"},
	} {
		out = append(out, schedule.Dose{Date: day(d.date), CVX: d.cvx})
	}
	return out
}

// TestForecastPerSeriesGroup checks one vaccine group forecast per series
// group (DEFFORECAST-012, -016, -019; chapter 9) with the CDC supporting
// data, and the order of a group's forecasts (docs/adr/0003: the first is
// the one due first). The dates follow from the data:
//
//   - Pertussis risk 1-dose series (series group 2, indication 007 pregnant,
//     female or unknown sex): Tdap from the onset of pregnancy (170) + 27
//     weeks (minimum and earliest recommended interval), past due at + 36
//     weeks - 1 day (FORECASTDT-3). Onset 2025-05-01: 2025-11-06, 2026-01-07.
//     CDC case 2016-UC-0130 (onset 2016-08-22): 2017-02-27, 2017-04-30.
//   - The routine path (series group 1, Diphtheria, Tetanus and Pertussis
//     standard series blended, MULTIANTVG-1): Td/Tdap 10 years after the
//     2018-01-10 booster, or at once for a woman with no history.
//   - Pneumococcal risk 19+ years immunocompromised PCV-PPSV-PPSV series
//     (indication 186, HIV infection, from 19 years): PCV from 19 years; after
//     a PCV15 (215) PPSV23 at 8 weeks, recommended at 1 year.
func TestForecastPerSeriesGroup(t *testing.T) {
	s := mustLoad(t, "cdc")
	pregnant := []schedule.Observation{{Code: "007"}, {Code: "170", Date: day("2025-05-01")}}
	tests := []struct {
		name  string
		p     schedule.Patient
		asOf  string
		group string
		want  []wantEntry
	}{
		{
			name: "ok/CDC 2016-UC-0130 pregnant at 27 weeks, no Tdap: routine path due first, then the pregnancy dose",
			p: schedule.Patient{BirthDate: day("1988-06-23"), Sex: "F",
				Observations: []schedule.Observation{{Code: "007"}, {Code: "170", Date: day("2016-08-22")}}},
			asOf: "2016-08-22", group: "DTaP/Tdap/Td",
			want: []wantEntry{
				{"1", "standard", "not_complete", "1995-06-23", "1995-06-23", "1995-06-23", "", "Tetanus standard series"},
				{"2", "risk", "not_complete", "2017-02-27", "2017-02-27", "2017-04-30", "", "Pertussis risk 1-dose series"},
			},
		},
		{
			name: "ok/pregnant adult female with a Td booster gets the pregnancy Tdap dose first",
			p:    schedule.Patient{BirthDate: day("1995-03-15"), Sex: "F", Doses: adultTdHistory(), Observations: pregnant},
			asOf: "2025-11-10", group: "DTaP/Tdap/Td",
			want: []wantEntry{
				{"2", "risk", "not_complete", "2025-11-06", "2025-11-06", "2026-01-07", "", "Pertussis risk 1-dose series"},
				{"1", "standard", "not_complete", "2023-01-10", "2028-01-10", "2028-02-06", "", "Pertussis standard series"},
			},
		},
		{
			name: "ok/non-pregnant adult female has no pregnancy dose",
			p:    schedule.Patient{BirthDate: day("1995-03-15"), Sex: "F", Doses: adultTdHistory()},
			asOf: "2025-11-10", group: "DTaP/Tdap/Td",
			want: []wantEntry{{"1", "standard", "not_complete", "2023-01-10", "2028-01-10", "2028-02-06", "", "Pertussis standard series"}},
		},
		{
			name: "ok/pregnant without the onset date: no pregnancy dose is forecast",
			p: schedule.Patient{BirthDate: day("1995-03-15"), Sex: "F", Doses: adultTdHistory(),
				Observations: schedule.ObservationsOf("007")},
			asOf: "2025-11-10", group: "DTaP/Tdap/Td",
			// Without the onset of pregnancy (170) the interval has no
			// reference date and the Tdap at 11 satisfies the risk series
			// (Table 6-17): ObservationInfo.Needs tells callers to ask.
			want: []wantEntry{
				{"1", "standard", "not_complete", "2023-01-10", "2028-01-10", "2028-02-06", "", "Pertussis standard series"},
				{"2", "risk", "complete", "", "", "", "", "Pertussis risk 1-dose series"},
			},
		},
		{
			name: "ok/the pertussis pregnancy series requires a female or unknown sex",
			p:    schedule.Patient{BirthDate: day("1995-03-15"), Sex: "M", Doses: adultTdHistory(), Observations: pregnant},
			asOf: "2025-11-10", group: "DTaP/Tdap/Td",
			want: []wantEntry{{"1", "standard", "not_complete", "2023-01-10", "2028-01-10", "2028-02-06", "", "Pertussis standard series"}},
		},
		{
			name: "ok/immunocompromised adult without pneumococcal doses gets the risk series",
			p:    schedule.Patient{BirthDate: day("1990-06-01"), Sex: "M", Observations: schedule.ObservationsOf("186")},
			asOf: "2025-11-10", group: "Pneumococcal",
			want: []wantEntry{{"2", "risk", "not_complete", "2009-06-01", "2009-06-01", "", "", "immunocompromised PCV-PPSV-PPSV"}},
		},
		{
			name: "ok/immunocompromised adult after PCV15 gets PPSV23 from 8 weeks",
			p: schedule.Patient{BirthDate: day("1990-06-01"), Sex: "M", Observations: schedule.ObservationsOf("186"),
				Doses: []schedule.Dose{{Date: day("2025-06-01"), CVX: "215"}}},
			asOf: "2025-11-10", group: "Pneumococcal",
			want: []wantEntry{{"2", "risk", "not_complete", "2025-07-27", "2026-06-01", "", "", "immunocompromised PCV-PPSV-PPSV"}},
		},
		{
			name: "ok/a healthy adult of 35 has no pneumococcal risk series",
			p:    schedule.Patient{BirthDate: day("1990-06-01"), Sex: "M"},
			asOf: "2025-11-10", group: "Pneumococcal",
			want: []wantEntry{{"1", "standard", "aged_out", "", "", "", "", "Pneumococcal 4-dose series"}},
		},
		{
			name: "ok/complete risk and standard 50+ series are both reported, complete",
			p: schedule.Patient{BirthDate: day("1990-06-01"), Sex: "M", Observations: schedule.ObservationsOf("186"),
				Doses: []schedule.Dose{{Date: day("2025-06-01"), CVX: "216"}}},
			asOf: "2025-11-10", group: "Pneumococcal",
			want: []wantEntry{
				{"2", "risk", "complete", "", "", "", "", "immunocompromised"},
				{"3", "standard", "complete", "", "", "", "", "50+"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Forecast(tt.p, day(tt.asOf))
			if err != nil {
				t.Fatal(err)
			}
			got := res.ForecastsFor(tt.group)
			checkEntries(t, got, tt.want)
			if first, ok := res.ForecastFor(tt.group); !ok || len(got) > 0 && first.SeriesGroup != got[0].SeriesGroup {
				t.Errorf("ForecastFor = %+v, want the first forecast of the group", first)
			}
			// A vaccine group's forecasts are adjacent in Result.Forecasts.
			seen, done := false, false
			for _, f := range res.Forecasts {
				switch {
				case f.VaccineGroup == tt.group && done:
					t.Fatalf("forecasts of %s are not adjacent", tt.group)
				case f.VaccineGroup == tt.group:
					seen = true
				case seen:
					done = true
				}
			}
		})
	}
}

// TestCaseForecast checks which of a vaccine group's forecasts the CDC
// test-case comparison reads.
func TestCaseForecast(t *testing.T) {
	nc := func(typ, rec string) schedule.Forecast {
		return schedule.Forecast{SeriesStatus: schedule.NotComplete, SeriesType: typ, Recommended: rec, Earliest: rec}
	}
	done := func(typ string) schedule.Forecast {
		return schedule.Forecast{SeriesStatus: schedule.Complete, SeriesType: typ}
	}
	tests := []struct {
		name string
		fcs  []schedule.Forecast
		want int
	}{
		{"ok/none", nil, -1},
		{"ok/one", []schedule.Forecast{done("standard")}, 0},
		{"ok/not complete first", []schedule.Forecast{nc("standard", "2025-01-01"), done("risk")}, 0},
		{"ok/risk not complete after an earlier standard one", []schedule.Forecast{nc("standard", "1995-06-23"), nc("risk", "2017-02-27")}, 1},
		{"ok/risk first stays", []schedule.Forecast{nc("risk", "2017-02-27"), nc("standard", "2028-01-10")}, 0},
		{"ok/all complete: the first", []schedule.Forecast{done("risk"), done("standard")}, 0},
		{"ok/no series type: the first", []schedule.Forecast{nc("", "2025-01-01"), nc("", "2026-01-01")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schedule.CaseForecast(tt.fcs); got != tt.want {
				t.Errorf("CaseForecast = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestForecastJSONSeriesGroup checks the design.md forecast JSON of a
// vaccine group with two series groups: each entry names series_group and
// series_type, the first is the one due first.
func TestForecastJSONSeriesGroup(t *testing.T) {
	s := mustLoad(t, "cdc")
	p := schedule.Patient{BirthDate: day("1995-03-15"), Sex: "F", Doses: adultTdHistory(),
		Observations: []schedule.Observation{{Code: "007"}, {Code: "170", Date: day("2025-05-01")}}}
	res, err := s.ForecastGroups(p, day("2025-11-10"), "DTaP/Tdap/Td")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res.Forecasts)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"vaccine_group":"DTaP/Tdap/Td","series_status":"not_complete","earliest":"2025-11-06","recommended":"2025-11-06","past_due":"2026-01-07","latest":"",` +
		`"series_group":"2","series_group_name":"Increased Risk","series_type":"risk"},` +
		`{"vaccine_group":"DTaP/Tdap/Td","series_status":"not_complete","earliest":"2023-01-10","recommended":"2028-01-10","past_due":"2028-02-06","latest":"",` +
		`"series_group":"1","series_group_name":"Standard","series_type":"standard"}]`
	if string(b) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", b, want)
	}
}

// TestFHIRPerSeriesGroup checks that the ImmunizationRecommendation carries
// one recommendation per vaccine group forecast, with its series group.
func TestFHIRPerSeriesGroup(t *testing.T) {
	s := mustLoad(t, "cdc")
	p := schedule.Patient{BirthDate: day("1995-03-15"), Sex: "F", Doses: adultTdHistory(),
		Observations: []schedule.Observation{{Code: "007"}, {Code: "170", Date: day("2025-05-01")}}}
	asOf := day("2025-11-10")
	res, err := s.ForecastGroups(p, asOf, "DTaP/Tdap/Td", "COVID-19")
	if err != nil {
		t.Fatal(err)
	}
	b := res.FHIR(asOf, schedule.FHIROptions{})
	last := b.Entry[len(b.Entry)-1].Resource.(schedule.FHIRImmunizationRecommendation)
	if len(last.Recommendation) != len(res.Forecasts) || len(res.Forecasts) != 3 {
		t.Fatalf("%d recommendations for %d forecasts, want 3", len(last.Recommendation), len(res.Forecasts))
	}
	for i, item := range last.Recommendation {
		f := res.Forecasts[i]
		ext := map[string]string{}
		for _, e := range item.Extension {
			ext[e.URL] = e.ValueString
		}
		if item.TargetDisease.Text != f.VaccineGroup || ext[schedule.FHIRExtSeriesGroup] != f.SeriesGroup || ext[schedule.FHIRExtSeriesType] != f.SeriesType {
			t.Errorf("recommendation %d = %s %v, want %s series group %s %s", i, item.TargetDisease.Text, ext, f.VaccineGroup, f.SeriesGroup, f.SeriesType)
		}
		if !strings.Contains(item.Description, f.SeriesGroupName) {
			t.Errorf("recommendation %d description %q lacks %q", i, item.Description, f.SeriesGroupName)
		}
	}
	if last.Recommendation[0].ForecastStatus.Coding[0].Code != "overdue" && last.Recommendation[0].ForecastStatus.Coding[0].Code != "due" {
		t.Errorf("pregnancy dose status %+v", last.Recommendation[0].ForecastStatus)
	}
}

// TestObservations checks the list of observation codes that the CDC
// supporting data uses, for the visit's choices in the web app.
func TestObservations(t *testing.T) {
	s := mustLoad(t, "cdc")
	list := s.Observations()
	if len(list) < 100 {
		t.Fatalf("%d observation codes, want the CDC data's (over 100)", len(list))
	}
	if !slices.IsSortedFunc(list, func(a, b schedule.ObservationInfo) int { return strings.Compare(a.Code, b.Code) }) {
		t.Error("not sorted by code")
	}
	for _, o := range list {
		if o.Code == "" || o.Title == "" || len(o.VaccineGroups) == 0 {
			t.Errorf("incomplete entry %+v", o)
		}
		if !o.Indication && !o.Contraindication && !o.Immunity && !o.Dated {
			t.Errorf("%s has no use", o.Code)
		}
	}
	tests := []struct {
		code, title string
		check       func(schedule.ObservationInfo) bool
	}{
		{"007", "Pregnant", func(o schedule.ObservationInfo) bool {
			return o.Indication && o.Contraindication && slices.Equal(o.Needs, []string{"170"}) &&
				slices.Contains(o.VaccineGroups, "DTaP/Tdap/Td") && slices.Contains(o.VaccineGroups, "MMR")
		}},
		{"170", "Onset of pregnancy", func(o schedule.ObservationInfo) bool { return o.Dated && !o.Indication }},
		{"055", "Health care personnel", func(o schedule.ObservationInfo) bool { return o.Indication && slices.Contains(o.VaccineGroups, "HepB") }},
		{"186", "HIV Infection", func(o schedule.ObservationInfo) bool {
			return o.Indication && slices.Contains(o.VaccineGroups, "Pneumococcal")
		}},
	}
	for _, tt := range tests {
		o, ok := s.Observation(" " + tt.code)
		if !ok || o.Title != tt.title || !tt.check(o) {
			t.Errorf("Observation(%s) = %+v, %v; want %q", tt.code, o, ok, tt.title)
		}
	}
	// 235 is listed in the schedule data but no antigen uses it (v4.64).
	if o, ok := s.Observation("235"); ok {
		t.Errorf("Observation(235) = %+v, want unused", o)
	}
	// The result is a copy.
	list[0].VaccineGroups[0] = "changed"
	if s.Observations()[0].VaccineGroups[0] == "changed" {
		t.Error("Observations shares its slices with the schedule")
	}
	// A schedule whose data uses no observation lists none.
	if who := mustLoad(t, "who"); len(who.Observations()) != 0 {
		t.Errorf("who lists %d observations", len(who.Observations()))
	}
}

func TestObservationsOf(t *testing.T) {
	got := schedule.ObservationsOf("007", " ", " 055 ")
	if len(got) != 2 || got[0].Code != "007" || got[1].Code != "055" || !got[0].Date.IsZero() {
		t.Errorf("ObservationsOf = %+v", got)
	}
	if got := schedule.ObservationsOf(); got == nil || len(got) != 0 {
		t.Errorf("ObservationsOf() = %#v, want empty", got)
	}
}

var updateGolden = flag.Bool("update", false, "rewrite testdata/cdc-observations.json")

// TestObservationsGolden keeps testdata/cdc-observations.json, the
// observation codes of the CDC supporting data with their official English
// titles (the source list for the web app's translations), in step with the
// data. Run with -update after a supporting-data update and review the diff.
func TestObservationsGolden(t *testing.T) {
	got, err := json.MarshalIndent(mustLoad(t, "cdc").Observations(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "cdc-observations.json")
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s is out of date: run go test -run TestObservationsGolden -update and review the diff", path)
	}
}
