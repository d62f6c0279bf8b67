package server

import (
	"net/http"

	"github.com/haven-registry/haven/internal/clinic"
)

// route is one entry of the HTTP API. Action is the clinic action the
// handler calls: its permission (clinic.PermissionOf) says who may call the
// route and whether it works while the vault is sealed, so the route table
// and the actions can never disagree. A route with no action (health,
// metrics, the OpenAPI document) is public and works while sealed.
type route struct {
	Method, Pattern string
	Action          clinic.Action
	Handler         http.Handler
}

// routes is Haven's whole JSON API. The web pages are in webApp.routes.
// Anything in neither is denied.
func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", "", s.handleHealthz()},
		{"GET", "/readyz", "", s.handleReadyz()},
		{"GET", "/metrics", "", s.metrics.handler()},
		{"GET", "/api/v1/openapi.json", "", handleOpenAPI()},

		{"GET", "/api/v1/products", clinic.ActProductList, s.handleProductList()},

		{"POST", "/api/v1/persons", clinic.ActPersonCreate, s.handlePersonCreate()},
		{"GET", "/api/v1/persons/{card}", clinic.ActPersonRead, s.handlePersonGet()},
		{"PATCH", "/api/v1/persons/{card}", clinic.ActPersonEdit, s.handlePersonEdit()},
		{"DELETE", "/api/v1/persons/{card}", clinic.ActPersonErase, s.handlePersonErase()},
		{"POST", "/api/v1/persons/{card}/vaccinations", clinic.ActVaccinationCreate, s.handleVaccinationCreate()},
		{"POST", "/api/v1/persons/{card}/tests", clinic.ActTestCreate, s.handleTestCreate()},
		{"POST", "/api/v1/persons/{card}/records/{id}/entered-in-error", clinic.ActCorrectionCreate, s.handleEnteredInError()},
		{"GET", "/api/v1/persons/{card}/forecast", clinic.ActPersonForecast, s.handleForecast()},
		{"POST", "/api/v1/persons/{card}/certificates", clinic.ActCertificateIssue, s.handleCertificateIssue()},
		{"POST", "/api/v1/certificates/verify", clinic.ActCertificateVerify, s.handleCertificateVerify()},

		{"POST", "/api/v1/eligibility", clinic.ActEligibility, s.handleEligibility()},

		{"GET", "/api/v1/sites", clinic.ActSiteList, s.handleSiteList()},
		{"POST", "/api/v1/sites", clinic.ActSiteCreate, s.handleSiteCreate()},
		{"POST", "/api/v1/tokens", clinic.ActTokenCreate, s.handleTokenCreate()},
		{"GET", "/api/v1/tokens", clinic.ActTokenList, s.handleTokenList()},
		{"DELETE", "/api/v1/tokens/{id}", clinic.ActTokenRevoke, s.handleTokenRevoke()},

		{"POST", "/api/v1/holder/record", clinic.ActHolderRead, s.handleHolderRecord()},

		{"GET", "/api/v1/stats/coverage", clinic.ActStatsCoverage, s.handleCoverage()},
		{"GET", "/api/v1/stats/gaps", clinic.ActStatsGaps, s.handleGaps()},
		{"GET", "/api/v1/audit", clinic.ActAuditList, s.handleAuditList()},
		{"GET", "/api/v1/audit/verify", clinic.ActAuditVerify, s.handleAuditVerify()},

		{"POST", "/api/v1/seal", clinic.ActVaultSeal, s.handleSeal()},
		{"POST", "/api/v1/unlock", clinic.ActVaultUnlock, s.handleUnlock()},
	}
}

// permissionOf is the permission of a route: its action's, or public and
// available while sealed for a route with no action.
func permissionOf(action clinic.Action) clinic.Permission {
	if action == "" {
		return clinic.Permission{WhileSealed: true}
	}
	p, ok := clinic.PermissionOf(action)
	if !ok {
		// A route naming an audit-only action is a build defect; deny it.
		return clinic.Permission{Roles: []registryRole{}}
	}
	return p
}
