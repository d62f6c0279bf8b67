package schedule_test

import (
	"github.com/haven-registry/haven/internal/testenv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/schedule"
)

// sharedTestdata returns ../shared/testdata (see testenv.SharedTestdata); the
// CDC cases must be there.
func sharedTestdata(t testing.TB) string {
	testenv.SharedTestdata(t, "cdsi", "cases")
	return testenv.SharedTestdata(t)
}

type tally struct{ pass, total int }

func runCaseFile(t *testing.T, s *schedule.Schedule, path string, byGroup map[string]*tally, verbose bool) []schedule.CaseResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cases, err := schedule.ParseCases(f, filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	var out []schedule.CaseResult
	for _, c := range cases {
		r := s.RunCase(c)
		g := c.VaccineGroup
		if n, ok := s.GroupName(g); ok {
			g = n
		}
		if byGroup[g] == nil {
			byGroup[g] = &tally{}
		}
		byGroup[g].total++
		if r.Pass {
			byGroup[g].pass++
		} else if verbose {
			t.Logf("%s %s [%s] %q: %s%s", filepath.Base(path), r.ID, g, r.Name, strings.Join(r.Mismatches, "; "), r.Error)
		}
		out = append(out, r)
	}
	return out
}

// conformanceFloor is the number of CDC cases (both files together) that
// passed when this test was last tightened. The test fails if fewer pass.
const conformanceFloor = 899

func TestCDCConformance(t *testing.T) {
	td := sharedTestdata(t)
	s, err := schedule.Load("cdc")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(td, "cdsi", "cases", "*.csv"))
	if len(files) == 0 {
		t.Fatal("no CDC case files")
	}
	byGroup := map[string]*tally{}
	total, pass := 0, 0
	for _, f := range files {
		fp, ft := 0, 0
		for _, r := range runCaseFile(t, s, f, byGroup, true) {
			ft++
			if r.Pass {
				fp++
			}
		}
		t.Logf("%s: %d / %d pass", filepath.Base(f), fp, ft)
		total += ft
		pass += fp
	}
	var names []string
	for g := range byGroup {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		t.Logf("%-24s %4d / %4d", g, byGroup[g].pass, byGroup[g].total)
	}
	t.Logf("all CDC cases: %d / %d pass", pass, total)
	covid := byGroup["COVID-19"]
	if covid == nil || covid.total != 63 {
		t.Errorf("expected 63 COVID-19 cases, found %v", covid)
	} else if covid.pass != covid.total {
		t.Errorf("COVID-19: %d / %d cases pass; all must", covid.pass, covid.total)
	}
	if pass < conformanceFloor {
		t.Errorf("only %d CDC cases pass; the recorded floor is %d", pass, conformanceFloor)
	}
}

// TestWHOAndChinaCases runs every CSV in testdata/who-cn against the schedule
// its file name starts with ("who-…", "cn-…"; see ScheduleForCaseFile). All
// of these cases are Haven's own and must pass.
func TestWHOAndChinaCases(t *testing.T) {
	dir := filepath.Join("testdata", "who-cn")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no %s folder yet: the WHO and China cases are not written", dir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("%s holds no case files", dir)
	}
	total := 0
	for _, f := range files {
		name := schedule.ScheduleForCaseFile(f)
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := schedule.Load(name)
			if err != nil {
				t.Fatalf("load schedule %q for %s: %v", name, f, err)
			}
			byGroup := map[string]*tally{}
			results := runCaseFile(t, s, f, byGroup, false)
			for _, r := range results {
				total++
				if !r.Pass {
					t.Errorf("%s %q: %s%s", r.ID, r.Name, strings.Join(r.Mismatches, "; "), r.Error)
				}
			}
		})
	}
	t.Logf("%d WHO/China cases run", total)
}

// TestWHOAndChinaSchedulesLoad checks that the who and cn supporting data,
// where present, load and serve the COVID-19 vaccine group.
func TestWHOAndChinaSchedulesLoad(t *testing.T) {
	for _, name := range []string{"who", "cn"} {
		t.Run(name, func(t *testing.T) {
			if files, _ := filepath.Glob(filepath.Join("data", name, "*.xml")); len(files) == 0 {
				t.Skipf("data/%s has no supporting data yet", name)
			}
			s, err := schedule.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := s.GroupName("COVID-19"); !ok {
				t.Errorf("schedule %s has no COVID-19 vaccine group", name)
			}
		})
	}
}
