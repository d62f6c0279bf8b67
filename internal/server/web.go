package server

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

// The HTML pages: templates, static assets and message catalogues, all
// embedded in the binary.
//
//go:embed web/templates/*.html web/static/* web/locales/*.json
var webFS embed.FS

// pageCSP is the Content-Security-Policy of every HTML page: nothing from
// other origins, no inline script or style, images only from Haven itself
// or data: URIs (QR codes and charts), forms only to Haven.
const pageCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// webApp is the HTML side of the server: templates, catalogues and the
// in-memory sessions. It is built once by webRoutes.
type webApp struct {
	s        *Server
	svc      *clinic.Service
	pages    map[string]*template.Template
	locales  *locales
	sessions *sessionStore
	static   http.Handler
	bufs     sync.Pool
}

// webRoutes lists the HTML pages. Each handler authenticates with the
// session cookie and checks roles itself, denying by default.
func (s *Server) webRoutes() []pageRoute {
	app := newWebApp(s)
	return app.routes()
}

func newWebApp(s *Server) *webApp {
	locs, err := loadLocales(webFS, "web/locales")
	if err != nil {
		// The catalogues are embedded and checked by tests: a failure here
		// is a build defect, not bad input.
		panic(err)
	}
	app := &webApp{s: s, svc: s.svc, locales: locs, sessions: newSessionStore(sessionIdle, sessionMax, 20000)}
	app.pages = parsePages(webFS)
	staticFS, _ := fs.Sub(webFS, "web/static")
	app.static = http.StripPrefix("/static/", http.FileServer(http.FS(staticFS)))
	app.bufs.New = func() any { return new(bytes.Buffer) }
	return app
}

// parsePages parses every page template together with the layout. A page
// named x.html is rendered as "x".
func parsePages(fsys fs.FS) map[string]*template.Template {
	names, err := fs.Glob(fsys, "web/templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t := template.New("layout.html").Funcs(templateFuncs)
		pages[base] = template.Must(t.ParseFS(fsys, "web/templates/layout.html", "web/templates/partials.html", name))
	}
	return pages
}

// routes is the whole HTML surface. Roles are checked inside each handler
// (see page); nothing here uses the API's bearer middleware.
// pageRoute is one page: who may open it (nil: anyone) and whether it can
// be served while the vault is sealed. The actions a page calls check the
// same again; this answers before the form is read.
type pageRoute struct {
	Method, Pattern string
	Roles           []registry.Role
	WhileSealed     bool
	Handler         http.Handler
}

// routes is the whole web surface.
func (a *webApp) routes() []pageRoute {
	vac := []registry.Role{registry.RoleVaccinator}
	prog := []registry.Role{registry.RoleAnalyst, registry.RoleAdmin}
	staffRoles := []registry.Role{registry.RoleVaccinator, registry.RoleAnalyst, registry.RoleAdmin}
	adm := []registry.Role{registry.RoleAdmin}
	aud := []registry.Role{registry.RoleAuditor}
	ana := []registry.Role{registry.RoleAnalyst}
	r := func(method, pattern string, roles []registry.Role, h pageHandler) pageRoute {
		return pageRoute{Method: method, Pattern: pattern, Roles: roles, Handler: a.page(roles, false, h)}
	}
	// sealedOK is a page that works while the vault is sealed.
	sealedOK := func(method, pattern string, h pageHandler) pageRoute {
		return pageRoute{Method: method, Pattern: pattern, WhileSealed: true, Handler: a.page(nil, true, h)}
	}
	return []pageRoute{
		{Method: "GET", Pattern: "/static/", WhileSealed: true, Handler: a.handleStatic()},
		sealedOK("GET", "/{$}", a.home),
		sealedOK("GET", "/lang", a.setLanguage),
		sealedOK("GET", "/signin", a.signinForm),
		sealedOK("POST", "/signin", a.signin),
		sealedOK("POST", "/signout", a.signout),

		r("GET", "/clinic", vac, a.clinicHome),
		r("POST", "/clinic/find", vac, a.clinicFind),
		r("POST", "/clinic/register", vac, a.clinicRegister),
		r("GET", "/clinic/p/{card}", vac, a.personPage),
		r("POST", "/clinic/p/{card}/dose", vac, a.recordDose),
		r("POST", "/clinic/p/{card}/test", vac, a.recordTest),
		r("GET", "/clinic/p/{card}/saved/{id}", vac, a.savedPage),
		r("GET", "/clinic/p/{card}/card", vac, a.printCard),
		r("POST", "/clinic/p/{card}/certificate", vac, a.issueCertificate),
		r("GET", "/check", staffRoles, a.checkForm),
		r("POST", "/check", staffRoles, a.check),

		r("GET", "/program", prog, a.programHome),
		r("GET", "/program/policy", prog, a.policyExplorer),
		r("POST", "/program/policy/explain", prog, a.policyExplain),
		r("GET", "/program/policy/diff", prog, a.policyDiff),
		r("GET", "/program/simulate", prog, a.simulateForm),
		r("POST", "/program/simulate", prog, a.simulate),
		r("GET", "/program/coverage", ana, a.coverage),
		r("GET", "/admin", adm, a.adminHome),
		r("POST", "/admin/sites", adm, a.createSite),
		r("POST", "/admin/tokens", adm, a.createToken),
		r("POST", "/admin/tokens/revoke", adm, a.revokeToken),
		r("GET", "/audit", aud, a.auditPage),

		r("GET", "/holder", nil, a.holderForm),
		r("POST", "/holder", nil, a.holderRecord),
		r("POST", "/holder/certificate", nil, a.holderCertificate),
		r("GET", "/verify", nil, a.verifyForm),
		r("POST", "/verify", nil, a.verify),
	}
}

// handleStatic serves the embedded CSS and images, cacheable for a day.
func (a *webApp) handleStatic() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.notePattern(r, "", "")
		if strings.HasSuffix(r.URL.Path, "/") {
			a.s.notFound().ServeHTTP(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		a.static.ServeHTTP(w, r)
	})
}

// notePattern tells the request log which route served the request and who
// asked, as authorize does for the API. The path is never logged: it may
// hold a card code.
func (a *webApp) notePattern(r *http.Request, actor, _ string) {
	if h, ok := r.Context().Value(ctxActor).(*actorHolder); ok && h != nil {
		h.pattern = r.Pattern
		if actor != "" {
			h.actor = actor
		}
	}
}

// allowed reports whether role is in roles. A nil roles list is a public
// page.
func allowed(roles []registry.Role, role registry.Role) bool {
	return roles == nil || slices.Contains(roles, role)
}
