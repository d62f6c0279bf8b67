package fhir

import (
	"net/http"

	"github.com/haven-registry/haven/internal/clinic"
)

// capabilityDate is when this CapabilityStatement last changed.
const capabilityDate = "2026-12-03"

// ImmDSOperation is the canonical URL of the ImmDS guide's OperationDefinition
// that $immds-forecast implements.
const ImmDSOperation = "http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation"

type (
	capabilityStatement struct {
		ResourceType   string              `json:"resourceType"`
		Status         string              `json:"status"`
		Date           string              `json:"date"`
		Publisher      string              `json:"publisher,omitempty"`
		Kind           string              `json:"kind"`
		Software       *capabilitySoftware `json:"software,omitempty"`
		Implementation *capabilityImpl     `json:"implementation,omitempty"`
		FHIRVersion    string              `json:"fhirVersion"`
		Format         []string            `json:"format"`
		Rest           []capabilityRest    `json:"rest"`
	}
	capabilitySoftware struct {
		Name string `json:"name"`
	}
	capabilityImpl struct {
		Description string `json:"description"`
		URL         string `json:"url,omitempty"`
	}
	capabilityRest struct {
		Mode          string                `json:"mode"`
		Documentation string                `json:"documentation,omitempty"`
		Security      *capabilitySecurity   `json:"security,omitempty"`
		Resource      []capabilityResource  `json:"resource"`
		Operation     []capabilityOperation `json:"operation,omitempty"`
	}
	capabilitySecurity struct {
		CORS        bool   `json:"cors"`
		Description string `json:"description"`
	}
	capabilityResource struct {
		Type              string                `json:"type"`
		Documentation     string                `json:"documentation,omitempty"`
		Interaction       []capabilityInteract  `json:"interaction"`
		ConditionalCreate bool                  `json:"conditionalCreate,omitempty"`
		SearchParam       []capabilitySearchPar `json:"searchParam,omitempty"`
	}
	capabilityInteract struct {
		Code string `json:"code"`
	}
	capabilitySearchPar struct {
		Name          string `json:"name"`
		Type          string `json:"type"`
		Documentation string `json:"documentation,omitempty"`
	}
	capabilityOperation struct {
		Name       string `json:"name"`
		Definition string `json:"definition"`
	}
)

// Metadata answers the CapabilityStatement: what this API serves, and that
// it finds people by card code only. It is public and reads nothing.
func (h *Handler) Metadata() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		card := capabilitySearchPar{Name: "patient", Type: "reference",
			Documentation: "The person, by card code only: patient.identifier=" + CardSystem + "|CARD, or patient=Patient/CARD."}
		date := capabilitySearchPar{Name: "date", Type: "date", Documentation: "The assessment date (default today)."}
		interactions := func(codes ...string) []capabilityInteract {
			out := make([]capabilityInteract, len(codes))
			for i, c := range codes {
				out[i] = capabilityInteract{Code: c}
			}
			return out
		}
		cs := capabilityStatement{ResourceType: "CapabilityStatement", Status: "active", Date: capabilityDate,
			Publisher: "Haven", Kind: "instance", Software: &capabilitySoftware{Name: "Haven"},
			Implementation: &capabilityImpl{Description: "Haven immunization registry: FHIR R4 API", URL: h.baseURL(r)},
			FHIRVersion:    "4.0.1", Format: []string{"application/fhir+json", "json"},
			Rest: []capabilityRest{{
				Mode: "server",
				Documentation: "Haven finds a person by their card code and nothing else: there is no search by name, " +
					"birth date, phone or any other detail, and such a search is refused. Patients are pseudonymous " +
					"(card code, gender, birth date).",
				Security: &capabilitySecurity{Description: "Authorization: Bearer <token>, with the roles of Haven's JSON API " +
					"(a vaccinator reads and records; only this CapabilityStatement is public). Every read of a person is audited."},
				Resource: []capabilityResource{
					{Type: "Patient", Documentation: "Read by card code (the id).", Interaction: interactions("read", "search-type"),
						SearchParam: []capabilitySearchPar{{Name: "identifier", Type: "token", Documentation: "The card code: " + CardSystem + "|CARD."}}},
					{Type: "Immunization", Documentation: "The id is CARD.RECORD. Create honours If-None-Exist and Idempotency-Key.",
						Interaction: interactions("read", "search-type", "create"), ConditionalCreate: true,
						SearchParam: []capabilitySearchPar{card}},
					{Type: "ImmunizationEvaluation", Documentation: "Computed by the server's schedule for each search; not stored.",
						Interaction: interactions("search-type"), SearchParam: []capabilitySearchPar{card, date}},
					{Type: "ImmunizationRecommendation", Documentation: "Computed by the server's schedule for each search; not stored.",
						Interaction: interactions("search-type"), SearchParam: []capabilitySearchPar{card, date}},
				},
				Operation: []capabilityOperation{{Name: "immds-forecast", Definition: ImmDSOperation}},
			}},
		}
		write(w, r, http.StatusOK, cs)
		return nil
	})
}
