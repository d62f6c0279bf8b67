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

const (
	sysDoseStatus       = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status"
	sysDoseStatusReason = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status-reason"
	sysForecastStatus   = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
	sysLOINC            = "http://loinc.org"
	sysHavenStatus      = "https://haven-registry.org/fhir/CodeSystem/cdsi-status"
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
		code := "notvalid"
		if ev.Status == Valid {
			code = "valid"
		}
		res.DoseStatus = FHIRCodeableConcept{
			Coding: []FHIRCoding{{System: sysDoseStatus, Code: code}, {System: sysHavenStatus, Code: string(ev.Status)}},
			Text:   string(ev.Status),
		}
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
			ForecastStatus: forecastStatus(f, DateOf(asOf)),
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

// forecastStatus maps a series status to the FHIR immunization recommendation
// status code system (due, overdue, immune, contraindicated, complete), with
// Haven's own status alongside.
func forecastStatus(f Forecast, asOf Date) FHIRCodeableConcept {
	cc := FHIRCodeableConcept{Text: string(f.SeriesStatus)}
	code := ""
	switch f.SeriesStatus {
	case NotComplete:
		code = "due"
		if pd, err := ParseDate(f.PastDue); err == nil && f.PastDue != "" && asOf >= pd {
			code = "overdue"
		}
	case Complete:
		code = "complete"
	case Immune:
		code = "immune"
	case Contraindicated:
		code = "contraindicated"
	}
	if code != "" {
		cc.Coding = append(cc.Coding, FHIRCoding{System: sysForecastStatus, Code: code})
	}
	cc.Coding = append(cc.Coding, FHIRCoding{System: sysHavenStatus, Code: string(f.SeriesStatus)})
	return cc
}
