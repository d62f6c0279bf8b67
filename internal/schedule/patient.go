package schedule

import (
	"time"
)

// Patient is the input to a forecast: what the Logic Specification calls the
// patient, the immunization history and the active patient observations.
// Dates are civil dates; only the year, month and day of a time.Time are used.
type Patient struct {
	BirthDate    time.Time
	Sex          string // "F", "M" or "" (unknown); "female"/"male" are accepted too
	BirthCountry string // optional; used only for birth-date evidence of immunity
	Doses        []Dose
	Observations []Observation
}

// Dose is one vaccine dose administered.
type Dose struct {
	Date time.Time
	CVX  string
	MVX  string // optional
}

// Observation is a CDSi coded patient observation (for example "055",
// health care personnel). Date is optional: the zero time means the
// observation is active with no known start.
type Observation struct {
	Code string
	Date time.Time
}

// Status is the evaluation status of one dose for one antigen.
type Status string

// Evaluation statuses (Logic Specification Table 3-1).
const (
	Valid       Status = "valid"
	NotValid    Status = "not_valid"
	Extraneous  Status = "extraneous"
	SubStandard Status = "sub_standard"
)

// SeriesStatus is the status of a patient series or vaccine group forecast
// (Logic Specification Table 3-3).
type SeriesStatus string

// Series statuses.
const (
	NotComplete     SeriesStatus = "not_complete"
	Complete        SeriesStatus = "complete"
	Immune          SeriesStatus = "immune"
	Contraindicated SeriesStatus = "contraindicated"
	AgedOut         SeriesStatus = "aged_out"
	NotRecommended  SeriesStatus = "not_recommended"
)

// Evaluation is the evaluation of one dose for one antigen, taken from the
// antigen's best patient series.
type Evaluation struct {
	DoseIndex int    `json:"-"`
	Date      string `json:"date"`
	CVX       string `json:"cvx"`
	Antigen   string `json:"antigen"`
	Status    Status `json:"status"`
	Reason    string `json:"reason"`
	Series    string `json:"-"` // the patient series the status comes from
}

// Forecast is the forecast of one vaccine group. Dates are YYYY-MM-DD, or ""
// where the Logic Specification leaves them empty (for example past_due when
// there is no latest recommended age or interval, and every date when the
// series is complete).
type Forecast struct {
	VaccineGroup string       `json:"vaccine_group"`
	SeriesStatus SeriesStatus `json:"series_status"`
	Earliest     string       `json:"earliest"`
	Recommended  string       `json:"recommended"`
	PastDue      string       `json:"past_due"`
	Latest       string       `json:"latest"`
	Reason       string       `json:"-"` // forecast reasons (FORECASTVG-7)
	Series       []string     `json:"-"` // best patient series merged into this forecast
	Guidance     []string     `json:"-"` // administrative guidance (FORECASTGUIDANCE-1): of those series when not complete, of indications and contraindications with an active observation
}

// Result is the outcome of Schedule.Forecast. It marshals to the JSON of
// design.md: {"evaluations":[…],"forecasts":[…]} (plus optional fields).
type Result struct {
	Evaluations []Evaluation `json:"evaluations"`
	Forecasts   []Forecast   `json:"forecasts"`
}

// EvaluationsFor returns the evaluations of the dose at index i of the
// patient's doses (one per antigen the dose contains), for example to report
// the evaluation of a dose just recorded.
func (r Result) EvaluationsFor(i int) []Evaluation {
	var out []Evaluation
	for _, e := range r.Evaluations {
		if e.DoseIndex == i {
			out = append(out, e)
		}
	}
	return out
}

// ForecastFor returns the forecast of the named vaccine group, if any.
func (r Result) ForecastFor(group string) (Forecast, bool) {
	for _, f := range r.Forecasts {
		if f.VaccineGroup == group {
			return f, true
		}
	}
	return Forecast{}, false
}
