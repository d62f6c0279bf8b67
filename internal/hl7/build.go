package hl7

import (
	"slices"
	"strconv"

	"github.com/haven-registry/haven/internal/registry"
)

// Person is whom a message that Haven writes is about. PID-3 always carries
// the card code (with assigning authority HAVEN); the other fields are
// written only when NewVXU's profile names them, or, in a query response,
// when the caller fills them in.
type Person struct {
	CardCode  string
	Names     []Name
	BirthDate Date
	Sex       string
	Phones    []Phone
}

// The PID fields an outbound profile may add to the card code.
const (
	FieldName      = "PID-5"
	FieldBirthDate = "PID-7"
	FieldSex       = "PID-8"
	FieldPhone     = "PID-13"
)

// Profile lists the person fields an IIS requires in the VXUs Haven sends
// it, beyond the card code. The zero Profile sends the card code only.
type Profile struct {
	Name   string   // for operators, such as the IIS's name
	Fields []string // FieldName, FieldBirthDate, FieldSex, FieldPhone
}

// Validate reports a field that a profile may not name.
func (p Profile) Validate() error {
	for i, f := range p.Fields {
		switch f {
		case FieldName, FieldBirthDate, FieldSex, FieldPhone:
		default:
			return registry.FieldErrorf(registry.EINVALID, "fields["+strconv.Itoa(i)+"]",
				"A profile may name PID-5, PID-7, PID-8 and PID-13 only, not %q.", f)
		}
	}
	return nil
}

// apply returns the part of p that the profile lets out.
func (pr Profile) apply(p Person) Person {
	out := Person{CardCode: p.CardCode}
	if slices.Contains(pr.Fields, FieldName) {
		out.Names = p.Names
	}
	if slices.Contains(pr.Fields, FieldBirthDate) {
		out.BirthDate = p.BirthDate
	}
	if slices.Contains(pr.Fields, FieldSex) {
		out.Sex = p.Sex
	}
	if slices.Contains(pr.Fields, FieldPhone) {
		out.Phones = p.Phones
	}
	return out
}

// NewVXU writes a VXU^V04 (profile Z22) reporting doses upstream. The person
// is identified by card code only, plus the fields the profile names. Each
// Administration is written as ORC/RXA/RXR/OBX the way ReadVXU reads it, so
// that reading the message back gives the same administrations (Location
// aside). Action D reports an entered-in-error record; give it the
// FillerOrder of the original.
func NewVXU(p Person, doses []Administration, prof Profile, env Envelope) ([]byte, error) {
	if err := needControlID(env); err != nil {
		return nil, err
	}
	if err := prof.Validate(); err != nil {
		return nil, err
	}
	if p.CardCode == "" {
		return nil, registry.FieldErrorf(registry.EINVALID, "card_code", "The person's card code is required.")
	}
	for i := range doses {
		if err := checkDose(&doses[i], "doses["+strconv.Itoa(i)+"]"); err != nil {
			return nil, err
		}
	}
	var w writer
	w.msh(env, "VXU^V04^VXU_V04", ProfileVXU+"^"+profileSystem, "ER", "AL")
	w.pid(prof.apply(p))
	for i := range doses {
		w.order(&doses[i], nil, Coded{}, Date{})
	}
	return w.bytes(), nil
}

// checkDose reports what would make an administration unreadable.
func checkDose(a *Administration, field string) error {
	if !a.Date.Complete() {
		return registry.FieldErrorf(registry.EINVALID, field+".date", "The dose date must be a whole day.")
	}
	cvx := a.CVX
	if cvx == "" {
		cvx = a.Vaccine.In("CVX")
	}
	if !isCVX(cvx) {
		return registry.FieldErrorf(registry.EINVALID, field+".cvx", "The dose needs a CVX code.")
	}
	switch a.Completion {
	case "", Complete, Refused, NotAdministered, PartiallyAdministered:
	default:
		return registry.FieldErrorf(registry.EINVALID, field+".completion", "Completion must be CP, RE, NA or PA.")
	}
	switch a.Action {
	case "", ActionAdd, ActionDelete, ActionUpdate:
	default:
		return registry.FieldErrorf(registry.EINVALID, field+".action", "Action must be A, D or U.")
	}
	if a.InfoSource != "" && !slices.Contains(infoSources, a.InfoSource) {
		return registry.FieldErrorf(registry.EINVALID, field+".info_source", "The information source must be an NIP001 code (00 to 08).")
	}
	return nil
}

var infoSourceText = map[string]string{
	"00": "New immunization record",
	"01": "Historical information - source unspecified",
	"02": "Historical information - from other provider",
	"03": "Historical information - from parent's written record",
	"04": "Historical information - from parent's recall",
	"05": "Historical information - from other registry",
	"06": "Historical information - from birth certificate",
	"07": "Historical information - from school record",
	"08": "Historical information - from public agency",
}

var loincText = map[string]string{
	LOINCFundingEligibility: "Vaccine funding program eligibility category",
	LOINCFundingSource:      "Vaccine funding source",
	LOINCVaccineType:        "Vaccine Type",
	LOINCSchedule:           "Immunization Schedule used",
	LOINCDoseNumber:         "Dose number in series",
	LOINCSeriesDoses:        "Number of doses in primary series",
	LOINCDoseValidity:       "Dose validity",
	LOINCSeriesStatus:       "Status in immunization series",
	LOINCEarliestDate:       "Earliest date to give",
	LOINCRecommendedDate:    "Date vaccine due",
	LOINCPastDueDate:        "Date dose is overdue",
	LOINCLatestDate:         "Latest date next dose should be given",
	LOINCReason:             "Reason applied by forecast logic to project this vaccine",
}

func loinc(code string) Coded { return Coded{Code: code, Text: loincText[code], System: "LN"} }

// pid writes PID with the card code and whatever else p holds.
func (w *writer) pid(p Person) {
	names := make([]string, len(p.Names))
	for i, n := range p.Names {
		names[i] = xpn(n)
	}
	phones := make([]string, len(p.Phones))
	for i, ph := range p.Phones {
		phones[i] = xtn(ph)
	}
	w.seg("PID", "1", "", cardCX(p.CardCode), "", join('~', names...), "", p.BirthDate.HL7(), esc(p.Sex),
		"", "", "", "", join('~', phones...))
}

// order writes one ORC/RXA/RXR/OBX group. For a Z42 response, evals are
// written as OBX groups (30956-7, 59779-9, 30973-2, 59782-3, 59781-5,
// 30982-3) with the schedule and evaluation date given.
func (w *writer) order(a *Administration, evals []Evaluation, schedule Coded, asOf Date) {
	w.seg("ORC", "RE", ei(a.PlacerOrder), ei(a.FillerOrder))

	vaccine := a.Vaccine
	if vaccine.In("CVX") == "" {
		vaccine = Coded{Code: a.CVX, System: "CVX"}
	}
	mfr := a.Manufacturer
	if mfr.IsZero() && a.MVX != "" {
		mfr = Coded{Code: a.MVX, System: "MVX"}
	}
	amount := a.Amount
	if amount == "" {
		amount = "999"
	}
	var units string
	if a.Units != "" {
		units = comps(a.Units, "", "UCUM")
	}
	completion, action := a.Completion, a.Action
	if completion == "" {
		completion = Complete
	}
	if action == "" {
		action = ActionAdd
	}
	src := a.InfoSource
	if src == "" {
		switch {
		case a.Historical:
			src = "01"
		case completion == Complete || completion == PartiallyAdministered:
			src = "00"
		}
	}
	var rxa9, rxa11 string
	if src != "" {
		rxa9 = comps(src, infoSourceText[src], "NIP001")
	}
	if a.Facility != "" {
		rxa11 = "^^^" + esc(a.Facility)
	}
	w.seg("RXA", "0", "1", a.Date.HL7(), "", ce(vaccine), esc(amount), units, "", rxa9, "", rxa11, "", "", "",
		esc(a.Lot), a.Expiration.HL7(), ce(mfr), ce(a.RefusalReason), "", string(completion), string(action))
	if !a.Route.IsZero() || !a.BodySite.IsZero() {
		w.seg("RXR", ce(a.Route), ce(a.BodySite))
	}

	n, sub := 0, 0
	for _, o := range a.Observations {
		if k, err := strconv.Atoi(o.SubID); err == nil && k > sub {
			sub = k
		}
	}
	next := func() string { sub++; return strconv.Itoa(sub) }
	for _, e := range evals {
		s := next()
		w.obx(&n, "CE", loinc(LOINCVaccineType), s, ce(e.VaccineGroup), asOf, "")
		w.obx(&n, "CE", loinc(LOINCSchedule), s, ce(orSchedule(schedule)), asOf, "")
		if e.DoseNumber > 0 {
			w.obx(&n, "NM", loinc(LOINCDoseNumber), s, strconv.Itoa(e.DoseNumber), asOf, "")
		}
		if e.SeriesDoses > 0 {
			w.obx(&n, "NM", loinc(LOINCSeriesDoses), s, strconv.Itoa(e.SeriesDoses), asOf, "")
		}
		valid := "N"
		if e.Valid {
			valid = "Y"
		}
		w.obx(&n, "ID", loinc(LOINCDoseValidity), s, valid, asOf, "")
		if !e.Reason.IsZero() {
			w.obx(&n, "CE", loinc(LOINCReason), s, ce(e.Reason), asOf, "")
		}
	}
	if !a.FundingEligibility.IsZero() {
		w.obx(&n, "CE", loinc(LOINCFundingEligibility), next(), ce(a.FundingEligibility), a.Date,
			"VXC40^Eligibility captured at the immunization level^CDCPHINVS")
	}
	if !a.FundingSource.IsZero() {
		w.obx(&n, "CE", loinc(LOINCFundingSource), next(), ce(a.FundingSource), a.Date, "")
	}
	for _, o := range a.Observations {
		v := esc(o.Value.Code)
		if o.ValueType == "CE" || o.ValueType == "CWE" {
			v = ce(o.Value)
		}
		w.obx(&n, o.ValueType, o.Code, o.SubID, v, o.Date, "")
	}
}

// obx writes one OBX with result status F. value and method are raw.
func (w *writer) obx(n *int, typ string, code Coded, sub, value string, date Date, method string) {
	*n++
	w.seg("OBX", strconv.Itoa(*n), esc(typ), ce(code), esc(sub), value, "", "", "", "", "", "F", "", "",
		date.HL7(), "", "", method)
}

func orSchedule(c Coded) Coded {
	if c.IsZero() {
		return ScheduleACIP
	}
	return c
}

// ScheduleACIP is the schedule code the CDC guide uses for the ACIP schedule
// (59779-9 value).
var ScheduleACIP = Coded{Code: "VXC16", Text: "ACIP", System: "CDCPHINVS"}
