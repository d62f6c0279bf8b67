package clinic

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

// ForecastInput is what a forecast is asked for: which schedule (empty means
// the server's), as of which date (zero means today), and the CDSi
// observations the clinic knows at this visit (for example pregnancy). The
// observations are used for this answer only: they are never stored, logged
// or written to the access log.
type ForecastInput struct {
	Schedule     string
	AsOf         registry.Date
	Observations []Observation
}

// Observation is a CDSi observation known at a visit: a code the schedule's
// supporting data uses (see Observations), and for some (the onset of a
// pregnancy, 170) the date it began.
type Observation struct {
	Code string
	Date registry.Date
}

// ParseObservation reads an observation as "CODE" or "CODE:YYYY-MM-DD".
func ParseObservation(s string) (Observation, error) {
	code, date, dated := strings.Cut(strings.TrimSpace(s), ":")
	o := Observation{Code: code}
	if dated {
		d, err := registry.ParseDate(date)
		if err != nil {
			return o, fieldErr("observations", "Observation %s: %v.", code, err)
		}
		o.Date = d
	}
	return o, nil
}

// Observations lists the observations the server's schedule uses, with
// their official English titles and which need a date, for a form to offer.
// It reads nothing of any person.
func (s *Service) Observations() []schedule.ObservationInfo {
	sch, err := s.scheduleFor("")
	if err != nil {
		return nil
	}
	return sch.Observations()
}

// Flagged is a recorded dose that the forecast had to leave out, and why.
type Flagged struct {
	Record registry.ID
	Date   registry.Date
	Reason string // "before_birth" or "after_as_of"
}

// Forecast is a person's forecast: the schedule's result plus which schedule
// was used and how the birth date was read.
type Forecast struct {
	Schedule string
	AsOf     registry.Date
	// BirthDate is the date used for age rules, and BirthDateReading how a
	// partial date was read: "exact", or "earliest" (a year-only or
	// year-month date read as its first possible day, which never makes a
	// person younger than they are).
	BirthDate        registry.Date
	BirthDateReading string
	Estimated        bool
	Result           schedule.Result
	// Flagged lists recorded doses left out of the evaluation because they
	// cannot be right (before the birth date): they should be corrected.
	Flagged []Flagged
	// ByRecord holds the evaluations of each evaluated dose, by record ID.
	ByRecord map[registry.ID][]schedule.Evaluation
	// Unavailable, when set, says why there is no forecast: "no_birth_date"
	// or "unavailable" (a translation key suffix); the other fields are then
	// empty except Schedule.
	Unavailable string
}

// ForecastPerson forecasts the next doses of the person with the given card
// code. It is a person-level read: limited, and audited with the purpose
// "forecast" (never with the observations).
func (s *Service) ForecastPerson(ctx context.Context, a Actor, card registry.CardCode, in ForecastInput) (*Forecast, error) {
	if err := s.begin(a, ActPersonForecast); err != nil {
		return nil, err
	}
	sch, err := s.scheduleFor(in.Schedule)
	if err != nil {
		return nil, err
	}
	obs, err := observations(sch, in.Observations)
	if err != nil {
		return nil, err
	}
	asOf := in.AsOf
	if asOf.IsZero() {
		asOf = registry.DateOf(s.now())
	}
	rec, err := s.read(ctx, a, card, ActPersonForecast, "forecast")
	if err != nil {
		return nil, err
	}
	f, err := s.forecastWith(sch, rec, asOf, obs)
	if err != nil {
		return nil, err
	}
	if f.Unavailable == "no_birth_date" {
		return nil, registry.FieldErrorf(registry.EINVALID, "birth_date", "A forecast needs a birth date; an estimated year is enough.")
	}
	return f, nil
}

// maxObservations bounds the observations of one forecast.
const maxObservations = 32

// observations validates a visit's observations against the schedule: each
// must be a code its supporting data uses, given once, with a date where it
// needs one (the onset of a pregnancy). They are used for one answer only.
func observations(sch *schedule.Schedule, in []Observation) ([]schedule.Observation, error) {
	if len(in) > maxObservations {
		return nil, fieldErr("observations", "At most %d observations.", maxObservations)
	}
	var out []schedule.Observation
	seen := map[string]bool{}
	var needs []schedule.ObservationInfo
	for _, o := range in {
		info, ok := sch.Observation(o.Code)
		if !ok {
			return nil, fieldErr("observations", "The %s schedule does not use the observation %q.", sch.Name(), o.Code)
		}
		if seen[info.Code] {
			return nil, fieldErr("observations", "The observation %s is given twice.", info.Code)
		}
		seen[info.Code] = true
		if info.Dated && o.Date.IsZero() {
			return nil, fieldErr("observations", "The observation %s (%s) needs the date it began, as %s:YYYY-MM-DD.", info.Code, info.Title, info.Code)
		}
		if len(info.Needs) > 0 {
			needs = append(needs, info)
		}
		ob := schedule.Observation{Code: info.Code}
		if !o.Date.IsZero() {
			ob.Date = o.Date.Time()
		}
		out = append(out, ob)
	}
	// Some observations mean nothing without a dated one beside them: a
	// pregnancy's dose is timed from its onset.
	for _, info := range needs {
		for _, need := range info.Needs {
			if !seen[need] {
				title := need
				if n, ok := sch.Observation(need); ok {
					title = n.Title
				}
				return nil, fieldErr("observations", "The observation %s (%s) needs %s (%s) with its date, as %s:YYYY-MM-DD.",
					info.Code, info.Title, need, title, need)
			}
		}
	}
	return out, nil
}

// scheduleFor returns the named schedule, or the server's default.
func (s *Service) scheduleFor(name string) (*schedule.Schedule, error) {
	if name == "" {
		name = s.schedule
	}
	sch, err := schedule.Load(name)
	if err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, "schedule", "Unknown schedule %q; use cdc, who or cn.", name)
	}
	return sch, nil
}

// patient builds the schedule's view of a record as of asOf: the birth date
// (read as its earliest possible day) and the completed doses, in order.
// index[i] is the position in rec.Vaccinations of patient dose i. Doses that
// cannot be right (before the birth date) are left out and flagged.
func (s *Service) patient(rec *registry.Record, asOf registry.Date, obs []schedule.Observation) (p schedule.Patient, index []int, flagged []Flagged) {
	d := rec.Person.Demographics
	p = schedule.Patient{BirthDate: d.BirthDate.Earliest().Time(), Observations: obs}
	switch d.Sex {
	case registry.SexFemale:
		p.Sex = "F"
	case registry.SexMale:
		p.Sex = "M"
	}
	for i, v := range rec.Vaccinations {
		if v.Status != registry.StatusCompleted {
			continue
		}
		if beforeBirth(v.Date, d.BirthDate) {
			flagged = append(flagged, Flagged{Record: v.ID, Date: v.Date, Reason: "before_birth"})
			continue
		}
		if v.Date.After(asOf) {
			continue // not yet given as of the date asked
		}
		dose := schedule.Dose{Date: v.Date.Time()}
		if prod, ok := s.catalog.ByID(v.Product); ok {
			dose.CVX, dose.MVX = prod.CVXCode(), prod.MVX
		}
		if dose.CVX == "" {
			continue
		}
		p.Doses = append(p.Doses, dose)
		index = append(index, i)
	}
	return p, index, flagged
}

// forecastWith forecasts rec with sch as of asOf.
func (s *Service) forecastWith(sch *schedule.Schedule, rec *registry.Record, asOf registry.Date, obs []schedule.Observation) (*Forecast, error) {
	d := rec.Person.Demographics
	f := &Forecast{Schedule: sch.Name(), AsOf: asOf}
	if d.BirthDate.IsZero() {
		f.Unavailable = "no_birth_date"
		return f, nil
	}
	f.BirthDateReading, f.Estimated = "exact", d.BirthDateEstimated
	if d.BirthDate.Day == 0 {
		f.BirthDateReading = "earliest"
	}
	p, index, flagged := s.patient(rec, asOf, obs)
	f.BirthDate, f.Flagged = registry.DateOf(p.BirthDate), flagged
	res, err := sch.Forecast(p, asOf.Time())
	if err != nil {
		return nil, err
	}
	f.Result = res
	f.ByRecord = make(map[registry.ID][]schedule.Evaluation, len(index))
	for i, at := range index {
		f.ByRecord[rec.Vaccinations[at].ID] = res.EvaluationsFor(i)
	}
	return f, nil
}

// forecast is forecastWith for the pages' previews: it never fails, and says
// in Unavailable why there is no forecast.
func (s *Service) forecast(rec *registry.Record, schedName string, asOf time.Time, obs []schedule.Observation) *Forecast {
	sch, err := s.scheduleFor(schedName)
	if err != nil {
		return &Forecast{Unavailable: "unavailable"}
	}
	f, err := s.forecastWith(sch, rec, registry.DateOf(asOf), obs)
	if err != nil {
		s.logger.Warn("forecast failed", "schedule", sch.Name(), "error", err.Error())
		return &Forecast{Schedule: sch.Name(), Unavailable: "unavailable"}
	}
	return f
}

// withDose returns rec with v added to its vaccinations in date order.
func withDose(rec *registry.Record, v registry.Vaccination) *registry.Record {
	with := *rec
	with.Vaccinations = append(slices.Clone(rec.Vaccinations), v)
	slices.SortStableFunc(with.Vaccinations, func(x, y registry.Vaccination) int { return x.Date.Time().Compare(y.Date.Time()) })
	return &with
}

// evaluate evaluates v as a dose added to rec's history (which does not hold
// it) with the server's schedule, as of the day after v or today, whichever
// is later. It never fails: when the dose cannot be evaluated the reason is
// a warning, so that a durable write is never answered with an error.
func (s *Service) evaluate(rec *registry.Record, v registry.Vaccination) ([]schedule.Evaluation, []Warning) {
	if rec.Person.Demographics.BirthDate.IsZero() {
		return nil, []Warning{{Code: "not_evaluated", Message: "No birth date on record, so the dose was not evaluated.", NotEvaluated: "no_birth_date"}}
	}
	sch, err := s.scheduleFor("")
	if err != nil {
		return nil, []Warning{{Code: "not_evaluated", Message: registry.ErrorMessage(err), NotEvaluated: "unavailable"}}
	}
	v.Status = registry.StatusCompleted
	with := withDose(rec, v)
	asOf := registry.DateOf(s.now())
	if v.Date.After(asOf) {
		asOf = v.Date
	}
	asOf = registry.DateOf(asOf.Time().AddDate(0, 0, 1))
	p, index, _ := s.patient(with, asOf, nil)
	pos := slices.IndexFunc(index, func(at int) bool { return with.Vaccinations[at].ID == v.ID })
	if pos < 0 {
		return nil, []Warning{{Code: "not_evaluated", Message: "This product is not part of the schedule, so the dose was not evaluated.", NotEvaluated: "product_not_evaluated"}}
	}
	// Only the vaccine groups the dose counts for are evaluated: a dose of
	// a COVID-19 vaccine needs the COVID-19 series, not every antigen of
	// the schedule (which took most of a dose's time).
	var res schedule.Result
	if groups := sch.GroupsOfCVX(p.Doses[pos].CVX); len(groups) > 0 {
		res, err = sch.ForecastGroups(p, asOf.Time(), groups...)
	} else {
		res, err = sch.Forecast(p, asOf.Time())
	}
	if err != nil {
		s.logger.Warn("dose evaluation failed", "schedule", sch.Name(), "error", err.Error())
		return nil, []Warning{{Code: "not_evaluated", Message: "The dose could not be evaluated.", NotEvaluated: "unavailable"}}
	}
	evals := res.EvaluationsFor(pos)
	var warns []Warning
	for _, e := range evals {
		if e.Status != schedule.Valid {
			warns = append(warns, Warning{Code: string(e.Status), Message: e.Reason})
		}
	}
	return evals, warns
}

// Overview is what the person page shows: the record and its forecast with
// the server's schedule as of now. It is a read with a purpose, like
// ReadRecord.
type Overview struct {
	Record   *registry.Record
	Forecast *Forecast
}

// Overview reads a person's record for the stated purpose and forecasts it
// with the server's schedule and the visit's observations (used for this
// answer only). The forecast never fails the read: Forecast.Unavailable says
// why there is none.
func (s *Service) Overview(ctx context.Context, a Actor, card registry.CardCode, purpose string, visit []Observation) (*Overview, error) {
	if err := s.begin(a, ActPersonRead); err != nil {
		return nil, err
	}
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	sch, err := s.scheduleFor("")
	if err != nil {
		return nil, err
	}
	obs, err := observations(sch, visit)
	if err != nil {
		return nil, err
	}
	rec, err := s.read(ctx, a, card, ActPersonRead, purpose)
	if err != nil {
		return nil, err
	}
	return &Overview{Record: rec, Forecast: s.forecast(rec, "", s.now(), obs)}, nil
}

// History is a dose history given by a caller rather than read from the
// registry (for example an EHR's, through FHIR $immds-forecast): nothing of
// it is stored, and no person is registered.
type History struct {
	Schedule  string               // "" is the server's schedule
	AsOf      registry.Date        // the assessment date; zero means today
	BirthDate registry.PartialDate // read as its earliest day, as for a person
	Sex       registry.Sex
	// Doses in the order the caller gives them: the evaluations' DoseIndex
	// indexes this slice.
	Doses        []HistoryDose
	Observations []Observation
}

// HistoryDose is one dose of a History.
type HistoryDose struct {
	Date     registry.Date
	CVX, MVX string
}

// maxHistoryDoses bounds a given history.
const maxHistoryDoses = 200

// EvaluateHistory evaluates a given history with the schedule and forecasts
// it, storing nothing. It is limited like a person-level read and audited
// (purpose forecast, with no subject: there is no person). Returns EINVALID
// naming birth_date, doses, doses[i].date or observations.
func (s *Service) EvaluateHistory(ctx context.Context, a Actor, h History) (*Forecast, error) {
	if err := s.begin(a, ActHistoryEvaluate); err != nil {
		return nil, err
	}
	sch, err := s.scheduleFor(h.Schedule)
	if err != nil {
		return nil, err
	}
	if err := s.limitRead(a, ""); err != nil {
		return nil, err
	}
	if h.BirthDate.IsZero() {
		return nil, fieldErr("birth_date", "A forecast needs a birth date; an estimated year is enough.")
	}
	if len(h.Doses) > maxHistoryDoses {
		return nil, fieldErr("doses", "At most %d doses.", maxHistoryDoses)
	}
	asOf := h.AsOf
	if asOf.IsZero() {
		asOf = registry.DateOf(s.now())
	}
	obs, err := observations(sch, h.Observations)
	if err != nil {
		return nil, err
	}
	p := schedule.Patient{BirthDate: h.BirthDate.Earliest().Time(), Observations: obs}
	switch h.Sex {
	case registry.SexFemale:
		p.Sex = "F"
	case registry.SexMale:
		p.Sex = "M"
	}
	for i, d := range h.Doses {
		field := fmt.Sprintf("doses[%d].date", i)
		if beforeBirth(d.Date, h.BirthDate) {
			return nil, fieldErr(field, "The dose is dated before the birth date.")
		}
		if d.Date.After(asOf) {
			return nil, fieldErr(field, "The dose is dated after the assessment date.")
		}
		p.Doses = append(p.Doses, schedule.Dose{Date: d.Date.Time(), CVX: d.CVX, MVX: d.MVX})
	}
	res, err := sch.Forecast(p, asOf.Time())
	if err != nil {
		return nil, err
	}
	if err := s.trace(ctx, a, ActHistoryEvaluate, "forecast", ""); err != nil {
		return nil, err
	}
	reading := "exact"
	if h.BirthDate.Day == 0 {
		reading = "earliest"
	}
	return &Forecast{Schedule: sch.Name(), AsOf: asOf, BirthDate: registry.DateOf(p.BirthDate), BirthDateReading: reading, Result: res}, nil
}
