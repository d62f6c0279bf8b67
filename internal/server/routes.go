package server

import (
	"net/http"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/web"
)

// This file is Haven's whole HTTP surface: the JSON API, the web pages and
// the static files. A request that matches none of these routes is denied
// (404 in the API's error shape).

// mux routes every request: the API through authorize, with its action's
// permission; the pages through the web app's wrapper, with the roles,
// sealed behaviour and return page of their row.
func (s *Server) mux() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.apiRoutes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.authorize(permissionOf(rt.Action), rt.Handler))
	}
	for _, rt := range s.pageRoutes() {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	mux.Handle("/", s.notFound())
	return mux
}

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

// apiRoutes is Haven's whole JSON API, with the endpoints for operators.
// openapi.json documents exactly these routes with the same roles.
func (s *Server) apiRoutes() []route {
	a, f := s.api, s.fhir
	return []route{
		// FHIR R4: the same actions, in FHIR's shapes (internal/server/fhir).
		{"GET", "/fhir/r4/metadata", "", f.Metadata()},
		{"GET", "/fhir/r4/Patient/{card}", clinic.ActPersonRead, f.PatientRead()},
		{"GET", "/fhir/r4/Patient", clinic.ActPersonRead, f.PatientSearch()},
		{"GET", "/fhir/r4/Immunization/{id}", clinic.ActPersonRead, f.ImmunizationRead()},
		{"GET", "/fhir/r4/Immunization", clinic.ActPersonRead, f.ImmunizationSearch()},
		{"POST", "/fhir/r4/Immunization", clinic.ActVaccinationCreate, f.ImmunizationCreate()},
		{"GET", "/fhir/r4/ImmunizationEvaluation", clinic.ActPersonForecast, f.EvaluationSearch()},
		{"GET", "/fhir/r4/ImmunizationRecommendation", clinic.ActPersonForecast, f.RecommendationSearch()},
		{"POST", "/fhir/r4/$immds-forecast", clinic.ActHistoryEvaluate, f.ImmDSForecast()},
		{"GET", "/fhir/r4/", "", f.NotFound()},
		{"POST", "/fhir/r4/", "", f.NotFound()},

		{"GET", "/healthz", "", s.handleHealthz()},
		{"GET", "/readyz", "", s.handleReadyz()},
		{"GET", "/metrics", "", s.metrics.handler()},
		{"GET", "/api/v1/openapi.json", "", handleOpenAPI()},

		{"GET", "/api/v1/products", clinic.ActProductList, a.ProductList()},

		{"POST", "/api/v1/persons", clinic.ActPersonCreate, a.PersonCreate()},
		{"GET", "/api/v1/persons/{card}", clinic.ActPersonRead, a.PersonGet()},
		{"PATCH", "/api/v1/persons/{card}", clinic.ActPersonEdit, a.PersonEdit()},
		{"DELETE", "/api/v1/persons/{card}", clinic.ActPersonErase, a.PersonErase()},
		{"POST", "/api/v1/persons/{card}/vaccinations", clinic.ActVaccinationCreate, a.VaccinationCreate()},
		{"POST", "/api/v1/persons/{card}/tests", clinic.ActTestCreate, a.TestCreate()},
		{"POST", "/api/v1/persons/{card}/records/{id}/entered-in-error", clinic.ActCorrectionCreate, a.EnteredInError()},
		{"GET", "/api/v1/persons/{card}/forecast", clinic.ActPersonForecast, a.Forecast()},
		{"POST", "/api/v1/persons/{card}/certificates", clinic.ActCertificateIssue, a.CertificateIssue()},
		{"POST", "/api/v1/certificates/verify", clinic.ActCertificateVerify, a.CertificateVerify()},

		{"POST", "/api/v1/eligibility", clinic.ActEligibility, a.Eligibility()},

		// HL7 v2 (internal/iis): VXU in, QBP answered; the upstream feed's outbox.
		{"POST", "/api/v1/hl7", clinic.ActHistoryImport, s.handleHL7()},
		{"GET", "/api/v1/iis/outbox", clinic.ActOutboxList, a.OutboxList()},
		{"POST", "/api/v1/iis/outbox/{seq}/retry", clinic.ActOutboxRetry, a.OutboxRetry()},

		// Offline clinic nodes (docs/adr/0006): a node token's only routes.
		{"POST", "/api/v1/sync/hello", clinic.ActSyncHello, a.SyncHello()},
		{"POST", "/api/v1/sync/push", clinic.ActSyncPush, a.SyncPush()},
		{"GET", "/api/v1/sync/pull", clinic.ActSyncPull, a.SyncPull()},
		{"GET", "/api/v1/sync/trust", clinic.ActSyncPull, a.SyncTrust()},
		{"GET", "/api/v1/sync/policies", clinic.ActSyncPull, a.SyncPolicies()},
		{"GET", "/api/v1/sync/persons/{card}", clinic.ActSyncLookup, a.SyncLookup()},
		{"GET", "/api/v1/sync/status", clinic.ActSyncStatus, a.SyncStatus()},
		{"POST", "/api/v1/sync/failed/{seq}/retry", clinic.ActSyncRetry, a.SyncRetry()},

		{"GET", "/api/v1/sites", clinic.ActSiteList, a.SiteList()},
		{"POST", "/api/v1/sites", clinic.ActSiteCreate, a.SiteCreate()},
		{"POST", "/api/v1/tokens", clinic.ActTokenCreate, a.TokenCreate()},
		{"GET", "/api/v1/tokens", clinic.ActTokenList, a.TokenList()},
		{"DELETE", "/api/v1/tokens/{id}", clinic.ActTokenRevoke, a.TokenRevoke()},

		{"POST", "/api/v1/holder/record", clinic.ActHolderRead, a.HolderRecord()},

		{"GET", "/api/v1/stats/coverage", clinic.ActStatsCoverage, a.Coverage()},
		{"GET", "/api/v1/stats/gaps", clinic.ActStatsGaps, a.Gaps()},
		{"GET", "/api/v1/audit", clinic.ActAuditList, a.AuditList()},
		{"GET", "/api/v1/audit/verify", clinic.ActAuditVerify, a.AuditVerify()},

		// Shredding works while sealed; the action checks a plain seal
		// against vault.seal.
		{"POST", "/api/v1/seal", clinic.ActVaultShred, a.Seal()},
		{"POST", "/api/v1/unlock", clinic.ActVaultUnlock, a.Unlock()},
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
		return clinic.Permission{Roles: []registry.Role{}}
	}
	return p
}

// pageRoute is one web page. Roles may open it (nil: anyone, signed in or
// not); WhileSealed pages are served while the vault is sealed. Back, for
// a form's target, is the page the language switcher returns to, since a
// POST's answer cannot be fetched again ({card} is the request's; "" is the
// home page). Handler is the page wrapped with these columns (web.App.Page),
// which authenticates with the session cookie, never a bearer token. The
// actions a page calls check the same again; this answers before the form
// is read.
type pageRoute struct {
	Method, Pattern string
	Roles           []registry.Role
	WhileSealed     bool
	Back            string
	Handler         http.Handler
}

// pageRoutes is the whole web app.
func (s *Server) pageRoutes() []pageRoute {
	var (
		vac    = []registry.Role{registry.RoleVaccinator}
		prog   = []registry.Role{registry.RoleAnalyst, registry.RoleAdmin}
		staff  = []registry.Role{registry.RoleVaccinator, registry.RoleAnalyst, registry.RoleAdmin}
		ana    = []registry.Role{registry.RoleAnalyst}
		adm    = []registry.Role{registry.RoleAdmin}
		aud    = []registry.Role{registry.RoleAuditor}
		anyone []registry.Role // public pages
	)
	const (
		sealed   = true  // works while the vault is sealed
		unsealed = false // answers 503 sealed while the vault is sealed
	)
	w := s.web
	p := func(method, pattern string, roles []registry.Role, whileSealed bool, back string, h web.PageFunc) pageRoute {
		return pageRoute{Method: method, Pattern: pattern, Roles: roles, WhileSealed: whileSealed, Back: back,
			Handler: w.Page(roles, whileSealed, back, h)}
	}
	return []pageRoute{
		// method, pattern, roles, while sealed, back, page
		{Method: "GET", Pattern: "/static/", Roles: anyone, WhileSealed: sealed, Handler: w.Static()},
		p("GET", "/{$}", anyone, sealed, "", w.Home),
		p("GET", "/lang", anyone, sealed, "", w.SetLanguage),
		p("GET", "/signin", anyone, sealed, "", w.SigninForm),
		p("POST", "/signin", anyone, sealed, "/signin", w.Signin),
		p("POST", "/signout", anyone, sealed, "/", w.Signout),

		p("GET", "/clinic", vac, unsealed, "", w.ClinicHome),
		p("POST", "/clinic/find", vac, unsealed, "/clinic", w.ClinicFind),
		p("POST", "/clinic/register", vac, unsealed, "/clinic", w.ClinicRegister),
		p("GET", "/clinic/p/{card}", vac, unsealed, "", w.PersonPage),
		p("POST", "/clinic/p/{card}/visit", vac, unsealed, "/clinic/p/{card}?purpose=care", w.VisitForecast),
		p("GET", "/clinic/p/{card}/edit", vac, unsealed, "", w.EditPersonForm),
		p("POST", "/clinic/p/{card}/edit", vac, unsealed, "/clinic/p/{card}/edit", w.EditPerson),
		p("GET", "/clinic/p/{card}/records/{id}/error", vac, unsealed, "", w.CorrectionForm),
		p("POST", "/clinic/p/{card}/records/{id}/error", vac, unsealed, "/clinic/p/{card}?purpose=correction", w.MarkEnteredInError),
		p("POST", "/clinic/p/{card}/dose", vac, unsealed, "/clinic/p/{card}?purpose=care", w.RecordDose),
		p("POST", "/clinic/p/{card}/test", vac, unsealed, "/clinic/p/{card}?purpose=care", w.RecordTest),
		p("GET", "/clinic/p/{card}/saved/{id}", vac, unsealed, "", w.SavedPage),
		p("GET", "/clinic/p/{card}/card", vac, unsealed, "", w.PrintCard),
		p("POST", "/clinic/p/{card}/certificate", vac, unsealed, "/clinic/p/{card}?purpose=care", w.IssueCertificate),
		p("GET", "/check", staff, unsealed, "", w.CheckForm),
		p("POST", "/check", staff, unsealed, "/check", w.Check),

		p("GET", "/program", prog, unsealed, "", w.ProgramHome),
		p("GET", "/program/policy", prog, unsealed, "", w.PolicyExplorer),
		p("POST", "/program/policy/explain", prog, unsealed, "/program/policy", w.PolicyExplain),
		p("GET", "/program/policy/diff", prog, unsealed, "", w.PolicyDiff),
		p("GET", "/program/simulate", prog, unsealed, "", w.SimulateForm),
		p("POST", "/program/simulate", prog, unsealed, "/program/simulate", w.Simulate),
		p("GET", "/program/coverage", ana, unsealed, "", w.Coverage),
		p("GET", "/admin", adm, unsealed, "", w.AdminHome),
		p("POST", "/admin/sites", adm, unsealed, "/admin", w.CreateSite),
		p("POST", "/admin/tokens", adm, unsealed, "/admin", w.CreateToken),
		p("POST", "/admin/tokens/revoke", adm, unsealed, "/admin", w.RevokeToken),
		p("GET", "/audit", aud, unsealed, "", w.AuditPage),

		p("GET", "/holder", anyone, unsealed, "", w.HolderForm),
		p("POST", "/holder", anyone, unsealed, "/holder", w.HolderRecord),
		p("POST", "/holder/certificate", anyone, unsealed, "/holder", w.HolderCertificate),
		p("GET", "/verify", anyone, unsealed, "", w.VerifyForm),
		p("POST", "/verify", anyone, unsealed, "/verify", w.Verify),
	}
}
