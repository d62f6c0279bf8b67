package schedule

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// Case is one test case in the layout of the CDC CDSi test-case workbook
// (converted to CSV): a patient, an assessment date, one vaccine group and the
// expected evaluation of each dose and forecast.
type Case struct {
	ID           string
	Name         string
	Line         int    // line of the case in its CSV file
	Schedule     string // from a "Schedule" column, if any
	VaccineGroup string // as written in the CSV (for example "DTAP")
	Patient      Patient
	AsOf         time.Time
	Expected     Expected
}

// Expected is what a case expects.
type Expected struct {
	Doses        []ExpectedDose // one per dose, in the patient's dose order
	SeriesStatus string         // normalised, for example "not_complete"
	Earliest     string
	Recommended  string
	PastDue      string
}

// ExpectedDose is the expected evaluation of one dose; Status is "" when the
// case does not state one.
type ExpectedDose struct {
	Status Status
	Reason string
}

// CaseResult is the engine's output for one case and its comparison with
// the expectation.
type CaseResult struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	VaccineGroup string     `json:"vaccine_group"`
	Pass         bool       `json:"pass"`
	Mismatches   []string   `json:"mismatches,omitempty"`
	Error        string     `json:"error,omitempty"`
	Doses        []CaseDose `json:"doses"`
	// Forecast is the forecast of the case's vaccine group that was compared
	// with the case (see RunCase); Forecasts are all of the group's
	// forecasts, one per series group, when there are several.
	Forecast    *Forecast    `json:"forecast,omitempty"`
	Forecasts   []Forecast   `json:"forecasts,omitempty"`
	Evaluations []Evaluation `json:"-"`
}

// CaseDose is the engine's evaluation of one dose of a case for the case's
// vaccine group.
type CaseDose struct {
	Date   string `json:"date"`
	CVX    string `json:"cvx"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// groupAliases maps the vaccine group abbreviations of the CDC workbooks to
// the vaccine group names of the supporting data.
var groupAliases = map[string]string{
	"dtap": "DTaP/Tdap/Td", "td": "DTaP/Tdap/Td", "tdap": "DTaP/Tdap/Td",
	"pol": "Polio", "ipol": "Polio", "ipv": "Polio",
	"hib": "Hib", "pcv": "Pneumococcal", "pneumo": "Pneumococcal",
	"var": "Varicella", "rota": "Rotavirus", "rv": "Rotavirus",
	"menb": "Meningococcal B", "mcv": "Meningococcal", "menacwy": "Meningococcal",
	"flu": "Influenza", "zoster": "Zoster", "je": "Japanese Encephalitis",
	"yf": "Yellow Fever", "covid": "COVID-19",
}

// GroupName resolves a vaccine group as written in a CDC test case (a
// supporting-data name or a workbook abbreviation such as "DTAP" or "POL")
// to the schedule's vaccine group name.
func (s *Schedule) GroupName(name string) (string, bool) {
	n := strings.TrimSpace(name)
	for _, g := range s.groups {
		if strings.EqualFold(g.name, n) {
			return g.name, true
		}
	}
	if a, ok := groupAliases[strings.ToLower(n)]; ok {
		for _, g := range s.groups {
			if g.name == a {
				return g.name, true
			}
		}
	}
	return "", false
}

// ScheduleForCaseFile returns the schedule a case file is meant for: the part
// of its base name before the first "-" when that is "who" or "cn", else
// "cdc".
func ScheduleForCaseFile(path string) string {
	base := strings.ToLower(filepath.Base(path))
	if i := strings.IndexAny(base, "-_."); i > 0 {
		switch base[:i] {
		case "who", "cn":
			return base[:i]
		}
	}
	return "cdc"
}

// ParseCases reads a CSV in the CDC test-case layout. Column names are
// matched case-insensitively; doses are read from Date_Administered_n,
// CVX_n, MVX_n, Evaluation_Status_n and Evaluation_Reason_n for n = 1, 2, …
// and observations from Observation_Code_n / Observation_Date_n (or
// Med_History_Code). Errors name the file, line and column.
func ParseCases(r io.Reader, file string) ([]Case, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, registry.FieldErrorf(registry.EMALFORMED, file, "read header: %v", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"cdc_test_id", "dob", "assessment_date", "vaccine_group", "series_status"} {
		if _, ok := col[need]; !ok {
			return nil, registry.FieldErrorf(registry.EMALFORMED, file, "missing column %s", need)
		}
	}
	var out []Case
	for {
		rowLine, _ := cr.FieldPos(0)
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, registry.FieldErrorf(registry.EMALFORMED, file, "%v", err)
		}
		get := func(name string) string {
			i, ok := col[strings.ToLower(name)]
			if !ok || i >= len(row) {
				return ""
			}
			v := strings.TrimSpace(row[i])
			if v == "-" || strings.EqualFold(v, "n/a") {
				return ""
			}
			return v
		}
		line, _ := cr.FieldPos(0)
		if rowLine == 0 {
			rowLine = line
		}
		where := func(c string) string { return fmt.Sprintf("%s:%d:%s", file, line, c) }
		c := Case{ID: get("CDC_Test_ID"), Name: get("Test_Case_Name"), Line: line, Schedule: get("Schedule"), VaccineGroup: get("Vaccine_Group")}
		if c.ID == "" {
			continue
		}
		dob, err := parseTime(get("DOB"))
		if err != nil {
			return nil, registry.FieldErrorf(registry.EMALFORMED, where("DOB"), "%v", err)
		}
		c.Patient.BirthDate = dob
		c.Patient.Sex = get("Gender")
		if c.AsOf, err = parseTime(get("Assessment_Date")); err != nil {
			return nil, registry.FieldErrorf(registry.EMALFORMED, where("Assessment_Date"), "%v", err)
		}
		for n := 1; ; n++ {
			ns := strconv.Itoa(n)
			if _, ok := col["date_administered_"+ns]; !ok {
				break
			}
			ds := get("Date_Administered_" + ns)
			if ds == "" {
				continue
			}
			d, err := parseTime(ds)
			if err != nil {
				return nil, registry.FieldErrorf(registry.EMALFORMED, where("Date_Administered_"+ns), "%v", err)
			}
			c.Patient.Doses = append(c.Patient.Doses, Dose{Date: d, CVX: get("CVX_" + ns), MVX: get("MVX_" + ns)})
			c.Expected.Doses = append(c.Expected.Doses, ExpectedDose{Status: normStatus(get("Evaluation_Status_" + ns)), Reason: get("Evaluation_Reason_" + ns)})
		}
		for n := 1; ; n++ {
			ns := strconv.Itoa(n)
			if _, ok := col["observation_code_"+ns]; !ok {
				break
			}
			code := get("Observation_Code_" + ns)
			if code == "" {
				continue
			}
			o := Observation{Code: code}
			if ds := get("Observation_Date_" + ns); ds != "" {
				if o.Date, err = parseTime(ds); err != nil {
					return nil, registry.FieldErrorf(registry.EMALFORMED, where("Observation_Date_"+ns), "%v", err)
				}
			}
			c.Patient.Observations = append(c.Patient.Observations, o)
		}
		if code := get("Med_History_Code"); code != "" {
			c.Patient.Observations = append(c.Patient.Observations, Observation{Code: code})
		}
		c.Expected.SeriesStatus = normSeriesStatus(get("Series_Status"))
		c.Expected.Earliest = get("Earliest_Date")
		c.Expected.Recommended = get("Recommended_Date")
		c.Expected.PastDue = get("Past_Due_Date")
		for _, p := range []*string{&c.Expected.Earliest, &c.Expected.Recommended, &c.Expected.PastDue} {
			if *p == "" {
				continue
			}
			t, err := parseTime(*p)
			if err != nil {
				return nil, registry.FieldErrorf(registry.EMALFORMED, where("forecast date"), "%v", err)
			}
			*p = DateOf(t).String()
		}
		out = append(out, c)
	}
	return out, nil
}

// parseTime reads a workbook date: YYYY-MM-DD, YYYYMMDD, MM/DD/YYYY or the
// spreadsheet form M/D/YYYY.
func parseTime(s string) (time.Time, error) {
	if p := strings.Split(strings.TrimSpace(s), "/"); len(p) == 3 && len(p[2]) == 4 && len(p[0]) <= 2 && len(p[1]) <= 2 {
		s = fmt.Sprintf("%02s/%02s/%s", p[0], p[1], p[2])
		s = strings.ReplaceAll(s, " ", "0")
	}
	d, err := ParseDate(s)
	if err != nil {
		return time.Time{}, err
	}
	return d.Time(), nil
}

func normStatus(s string) Status {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "-", " ")) {
	case "":
		return ""
	case "valid":
		return Valid
	case "not valid", "invalid":
		return NotValid
	case "extraneous":
		return Extraneous
	case "sub standard", "substandard":
		return SubStandard
	}
	return Status(strings.ToLower(s))
}

func normSeriesStatus(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), " ", "_")
}

// statusRank orders dose statuses when the antigens of a multi-antigen group
// disagree: a dose that must be repeated for one antigen must be repeated
// (not valid, sub-standard); otherwise a dose that counts for one antigen
// counts for the group (valid over extraneous).
func statusRank(s Status) int {
	switch s {
	case NotValid:
		return 4
	case SubStandard:
		return 3
	case Valid:
		return 2
	case Extraneous:
		return 1
	}
	return 0
}

// RunCase runs one case and compares the outcome with its expectation: each
// stated dose status, the series status and the earliest, recommended and
// past-due dates of the case's vaccine group.
//
// A CDC case states one forecast for its vaccine group, while the engine
// makes one per series group (Result.Forecasts). The case is compared with
// the forecast that CaseForecast picks.
func (s *Schedule) RunCase(c Case) CaseResult {
	out := CaseResult{ID: c.ID, Name: c.Name, VaccineGroup: c.VaccineGroup}
	group, ok := s.GroupName(c.VaccineGroup)
	if !ok {
		out.Error = fmt.Sprintf("unknown vaccine group %q", c.VaccineGroup)
		return out
	}
	res, err := s.Forecast(c.Patient, c.AsOf)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.Evaluations = res.Evaluations
	for i, d := range c.Patient.Doses {
		cd := CaseDose{Date: DateOf(d.Date).String(), CVX: d.CVX}
		var reasons []string
		// The dose's status for the case's vaccine group; a dose with no
		// antigen in the group (an MMR dose in a varicella case) is judged by
		// its own antigens.
		inGroup := false
		for _, ev := range res.Evaluations {
			if ev.DoseIndex == i && s.groupOf[ev.Antigen] != nil && s.groupOf[ev.Antigen].name == group {
				inGroup = true
			}
		}
		for _, ev := range res.Evaluations {
			if ev.DoseIndex != i || (inGroup && s.groupOf[ev.Antigen].name != group) {
				continue
			}
			if statusRank(ev.Status) > statusRank(cd.Status) {
				cd.Status = ev.Status
			}
			if ev.Reason != "" && !contains(reasons, ev.Reason) {
				reasons = append(reasons, ev.Reason)
			}
		}
		cd.Reason = strings.Join(reasons, "; ")
		out.Doses = append(out.Doses, cd)
		if want := c.Expected.Doses[i].Status; want != "" && want != cd.Status {
			out.Mismatches = append(out.Mismatches, fmt.Sprintf("dose %d: status %s, want %s (%s)", i+1, orNone(string(cd.Status)), want, c.Expected.Doses[i].Reason))
		}
	}
	var fc Forecast
	if fcs := res.ForecastsFor(group); len(fcs) > 0 {
		fc = fcs[CaseForecast(fcs)]
		out.Forecast = &fc
		if len(fcs) > 1 {
			out.Forecasts = fcs
		}
	}
	check := func(what, got, want string) {
		if got != want {
			out.Mismatches = append(out.Mismatches, fmt.Sprintf("%s %s, want %s", what, orNone(got), orNone(want)))
		}
	}
	check("series status", string(fc.SeriesStatus), c.Expected.SeriesStatus)
	check("earliest", fc.Earliest, c.Expected.Earliest)
	check("recommended", fc.Recommended, c.Expected.Recommended)
	check("past due", fc.PastDue, c.Expected.PastDue)
	out.Pass = len(out.Mismatches) == 0
	return out
}

// CaseForecast returns the index of the forecast, among fcs (the forecasts
// of one vaccine group, one per series group, in the order of
// Result.Forecasts), that the one forecast of a case in the CDC test-case
// layout describes: the first, except that among the forecasts that are not
// complete a risk series group comes before a standard one, since a case of
// the underlying-conditions workbook states the forecast that the condition
// makes ("Recommended based on Condition"; CDC case 2016-UC-0130 states the
// pregnancy Tdap dose, not the routine Td/Tdap path due earlier). In every
// CDC case where one of the forecasts matches, this rule picks it
// (docs/cdsi-conformance.md). It returns 0 when fcs has one forecast, and -1
// when it has none.
func CaseForecast(fcs []Forecast) int {
	if len(fcs) == 0 {
		return -1
	}
	best := 0
	for i := 1; i < len(fcs); i++ {
		a, b := fcs[i], fcs[best]
		if a.SeriesStatus == NotComplete && b.SeriesStatus == NotComplete && a.SeriesType == "risk" && b.SeriesType != "risk" {
			best = i
		}
	}
	return best
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
