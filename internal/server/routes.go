package server

import (
	"net/http"

	"github.com/haven-registry/haven/internal/registry"
)

// route is one entry of the HTTP surface. Roles lists who may call it; nil
// means the route is public. Anything not in routes() is denied.
type route struct {
	Method, Pattern string
	Roles           []registry.Role
	Handler         http.Handler
}

var (
	public     []registry.Role
	admin      = []registry.Role{registry.RoleAdmin}
	vaccinator = []registry.Role{registry.RoleVaccinator}
	analyst    = []registry.Role{registry.RoleAnalyst}
	auditor    = []registry.Role{registry.RoleAuditor}
	staff      = []registry.Role{registry.RoleAdmin, registry.RoleVaccinator, registry.RoleAnalyst}
)

// routes is Haven's whole HTTP surface.
func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", public, s.handleHealthz()},
		{"GET", "/readyz", public, s.handleReadyz()},
		{"GET", "/metrics", public, s.metrics.handler()},
		{"GET", "/api/v1/openapi.json", public, handleOpenAPI()},

		{"GET", "/api/v1/products", staff, s.handleProductList()},

		{"POST", "/api/v1/persons", vaccinator, s.handlePersonCreate()},
		{"GET", "/api/v1/persons/{card}", vaccinator, s.handlePersonGet()},
		{"DELETE", "/api/v1/persons/{card}", admin, s.handlePersonErase()},
		{"POST", "/api/v1/persons/{card}/vaccinations", vaccinator, s.handleVaccinationCreate()},
		{"POST", "/api/v1/persons/{card}/tests", vaccinator, s.handleTestCreate()},
		{"POST", "/api/v1/persons/{card}/records/{id}/entered-in-error", vaccinator, s.handleEnteredInError()},
		{"GET", "/api/v1/persons/{card}/forecast", vaccinator, s.handleForecast()},
		{"POST", "/api/v1/persons/{card}/certificates", vaccinator, s.handleCertificateIssue()},
		{"POST", "/api/v1/certificates/verify", public, s.handleCertificateVerify()},

		{"POST", "/api/v1/eligibility", staff, s.handleEligibility()},

		{"GET", "/api/v1/sites", staff, s.handleSiteList()},
		{"POST", "/api/v1/sites", admin, s.handleSiteCreate()},
		{"POST", "/api/v1/tokens", admin, s.handleTokenCreate()},
		{"GET", "/api/v1/tokens", admin, s.handleTokenList()},
		{"DELETE", "/api/v1/tokens/{id}", admin, s.handleTokenRevoke()},

		{"POST", "/api/v1/holder/record", public, s.handleHolderRecord()},

		{"GET", "/api/v1/stats/coverage", analyst, s.handleCoverage()},
		{"GET", "/api/v1/stats/gaps", analyst, s.handleGaps()},
		{"GET", "/api/v1/audit", auditor, s.handleAuditList()},
		{"GET", "/api/v1/audit/verify", auditor, s.handleAuditVerify()},

		{"POST", "/api/v1/seal", admin, s.handleSeal()},
		{"POST", "/api/v1/unlock", admin, s.handleUnlock()},
	}
}
