package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Date is a civil (calendar) date with no time of day and no zone. It counts
// days so that comparisons and day arithmetic are integer operations. The
// zero Date means "no date".
type Date int32

// dateBias keeps every real date positive so that the zero value can mean
// "no date". Day 0 of days-from-civil is 1970-01-01.
const dateBias = 1 << 20

// Sentinels used by the Logic Specification for empty effective, cessation
// and age dates (CDSi §3.3, Table 3-4).
var (
	minDate = MakeDate(1900, 1, 1)
	maxDate = MakeDate(2999, 12, 31)
)

// MakeDate returns the Date for a valid year, month and day. It does not
// check validity; use ParseDate for untrusted input.
func MakeDate(y, m, d int) Date {
	return Date(daysFromCivil(y, m, d) + dateBias)
}

// DateOf returns the civil date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return MakeDate(y, int(m), d)
}

// IsZero reports whether d is the zero ("no date") value.
func (d Date) IsZero() bool { return d == 0 }

// Civil returns the year, month and day of d.
func (d Date) Civil() (y, m, day int) { return civilFromDays(int(d) - dateBias) }

// Time returns midnight UTC on d.
func (d Date) Time() time.Time {
	y, m, day := d.Civil()
	return time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC)
}

// String formats d as YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d == 0 {
		return ""
	}
	y, m, day := d.Civil()
	var b [10]byte
	b[0] = byte('0' + y/1000%10)
	b[1] = byte('0' + y/100%10)
	b[2] = byte('0' + y/10%10)
	b[3] = byte('0' + y%10)
	b[4] = '-'
	b[5] = byte('0' + m/10)
	b[6] = byte('0' + m%10)
	b[7] = '-'
	b[8] = byte('0' + day/10)
	b[9] = byte('0' + day%10)
	return string(b[:])
}

// AddDays returns d plus n days (CALCDT-3, CALCDT-4).
func (d Date) AddDays(n int) Date { return d + Date(n) }

// AddYears adds n calendar years, holding month and day (CALCDT-1). A date
// that does not exist moves to the first day of the next month (CALCDT-5).
func (d Date) AddYears(n int) Date {
	y, m, day := d.Civil()
	return rollDate(y+n, m, day)
}

// AddMonths adds n calendar months, holding the day (CALCDT-2), with the
// CALCDT-5 roll for dates that do not exist.
func (d Date) AddMonths(n int) Date {
	y, m, day := d.Civil()
	mm := (m - 1) + n
	y += floorDiv(mm, 12)
	mm = mm - floorDiv(mm, 12)*12
	return rollDate(y, mm+1, day)
}

// Add applies a CDSi duration: years first, then months, then weeks and days
// (CALCDT-6), rolling non-existent dates after each calendar step.
func (d Date) Add(u Duration) Date {
	if d == 0 {
		return 0
	}
	if u.Years == 0 && u.Months == 0 {
		return d + Date(u.Days)
	}
	y, m, day := d.Civil()
	return addCivil(y, m, day, u)
}

// addCivil is Date.Add for a date given by its civil parts: years, then
// months, each step moving a date that does not exist to the first day of
// the next month (CALCDT-5), then days (CALCDT-6).
func addCivil(y, m, d int, u Duration) Date {
	if u.Years != 0 {
		y += u.Years
		y, m, d = rollCivil(y, m, d)
	}
	if u.Months != 0 {
		mm := (m - 1) + u.Months
		y += floorDiv(mm, 12)
		m = mm - floorDiv(mm, 12)*12 + 1
		y, m, d = rollCivil(y, m, d)
	}
	return MakeDate(y, m, d) + Date(u.Days)
}

func rollCivil(y, m, d int) (int, int, int) {
	if d <= daysIn(y, m) {
		return y, m, d
	}
	if m == 12 {
		return y + 1, 1, 1
	}
	return y, m + 1, 1
}

func rollDate(y, m, day int) Date {
	if day > daysIn(y, m) {
		// CALCDT-5: move forward to the first day of the next month.
		if m == 12 {
			return MakeDate(y+1, 1, 1)
		}
		return MakeDate(y, m+1, 1)
	}
	return MakeDate(y, m, day)
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil and civilFromDays are Howard Hinnant's algorithms.
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// ParseDate parses YYYY-MM-DD (also YYYYMMDD and MM/DD/YYYY, the forms used
// in CDSi supporting data). It rejects dates that do not exist and years
// outside 1800..2999.
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	var y, m, d int
	var err error
	switch {
	case len(s) == 10 && s[4] == '-' && s[7] == '-':
		y, err = atoiDigits(s[0:4])
		if err == nil {
			m, err = atoiDigits(s[5:7])
		}
		if err == nil {
			d, err = atoiDigits(s[8:10])
		}
	case len(s) == 8:
		y, err = atoiDigits(s[0:4])
		if err == nil {
			m, err = atoiDigits(s[4:6])
		}
		if err == nil {
			d, err = atoiDigits(s[6:8])
		}
	case len(s) == 10 && s[2] == '/' && s[5] == '/':
		m, err = atoiDigits(s[0:2])
		if err == nil {
			d, err = atoiDigits(s[3:5])
		}
		if err == nil {
			y, err = atoiDigits(s[6:10])
		}
	default:
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	if err != nil {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	if y < 1800 || y > 2999 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, fmt.Errorf("date %q does not exist", s)
	}
	return MakeDate(y, m, d), nil
}

func atoiDigits(s string) (int, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a digit")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// Duration is a CDSi age or interval such as "6 months - 4 days": calendar
// years and months plus a signed number of days (weeks are stored as days).
// Set is false for an empty value ("n/a" or blank), which is different from
// "0 days".
type Duration struct {
	Years, Months, Days int
	Set                 bool
}

// ParseDuration parses the CDSi duration grammar:
//
//	duration = term { ("+" | "-") term }
//	term     = integer unit
//	unit     = "year" | "years" | "month" | "months" | "week" | "weeks" | "day" | "days"
//
// An empty string or "n/a" yields a Duration with Set false.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "n/a") {
		return Duration{}, nil
	}
	u := Duration{Set: true}
	f := strings.Fields(s)
	sign := 1
	for i := 0; i < len(f); {
		if f[i] == "+" || f[i] == "-" {
			if i == 0 {
				return Duration{}, fmt.Errorf("duration %q starts with an operator", s)
			}
			if f[i] == "-" {
				sign = -1
			} else {
				sign = 1
			}
			i++
			continue
		}
		if i+1 >= len(f) {
			return Duration{}, fmt.Errorf("duration %q: number without unit", s)
		}
		n, err := strconv.Atoi(f[i])
		if err != nil || n < 0 || n > 100000 {
			return Duration{}, fmt.Errorf("duration %q: bad number %q", s, f[i])
		}
		n *= sign
		switch strings.ToLower(f[i+1]) {
		case "year", "years":
			u.Years += n
		case "month", "months":
			u.Months += n
		case "week", "weeks":
			u.Days += 7 * n
		case "day", "days":
			u.Days += n
		default:
			return Duration{}, fmt.Errorf("duration %q: unknown unit %q", s, f[i+1])
		}
		i += 2
		if i < len(f) && f[i] != "+" && f[i] != "-" {
			return Duration{}, fmt.Errorf("duration %q: expected + or - after a term", s)
		}
	}
	return u, nil
}

// after returns base+u, or zero when base is zero or u is unset.
func after(base Date, u Duration) Date {
	if base == 0 || !u.Set {
		return 0
	}
	return base.Add(u)
}
