package schedule_test

import (
	"os"
	"testing"

	"github.com/haven-registry/haven/internal/schedule"
)

// BenchmarkForecastCOVID19 is a COVID-19 forecast for a person with 4 doses
// (goal ≤ 20 µs/op).
func BenchmarkForecastCOVID19(b *testing.B) {
	s := mustLoad(b, "cdc")
	p := schedule.Patient{BirthDate: day("1958-03-02"), Sex: "F", Doses: []schedule.Dose{
		{Date: day("2021-03-01"), CVX: "208", MVX: "PFR"},
		{Date: day("2021-03-22"), CVX: "208", MVX: "PFR"},
		{Date: day("2023-09-25"), CVX: "309", MVX: "PFR"},
		{Date: day("2025-09-10"), CVX: "312", MVX: "MOD"},
	}}
	asOf := day("2025-11-10")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ForecastGroups(p, asOf, "COVID-19"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForecastCOVID19Observations is BenchmarkForecastCOVID19 for a
// person with visit observations (immunocompromised, 145, which makes the
// COVID-19 risk series relevant; health care personnel, 055): the standard
// and risk series groups are both evaluated, and the risk group's forecast
// supersedes the equivalent standard one (goal ≤ 20 µs/op).
func BenchmarkForecastCOVID19Observations(b *testing.B) {
	s := mustLoad(b, "cdc")
	p := schedule.Patient{BirthDate: day("1958-03-02"), Sex: "F", Doses: []schedule.Dose{
		{Date: day("2021-03-01"), CVX: "208", MVX: "PFR"},
		{Date: day("2021-03-22"), CVX: "208", MVX: "PFR"},
		{Date: day("2023-09-25"), CVX: "309", MVX: "PFR"},
		{Date: day("2025-09-10"), CVX: "312", MVX: "MOD"},
	}, Observations: schedule.ObservationsOf("145", "055")}
	asOf := day("2025-11-10")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ForecastGroups(p, asOf, "COVID-19"); err != nil {
			b.Fatal(err)
		}
	}
}

// sixYearOld has the 25 doses of a fully vaccinated six-year-old (ACIP
// childhood schedule).
func sixYearOld() schedule.Patient {
	dob := "2019-11-10"
	doses := []struct{ date, cvx string }{
		{"2019-11-10", "08"},
		{"2020-01-10", "110"}, {"2020-01-10", "49"}, {"2020-01-10", "133"}, {"2020-01-10", "116"},
		{"2020-03-10", "110"}, {"2020-03-10", "49"}, {"2020-03-10", "133"}, {"2020-03-10", "116"},
		{"2020-05-10", "110"}, {"2020-05-10", "133"}, {"2020-05-10", "116"},
		{"2020-11-10", "03"}, {"2020-11-10", "21"}, {"2020-11-10", "83"}, {"2020-11-10", "49"}, {"2020-11-10", "133"},
		{"2021-02-10", "20"}, {"2021-05-10", "83"},
		{"2021-10-10", "141"}, {"2022-10-10", "141"},
		{"2023-11-10", "130"}, {"2023-11-10", "94"},
		{"2024-10-10", "141"}, {"2025-10-10", "141"},
	}
	p := schedule.Patient{BirthDate: day(dob), Sex: "M"}
	for _, d := range doses {
		p.Doses = append(p.Doses, schedule.Dose{Date: day(d.date), CVX: d.cvx})
	}
	return p
}

// BenchmarkForecastAllAntigens is a forecast of every vaccine group for a
// six-year-old with 25 doses (goal ≤ 1 ms/op).
func BenchmarkForecastAllAntigens(b *testing.B) {
	s := mustLoad(b, "cdc")
	p := sixYearOld()
	if len(p.Doses) != 25 {
		b.Fatalf("%d doses", len(p.Doses))
	}
	asOf := day("2025-11-10")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Forecast(p, asOf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadCDC compiles the embedded CDC supporting data from scratch
// (goal ≤ 100 ms/op). Load caches; this measures the uncached work.
func BenchmarkLoadCDC(b *testing.B) {
	fsys := os.DirFS("data/cdc")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schedule.LoadFS("cdc", fsys); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSixYearOldForecast checks the benchmark patient is a sensible history:
// every dose evaluates and the routine childhood groups are complete or on
// schedule.
func TestSixYearOldForecast(t *testing.T) {
	s := mustLoad(t, "cdc")
	res, err := s.Forecast(sixYearOld(), day("2025-11-10"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range res.Evaluations {
		if ev.Status != schedule.Valid {
			t.Errorf("%s %s %s: %s %s", ev.Date, ev.CVX, ev.Antigen, ev.Status, ev.Reason)
		}
	}
	status := map[string]schedule.SeriesStatus{}
	for _, f := range res.Forecasts {
		status[f.VaccineGroup] = f.SeriesStatus
	}
	for _, g := range []string{"HepB", "Hib", "MMR", "Polio", "Varicella", "HepA", "Rotavirus"} {
		if status[g] != schedule.Complete {
			t.Errorf("%s: %s, want complete", g, status[g])
		}
	}
}

// BenchmarkForecastWorstCase is a forecast at the MaxDoses limit (500 doses
// of mixed live and inactivated vaccines), to bound the cost of untrusted
// input.
func BenchmarkForecastWorstCase(b *testing.B) {
	s := mustLoad(b, "cdc")
	p := schedule.Patient{BirthDate: day("1950-01-01")}
	cvxs := []string{"03", "21", "94", "309", "141", "115", "08", "133", "187", "62"}
	d := schedule.DateOf(day("1951-01-01"))
	for i := 0; i < schedule.MaxDoses; i++ {
		p.Doses = append(p.Doses, schedule.Dose{Date: d.AddDays(i * 20).Time(), CVX: cvxs[i%len(cvxs)]})
	}
	asOf := day("2025-11-10")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Forecast(p, asOf); err != nil {
			b.Fatal(err)
		}
	}
}
