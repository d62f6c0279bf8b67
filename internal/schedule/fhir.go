package schedule

import (
	"fmt"
	"time"
)

// LOINC codes of the ImmunizationRecommendation date criteria.
const (
	LOINCEarliest    = "30981-5" // Earliest date to give
	LOINCRecommended = "30980-7" // Date vaccine due
	LOINCLatest      = "59777-3" // Latest date to give immunization
	LOINCPastDue     = "59778-1" // Date when overdue for immunization
)

// FHIROptions names the resources that FHIR output refers to.
type FHIROptions struct {
	// Patient is the reference of the patient, for example "Patient/123".
	// Default "Patient/patient".
	Patient string
	// Immunization returns the reference of the Immunization resource for
	// dose index i (0-based, in the order given to Forecast). Default
	// "Immunization/dose-<i+1>".
	Immunization func(i int) string
	// Authority names the schedule in ImmunizationEvaluation.authority and
	// ImmunizationRecommendation.authority (display only). Default
	// "CDSi schedule <name>".
	Authority string
}

// FHIRBundle is a FHIR R4 Bundle of type "collection".
type FHIRBundle struct {
	ResourceType string      `json:"resourceType"`
	Type         string      `json:"type"`
	Timestamp    string      `json:"timestamp,omitempty"`
	Entry        []FHIREntry `json:"entry"`
}

// FHIREntry is one entry of a FHIRBundle.
type FHIREntry struct {
	FullURL  string `json:"fullUrl,omitempty"`
	Resource any    `json:"resource"`
}

// FHIRCoding is a FHIR Coding.
type FHIRCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// FHIRCodeableConcept is a FHIR CodeableConcept.
type FHIRCodeableConcept struct {
	Coding []FHIRCoding `json:"coding,omitempty"`
	Text   string       `json:"text,omitempty"`
}

// FHIRReference is a FHIR Reference.
type FHIRReference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

// FHIRImmunizationEvaluation is the subset of the R4 ImmunizationEvaluation
// resource that Haven fills.
type FHIRImmunizationEvaluation struct {
	ResourceType     string                `json:"resourceType"`
	ID               string                `json:"id,omitempty"`
	Status           string                `json:"status"`
	Patient          FHIRReference         `json:"patient"`
	Date             string                `json:"date,omitempty"`
	Authority        *FHIRReference        `json:"authority,omitempty"`
	TargetDisease    FHIRCodeableConcept   `json:"targetDisease"`
	ImmunizationEvt  FHIRReference         `json:"immunizationEvent"`
	DoseStatus       FHIRCodeableConcept   `json:"doseStatus"`
	DoseStatusReason []FHIRCodeableConcept `json:"doseStatusReason,omitempty"`
	Description      string                `json:"description,omitempty"`
	Series           string                `json:"series,omitempty"`
}

// FHIRImmunizationRecommendation is the subset of the R4
// ImmunizationRecommendation resource that Haven fills.
type FHIRImmunizationRecommendation struct {
	ResourceType   string                   `json:"resourceType"`
	ID             string                   `json:"id,omitempty"`
	Patient        FHIRReference            `json:"patient"`
	Date           string                   `json:"date"`
	Authority      *FHIRReference           `json:"authority,omitempty"`
	Recommendation []FHIRRecommendationItem `json:"recommendation"`
}

// FHIRRecommendationItem is one ImmunizationRecommendation.recommendation.
type FHIRRecommendationItem struct {
	Extension         []FHIRExtension       `json:"extension,omitempty"`
	TargetDisease     FHIRCodeableConcept   `json:"targetDisease"`
	ForecastStatus    FHIRCodeableConcept   `json:"forecastStatus"`
	ForecastReason    []FHIRCodeableConcept `json:"forecastReason,omitempty"`
	DateCriterion     []FHIRDateCriterion   `json:"dateCriterion,omitempty"`
	Description       string                `json:"description,omitempty"`
	Series            string                `json:"series,omitempty"`
	SupportingImmunis []FHIRReference       `json:"supportingImmunization,omitempty"`
}

// FHIRExtension is a FHIR extension with a string value.
type FHIRExtension struct {
	URL         string `json:"url"`
	ValueString string `json:"valueString"`
}

// Extension URLs of a FHIRRecommendationItem: the CDSi series group (its
// identifier in the supporting data, for example "2") and series type
// ("standard" or "risk") of the vaccine group forecast it carries.
const (
	FHIRExtSeriesGroup = "https://haven-registry.org/fhir/StructureDefinition/cdsi-series-group"
	FHIRExtSeriesType  = "https://haven-registry.org/fhir/StructureDefinition/cdsi-series-type"
)

// FHIRDateCriterion is one recommendation.dateCriterion.
type FHIRDateCriterion struct {
	Code  FHIRCodeableConcept `json:"code"`
	Value string              `json:"value"`
}

// Code systems of the status codings: the standard systems that R4 binds to
// ImmunizationEvaluation.doseStatus and recommendation.forecastStatus.
const (
	FHIRSystemDoseStatus     = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status"
	FHIRSystemForecastStatus = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
)

const (
	sysDoseStatusReason = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status-reason"
	sysLOINC            = "http://loinc.org"
)

// FHIR converts a Result into a FHIR R4 Bundle holding one
// ImmunizationEvaluation per evaluation and one ImmunizationRecommendation
// with one recommendation per vaccine group forecast, that is per entry of
// Result.Forecasts and so per series group, in the same order (the
// ImmunizationRecommendation is omitted when the result has no forecast,
// since FHIR requires at least one recommendation). Each recommendation
// carries the series group and series type in the extensions
// FHIRExtSeriesGroup and FHIRExtSeriesType, and the series group name in its
// description. Date criteria use LOINC 30981-5 (earliest), 30980-7
// (recommended), 59778-1 (past due) and 59777-3 (latest); a date the
// forecast leaves empty has no criterion. asOf is the assessment date.
func (r Result) FHIR(asOf time.Time, opt FHIROptions) FHIRBundle {
	if opt.Patient == "" {
		opt.Patient = "Patient/patient"
	}
	if opt.Immunization == nil {
		opt.Immunization = func(i int) string { return fmt.Sprintf("Immunization/dose-%d", i+1) }
	}
	var auth *FHIRReference
	if opt.Authority != "" {
		auth = &FHIRReference{Display: opt.Authority}
	}
	date := DateOf(asOf).String()
	b := FHIRBundle{ResourceType: "Bundle", Type: "collection", Timestamp: asOf.UTC().Format(time.RFC3339)}
	for i, ev := range r.Evaluations {
		res := FHIRImmunizationEvaluation{
			ResourceType:    "ImmunizationEvaluation",
			ID:              fmt.Sprintf("evaluation-%d", i+1),
			Status:          "completed",
			Patient:         FHIRReference{Reference: opt.Patient},
			Date:            date,
			Authority:       auth,
			TargetDisease:   FHIRCodeableConcept{Text: ev.Antigen},
			ImmunizationEvt: FHIRReference{Reference: opt.Immunization(ev.DoseIndex)},
			Description:     ev.Reason,
			Series:          ev.Series,
		}
		res.DoseStatus = FHIRDoseStatus(ev.Status)
		if ev.Status != Valid {
			reason := FHIRCodeableConcept{Text: ev.Reason}
			if ev.Status == NotValid || ev.Status == Extraneous {
				reason.Coding = []FHIRCoding{{System: sysDoseStatusReason, Code: "outsidesched", Display: "Administered outside recommended schedule"}}
			}
			if reason.Text != "" || reason.Coding != nil {
				res.DoseStatusReason = []FHIRCodeableConcept{reason}
			}
		}
		b.Entry = append(b.Entry, FHIREntry{FullURL: "urn:haven:evaluation-" + fmt.Sprint(i+1), Resource: res})
	}
	rec := FHIRImmunizationRecommendation{
		ResourceType: "ImmunizationRecommendation", ID: "recommendation",
		Patient: FHIRReference{Reference: opt.Patient}, Date: date, Authority: auth,
		Recommendation: []FHIRRecommendationItem{},
	}
	for _, f := range r.Forecasts {
		item := FHIRRecommendationItem{
			TargetDisease:  FHIRCodeableConcept{Text: f.VaccineGroup},
			ForecastStatus: FHIRForecastStatus(f, asOf),
		}
		if f.Reason != "" {
			item.ForecastReason = []FHIRCodeableConcept{{Text: f.Reason}}
		}
		if f.SeriesGroup != "" {
			item.Extension = append(item.Extension, FHIRExtension{URL: FHIRExtSeriesGroup, ValueString: f.SeriesGroup})
		}
		if f.SeriesType != "" {
			item.Extension = append(item.Extension, FHIRExtension{URL: FHIRExtSeriesType, ValueString: f.SeriesType})
		}
		if f.SeriesGroupName != "" {
			item.Description = "Series group " + f.SeriesGroup + ": " + f.SeriesGroupName
		}
		if len(f.Series) > 0 {
			item.Series = f.Series[0]
		}
		for _, c := range []struct{ code, display, value string }{
			{LOINCEarliest, "Earliest date to give", f.Earliest},
			{LOINCRecommended, "Date vaccine due", f.Recommended},
			{LOINCPastDue, "Date when overdue for immunization", f.PastDue},
			{LOINCLatest, "Latest date to give immunization", f.Latest},
		} {
			if c.value == "" {
				continue
			}
			item.DateCriterion = append(item.DateCriterion, FHIRDateCriterion{
				Code:  FHIRCodeableConcept{Coding: []FHIRCoding{{System: sysLOINC, Code: c.code, Display: c.display}}},
				Value: c.value,
			})
		}
		rec.Recommendation = append(rec.Recommendation, item)
	}
	if len(rec.Recommendation) > 0 { // FHIR requires at least one recommendation
		b.Entry = append(b.Entry, FHIREntry{FullURL: "urn:haven:recommendation", Resource: rec})
	}
	return b
}

// FHIRDoseStatus is the ImmunizationEvaluation.doseStatus of a dose status:
// one coding from FHIRSystemDoseStatus, valid, or notvalid for a dose that is
// not valid, extraneous or sub-standard, and Haven's status as the text.
// Only the standard coding is written: a validator checks every coding of a
// bound element against the value set, and Haven's finer status is kept in
// the text (and, in the FHIR API, in an extension).
func FHIRDoseStatus(s Status) FHIRCodeableConcept {
	std := FHIRCoding{System: FHIRSystemDoseStatus, Code: "notvalid", Display: "Not valid"}
	if s == Valid {
		std = FHIRCoding{System: FHIRSystemDoseStatus, Code: "valid", Display: "Valid"}
	}
	return FHIRCodeableConcept{Coding: []FHIRCoding{std}, Text: string(s)}
}

// FHIRForecastStatus is the ImmunizationRecommendation.recommendation
// forecastStatus of a vaccine group forecast as of asOf: one coding from
// FHIRSystemForecastStatus, whose R4 codes are due, overdue, immune,
// contraindicated and complete, and Haven's status as the text:
//
//	not complete     due, or overdue from the past-due date on
//	complete         complete
//	immune           immune
//	contraindicated  contraindicated
//	aged out         complete: no further dose is recommended
//	not recommended  complete: no further dose is recommended
//
// R4 has no code for aged out or not recommended. The ImmDS guide's own
// ForecastStatus code system (agedOut, notRecommended) and HL7 Terminology
// 2.0.0 (agedout) have codes for them, but none is in R4's value set, so
// such a coding would fail validation against R4; the text keeps Haven's
// status, and the forecast's reason (forecastReason) says why no dose is
// recommended.
func FHIRForecastStatus(f Forecast, asOf time.Time) FHIRCodeableConcept {
	std := FHIRCoding{Code: "complete", Display: "Complete"}
	switch f.SeriesStatus {
	case NotComplete:
		std = FHIRCoding{Code: "due", Display: "Due"}
		if pd, err := ParseDate(f.PastDue); err == nil && f.PastDue != "" && DateOf(asOf) >= pd {
			std = FHIRCoding{Code: "overdue", Display: "Overdue"}
		}
	case Immune:
		std = FHIRCoding{Code: "immune", Display: "Immune"}
	case Contraindicated:
		std = FHIRCoding{Code: "contraindicated", Display: "Contraindicated"}
	}
	std.System = FHIRSystemForecastStatus
	return FHIRCodeableConcept{Coding: []FHIRCoding{std}, Text: string(f.SeriesStatus)}
}
