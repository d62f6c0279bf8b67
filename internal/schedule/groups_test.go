package schedule_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

func TestGroupsOfCVX(t *testing.T) {
	sch, err := schedule.Load("cdc")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cvx  string
		want []string
	}{
		{"208", []string{"COVID-19"}},
		{"03", []string{"MMR"}},
		{"3", []string{"MMR"}},
		{"94", []string{"MMR", "Varicella"}},
		{"000", nil},
	} {
		got := sch.GroupsOfCVX(tc.cvx)
		for _, g := range tc.want {
			if !slices.Contains(got, g) {
				t.Errorf("GroupsOfCVX(%s) = %v, want it to hold %s", tc.cvx, got, g)
			}
		}
		if tc.want == nil && got != nil {
			t.Errorf("GroupsOfCVX(%s) = %v, want nil", tc.cvx, got)
		}
	}
}

// TestForecastGroupsEvaluatesLikeForecast: evaluating a dose with only the
// vaccine groups of its CVX gives the evaluations the whole schedule gives
// it, which is what recording a dose relies on.
func TestForecastGroupsEvaluatesLikeForecast(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.Parse(time.DateOnly, s); return v }
	patients := []schedule.Patient{
		{BirthDate: d("1950-11-10"), Sex: "F", Doses: []schedule.Dose{{Date: d("2021-09-10"), CVX: "208"}, {Date: d("2021-10-01"), CVX: "208"}, {Date: d("2023-10-01"), CVX: "309"}}},
		{BirthDate: d("2020-01-15"), Doses: []schedule.Dose{{Date: d("2020-01-16"), CVX: "08"}, {Date: d("2020-03-15"), CVX: "20"}, {Date: d("2020-03-20"), CVX: "20"}, {Date: d("2021-01-20"), CVX: "94"}, {Date: d("2021-02-01"), CVX: "03"}}},
	}
	for _, name := range []string{"cdc", "who", "cn"} {
		sch, err := schedule.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for pi, p := range patients {
			asOf := d("2024-01-01")
			full, err := sch.Forecast(p, asOf)
			if registry.ErrorCode(err) == registry.EINVALID && name != "cdc" {
				continue // the who and cn schedules know COVID-19 vaccines only
			}
			if err != nil {
				t.Fatalf("%s patient %d: %v", name, pi, err)
			}
			for i, dose := range p.Doses {
				groups := sch.GroupsOfCVX(dose.CVX)
				if len(groups) == 0 {
					continue
				}
				part, err := sch.ForecastGroups(p, asOf, groups...)
				if err != nil {
					t.Fatalf("%s patient %d dose %d: %v", name, pi, i, err)
				}
				if want, got := full.EvaluationsFor(i), part.EvaluationsFor(i); !reflect.DeepEqual(want, got) {
					t.Errorf("%s patient %d dose %d (CVX %s): with its groups %v\n got %+v\nwant %+v", name, pi, i, dose.CVX, groups, got, want)
				}
			}
		}
	}
}
