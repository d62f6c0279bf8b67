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
// suppressed (CMS cell-size rule). It is also the least k Build and Gaps
// accept: a smaller k is not safe for the people Haven serves.
const DefaultK = 11

// BlockWeeks is the width of a release block. Each ISO year is cut into
// fixed blocks of four ISO weeks (1–4, 5–8, …, 45–48), the last block
// taking weeks 49 to 52 or 53. Tables are only ever made for whole,
// finished blocks, so two releases never overlap in part and cannot be
// differenced.
const BlockWeeks = 4

// DefaultMaxDose groups dose numbers from it up into one row ("4+").
const DefaultMaxDose = 4

// maxWeeks bounds the period a coverage request may span.
const maxWeeks = 262

// Options fix the shape of the coverage tables. From, To and GeneratedAt
// are required; everything else has a default. Operators set K and Noise;
// they must not come from the analyst's request, or an analyst could ask
// for a smaller k or average many noise draws.
type Options struct {
	From, To      time.Time // the period: the blocks whose ISO weeks all lie from From's week to To's week
	K             int       // smallest published count; 0 means DefaultK; never below DefaultK
	MaxDose       int       // dose numbers ≥ MaxDose share a row; 0 means DefaultMaxDose
	Jurisdictions []string  // the fixed row set of the tests table and the dose tables to make; nil: those in the data
	Products      []string  // the fixed products of each dose table; nil: those in the data, across all jurisdictions
	Noise         *Noise    // optional noise; nil for none
	NoiseKey      []byte    // if set (≥ 32 bytes), noise is drawn from a stream keyed by it and the table, so asking again gives the same noise
	Rand          io.Reader // noise randomness when NoiseKey is nil; nil means crypto/rand
	GeneratedAt   time.Time // the release time: only blocks that ended before it are published
}

func (o *Options) normalise() error {
	if o.From.IsZero() || o.To.IsZero() {
		return registry.FieldErrorf(registry.EINVALID, "from", "the period needs from and to")
	}
	if o.GeneratedAt.IsZero() {
		return registry.FieldErrorf(registry.EINVALID, "generated_at", "the release time is required")
	}
	if o.NoiseKey != nil && len(o.NoiseKey) < 32 {
		return registry.FieldErrorf(registry.EINVALID, "noise_key", "the noise key must be at least 32 bytes")
	}
	if o.To.Before(o.From) {
		return registry.FieldErrorf(registry.EINVALID, "to", "to is before from")
	}
	if o.K == 0 {
		o.K = DefaultK
	}
	if o.K < DefaultK {
		return registry.FieldErrorf(registry.EINVALID, "k", "k must be at least %d", DefaultK)
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

// block is one fixed release block: its label and the Mondays of its weeks.
type block struct {
	label   string
	mondays []time.Time
}

// isoWeek1 returns the Monday of ISO week 1 of ISO year y.
func isoWeek1(y int) time.Time { return monday(time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)) }

// blockOf returns the fixed block that holds the ISO week starting on
// Monday m.
func blockOf(m time.Time) block {
	y, w := m.ISOWeek()
	idx := min((w-1)/BlockWeeks, 52/BlockWeeks-1) // week 53 joins the last block
	first := isoWeek1(y).AddDate(0, 0, 7*BlockWeeks*idx)
	n := BlockWeeks
	if idx == 52/BlockWeeks-1 {
		n = int(isoWeek1(y+1).Sub(first).Hours()/24) / 7
	}
	b := block{}
	for i := 0; i < n; i++ {
		b.mondays = append(b.mondays, first.AddDate(0, 0, 7*i))
	}
	b.label = Week(b.mondays[0]) + "/" + Week(b.mondays[n-1])
	return b
}

// blocksWithin lists the fixed blocks whose weeks all lie between from's
// week and to's week and that ended before asOf.
func blocksWithin(from, to, asOf time.Time) []block {
	first, last, now := monday(from), monday(to), monday(asOf)
	var out []block
	for m := first; !m.After(last); {
		b := blockOf(m)
		end := b.mondays[len(b.mondays)-1]
		if !b.mondays[0].Before(first) && !end.After(last) && end.Before(now) {
			out = append(out, b)
		}
		m = end.AddDate(0, 0, 7)
	}
	return out
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
