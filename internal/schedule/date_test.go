package schedule_test

import (
	"testing"

	"github.com/haven-registry/haven/internal/schedule"
)

func mustDate(t testing.TB, s string) schedule.Date {
	t.Helper()
	d, err := schedule.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDateArithmetic checks the CDSi date rules (Logic Specification §3.4,
// CALCDT-1 … CALCDT-6) and the time.AddDate pitfalls of schedules.md §5.
func TestDateArithmetic(t *testing.T) {
	tests := []struct {
		name, from, dur, want string
	}{
		{"ok/CALCDT-1 years", "2000-01-01", "3 years", "2003-01-01"},
		{"ok/CALCDT-2 months", "2000-01-01", "6 months", "2000-07-01"},
		{"ok/CALCDT-2 months across year", "2000-11-01", "6 months", "2001-05-01"},
		{"ok/CALCDT-3 days", "2000-01-01", "3 days", "2000-01-04"},
		{"ok/CALCDT-3 weeks", "2000-01-01", "3 weeks", "2000-01-22"},
		{"ok/CALCDT-3 weeks leap", "2000-02-01", "5 weeks", "2000-03-07"},
		{"ok/CALCDT-3 weeks no leap", "2001-02-01", "5 weeks", "2001-03-08"},
		{"ok/CALCDT-4 minus days", "2000-01-15", "0 days - 4 days", "2000-01-11"},
		{"ok/CALCDT-5 sep 31", "2000-03-31", "6 months", "2000-10-01"},
		{"ok/CALCDT-5 feb 31", "2000-08-31", "6 months", "2001-03-01"},
		{"ok/CALCDT-5 jan 31 + 1 month", "2000-01-31", "1 month", "2000-03-01"},
		{"ok/CALCDT-5 leap day + 1 year", "2000-02-29", "1 year", "2001-03-01"},
		{"ok/CALCDT-6 months then days", "2000-01-31", "6 months - 4 days", "2000-07-27"},
		{"ok/roll then subtract", "2000-08-31", "6 months - 4 days", "2001-02-25"},
		{"ok/absolute minimum 8 weeks - 4 days", "2025-09-24", "8 weeks - 4 days", "2025-11-15"},
		{"ok/months plus weeks", "2024-01-31", "1 month + 4 weeks", "2024-03-29"},
		{"ok/negative months roll", "2000-03-31", "-1 months", "2000-03-01"},
		{"ok/december roll", "2000-05-31", "6 months", "2000-12-01"},
		{"ok/year end roll", "2000-10-31", "1 month", "2000-12-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u schedule.Duration
			var err error
			if tt.dur == "-1 months" {
				u = schedule.Duration{Months: -1, Set: true}
			} else if u, err = schedule.ParseDuration(tt.dur); err != nil {
				t.Fatal(err)
			}
			got := mustDate(t, tt.from).Add(u).String()
			if got != tt.want {
				t.Errorf("%s + %s = %s, want %s", tt.from, tt.dur, got, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want schedule.Duration
		bad  bool
	}{
		{"8 weeks - 4 days", schedule.Duration{Days: 52, Set: true}, false},
		{"6 months + 4 weeks", schedule.Duration{Months: 6, Days: 28, Set: true}, false},
		{"1 year", schedule.Duration{Years: 1, Set: true}, false},
		{"19 years - 4 days", schedule.Duration{Years: 19, Days: -4, Set: true}, false},
		{"0 days", schedule.Duration{Set: true}, false},
		{"", schedule.Duration{}, false},
		{"n/a", schedule.Duration{}, false},
		{"6 fortnights", schedule.Duration{}, true},
		{"six months", schedule.Duration{}, true},
		{"6", schedule.Duration{}, true},
		{"- 4 days", schedule.Duration{}, true},
		{"4 days 4 days", schedule.Duration{}, true},
	}
	for _, tt := range tests {
		got, err := schedule.ParseDuration(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("ParseDuration(%q) error = %v, want error %v", tt.in, err, tt.bad)
			continue
		}
		if !tt.bad && got != tt.want {
			t.Errorf("ParseDuration(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseDate(t *testing.T) {
	for _, s := range []string{"2025-02-29", "2025-13-01", "2025-04-31", "2025-1-01", "20250230", "abcd-ef-gh", "", "1700-01-01"} {
		if _, err := schedule.ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) accepted an impossible date", s)
		}
	}
	for _, s := range []string{"2024-02-29", "20250827", "01/01/1957"} {
		if _, err := schedule.ParseDate(s); err != nil {
			t.Errorf("ParseDate(%q): %v", s, err)
		}
	}
	if got := mustDate(t, "01/01/1957").String(); got != "1957-01-01" {
		t.Errorf("MM/DD/YYYY parsed as %s", got)
	}
}
