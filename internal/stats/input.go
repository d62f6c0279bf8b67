package stats

import (
	"fmt"
	"io"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// DoseRow is one count of doses the store feeds in: how many doses of
// Product, as dose number DoseNumber, were given at Site (in Jurisdiction)
// on Date. It has no person in it, and no field for residence status or any
// other eligibility input: there is no status breakdown to make. Stores may
// send one row per dose (Count 1) or pre-aggregate. Only completed records
// belong here, never ones entered in error.
type DoseRow struct {
	Jurisdiction string        `json:"jurisdiction"`
	Site         string        `json:"site"`
	Product      string        `json:"product"`
	DoseNumber   int           `json:"dose_number"` // 1 for a person's first dose of the product's vaccine group, …
	Date         registry.Date `json:"date"`
	Count        int64         `json:"count"`
}

// TestRow is a count of tests done at Site (in Jurisdiction) on Date.
type TestRow struct {
	Jurisdiction string        `json:"jurisdiction"`
	Site         string        `json:"site"`
	Date         registry.Date `json:"date"`
	Count        int64         `json:"count"`
}

// DefaultK is the smallest count published: cells from 1 to DefaultK-1 are
// suppressed (CMS cell-size rule).
const DefaultK = 11

// DefaultMaxDose groups dose numbers from it up into one row ("4+").
const DefaultMaxDose = 4

// maxWeeks bounds the period of a coverage table.
const maxWeeks = 262

// Options fix the shape of the coverage tables. From and To are required;
// everything else has a default.
type Options struct {
	From, To      time.Time // the period: ISO weeks from From's week to To's week, inclusive
	K             int       // smallest published count; 0 means DefaultK; at least 3
	MaxDose       int       // dose numbers ≥ MaxDose share a row; 0 means DefaultMaxDose
	Jurisdictions []string  // the fixed row set of the tests table and the dose tables to make; nil: those in the data
	Products      []string  // the fixed products of each dose table; nil: those in the data, across all jurisdictions
	Noise         *Noise    // optional noise; nil for none
	Rand          io.Reader // noise randomness; nil means crypto/rand
	GeneratedAt   time.Time // stamped on the output; time is an input
}

func (o *Options) normalise() error {
	if o.From.IsZero() || o.To.IsZero() {
		return registry.FieldErrorf(registry.EINVALID, "from", "the period needs from and to")
	}
	if o.To.Before(o.From) {
		return registry.FieldErrorf(registry.EINVALID, "to", "to is before from")
	}
	if o.K == 0 {
		o.K = DefaultK
	}
	if o.K < 3 {
		return registry.FieldErrorf(registry.EINVALID, "k", "k must be at least 3")
	}
	if o.MaxDose == 0 {
		o.MaxDose = DefaultMaxDose
	}
	if o.MaxDose < 1 || o.MaxDose > 20 {
		return registry.FieldErrorf(registry.EINVALID, "max_dose", "max_dose must be 1 to 20")
	}
	if n := len(weeksBetween(o.From, o.To, maxWeeks+1)); n > maxWeeks {
		return registry.FieldErrorf(registry.EINVALID, "to", "the period is longer than %d weeks", maxWeeks)
	}
	return nil
}

// Week returns the ISO 8601 week of a date as "2026-W05".
func Week(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// monday returns the Monday that starts t's ISO week, at midnight UTC.
func monday(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	wd := (int(d.Weekday()) + 6) % 7 // Monday 0 … Sunday 6
	return d.AddDate(0, 0, -wd)
}

// weeksBetween lists the ISO weeks from from's to to's, at most limit.
func weeksBetween(from, to time.Time, limit int) []string {
	var out []string
	end := monday(to)
	for d := monday(from); !d.After(end) && len(out) < limit; d = d.AddDate(0, 0, 7) {
		out = append(out, Week(d))
	}
	return out
}

// doseLabel names a dose-number row: "1", "2", …, "4+".
func doseLabel(n, max int) string {
	if n >= max {
		return fmt.Sprintf("%d+", max)
	}
	return fmt.Sprint(n)
}

func checkDose(i int, r DoseRow) error {
	f := fmt.Sprintf("doses[%d]", i)
	switch {
	case r.Jurisdiction == "":
		return registry.FieldErrorf(registry.EINVALID, f+".jurisdiction", "jurisdiction is required")
	case r.Product == "":
		return registry.FieldErrorf(registry.EINVALID, f+".product", "product is required")
	case r.DoseNumber < 1:
		return registry.FieldErrorf(registry.EINVALID, f+".dose_number", "dose number must be at least 1")
	case r.Date.IsZero():
		return registry.FieldErrorf(registry.EINVALID, f+".date", "date is required")
	case r.Count < 1:
		return registry.FieldErrorf(registry.EINVALID, f+".count", "count must be at least 1")
	}
	return nil
}

func checkTest(i int, r TestRow) error {
	f := fmt.Sprintf("tests[%d]", i)
	switch {
	case r.Jurisdiction == "":
		return registry.FieldErrorf(registry.EINVALID, f+".jurisdiction", "jurisdiction is required")
	case r.Date.IsZero():
		return registry.FieldErrorf(registry.EINVALID, f+".date", "date is required")
	case r.Count < 1:
		return registry.FieldErrorf(registry.EINVALID, f+".count", "count must be at least 1")
	}
	return nil
}
