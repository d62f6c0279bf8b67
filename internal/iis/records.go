package iis

import (
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

// administrationOf writes a Haven vaccination as an HL7 order: ORC-3 is
// Haven's record ID (so that a later deletion names it), RXA-5 the product's
// CVX code, RXA-17 its MVX, RXA-9 the source and RXA-20 whether it was
// given. A refusal carries RXA-18 "00^Parental decision" only when known to
// be a refusal (PATOBJ).
func administrationOf(cat *catalog.Catalog, v *registry.Vaccination) hl7.Administration {
	a := hl7.Administration{
		FillerOrder: hl7.OrderID{ID: v.ID.String(), Namespace: hl7.HavenAuthority},
		Date:        hl7.Date{Year: v.Date.Year, Month: int(v.Date.Month), Day: v.Date.Day},
		Lot:         v.Lot,
		Completion:  hl7.Complete,
		Action:      hl7.ActionAdd,
		Amount:      "",
	}
	a.CVX = hl7.CVXNotAdministered
	if p, ok := cat.ByID(v.Product); ok && p.CVXCode() != "" {
		a.CVX = p.CVXCode()
		a.Vaccine = hl7.Coded{Code: a.CVX, Text: p.Name("en"), System: "CVX"}
		if p.MVX != "" {
			a.MVX = p.MVX
			a.Manufacturer = hl7.Coded{Code: p.MVX, Text: p.Manufacturer, System: "MVX"}
		}
	} else {
		a.Vaccine = hl7.Coded{Code: a.CVX, Text: "No vaccine administered", System: "CVX"}
	}
	switch v.Source {
	case registry.SourceAdministered:
		a.InfoSource = "00"
		a.Facility = v.Site
	case registry.SourceHistoricalCard:
		a.InfoSource, a.Historical = "03", true
	case registry.SourceSelfReport:
		a.InfoSource, a.Historical = "04", true
	default:
		a.InfoSource, a.Historical = "01", true
	}
	if v.Status == registry.StatusNotDone {
		a.Completion = hl7.NotAdministered
		if v.StatusReason == registry.ReasonPatientObjection {
			a.Completion = hl7.Refused
			a.RefusalReason = hl7.Coded{Code: "00", Text: "Parental decision", System: "NIP002"}
		}
	}
	if v.Status == registry.StatusEnteredInError {
		a.Action = hl7.ActionDelete
	}
	if v.Payment.Kind == "paid" {
		a.FundingSource = hl7.Coded{Code: "PHC70", Text: "Private funds", System: "CDCPHINVS"}
	}
	return a
}

// scheduleOf is the 59779-9 value of the schedule a forecast used.
func scheduleOf(name string) hl7.Coded {
	if name == "cdc" {
		return hl7.ScheduleACIP
	}
	return hl7.Coded{Code: strings.ToUpper(name), Text: name + " schedule (Haven)", System: "99HAVEN"}
}

// vaccineGroupCVX maps a CDSi vaccine group, or an antigen, to the CVX code
// that HL7 immunization messages use for it in OBX 30956-7 (the
// "unspecified formulation" code of the group). Groups without a generally
// used code are written with their name as text only.
var vaccineGroupCVX = map[string]string{
	"covid-19": "213", "dtap/tdap/td": "107", "diphtheria": "107", "tetanus": "107", "pertussis": "107",
	"hepa": "85", "hepb": "45", "hib": "17", "hpv": "137", "influenza": "88",
	"mmr": "03", "measles": "03", "mumps": "03", "rubella": "03",
	"meningococcal": "108", "meningococcal b": "164", "pneumococcal": "109", "polio": "89",
	"rotavirus": "122", "varicella": "21", "zoster": "188", "yellow fever": "37", "rabies": "90",
	"typhoid": "91", "japanese encephalitis": "129", "cholera": "26", "dengue": "56",
}

// vaccineGroup returns the coded vaccine group of a CDSi group or antigen.
func vaccineGroup(name string) hl7.Coded {
	if cvx, ok := vaccineGroupCVX[strings.ToLower(name)]; ok {
		return hl7.Coded{Code: cvx, Text: name, System: "CVX"}
	}
	return hl7.Coded{Text: name}
}

// dateOf reads a schedule date (YYYY-MM-DD, or "").
func dateOf(s string) hl7.Date {
	if s == "" {
		return hl7.Date{}
	}
	d, err := hl7.ParseDate(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		return hl7.Date{}
	}
	return d
}

// seriesStatus maps a forecast's status to LOINC's answers of 59783-1.
func seriesStatus(f schedule.Forecast, asOf time.Time) hl7.Coded {
	switch f.SeriesStatus {
	case schedule.Complete, schedule.Immune:
		return hl7.SeriesComplete
	case schedule.NotComplete:
		if d := dateOf(f.PastDue); !d.IsZero() && !time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC).After(asOf) {
			return hl7.SeriesOverdue
		}
		return hl7.SeriesOnSchedule
	}
	return hl7.Coded{Code: string(f.SeriesStatus), Text: strings.ReplaceAll(string(f.SeriesStatus), "_", " "), System: "99HAVEN"}
}

// historyOfRecord builds the content of a query response: the doses (all but
// those entered in error) and, with a forecast, their evaluations and the
// forecast of each vaccine group.
func historyOfRecord(cat *catalog.Catalog, rec *registry.Record, f *clinic.Forecast) *hl7.History {
	h := &hl7.History{Patient: hl7.Person{CardCode: string(rec.Person.CardCode)}}
	for i := range rec.Vaccinations {
		v := &rec.Vaccinations[i]
		if v.Status == registry.StatusEnteredInError {
			continue
		}
		d := hl7.EvaluatedDose{Administration: administrationOf(cat, v)}
		if f != nil {
			for _, ev := range f.ByRecord[v.ID] {
				d.Evaluations = append(d.Evaluations, hl7.Evaluation{VaccineGroup: vaccineGroup(ev.Antigen),
					Valid: ev.Status == schedule.Valid, Reason: reasonOf(ev.Reason)})
			}
		}
		h.Doses = append(h.Doses, d)
	}
	if f == nil || f.Unavailable != "" {
		return h
	}
	h.AsOf = hl7.Date{Year: f.AsOf.Year, Month: int(f.AsOf.Month), Day: f.AsOf.Day}
	h.Schedule = scheduleOf(f.Schedule)
	asOf := f.AsOf.Time()
	seen := map[string]bool{}
	for _, fc := range f.Result.Forecasts {
		if seen[fc.VaccineGroup] { // the first forecast of a group is the one to read (ADR 0003)
			continue
		}
		seen[fc.VaccineGroup] = true
		h.Forecasts = append(h.Forecasts, hl7.Forecast{VaccineGroup: vaccineGroup(fc.VaccineGroup), Status: seriesStatus(fc, asOf),
			Earliest: dateOf(fc.Earliest), Recommended: dateOf(fc.Recommended), PastDue: dateOf(fc.PastDue), Latest: dateOf(fc.Latest)})
	}
	return h
}

func reasonOf(s string) hl7.Coded {
	if s == "" {
		return hl7.Coded{}
	}
	return hl7.Coded{Text: s}
}
