// Package web is Haven's web app: the HTML pages for clinics, programme
// staff, administrators, auditors and card holders, on the same clinic
// actions as the JSON API. It holds the page handlers, the in-memory
// sessions, the message catalogues (en, ko, zh-Hans) and the rendering,
// and embeds the templates, static files and catalogues of its folder.
//
// It lists no routes. Package server's route table names every page with
// its method, pattern, the roles that may open it, whether it works while
// the vault is sealed and, for a form's target, the page to come back to;
// it wraps each handler with App.Page, which enforces those columns: it
// picks the language, finds the session (signed in with a token), admits
// only the roles given (nil: anyone), checks the origin and CSRF value of
// every POST and shows errors as pages in the visitor's language. The
// actions a page calls check roles, scope, limits and purpose again.
package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// The HTML pages: templates, static assets and message catalogues, all
// embedded in the binary.
//
//go:embed templates/*.html static/* locales/*.json
var webFS embed.FS

// pageCSP is the Content-Security-Policy of every HTML page: nothing from
// other origins, no inline script or style, images only from Haven itself
// or data: URIs (QR codes and charts), forms only to Haven.
const pageCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// Deps are what the web app is built from. Service is required.
type Deps struct {
	Logger  *slog.Logger
	Service *clinic.Service
	// NotFound answers a request for a static folder rather than a file.
	NotFound http.Handler
}

// App is the web app: templates, catalogues and the in-memory sessions.
// Create it with New; its exported methods are the pages, which package
// server's route table wraps with Page.
type App struct {
	logger   *slog.Logger
	svc      *clinic.Service
	notFound http.Handler
	pages    map[string]*template.Template
	locales  *locales
	sessions *sessionStore
	static   http.Handler
	bufs     sync.Pool
}

// New returns the web app on deps. It panics if the embedded templates or
// catalogues do not parse: that is a build defect, which tests catch, not
// bad input.
func New(deps Deps) *App {
	locs, err := loadLocales(webFS, "locales")
	if err != nil {
		panic(err)
	}
	app := &App{logger: deps.Logger, svc: deps.Service, notFound: deps.NotFound, locales: locs,
		sessions: newSessionStore(sessionIdle, sessionMax, 20000)}
	if app.logger == nil {
		app.logger = slog.New(slog.DiscardHandler)
	}
	if app.notFound == nil {
		app.notFound = http.NotFoundHandler()
	}
	app.pages = parsePages(webFS)
	staticFS, _ := fs.Sub(webFS, "static")
	app.static = http.StripPrefix("/static/", http.FileServer(http.FS(staticFS)))
	app.bufs.New = func() any { return new(bytes.Buffer) }
	return app
}

// parsePages parses every page template together with the layout. A page
// named x.html is rendered as "x".
func parsePages(fsys fs.FS) map[string]*template.Template {
	names, err := fs.Glob(fsys, "templates/*.html")
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
		pages[base] = template.Must(t.ParseFS(fsys, "templates/layout.html", "templates/partials.html", name))
	}
	return pages
}

// Static serves the embedded CSS and scripts, cacheable for a day. It must
// be registered at /static/, where the templates link to them; it needs no
// session and works while the vault is sealed.
func (a *App) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.NoteRoute(r, "")
		if strings.HasSuffix(r.URL.Path, "/") {
			a.notFound.ServeHTTP(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		a.static.ServeHTTP(w, r)
	})
}

// allowed reports whether role is in roles. A nil roles list is a public
// page.
func allowed(roles []registry.Role, role registry.Role) bool {
	return roles == nil || slices.Contains(roles, role)
}
