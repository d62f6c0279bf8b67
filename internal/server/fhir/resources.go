package fhir

import (
	"encoding/json"

	"github.com/haven-registry/haven/internal/schedule"
)

// Identifier systems, code systems and extensions that Haven defines.
const (
	// CardSystem is the identifier system of a card code.
	CardSystem = "https://haven-registry.org/fhir/sid/card-code"
	// SiteSystem is the identifier system of a site code.
	SiteSystem = "https://haven-registry.org/fhir/sid/site"
	// ProductSystem is the code system of Haven's catalogue IDs.
	ProductSystem = "https://haven-registry.org/fhir/CodeSystem/product"
	// PaymentExtension holds the amount paid for a dose (valueMoney).
	PaymentExtension = "https://haven-registry.org/fhir/StructureDefinition/payment"
	// BirthDateEstimatedExtension marks an estimated birth date (valueBoolean).
	BirthDateEstimatedExtension = "https://haven-registry.org/fhir/StructureDefinition/birth-date-estimated"
	// CDSiStatusExtension holds the CDSi status (valueCode) of an
	// evaluation (valid, not_valid, extraneous, sub_standard) or of a
	// recommendation (not_complete, complete, immune, contraindicated,
	// aged_out, not_recommended), which the standard status code is coarser
	// than.
	CDSiStatusExtension = "https://haven-registry.org/fhir/StructureDefinition/cdsi-status"
)

// Standard systems.
const (
	sysCVX         = "http://hl7.org/fhir/sid/cvx"
	sysMVX         = "http://hl7.org/fhir/sid/mvx"
	sysSNOMED      = "http://snomed.info/sct"
	sysICD11       = "http://id.who.int/icd11/mms"
	sysLOINC       = "http://loinc.org"
	sysOrigin      = "http://terminology.hl7.org/CodeSystem/immunization-origin"
	sysFunding     = "http://terminology.hl7.org/CodeSystem/immunization-funding-source"
	sysReasonCodes = "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status-reason"
)

// Coding and CodeableConcept are package schedule's, whose status codings
// this package writes as they are.
type (
	Coding          = schedule.FHIRCoding
	CodeableConcept = schedule.FHIRCodeableConcept
)

// Identifier is a FHIR Identifier.
type Identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Reference is a FHIR Reference.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Money is a FHIR Money; Value keeps the decimal exactly as Haven stores it.
type Money struct {
	Value    json.Number `json:"value,omitempty"`
	Currency string      `json:"currency,omitempty"`
}

// Extension is a FHIR Extension with one of the value types Haven writes.
type Extension struct {
	URL          string `json:"url"`
	ValueString  string `json:"valueString,omitempty"`
	ValueCode    string `json:"valueCode,omitempty"`
	ValueBoolean *bool  `json:"valueBoolean,omitempty"`
	ValueMoney   *Money `json:"valueMoney,omitempty"`
}

// Patient is the pseudonymous R4 Patient: card code, gender, birth date.
type Patient struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id,omitempty"`
	Extension    []Extension  `json:"extension,omitempty"`
	Identifier   []Identifier `json:"identifier,omitempty"`
	Gender       string       `json:"gender,omitempty"`
	BirthDate    string       `json:"birthDate,omitempty"`
}

// Immunization is the subset of the R4 Immunization that Haven fills.
type Immunization struct {
	ResourceType       string           `json:"resourceType"`
	ID                 string           `json:"id,omitempty"`
	Extension          []Extension      `json:"extension,omitempty"`
	Status             string           `json:"status"`
	StatusReason       *CodeableConcept `json:"statusReason,omitempty"`
	VaccineCode        CodeableConcept  `json:"vaccineCode"`
	Patient            Reference        `json:"patient"`
	OccurrenceDateTime string           `json:"occurrenceDateTime"`
	Recorded           string           `json:"recorded,omitempty"`
	PrimarySource      *bool            `json:"primarySource,omitempty"`
	ReportOrigin       *CodeableConcept `json:"reportOrigin,omitempty"`
	Location           *Reference       `json:"location,omitempty"`
	Manufacturer       *Reference       `json:"manufacturer,omitempty"`
	LotNumber          string           `json:"lotNumber,omitempty"`
	FundingSource      *CodeableConcept `json:"fundingSource,omitempty"`
}

// ImmunizationEvaluation is the evaluation of one dose for one antigen.
type ImmunizationEvaluation struct {
	ResourceType      string            `json:"resourceType"`
	Extension         []Extension       `json:"extension,omitempty"`
	Status            string            `json:"status"`
	Patient           Reference         `json:"patient"`
	Date              string            `json:"date,omitempty"`
	Authority         *Reference        `json:"authority,omitempty"`
	TargetDisease     CodeableConcept   `json:"targetDisease"`
	ImmunizationEvent Reference         `json:"immunizationEvent"`
	DoseStatus        CodeableConcept   `json:"doseStatus"`
	DoseStatusReason  []CodeableConcept `json:"doseStatusReason,omitempty"`
	Description       string            `json:"description,omitempty"`
	Series            string            `json:"series,omitempty"`
	DoseNumber        int               `json:"doseNumberPositiveInt,omitempty"`
}

// ImmunizationRecommendation is a forecast: one recommendation per vaccine
// group forecast (per series group).
type ImmunizationRecommendation struct {
	ResourceType   string           `json:"resourceType"`
	Patient        Reference        `json:"patient"`
	Date           string           `json:"date"`
	Authority      *Reference       `json:"authority,omitempty"`
	Recommendation []Recommendation `json:"recommendation"`
}

// Recommendation is one ImmunizationRecommendation.recommendation.
type Recommendation struct {
	Extension              []Extension       `json:"extension,omitempty"`
	TargetDisease          *CodeableConcept  `json:"targetDisease,omitempty"`
	ForecastStatus         CodeableConcept   `json:"forecastStatus"`
	ForecastReason         []CodeableConcept `json:"forecastReason,omitempty"`
	DateCriterion          []DateCriterion   `json:"dateCriterion,omitempty"`
	Description            string            `json:"description,omitempty"`
	Series                 string            `json:"series,omitempty"`
	DoseNumber             int               `json:"doseNumberPositiveInt,omitempty"`
	SupportingImmunization []Reference       `json:"supportingImmunization,omitempty"`
}

// DateCriterion is one recommendation.dateCriterion.
type DateCriterion struct {
	Code  CodeableConcept `json:"code"`
	Value string          `json:"value"`
}

// Bundle is a FHIR Bundle (searchset here).
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp,omitempty"`
	Total        *int          `json:"total,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleLink is one Bundle.link.
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is one Bundle.entry.
type BundleEntry struct {
	FullURL  string        `json:"fullUrl,omitempty"`
	Resource any           `json:"resource"`
	Search   *BundleSearch `json:"search,omitempty"`
}

// BundleSearch is Bundle.entry.search.
type BundleSearch struct {
	Mode string `json:"mode"`
}

// Parameters is a FHIR Parameters resource.
type Parameters struct {
	ResourceType string      `json:"resourceType"`
	Parameter    []Parameter `json:"parameter,omitempty"`
}

// Parameter is one Parameters.parameter.
type Parameter struct {
	Name      string `json:"name"`
	ValueDate string `json:"valueDate,omitempty"`
	Resource  any    `json:"resource,omitempty"`
}

// OperationOutcome is the body of every error.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

// Issue is one OperationOutcome.issue.
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Location    []string `json:"location,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

func ptr[T any](v T) *T { return &v }
