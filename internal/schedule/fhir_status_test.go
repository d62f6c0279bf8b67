package schedule_test

import (
	"testing"

	"github.com/haven-registry/haven/internal/schedule"
)

// TestFHIRStatusCodings checks that every status is coded with the standard
// code system that R4 binds, with a code of R4's value set and no other
// coding, and that the text keeps the CDSi status.
func TestFHIRStatusCodings(t *testing.T) {
	asOf := day("2025-11-10")
	forecasts := []struct {
		name string
		f    schedule.Forecast
		std  string
	}{
		{"not complete, before past due", schedule.Forecast{SeriesStatus: schedule.NotComplete, PastDue: "2025-11-11"}, "due"},
		{"not complete, on past due", schedule.Forecast{SeriesStatus: schedule.NotComplete, PastDue: "2025-11-10"}, "overdue"},
		{"not complete, no past due", schedule.Forecast{SeriesStatus: schedule.NotComplete}, "due"},
		{"complete", schedule.Forecast{SeriesStatus: schedule.Complete}, "complete"},
		{"immune", schedule.Forecast{SeriesStatus: schedule.Immune}, "immune"},
		{"contraindicated", schedule.Forecast{SeriesStatus: schedule.Contraindicated}, "contraindicated"},
		{"aged out", schedule.Forecast{SeriesStatus: schedule.AgedOut}, "complete"},
		{"not recommended", schedule.Forecast{SeriesStatus: schedule.NotRecommended}, "complete"},
	}
	r4 := map[string]bool{"due": true, "overdue": true, "immune": true, "contraindicated": true, "complete": true}
	for _, tt := range forecasts {
		t.Run("forecast/"+tt.name, func(t *testing.T) {
			cc := schedule.FHIRForecastStatus(tt.f, asOf)
			if len(cc.Coding) != 1 || cc.Text != string(tt.f.SeriesStatus) {
				t.Fatalf("%+v, want one coding and the CDSi status as text", cc)
			}
			if c := cc.Coding[0]; c.System != schedule.FHIRSystemForecastStatus || c.Code != tt.std || !r4[c.Code] || c.Display == "" {
				t.Errorf("coding %+v, want %s|%s", c, schedule.FHIRSystemForecastStatus, tt.std)
			}
		})
	}
	doses := []struct {
		s    schedule.Status
		code string
	}{
		{schedule.Valid, "valid"}, {schedule.NotValid, "notvalid"}, {schedule.Extraneous, "notvalid"}, {schedule.SubStandard, "notvalid"},
	}
	for _, tt := range doses {
		t.Run("dose/"+string(tt.s), func(t *testing.T) {
			cc := schedule.FHIRDoseStatus(tt.s)
			if len(cc.Coding) != 1 || cc.Coding[0].System != schedule.FHIRSystemDoseStatus || cc.Coding[0].Code != tt.code || cc.Text != string(tt.s) {
				t.Fatalf("%+v, want %s alone and the CDSi status as text", cc, tt.code)
			}
		})
	}
}
