package registry

import (
	"fmt"
	"strconv"
	"time"
)

// Date is a calendar day with no time zone, as written on a vaccination card.
// The zero Date is "no date".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads YYYY-MM-DD and rejects days that do not exist (2021-02-30).
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || len(s) != 10 {
		return Date{}, fmt.Errorf("%q is not a date in the form YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// Time returns midnight UTC at the start of d.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// After reports whether d is later than e.
func (d Date) After(e Date) bool { return d.Time().After(e.Time()) }

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// MarshalText writes YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// PartialDate is a birth date that may be known only to the year or month:
// "1978", "1978-04" or "1978-04-23". Estimated records that the date was
// guessed (for example from apparent age) rather than documented.
type PartialDate struct {
	Year, Month, Day int // Month and Day are 0 when unknown
}

// ParsePartialDate reads YYYY, YYYY-MM or YYYY-MM-DD.
func ParsePartialDate(s string) (PartialDate, error) {
	bad := fmt.Errorf("%q is not a date in the form YYYY, YYYY-MM or YYYY-MM-DD", s)
	switch len(s) {
	case 4, 7, 10:
	default:
		return PartialDate{}, bad
	}
	y, err := strconv.Atoi(s[:4])
	if err != nil || y < 1850 || y > 9999 {
		return PartialDate{}, bad
	}
	p := PartialDate{Year: y}
	if len(s) >= 7 {
		if s[4] != '-' {
			return PartialDate{}, bad
		}
		m, err := strconv.Atoi(s[5:7])
		if err != nil || m < 1 || m > 12 {
			return PartialDate{}, bad
		}
		p.Month = m
	}
	if len(s) == 10 {
		d, err := ParseDate(s)
		if err != nil {
			return PartialDate{}, bad
		}
		p.Day = d.Day
	}
	return p, nil
}

// IsZero reports whether no part of the date is known.
func (p PartialDate) IsZero() bool { return p.Year == 0 }

func (p PartialDate) String() string {
	switch {
	case p.Year == 0:
		return ""
	case p.Month == 0:
		return fmt.Sprintf("%04d", p.Year)
	case p.Day == 0:
		return fmt.Sprintf("%04d-%02d", p.Year, p.Month)
	}
	return fmt.Sprintf("%04d-%02d-%02d", p.Year, p.Month, p.Day)
}

// Earliest returns the first day the partial date may stand for (the reading
// used for age rules: a person born "1978" is treated as born on 1978-01-01,
// which never makes them younger than they are). The zero PartialDate gives
// the zero Date.
func (p PartialDate) Earliest() Date {
	if p.Year == 0 {
		return Date{}
	}
	m, d := p.Month, p.Day
	if m == 0 {
		m = 1
	}
	if d == 0 {
		d = 1
	}
	return Date{p.Year, time.Month(m), d}
}
