package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// MaxInputBytes bounds the size of a forecast input document.
const MaxInputBytes = 1 << 20

// Input is the JSON forecast input of design.md:
//
//	{"birth_date":"2025-05-10","sex":"F","assessment_date":"2025-11-10",
//	 "doses":[{"date":"2025-06-10","cvx":"511","mvx":"SNV"}],
//	 "observations":[{"code":"055","date":"2025-01-01"}]}
//
// observations, each observation's date, mvx, sex and assessment_date are
// optional. birth_country is an optional Haven extension.
type Input struct {
	BirthDate      string             `json:"birth_date"`
	Sex            string             `json:"sex,omitempty"`
	BirthCountry   string             `json:"birth_country,omitempty"`
	AssessmentDate string             `json:"assessment_date,omitempty"`
	Doses          []InputDose        `json:"doses"`
	Observations   []InputObservation `json:"observations,omitempty"`
}

// InputDose is one dose of an Input.
type InputDose struct {
	Date string `json:"date"`
	CVX  string `json:"cvx"`
	MVX  string `json:"mvx,omitempty"`
}

// InputObservation is one coded observation of an Input.
type InputObservation struct {
	Code string `json:"code"`
	Date string `json:"date,omitempty"`
}

// ParseInput decodes and validates a forecast input document. Unknown fields,
// trailing data and documents over MaxInputBytes are rejected. It returns the
// patient and the assessment date (zero when the document has none, so that
// the caller supplies it). Every error names its field, for example
// "doses[1].date" for a date that does not exist. An empty document or an
// empty history (no "doses", or "doses": []) is EINVALID: a forecast needs a
// history to evaluate. (Schedule.Forecast itself accepts a patient with no
// doses, as the CDC test cases for newborns require.)
func ParseInput(r io.Reader) (Patient, time.Time, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxInputBytes+1))
	if err != nil {
		return Patient{}, time.Time{}, registry.Errorf(registry.EINVALID, "read forecast input: %v", err)
	}
	if len(b) > MaxInputBytes {
		return Patient{}, time.Time{}, registry.Errorf(registry.ETOOLARGE, "forecast input is larger than %d bytes", MaxInputBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return Patient{}, time.Time{}, registry.FieldErrorf(registry.EINVALID, "doses", "empty input: no patient and no immunization history")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var in Input
	if err := dec.Decode(&in); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return Patient{}, time.Time{}, registry.FieldErrorf(registry.EMALFORMED, te.Field, "wrong JSON type: %v", err)
		case errors.As(err, &se):
			return Patient{}, time.Time{}, registry.Errorf(registry.EMALFORMED, "forecast input is not JSON (offset %d): %v", se.Offset, err)
		}
		return Patient{}, time.Time{}, registry.Errorf(registry.EMALFORMED, "forecast input: %v", err)
	}
	if dec.More() {
		return Patient{}, time.Time{}, registry.Errorf(registry.EMALFORMED, "forecast input: trailing data after the JSON object")
	}
	return in.Patient()
}

// Patient validates the input and converts it; see ParseInput.
func (in Input) Patient() (Patient, time.Time, error) {
	var p Patient
	var asOf time.Time
	var err error
	if p.BirthDate, err = inputDate("birth_date", in.BirthDate, true); err != nil {
		return p, asOf, err
	}
	if asOf, err = inputDate("assessment_date", in.AssessmentDate, false); err != nil {
		return p, asOf, err
	}
	p.Sex = in.Sex
	p.BirthCountry = in.BirthCountry
	if len(in.Doses) == 0 {
		return p, asOf, registry.FieldErrorf(registry.EINVALID, "doses", "empty history: at least one dose is required")
	}
	for i, d := range in.Doses {
		f := fmt.Sprintf("doses[%d]", i)
		t, err := inputDate(f+".date", d.Date, true)
		if err != nil {
			return p, asOf, err
		}
		if strings.TrimSpace(d.CVX) == "" {
			return p, asOf, registry.FieldErrorf(registry.EINVALID, f+".cvx", "CVX code is required")
		}
		if t.Before(p.BirthDate) {
			return p, asOf, registry.FieldErrorf(registry.EINVALID, f+".date", "dose date %s is before the birth date %s", d.Date, in.BirthDate)
		}
		p.Doses = append(p.Doses, Dose{Date: t, CVX: d.CVX, MVX: d.MVX})
	}
	for i, o := range in.Observations {
		f := fmt.Sprintf("observations[%d]", i)
		if strings.TrimSpace(o.Code) == "" {
			return p, asOf, registry.FieldErrorf(registry.EINVALID, f+".code", "observation code is required")
		}
		t, err := inputDate(f+".date", o.Date, false)
		if err != nil {
			return p, asOf, err
		}
		p.Observations = append(p.Observations, Observation{Code: o.Code, Date: t})
	}
	return p, asOf, nil
}

func inputDate(field, s string, required bool) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		if required {
			return time.Time{}, registry.FieldErrorf(registry.EINVALID, field, "date is required")
		}
		return time.Time{}, nil
	}
	if t := strings.TrimSpace(s); len(t) != 10 || t[4] != '-' || t[7] != '-' {
		return time.Time{}, registry.FieldErrorf(registry.EINVALID, field, "date %q is not YYYY-MM-DD", s)
	}
	d, err := ParseDate(s)
	if err != nil {
		return time.Time{}, registry.FieldErrorf(registry.EINVALID, field, "%v", err)
	}
	return d.Time(), nil
}
