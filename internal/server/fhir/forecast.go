package fhir

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

// forecastView says how a forecast's resources refer to the person and the
// doses they evaluate.
type forecastView struct {
	patient Reference
	// event is the Immunization a dose (by its index in the evaluated
	// history) refers to.
	event func(doseIndex int) Reference
}

// authority names the schedule that evaluated (display only: Haven does not
// serve Organization resources).
func authority(f *clinic.Forecast) *Reference {
	return &Reference{Display: "Haven, CDSi schedule " + f.Schedule}
}

// evaluationsOf is one ImmunizationEvaluation per evaluation of the
// forecast, in its order. A valid dose has its dose number in its series:
// the valid doses for the same antigen and series counted in date order.
func evaluationsOf(f *clinic.Forecast, v forecastView) []ImmunizationEvaluation {
	evs := f.Result.Evaluations
	number := make([]int, len(evs))
	order := make([]int, len(evs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := strings.Compare(evs[a].Date, evs[b].Date); c != 0 {
			return c
		}
		return evs[a].DoseIndex - evs[b].DoseIndex
	})
	counted := map[string]int{}
	for _, i := range order {
		if evs[i].Status == schedule.Valid {
			k := evs[i].Antigen + "\x00" + evs[i].Series
			counted[k]++
			number[i] = counted[k]
		}
	}
	out := make([]ImmunizationEvaluation, 0, len(evs))
	for i, ev := range evs {
		res := ImmunizationEvaluation{ResourceType: "ImmunizationEvaluation", Status: "completed", Patient: v.patient,
			Extension: []Extension{{URL: CDSiStatusExtension, ValueCode: string(ev.Status)}},
			Date:      f.AsOf.String(), Authority: authority(f), TargetDisease: CodeableConcept{Text: ev.Antigen},
			ImmunizationEvent: v.event(ev.DoseIndex), DoseStatus: schedule.FHIRDoseStatus(ev.Status),
			Description: ev.Reason, Series: ev.Series, DoseNumber: number[i]}
		if ev.Status != schedule.Valid {
			reason := CodeableConcept{Text: ev.Reason}
			if ev.Status == schedule.NotValid || ev.Status == schedule.Extraneous {
				reason.Coding = []Coding{{System: sysReasonCodes, Code: "outsidesched", Display: "Administered outside recommended schedule"}}
			}
			if reason.Text != "" || reason.Coding != nil {
				res.DoseStatusReason = []CodeableConcept{reason}
			}
		}
		out = append(out, res)
	}
	return out
}

// recommendationOf is the forecast as one ImmunizationRecommendation, with
// one recommendation per vaccine group forecast (per series group), in the
// forecast's order. A series that is not complete names the number of the
// dose it recommends (one more than the valid doses of its best series) and
// the doses that count towards it. It is nil when there is no forecast
// (R4 requires at least one recommendation).
func recommendationOf(f *clinic.Forecast, v forecastView) *ImmunizationRecommendation {
	if len(f.Result.Forecasts) == 0 {
		return nil
	}
	out := &ImmunizationRecommendation{ResourceType: "ImmunizationRecommendation", Patient: v.patient,
		Date: f.AsOf.String(), Authority: authority(f)}
	asOf := f.AsOf.Time()
	for _, fc := range f.Result.Forecasts {
		item := Recommendation{TargetDisease: &CodeableConcept{Text: fc.VaccineGroup},
			ForecastStatus: schedule.FHIRForecastStatus(fc, asOf),
			Extension:      []Extension{{URL: CDSiStatusExtension, ValueCode: string(fc.SeriesStatus)}}}
		if fc.Reason != "" {
			item.ForecastReason = []CodeableConcept{{Text: fc.Reason}}
		}
		if fc.SeriesGroup != "" {
			item.Extension = append(item.Extension, Extension{URL: schedule.FHIRExtSeriesGroup, ValueString: fc.SeriesGroup})
		}
		if fc.SeriesType != "" {
			item.Extension = append(item.Extension, Extension{URL: schedule.FHIRExtSeriesType, ValueString: fc.SeriesType})
		}
		if fc.SeriesGroupName != "" {
			item.Description = "Series group " + fc.SeriesGroup + ": " + fc.SeriesGroupName
		}
		if len(fc.Series) > 0 {
			item.Series = fc.Series[0]
		}
		for _, c := range []struct{ code, display, value string }{
			{schedule.LOINCEarliest, "Earliest date to give", fc.Earliest},
			{schedule.LOINCRecommended, "Date vaccine due", fc.Recommended},
			{schedule.LOINCPastDue, "Date when overdue for immunization", fc.PastDue},
			{schedule.LOINCLatest, "Latest date to give immunization", fc.Latest},
		} {
			if c.value != "" {
				item.DateCriterion = append(item.DateCriterion, DateCriterion{
					Code:  CodeableConcept{Coding: []Coding{{System: sysLOINC, Code: c.code, Display: c.display}}},
					Value: c.value})
			}
		}
		var doses []int
		for _, ev := range f.Result.Evaluations {
			if ev.Status == schedule.Valid && slices.Contains(fc.Series, ev.Series) && !slices.Contains(doses, ev.DoseIndex) {
				doses = append(doses, ev.DoseIndex)
			}
		}
		slices.Sort(doses)
		for _, d := range doses {
			item.SupportingImmunization = append(item.SupportingImmunization, v.event(d))
		}
		if fc.SeriesStatus == schedule.NotComplete {
			item.DoseNumber = len(doses) + 1
		}
		out.Recommendation = append(out.Recommendation, item)
	}
	return out
}

// personView is the view of a registered person's forecast: the Patient is
// Patient/CARD and each dose the Immunization CARD.RECORD.
func personView(card registry.CardCode, f *clinic.Forecast) forecastView {
	byIndex := map[int]registry.ID{}
	for id, evs := range f.ByRecord {
		if len(evs) > 0 {
			byIndex[evs[0].DoseIndex] = id
		}
	}
	return forecastView{
		patient: Reference{Reference: "Patient/" + string(card)},
		event: func(i int) Reference {
			if id, ok := byIndex[i]; ok {
				return Reference{Reference: "Immunization/" + immunizationID(card, id)}
			}
			return Reference{Display: "dose " + strconv.Itoa(i+1)}
		},
	}
}

// forecastFields maps the fields of clinic ForecastPerson's errors.
var forecastFields = fields{"card_code": "http.patient.identifier", "birth_date": "Patient.birthDate",
	"schedule": "http.schedule", "observations": "http.observation"}

// forecastOf reads the person a search names and forecasts them as of the
// search's date (today by default) with the server's schedule (clinic
// ForecastPerson, purpose forecast). A card no person has gives nil.
func (h *Handler) forecastOf(r *http.Request, a clinic.Actor) (registry.CardCode, *clinic.Forecast, error) {
	q, err := searchQuery(r, "patient.identifier", "patient", "date")
	if err != nil {
		return "", nil, err
	}
	card, err := patientCard(q)
	if err != nil {
		return "", nil, err
	}
	var in clinic.ForecastInput
	if d := q.Get("date"); d != "" {
		d = strings.TrimPrefix(d, "eq")
		if in.AsOf, err = registry.ParseDate(d); err != nil {
			return "", nil, registry.FieldErrorf(registry.EINVALID, "http.date", "date is the assessment date, YYYY-MM-DD.")
		}
	}
	f, err := h.svc.ForecastPerson(r.Context(), a, card, in)
	if registry.ErrorCode(err) == registry.ENOTFOUND && registry.ErrorField(err) == "card_code" {
		return card, nil, nil
	}
	if err != nil {
		return "", nil, forecastFields.fhirError(err)
	}
	return card, f, nil
}

// EvaluationSearch answers ImmunizationEvaluation?patient.identifier=… with
// the evaluation of each of the person's doses for each antigen it counts
// for (clinic ForecastPerson). The resources are computed for the answer and
// not kept, so their fullUrls are fresh urn:uuid values.
func (h *Handler) EvaluationSearch() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		card, f, err := h.forecastOf(r, a)
		if err != nil {
			return err
		}
		var entries []BundleEntry
		if f != nil {
			for _, ev := range evaluationsOf(f, personView(card, f)) {
				entries = append(entries, match(newUUID(), ev))
			}
		}
		write(w, r, http.StatusOK, h.searchset(r, entries))
		return nil
	})
}

// RecommendationSearch answers ImmunizationRecommendation?patient.identifier=…
// with the person's forecast as one ImmunizationRecommendation (clinic
// ForecastPerson).
func (h *Handler) RecommendationSearch() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		card, f, err := h.forecastOf(r, a)
		if err != nil {
			return err
		}
		var entries []BundleEntry
		if f != nil {
			if rec := recommendationOf(f, personView(card, f)); rec != nil {
				entries = append(entries, match(newUUID(), rec))
			}
		}
		write(w, r, http.StatusOK, h.searchset(r, entries))
		return nil
	})
}

// newUUID is a random urn:uuid for a resource that has no identity of its
// own.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// The $immds-forecast request, decoded leniently: Haven reads the
// assessment date, the patient's birth date and gender, and each
// immunization's status, vaccine code, date and manufacturer; everything
// else (names, addresses, identifiers…) is dropped unread, and nothing is
// stored.
type (
	parametersIn struct {
		ResourceType string        `json:"resourceType"`
		Parameter    []parameterIn `json:"parameter"`
	}
	parameterIn struct {
		Name      string         `json:"name"`
		ValueDate *string        `json:"valueDate"`
		Resource  jsontext.Value `json:"resource"`
	}
	patientIn struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Gender       string `json:"gender"`
		BirthDate    string `json:"birthDate"`
	}
	forecastImmunizationIn struct {
		ResourceType       string             `json:"resourceType"`
		ID                 string             `json:"id"`
		Status             string             `json:"status"`
		VaccineCode        *codeableConceptIn `json:"vaccineCode"`
		OccurrenceDateTime *string            `json:"occurrenceDateTime"`
		Manufacturer       *referenceIn       `json:"manufacturer"`
	}
)

// immdsRequest is a decoded $immds-forecast request: the history, and for
// each of its doses the parameter it came from and the Immunization it
// names.
type immdsRequest struct {
	history   History
	patient   Reference
	param     []int // param[i] is the parameter index of dose i
	events    []Reference
	asOfAt    int // parameter index of assessmentDate
	patientAt int // parameter index of patient
}

// parseImmDS decodes and checks a $immds-forecast request.
func parseImmDS(raw []byte) (*immdsRequest, error) {
	var in parametersIn
	if err := decodeResource(raw, &in, "Parameters", false); err != nil {
		return nil, err
	}
	if in.ResourceType != "Parameters" {
		return nil, registry.FieldErrorf(registry.EINVALID, "Parameters.resourceType", "The body must be a Parameters resource.")
	}
	req := &immdsRequest{asOfAt: -1, patientAt: -1}
	for k, p := range in.Parameter {
		at := "Parameters.parameter[" + strconv.Itoa(k) + "]"
		switch p.Name {
		case "assessmentDate":
			if req.asOfAt >= 0 {
				return nil, registry.FieldErrorf(registry.EINVALID, at, "assessmentDate is given twice.")
			}
			req.asOfAt = k
			if p.ValueDate == nil {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".valueDate", "assessmentDate is a valueDate, YYYY-MM-DD.")
			}
			d, err := registry.ParseDate(*p.ValueDate)
			if err != nil {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".valueDate", "assessmentDate is a full date, YYYY-MM-DD.")
			}
			req.history.AsOf = d
		case "patient":
			if req.patientAt >= 0 {
				return nil, registry.FieldErrorf(registry.EINVALID, at, "patient is given twice.")
			}
			req.patientAt = k
			var pt patientIn
			if len(p.Resource) == 0 {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource", "patient is a Patient resource.")
			}
			if err := decodeResource(p.Resource, &pt, at+".resource", false); err != nil {
				return nil, err
			}
			if pt.ResourceType != "Patient" {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource", "patient is a Patient resource.")
			}
			if pt.BirthDate == "" {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource.birthDate", "A forecast needs the birth date; a year is enough.")
			}
			bd, err := registry.ParsePartialDate(pt.BirthDate)
			if err != nil {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource.birthDate", "The birth date is YYYY, YYYY-MM or YYYY-MM-DD.")
			}
			req.history.BirthDate = bd
			sex := registry.Sex(pt.Gender)
			if !sex.Valid() {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource.gender", "gender is male, female, other or unknown.")
			}
			req.history.Sex = sex
			req.patient = Reference{Display: "the patient of the request"}
			if pt.ID != "" {
				req.patient = Reference{Reference: "Patient/" + pt.ID}
			}
		case "immunization":
			if len(p.Resource) == 0 {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource", "immunization is an Immunization resource.")
			}
			var im forecastImmunizationIn
			if err := decodeResource(p.Resource, &im, at+".resource", false); err != nil {
				return nil, err
			}
			if im.ResourceType != "Immunization" {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource", "immunization is an Immunization resource.")
			}
			if im.Status != "completed" {
				continue // not given, or entered in error: not part of the history
			}
			c, ok := im.VaccineCode.first(sysCVX)
			if !ok || c.Code == "" {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource.vaccineCode", "The forecast needs each dose's CVX code (%s).", sysCVX)
			}
			if im.OccurrenceDateTime == nil || len(*im.OccurrenceDateTime) < 10 {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource.occurrenceDateTime", "The forecast needs the day each dose was given.")
			}
			d, err := registry.ParseDate((*im.OccurrenceDateTime)[:10])
			if err != nil {
				return nil, registry.FieldErrorf(registry.EINVALID, at+".resource.occurrenceDateTime", "%q is not a FHIR dateTime.", *im.OccurrenceDateTime)
			}
			dose := HistoryDose{Date: d, CVX: c.Code}
			if m := im.Manufacturer; m != nil && m.Identifier != nil && m.Identifier.System == sysMVX {
				dose.MVX = m.Identifier.Value
			}
			req.history.Doses = append(req.history.Doses, dose)
			req.param = append(req.param, k)
			ev := Reference{Display: "immunization " + strconv.Itoa(len(req.history.Doses)) + " of the request"}
			if im.ID != "" {
				ev = Reference{Reference: "Immunization/" + im.ID}
			}
			req.events = append(req.events, ev)
		default:
			return nil, registry.FieldErrorf(registry.EINVALID, at+".name", "Unknown parameter %q: $immds-forecast takes assessmentDate, patient and immunization.", p.Name)
		}
	}
	if req.asOfAt < 0 {
		return nil, registry.FieldErrorf(registry.EINVALID, "Parameters.parameter", "assessmentDate is required.")
	}
	if req.patientAt < 0 {
		return nil, registry.FieldErrorf(registry.EINVALID, "Parameters.parameter", "patient is required.")
	}
	return req, nil
}

// fhirError names the parameter a History field came from.
func (req *immdsRequest) fhirError(err error) error {
	m := fields{"birth_date": fmt.Sprintf("Parameters.parameter[%d].resource.birthDate", req.patientAt),
		"sex":   fmt.Sprintf("Parameters.parameter[%d].resource.gender", req.patientAt),
		"as_of": fmt.Sprintf("Parameters.parameter[%d].valueDate", req.asOfAt), "assessment_date": fmt.Sprintf("Parameters.parameter[%d].valueDate", req.asOfAt)}
	for i, k := range req.param {
		m[fmt.Sprintf("doses[%d].cvx", i)] = fmt.Sprintf("Parameters.parameter[%d].resource.vaccineCode", k)
		m[fmt.Sprintf("doses[%d].date", i)] = fmt.Sprintf("Parameters.parameter[%d].resource.occurrenceDateTime", k)
		m[fmt.Sprintf("doses[%d].mvx", i)] = fmt.Sprintf("Parameters.parameter[%d].resource.manufacturer", k)
	}
	return m.fhirError(err)
}

// ImmDSForecast is the ImmDS operation $immds-forecast: it evaluates the
// history the Parameters carry with the server's schedule and answers
// Parameters with the recommendation and one evaluation per dose and
// antigen. The person is not registered and nothing is stored (the clinic
// action behind Evaluator).
func (h *Handler) ImmDSForecast() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		if h.eval == nil {
			return registry.Errorf(registry.EUNAVAILABLE, "$immds-forecast is not available on this server.")
		}
		raw, err := readBody(w, r, maxParametersBytes)
		if err != nil {
			return err
		}
		req, err := parseImmDS(raw)
		if err != nil {
			return err
		}
		f, err := h.eval.EvaluateHistory(r.Context(), a, req.history)
		if err != nil {
			return req.fhirError(err)
		}
		if f.AsOf.IsZero() {
			f.AsOf = req.history.AsOf
		}
		view := forecastView{patient: req.patient, event: func(i int) Reference {
			if i >= 0 && i < len(req.events) {
				return req.events[i]
			}
			return Reference{Display: "dose " + strconv.Itoa(i+1)}
		}}
		out := Parameters{ResourceType: "Parameters"}
		rec := recommendationOf(f, view)
		if rec == nil {
			return registry.Errorf(registry.EINTERNAL, "the schedule %s made no forecast", f.Schedule)
		}
		out.Parameter = append(out.Parameter, Parameter{Name: "recommendation", Resource: rec})
		for _, ev := range evaluationsOf(f, view) {
			out.Parameter = append(out.Parameter, Parameter{Name: "evaluation", Resource: ev})
		}
		write(w, r, http.StatusOK, out)
		return nil
	})
}
