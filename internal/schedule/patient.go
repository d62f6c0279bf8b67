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
	// Observations are the CDSi coded observations active at the
	// assessment date, for example those chosen at the visit:
	// ObservationsOf("007", "055"). Schedule.Observations lists the codes
	// the supporting data uses and which of them need a date
	// (ObservationInfo.Needs: pregnancy, 007, needs the onset of
	// pregnancy, 170, with its date). A code the data does not use has no
	// effect. The engine uses them for the one forecast and keeps nothing.
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

// Forecast is one vaccine group forecast: the forecast of one vaccine group
// for one series group (DEFFORECAST-012). Dates are YYYY-MM-DD, or "" where
// the Logic Specification leaves them empty (for example past_due when there
// is no latest recommended age or interval, and every date when the series
// is complete).
//
// A vaccine group may have several forecasts, one per series group that has a
// best patient series (chapter 9: "patients may end up with more than 1
// vaccine group forecast"), for example the Tdap dose of a pregnancy (series
// group 2, risk) beside the routine Td/Tdap path (series group 1, standard).
// Result.Forecasts lists the forecasts of one vaccine group together, and the
// first of them is the one that a consumer reading one forecast per vaccine
// group should read (see Result.Forecasts).
type Forecast struct {
	VaccineGroup string       `json:"vaccine_group"`
	SeriesStatus SeriesStatus `json:"series_status"`
	Earliest     string       `json:"earliest"`
	Recommended  string       `json:"recommended"`
	PastDue      string       `json:"past_due"`
	Latest       string       `json:"latest"`
	// SeriesGroup is the series group of the supporting data that the
	// forecast is made for ("1", "2"…), as the data's <seriesGroup> writes
	// it; a multiple antigen vaccine group (DTaP/Tdap/Td, MMR) blends the
	// best series of its antigens that belong to that series group.
	SeriesGroup string `json:"series_group"`
	// SeriesGroupName is the data's <seriesGroupName> for the series group
	// ("Standard", "Increased Risk"…), in English; "" when the data gives
	// none. Use it to label a vaccine group that has several forecasts.
	SeriesGroupName string `json:"series_group_name,omitempty"`
	// SeriesType is "standard", "risk" or "evaluation_only": the series type
	// of the best series in the forecast ("risk" if any of them is a risk
	// series), or "" when the supporting data states no series type.
	SeriesType string   `json:"series_type,omitempty"`
	Reason     string   `json:"-"` // forecast reasons (FORECASTVG-7)
	Series     []string `json:"-"` // best patient series contained in this forecast
	Guidance   []string `json:"-"` // administrative guidance (FORECASTGUIDANCE-1): of those series when not complete, of indications and contraindications with an active observation
}

// Result is the outcome of Schedule.Forecast. It marshals to the JSON of
// design.md: {"evaluations":[…],"forecasts":[…]} (plus optional fields).
type Result struct {
	Evaluations []Evaluation `json:"evaluations"`
	// Forecasts holds the vaccine group forecasts, vaccine groups in the
	// order of the supporting data and each vaccine group's forecasts
	// together, one per series group. The first forecast of a vaccine group
	// is the one to read for a consumer that shows one forecast per vaccine
	// group (ForecastFor returns it; docs/adr/0003): a contraindicated
	// forecast first, then the forecasts that are not complete, the one
	// recommended first (then due first) ahead, then aged out, not
	// recommended, immune and complete; ties keep the series group order of
	// the data.
	Forecasts []Forecast `json:"forecasts"`
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

// ForecastFor returns the first forecast of the named vaccine group (the one
// a consumer that reads one forecast per vaccine group should read; see
// Result.Forecasts), if any.
func (r Result) ForecastFor(group string) (Forecast, bool) {
	for _, f := range r.Forecasts {
		if f.VaccineGroup == group {
			return f, true
		}
	}
	return Forecast{}, false
}

// ForecastsFor returns every forecast of the named vaccine group, one per
// series group, in the order of Result.Forecasts (the first is the one
// ForecastFor returns); nil if the group has none.
func (r Result) ForecastsFor(group string) []Forecast {
	var out []Forecast
	for _, f := range r.Forecasts {
		if f.VaccineGroup == group {
			out = append(out, f)
		}
	}
	return out
}
