package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// Forecasts as a clinic reads them: what is due now (or overdue), what is
// due soon, what comes later, and what needs nothing more, each grouped by
// vaccine group; and the visit's observations (a pregnancy with its onset,
// a condition, health-care work), which travel in the form that asks for
// the forecast and nowhere else.

// dueSoonDays is how far ahead "due soon" looks.
const dueSoonDays = 28

// dueEntry is one forecast (one series group of a vaccine group) with how
// the page reads it: State is "overdue" (Since is the past-due date),
// "due_now", "due_soon" or "later" (From is the earliest date, if any), or
// "done" (the series status says why).
type dueEntry struct {
	schedule.Forecast
	State string
	// SeriesLabel names the series group when its vaccine group has more
	// than one forecast; "" otherwise.
	SeriesLabel string
}

// dueGroup is one vaccine group's entries within a part of the view.
type dueGroup struct {
	VaccineGroup string
	Entries      []dueEntry
}

// dueView is a forecast in four parts, each a list of vaccine groups.
type dueView struct {
	Now, Soon, Later, Done []dueGroup
	// Next is the earliest date of a dose that is not yet due, for the
	// printed card ("" when none); DueNow says a dose is due today.
	Next   string
	DueNow bool
	Empty  bool
}

// dueOf sorts forecasts into due now, due soon, later and done as of today.
func dueOf(fs []schedule.Forecast, today registry.Date) dueView {
	v := dueView{Empty: len(fs) == 0}
	perGroup := map[string]int{}
	for _, f := range fs {
		perGroup[f.VaccineGroup]++
	}
	now := today.String()
	soon := registry.DateOf(today.Time().AddDate(0, 0, dueSoonDays)).String()
	add := func(part *[]dueGroup, e dueEntry) {
		for i := range *part {
			if (*part)[i].VaccineGroup == e.VaccineGroup {
				(*part)[i].Entries = append((*part)[i].Entries, e)
				return
			}
		}
		*part = append(*part, dueGroup{VaccineGroup: e.VaccineGroup, Entries: []dueEntry{e}})
	}
	for _, f := range fs {
		e := dueEntry{Forecast: f}
		if perGroup[f.VaccineGroup] > 1 {
			e.SeriesLabel = f.SeriesGroupName
			if e.SeriesLabel == "" {
				e.SeriesLabel = f.SeriesGroup
			}
		}
		switch {
		case f.SeriesStatus != schedule.NotComplete:
			e.State = "done"
			add(&v.Done, e)
		case f.PastDue != "" && f.PastDue <= now:
			e.State = "overdue"
			add(&v.Now, e)
			v.DueNow = true
		case f.Earliest != "" && f.Earliest <= now:
			e.State = "due_now"
			add(&v.Now, e)
			v.DueNow = true
		case f.Earliest != "" && f.Earliest <= soon:
			e.State = "due_soon"
			add(&v.Soon, e)
		default:
			e.State = "later"
			add(&v.Later, e)
		}
		if e.State == "due_soon" || e.State == "later" {
			if f.Earliest != "" && (v.Next == "" || f.Earliest < v.Next) {
				v.Next = f.Earliest
			}
		}
	}
	return v
}

// Part is one part of the view by name: "now", "soon", "later", "done".
func (v dueView) Part(name string) []dueGroup {
	switch name {
	case "now":
		return v.Now
	case "soon":
		return v.Soon
	case "later":
		return v.Later
	case "done":
		return v.Done
	}
	return nil
}

// Due reads forecasts as of today for a template: {{template "forecast"
// $.With ($.Due .Forecasts)}}.
func (c *PageCtx) Due(fs []schedule.Forecast) dueView {
	return dueOf(fs, registry.DateOf(c.app.svc.Now()))
}

// SeriesGroup names a series group ("Standard", "Increased Risk"…) in the
// page's language.
func (c *PageCtx) SeriesGroup(name string) string {
	if c.loc.has("seriesgroup." + name) {
		return c.loc.text("seriesgroup." + name)
	}
	return name
}

// visitObs is an observation the person page offers to choose at a visit:
// the few that matter most for the adults Haven serves, out of the 251 the
// CDC's supporting data knows. Pregnancy (007) goes with its onset (170),
// whose date the form asks for.
var visitObs = []string{
	"007", // pregnant (with 170, onset of pregnancy)
	"009", // breastfeeding
	"055", // health care personnel
	"003", // immunocompromised
	"246", // severe immunocompromise
	"186", // HIV infection
	"160", // anatomical or functional asplenia
	"014", // diabetes
	"016", // chronic heart disease
	"017", // chronic lung disease
	"015", // chronic liver disease
	"161", // chronic kidney disease
	"032", // dialysis
	"005", // hepatitis C virus infection
	"041", // illicit injection drug use
	"043", // alcoholism
	"042", // smokes cigarettes
	"121", // homelessness
	"069", // in a correctional facility
	"048", // travelling internationally
}

const (
	obsPregnant = "007"
	obsOnset    = "170"
)

// forecastSchedules are the schedules the visit form offers.
var forecastSchedules = []string{"cn", "who", "cdc"}

// obsOption is one checkbox of the visit form.
type obsOption struct {
	Code    string
	Checked bool
}

// visitForm is the visit's observations form, with what was chosen.
type visitForm struct {
	Schedule  string
	Schedules []string
	Options   []obsOption
	Onset     string
	Err       *formErr
	// Used is set when the forecast shown was made with this form.
	Used bool
	// Chosen lists the codes chosen, for the note above the forecast.
	Chosen []string
}

// newVisitForm is the visit form as the person page first shows it: the
// server's schedule when its supporting data uses observations, else the
// CDC's, which does.
func newVisitForm(serverSchedule string) visitForm {
	f := visitForm{Schedule: serverSchedule, Schedules: forecastSchedules}
	if sch, err := schedule.Load(serverSchedule); err != nil || len(sch.Observations()) == 0 {
		f.Schedule = "cdc"
	}
	for _, code := range visitObs {
		f.Options = append(f.Options, obsOption{Code: code})
	}
	return f
}

// visitFromForm reads the visit form: the schedule, the observations chosen
// and the onset of a pregnancy. Its errors name the form's fields and carry
// the catalogue text to show.
func (a *App) visitFromForm(r *http.Request) (visitForm, []clinic.Observation, error) {
	f := newVisitForm(r.PostFormValue("schedule"))
	f.Schedule = r.PostFormValue("schedule")
	f.Onset = strings.TrimSpace(r.PostFormValue("onset"))
	chosen := r.PostForm["obs"]
	for i := range f.Options {
		f.Options[i].Checked = slices.Contains(chosen, f.Options[i].Code)
		if f.Options[i].Checked {
			f.Chosen = append(f.Chosen, f.Options[i].Code)
		}
	}
	if !slices.Contains(forecastSchedules, f.Schedule) {
		return f, nil, registry.FieldErrorf(registry.EINVALID, "schedule", "Choose a schedule.")
	}
	sch, err := schedule.Load(f.Schedule)
	if err != nil {
		return f, nil, registry.FieldErrorf(registry.EINVALID, "schedule", "Choose a schedule.")
	}
	var obs []clinic.Observation
	for _, code := range chosen {
		if !slices.Contains(visitObs, code) {
			return f, nil, registry.FieldErrorf(registry.EINVALID, "obs", "Choose the conditions from the list.")
		}
		if _, ok := sch.Observation(code); !ok {
			return f, nil, registry.FieldErrorf(registry.EINVALID, "schedule", "The %s schedule does not use observation %s.", f.Schedule, code)
		}
		obs = append(obs, clinic.Observation{Code: code})
	}
	pregnant := slices.Contains(chosen, obsPregnant)
	switch {
	case pregnant && f.Onset == "":
		return f, nil, registry.FieldErrorf(registry.EINVALID, "onset", "Give the date the pregnancy began.")
	case f.Onset != "" && !pregnant:
		return f, nil, registry.FieldErrorf(registry.EINVALID, "onset", "An onset date goes with a pregnancy.")
	case pregnant:
		d, err := registry.ParseDate(f.Onset)
		if err != nil || d.After(registry.DateOf(a.svc.Now())) {
			return f, nil, registry.FieldErrorf(registry.EINVALID, "onset", "The onset of the pregnancy must be a date, not after today.")
		}
		obs = append(obs, clinic.Observation{Code: obsOnset, Date: d})
	}
	return f, obs, nil
}

// VisitForecast is the visit form's target: the person page again, with
// the forecast made with the observations chosen (and the schedule named).
// The observations are used for this answer only: they are in this
// request's body and this page, never in a cookie, the session, the
// database or a log line.
func (a *App) VisitForecast(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	purpose := r.PostFormValue("purpose")
	code, err := httpx.CardFrom(r)
	if err != nil {
		return err
	}
	o, err := a.svc.Overview(r.Context(), c.actor(r), code, purpose, nil)
	if err != nil {
		return err
	}
	d, err := a.personData(r, c, o, purpose)
	if err != nil {
		return err
	}
	visit, obs, err := a.visitFromForm(r)
	d.Visit = visit
	status := http.StatusOK
	if err == nil {
		var f *clinic.Forecast
		f, err = a.svc.ForecastPerson(r.Context(), c.actor(r), code, clinic.ForecastInput{Schedule: visit.Schedule, Observations: obs})
		if err == nil {
			d.Visit.Used = true
			d.Person.Schedule = f.Schedule
			d.Person.Forecasts = f.Result.Forecasts
			d.Person.ForecastNote = ""
		}
	}
	if err != nil {
		if !userError(err) {
			return err
		}
		d.Visit.Err = visitErr(err)
		d.Err = d.Visit.Err
		status = failed(w, err)
	}
	return a.render(w, r, c, status, "person", "person.title", d)
}

// visitErr is the text a visit form's error shows.
func visitErr(err error) *formErr {
	fe := toFormErr(err)
	switch fe.Field {
	case "onset":
		return fe.withKey("visit.err_onset")
	case "schedule":
		return fe.withKey("visit.err_schedule")
	case "obs", "observations":
		return fe.withKey("visit.err_obs")
	case "birth_date":
		return fe.withKey("forecast.no_birth_date")
	}
	return fe
}
