package server

import (
	"context"
	"mime"
	"net/http"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

// handleEligibility answers: may this person, here, on this date, get a
// vaccine or a test, and at what cost? The facts in the body (residence
// status and the like) are used for this one decision and then forgotten:
// they are not logged, not stored and not audited.
func (s *Server) handleEligibility() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.policy == nil {
			s.writeError(w, r, registry.Errorf(registry.EUNAVAILABLE, "No policy packs are loaded."))
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				s.writeError(w, r, registry.FieldErrorf(registry.EUNSUPPORTED, "Content-Type", "Send the body as application/json."))
				return
			}
		}
		q, err := s.policy.DecodeRequest(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		dec, err := q.Decide()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, dec)
	})
}

// forecastResponse is a person's forecast: the design.md forecast JSON plus
// which schedule was used and how the birth date was read.
type forecastResponse struct {
	Schedule  string `json:"schedule"`
	AsOf      string `json:"as_of"`
	BirthDate string `json:"birth_date_used"`
	// BirthDateReading says how a partial or estimated birth date was
	// read for age rules: "exact", or "earliest" (a year-only or
	// year-month date read as its first possible day, which never makes a
	// person younger than they are).
	BirthDateReading string `json:"birth_date_reading"`
	Estimated        bool   `json:"birth_date_estimated,omitempty"`
	schedule.Result
}

// patientOf builds the schedule's view of a record: the birth date (read as
// its earliest possible day) and the completed doses, in order. It returns
// EINVALID naming birth_date if the record has none.
func (s *Server) patientOf(rec *openedRecord) (schedule.Patient, []int, string, error) {
	d := rec.Person.Demographics
	if d.BirthDate.IsZero() {
		return schedule.Patient{}, nil, "", registry.FieldErrorf(registry.EINVALID, "birth_date",
			"A forecast needs a birth date; an estimated year is enough.")
	}
	reading := "exact"
	if d.BirthDate.Day == 0 {
		reading = "earliest"
	}
	p := schedule.Patient{BirthDate: d.BirthDate.Earliest().Time()}
	switch d.Sex {
	case registry.SexFemale:
		p.Sex = "F"
	case registry.SexMale:
		p.Sex = "M"
	}
	var index []int // index[i] = position in rec.Vaccinations of patient dose i
	for i, v := range rec.Vaccinations {
		if v.Status != registry.StatusCompleted {
			continue
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
	return p, index, reading, nil
}

// scheduleFor returns the named schedule, or the server's default.
func (s *Server) scheduleFor(name string) (*schedule.Schedule, error) {
	if name == "" {
		name = s.defaultSchedule
	}
	sch, err := schedule.Load(name)
	if err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, "schedule", "Unknown schedule %q; use cdc, who or cn.", name)
	}
	return sch, nil
}

func (s *Server) handleForecast() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := cardFrom(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		q := r.URL.Query()
		sch, err := s.scheduleFor(q.Get("schedule"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		asOf, err := dateParam(r, "as_of", registry.DateOf(s.now()))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		rec, err := s.readRecord(r, code, "person.forecast", "forecast")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		p, _, reading, err := s.patientOf(rec)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		res, err := sch.Forecast(p, asOf.Time())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, forecastResponse{Schedule: sch.Name(), AsOf: asOf.String(),
			BirthDate: registry.DateOf(p.BirthDate).String(), BirthDateReading: reading,
			Estimated: rec.Person.Demographics.BirthDateEstimated, Result: res})
	})
}

// doseWarning tells the clinician about a dose that the schedule does not
// count. Haven records the dose anyway: the clinician decides.
type doseWarning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// evaluateDose evaluates the recorded dose v of person against their history
// with the server's default schedule. It returns no evaluation when the
// person has no birth date (nothing can be evaluated) or the product has no
// CVX code.
func (s *Server) evaluateDose(ctx context.Context, person *registry.SealedPerson, v registry.Vaccination) ([]schedule.Evaluation, []doseWarning) {
	opened, err := registry.OpenPerson(s.vault, *person)
	if err != nil {
		return nil, nil
	}
	if opened.Demographics.BirthDate.IsZero() {
		return nil, []doseWarning{{Code: "not_evaluated", Message: "No birth date on record, so the dose was not evaluated."}}
	}
	rec, err := s.openRecord(ctx, person.CardCode)
	if err != nil {
		return nil, nil
	}
	p, index, _, err := s.patientOf(rec)
	if err != nil {
		return nil, nil
	}
	sch, err := s.scheduleFor("")
	if err != nil {
		return nil, nil
	}
	asOf := s.now()
	if t := v.Date.Time(); t.After(asOf) {
		asOf = t
	}
	res, err := sch.Forecast(p, asOf.Add(24*time.Hour))
	if err != nil {
		return nil, []doseWarning{{Code: "not_evaluated", Message: registry.ErrorMessage(err)}}
	}
	for i, at := range index {
		if rec.Vaccinations[at].ID != v.ID {
			continue
		}
		evals := res.EvaluationsFor(i)
		var warns []doseWarning
		for _, e := range evals {
			if e.Status != schedule.Valid {
				warns = append(warns, doseWarning{Code: string(e.Status), Message: e.Reason})
			}
		}
		return evals, warns
	}
	return nil, nil
}

// vaccinationCreated writes the 201 answer to a recorded dose: the dose, its
// evaluation and any warning.
func (s *Server) vaccinationCreated(w http.ResponseWriter, r *http.Request, person *registry.SealedPerson, v registry.Vaccination) {
	out := s.vaccinationOut(v)
	out.Evaluation, out.Warnings = s.evaluateDose(r.Context(), person, v)
	encode(w, http.StatusCreated, out)
}
