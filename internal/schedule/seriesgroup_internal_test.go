package schedule

import (
	"slices"
	"testing"
)

// TestMultipleAntigenGroupPerSeriesGroup: in a multiple antigen vaccine
// group, each vaccine group forecast blends only the best series of its
// antigens that belong to one series group (DEFFORECAST-012, -019; chapter
// 9: "only blend best patient series of the same series type"). Antigens A
// and B share a combination vaccine (CVX 1) and a standard series group 1;
// A also has a risk series group 2 (indication X, one dose of CVX 2 at 1
// year).
func TestMultipleAntigenGroupPerSeriesGroup(t *testing.T) {
	std := func(name, antigen string) fxSeries {
		return fxSeries{name: name, antigen: antigen, typ: "Standard", group: "1", priority: "A", preference: "1", isDefault: true,
			doses: []string{
				fxDose(fxAge("", "2 months", "2 months", "", ""), fxPref("1", "", "")),
				fxDose(fxPrevInterval("4 weeks - 4 days", "4 weeks", "8 weeks", ""), fxPref("1", "", "")),
			}}
	}
	risk := fxSeries{name: "A risk", antigen: "A", typ: "Risk", group: "2", priority: "A", preference: "1", indications: []string{"X"},
		doses: []string{fxDose(fxAge("", "1 year", "1 year", "", ""), fxPref("2", "", ""))}}
	s := fxSchedule(t, map[string][]string{"G": {"A", "B"}}, map[string][]string{"1": {"A", "B"}, "2": {"A"}},
		std("A standard", "A"), risk, std("B standard", "B"))
	p := Patient{BirthDate: fxDay(t, "2020-01-01"), Doses: []Dose{{Date: fxDay(t, "2020-03-01"), CVX: "1"}}}
	tests := []struct {
		name string
		obs  []Observation
		want []Forecast // VaccineGroup, SeriesGroup, SeriesType, SeriesStatus, dates, Series
	}{
		{"ok/without the indication: one forecast", nil, []Forecast{
			{SeriesGroup: "1", SeriesType: "standard", SeriesStatus: NotComplete, Earliest: "2020-03-29", Recommended: "2020-04-26",
				Series: []string{"A standard", "B standard"}},
		}},
		{"ok/with the indication: the risk series is not blended with the standard ones", ObservationsOf("X"), []Forecast{
			{SeriesGroup: "1", SeriesType: "standard", SeriesStatus: NotComplete, Earliest: "2020-03-29", Recommended: "2020-04-26",
				Series: []string{"A standard", "B standard"}},
			{SeriesGroup: "2", SeriesType: "risk", SeriesStatus: NotComplete, Earliest: "2021-01-01", Recommended: "2021-01-01",
				Series: []string{"A risk"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.Observations = tt.obs
			res, err := s.Forecast(p, fxDay(t, "2020-06-01"))
			if err != nil {
				t.Fatal(err)
			}
			got := res.ForecastsFor("G")
			if len(got) != len(tt.want) {
				t.Fatalf("forecasts %+v, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.SeriesGroup != w.SeriesGroup || g.SeriesType != w.SeriesType || g.SeriesStatus != w.SeriesStatus ||
					g.Earliest != w.Earliest || g.Recommended != w.Recommended || !slices.Equal(g.Series, w.Series) {
					t.Errorf("forecast %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestEntryOrder checks the order of one vaccine group's forecasts
// (docs/adr/0003): contraindicated first, then not complete by recommended
// and earliest date (an empty date last), then aged out, not recommended,
// immune and complete; ties keep their order.
func TestEntryOrder(t *testing.T) {
	f := func(sg string, st SeriesStatus, earliest, rec string) Forecast {
		return Forecast{SeriesGroup: sg, SeriesStatus: st, Earliest: earliest, Recommended: rec}
	}
	tests := []struct {
		name string
		in   []Forecast
		want string // series groups in order
	}{
		{"ok/due first comes first", []Forecast{f("1", NotComplete, "2023-01-10", "2028-01-10"), f("2", NotComplete, "2025-11-06", "2025-11-06")}, "21"},
		{"ok/same recommended date: earliest first", []Forecast{f("1", NotComplete, "2025-02-01", "2025-03-01"), f("2", NotComplete, "2025-01-01", "2025-03-01")}, "21"},
		{"ok/ties keep the data order", []Forecast{f("1", NotComplete, "2025-01-01", "2025-03-01"), f("2", NotComplete, "2025-01-01", "2025-03-01")}, "12"},
		{"ok/undated not complete after dated", []Forecast{f("1", NotComplete, "", ""), f("2", NotComplete, "2030-01-01", "2030-01-01")}, "21"},
		{"ok/not complete before complete", []Forecast{f("1", Complete, "", ""), f("2", NotComplete, "2030-01-01", "2030-01-01")}, "21"},
		{"ok/contraindicated first", []Forecast{f("1", NotComplete, "2020-01-01", "2020-01-01"), f("2", Contraindicated, "", "")}, "21"},
		{"ok/closed paths after open ones", []Forecast{f("1", Immune, "", ""), f("2", NotRecommended, "", ""), f("3", AgedOut, "", ""), f("4", NotComplete, "2030-01-01", "2030-01-01")}, "4321"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Clone(tt.in)
			slices.SortStableFunc(got, entryOrder)
			order := ""
			for _, g := range got {
				order += g.SeriesGroup
			}
			if order != tt.want {
				t.Errorf("order %s, want %s", order, tt.want)
			}
		})
	}
}
