package web

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// pageData is what the layout renders: the page context (translation and
// formatting methods), the title key and the page's own data.
type pageData struct {
	*PageCtx
	TitleKey string
	Data     any
}

// BodyClass is the class of <body>: it names the printed page size of a
// page that prints a card.
func (d pageData) BodyClass() string {
	if p, ok := d.Data.(interface{ printSize() string }); ok && p.printSize() != "" {
		return "print-" + p.printSize()
	}
	return ""
}

// navItem is one link of the menu.
type navItem struct{ Href, Key string }

// Nav is the menu for the signed-in role (or for a visitor).
func (c *PageCtx) Nav() []navItem {
	if c.sess == nil {
		return []navItem{{"/holder", "nav.holder"}, {"/verify", "nav.verify"}, {"/signin", "nav.signin"}}
	}
	switch c.sess.tok.Role {
	case registry.RoleVaccinator:
		return []navItem{{"/clinic", "nav.clinic"}, {"/check", "nav.check"}, {"/verify", "nav.verify"}}
	case registry.RoleAnalyst:
		return []navItem{{"/program", "nav.program"}, {"/program/policy", "nav.policy"}, {"/program/simulate", "nav.simulate"},
			{"/program/coverage", "nav.coverage"}, {"/check", "nav.check"}}
	case registry.RoleAdmin:
		return []navItem{{"/admin", "nav.admin"}, {"/program/policy", "nav.policy"}, {"/program/simulate", "nav.simulate"}, {"/check", "nav.check"}}
	case registry.RoleAuditor:
		return []navItem{{"/audit", "nav.audit"}}
	}
	return nil
}

// SignedIn reports whether someone is signed in.
func (c *PageCtx) SignedIn() bool { return c.sess != nil }

// Role is the signed-in role, or "".
func (c *PageCtx) Role() string {
	if c.sess == nil {
		return ""
	}
	return string(c.sess.tok.Role)
}

// LangHref is the link that switches the page to tag and comes back.
func (c *PageCtx) LangHref(tag string) string {
	return "/lang?lang=" + url.QueryEscape(tag) + "&next=" + url.QueryEscape(c.Path)
}

// render writes page name with data. The page is rendered into a buffer
// first, so that a template error never sends half a page.
func (a *App) render(w http.ResponseWriter, r *http.Request, c *PageCtx, status int, name, titleKey string, data any) error {
	t := a.pages[name]
	if t == nil {
		return registry.Errorf(registry.EINTERNAL, "No page template %q.", name)
	}
	buf := a.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer a.bufs.Put(buf)
	c.errField = errFieldOf(data)
	c.loadSyncLine(r.Context())
	if err := t.Execute(buf, pageData{PageCtx: c, TitleKey: titleKey, Data: data}); err != nil {
		return registry.Errorf(registry.EINTERNAL, "Rendering %s: %v", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Content-Language", c.loc.Tag)
	h.Set("Vary", "Cookie, Accept-Language")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	if err != nil {
		return nil // the client has gone
	}
	return nil
}

// errorData is shown by the error page: the error as a form error (its
// translated text, and the English detail on English pages), and the ways
// back: Back, the page the request came from (a form's page, or the page
// itself to try again), and Home, the first page of the visitor's role.
type errorData struct {
	Err        *formErr
	Status     int
	Back, Home string
}

// renderError shows err as a page in the visitor's language: the text for
// its code and field (see ErrText; an English page also shows the action's
// own message), and a way back: the form's page, or the page itself to try
// again after a rate limit, and the role's first page. Internal errors are
// logged with the request ID and never shown.
func (a *App) renderError(w http.ResponseWriter, r *http.Request, c *PageCtx, err error) {
	code := registry.ErrorCode(err)
	d := errorData{Err: toFormErr(err), Status: failed(w, err), Back: c.Path, Home: "/"}
	if c.sess != nil {
		d.Home = homeOf(c.sess.tok.Role)
	}
	if code == registry.EINTERNAL {
		a.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", httpx.RequestID(r.Context())), slog.String("route", r.Pattern),
			slog.String("error", err.Error()))
		d.Err.Detail = ""
	}
	if r.Method == http.MethodGet && code != registry.ERATELIMITED {
		d.Back = "" // the page itself would fail again
	}
	if rerr := a.render(w, r, c, d.Status, "error", "error.title", d); rerr != nil {
		a.logger.LogAttrs(r.Context(), slog.LevelError, "rendering the error page",
			slog.String("request_id", httpx.RequestID(r.Context())), slog.String("error", rerr.Error()))
		http.Error(w, http.StatusText(d.Status), d.Status)
	}
}

// errorHeader carries the stable error code of a page that failed, as the
// API's error body does, so that clients and tests can tell one failure
// from another without reading the translated page.
const errorHeader = "Haven-Error"

// failed notes err's code in the errorHeader of the answer and returns the
// status it maps to. An answer over a rate limit says when to come back.
func failed(w http.ResponseWriter, err error) int {
	code := registry.ErrorCode(err)
	w.Header().Set(errorHeader, code)
	if code == registry.ERATELIMITED {
		w.Header().Set("Retry-After", "60")
	}
	return httpx.StatusOf(code)
}

// userError reports whether err is the caller's fault (shown beside the
// form) rather than a failure to report as an error page.
func userError(err error) bool {
	switch registry.ErrorCode(err) {
	case registry.EINVALID, registry.EMALFORMED, registry.ENOTFOUND, registry.EIDEMPOTENCY:
		return true
	}
	return false
}

// errFieldOf finds the field named by the form error of a page's data (its
// Err *formErr field), if any.
func errFieldOf(data any) string {
	v := reflect.ValueOf(data)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName("Err")
	if !f.IsValid() {
		return ""
	}
	if fe, ok := f.Interface().(*formErr); ok && fe != nil {
		return fe.Field
	}
	return ""
}

// Invalid marks the input for an error field: aria-invalid, and the error
// message as its description, so that a screen reader announces both.
// Templates write it inside the tag: <input id="x" name="date"{{$.Invalid "date"}}>.
func (c *PageCtx) Invalid(fields ...string) template.HTMLAttr {
	for _, f := range fields {
		if f != "" && f == c.errField {
			return ` aria-invalid="true" aria-describedby="form-error"`
		}
	}
	return ""
}
