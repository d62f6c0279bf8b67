package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
)

const (
	// sessionIdle is how long a session lives without a request.
	sessionIdle = 30 * time.Minute
	// sessionMax is how long a session lives at most, however busy.
	sessionMax = 12 * time.Hour

	sessionCookie = "haven_session"
	csrfCookie    = "haven_csrf" // the CSRF value of a visitor who is not signed in
	langCookie    = "haven_lang"

	// maxFormBytes bounds an urlencoded form; maxUploadBytes a CSV upload.
	maxFormBytes   = 64 << 10
	maxUploadBytes = 2 << 20
)

// session is one signed-in browser. It lives only in this process's memory:
// a restart signs everyone out, and nothing about it is ever stored.
type session struct {
	tok      *registry.Token
	csrf     string
	created  time.Time
	lastSeen time.Time
	// cards holds the holder secrets of people registered in this session,
	// with the language they asked for, so that their card can be printed;
	// the secret is shown nowhere else and is forgotten with the session.
	cards map[registry.CardCode]newCard
}

// sessionStore maps the SHA-256 of a session cookie to its session.
type sessionStore struct {
	mu        sync.Mutex
	idle, max time.Duration
	limit     int
	m         map[string]*session
}

func newSessionStore(idle, max time.Duration, limit int) *sessionStore {
	return &sessionStore{idle: idle, max: max, limit: limit, m: map[string]*session{}}
}

func sessionKey(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return string(h[:])
}

// create starts a session for tok and returns the cookie value.
func (st *sessionStore) create(tok *registry.Token, now time.Time) (string, *session) {
	id := randomToken(32)
	sess := &session{tok: tok, csrf: randomToken(24), created: now, lastSeen: now, cards: map[registry.CardCode]newCard{}}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.m) >= st.limit {
		st.sweep(now)
	}
	for len(st.m) >= st.limit {
		st.evictOldest()
	}
	st.m[sessionKey(id)] = sess
	return id, sess
}

// get returns the live session for a cookie value and marks it used, or nil
// when there is none or it has timed out.
func (st *sessionStore) get(cookie string, now time.Time) *session {
	if cookie == "" {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	k := sessionKey(cookie)
	sess := st.m[k]
	if sess == nil {
		return nil
	}
	if now.Sub(sess.lastSeen) > st.idle || now.Sub(sess.created) > st.max {
		delete(st.m, k)
		return nil
	}
	sess.lastSeen = now
	return sess
}

func (st *sessionStore) end(cookie string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, sessionKey(cookie))
}

// sweep drops expired sessions; the caller holds mu.
func (st *sessionStore) sweep(now time.Time) {
	for k, s := range st.m {
		if now.Sub(s.lastSeen) > st.idle || now.Sub(s.created) > st.max {
			delete(st.m, k)
		}
	}
}

// newCard is a card registered in this session, not yet forgotten.
type newCard struct {
	secret string
	lang   string // the language of the card; "" for the page's
}

// evictOldest drops the session used least recently; the caller holds mu.
// It keeps the store bounded when every session is still live.
func (st *sessionStore) evictOldest() {
	var oldest string
	var at time.Time
	for k, s := range st.m {
		if oldest == "" || s.lastSeen.Before(at) {
			oldest, at = k, s.lastSeen
		}
	}
	delete(st.m, oldest)
}

// rememberSecret keeps a new person's holder secret (and card language)
// for printing the card.
func (st *sessionStore) rememberSecret(sess *session, code registry.CardCode, secret, lang string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(sess.cards) > 200 {
		clear(sess.cards)
	}
	sess.cards[code] = newCard{secret: secret, lang: lang}
}

func (st *sessionStore) cardFor(sess *session, code registry.CardCode) newCard {
	st.mu.Lock()
	defer st.mu.Unlock()
	return sess.cards[code]
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// PageCtx is what every page handler gets: the session (nil on public pages
// when nobody is signed in), the language and the CSRF value for forms.
type PageCtx struct {
	app  *App
	sess *session
	loc  *locale
	CSRF string
	// Path is the page to come back to after switching language.
	Path string
	// errField is the field named by the page's form error, if any.
	errField string
	// syncLine is the node's sync line (see sync.go), set by render.
	syncLine *syncLine
}

// actor is who is asking: the signed-in token, or an anonymous visitor.
func (c *PageCtx) actor(r *http.Request) clinic.Actor {
	if c.sess == nil {
		return clinic.Anonymous(httpx.ClientAddr(r))
	}
	return clinic.TokenActor(c.sess.tok, httpx.ClientAddr(r))
}

// PageFunc renders one page. A returned error is shown as an error page
// with the status its code maps to.
type PageFunc func(w http.ResponseWriter, r *http.Request, c *PageCtx) error

// errSignIn asks the page wrapper to send the visitor to the sign-in form.
var errSignIn = errors.New("sign in")

// Page wraps a page handler with the columns of its route: it picks the
// language, finds the session, admits only roles (nil: anyone, signed in or
// not), refuses while the vault is sealed unless whileSealed, checks the
// CSRF token and origin of every POST, and renders errors. Deny by default:
// a page with roles refuses a visitor without a session or with another
// role. back is, for a form's target, the page the language switcher
// returns to, as a pattern whose {card} is filled in from the request
// ("" is the home page); a GET page returns to itself.
func (a *App) Page(roles []registry.Role, whileSealed bool, back string, h PageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := a.svc.Now()
		c := &PageCtx{app: a, loc: a.locales.pick(r), Path: returnPath(r, back)}
		if ck, err := r.Cookie(sessionCookie); err == nil {
			c.sess = a.sessions.get(ck.Value, now)
			// A session lives only as long as its token: a revoked token
			// ends its sessions (in this process at once, elsewhere within
			// the token cache's time).
			if c.sess != nil {
				if _, err := a.svc.Revalidate(r.Context(), c.sess.tok.Hash); registry.ErrorCode(err) == registry.EUNAUTHORIZED {
					a.sessions.end(ck.Value)
					c.sess = nil
				}
			}
		}
		actor := ""
		if c.sess != nil {
			actor = c.sess.tok.ID
		}
		httpx.NoteRoute(r, actor)
		if lang := r.URL.Query().Get("lang"); lang != "" {
			if l, ok := a.locales.byTag[lang]; ok {
				c.loc = l
				setLangCookie(w, r, l.Tag)
			}
		}
		if !whileSealed && a.svc.Sealed() {
			a.renderError(w, r, c, registry.Errorf(registry.ESEALED, "Haven is sealed; an administrator must unlock it."))
			return
		}
		if roles != nil {
			if c.sess == nil {
				if r.Method == http.MethodGet {
					http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				// A form sent after the session ended keeps its input: the
				// sign-in form carries it, and after signing in the visitor
				// sends it again with one click.
				c.CSRF = anonCSRF(w, r)
				if err := a.keepPost(w, r, c); err != nil {
					a.renderError(w, r, c, err)
				}
				return
			}
			if !allowed(roles, c.sess.tok.Role) {
				a.renderError(w, r, c, registry.Errorf(registry.EFORBIDDEN, "The %s role may not open this page.", c.sess.tok.Role))
				return
			}
		}
		if c.sess != nil {
			c.CSRF = c.sess.csrf
		} else {
			c.CSRF = anonCSRF(w, r)
		}
		if r.Method == http.MethodPost {
			if err := a.checkPost(w, r, c); err != nil {
				a.renderError(w, r, c, err)
				return
			}
		}
		if err := h(w, r, c); err != nil {
			if errors.Is(err, errSignIn) {
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			a.renderError(w, r, c, err)
		}
	})
}

// anonCSRF returns the CSRF value of a visitor without a session, setting
// its cookie on first use.
func anonCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	v := randomToken(24)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: httpx.CookieSecure(r)})
	return v
}

// checkPost refuses a POST from another origin or without the form's CSRF
// token, and parses the form within a size limit.
func (a *App) checkPost(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	if err := parsePost(w, r); err != nil {
		return err
	}
	got := r.PostFormValue("csrf")
	if got == "" || c.CSRF == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.CSRF)) != 1 {
		return registry.FieldErrorf(registry.EFORBIDDEN, "csrf", "The form has expired; open the page again.")
	}
	return nil
}

// parsePost refuses a POST from another origin and parses its form within
// a size limit.
func parsePost(w http.ResponseWriter, r *http.Request) error {
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return registry.Errorf(registry.EFORBIDDEN, "The form was sent from another site.")
		}
	}
	limit := int64(maxFormBytes)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		limit = maxUploadBytes
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := r.ParseMultipartForm(limit); err != nil {
			return formError(err, limit)
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := r.ParseForm(); err != nil {
			return formError(err, limit)
		}
	}
	return nil
}

func formError(err error, limit int64) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return registry.Errorf(registry.ETOOLARGE, "The form is larger than %d bytes.", limit)
	}
	return registry.Errorf(registry.EMALFORMED, "The form could not be read.")
}

func setLangCookie(w http.ResponseWriter, r *http.Request, tag string) {
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: tag, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: httpx.CookieSecure(r)})
}

// SigninForm shows the token form.
func (a *App) SigninForm(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	return a.render(w, r, c, http.StatusOK, "signin", "signin.title", signinData{Next: safeNext(r.URL.Query().Get("next"))})
}

// keptField is one value of a form kept through sign-in.
type keptField struct{ Name, Value string }

type signinData struct {
	Next  string
	Error string
	// Kept is the input of a form sent after the session ended; the
	// sign-in form carries it (as keep.NAME fields) to the resubmit page.
	Kept []keptField
}

// maxKept bounds the fields a form may keep through sign-in.
const maxKept = 200

// keepable reports whether a form field may travel through sign-in: not
// the CSRF value (a new one is made) or a token, and only plain names.
func keepable(name string) bool {
	if name == "" || len(name) > 64 || name == "csrf" || name == "token" || name == "next" {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// keptFrom lists a form's fields that may travel through sign-in, with
// prefix stripped from their names (and fields without it left out).
func keptFrom(form url.Values, prefix string) []keptField {
	var out []keptField
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		name, ok := strings.CutPrefix(k, prefix)
		if !ok || !keepable(name) {
			continue
		}
		for _, v := range form[k] {
			if len(out) < maxKept {
				out = append(out, keptField{name, v})
			}
		}
	}
	return out
}

// keepPost answers a form sent without a live session with the sign-in
// form, carrying the form's input. Nothing of it is stored: it travels in
// the page and the next request only. Uploads are not kept.
func (a *App) keepPost(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	if err := parsePost(w, r); err != nil {
		return err
	}
	w.Header().Set(errorHeader, registry.EUNAUTHORIZED)
	d := signinData{Next: safeNext(r.URL.Path), Error: "signin.expired"}
	// Only a form sent from one of Haven's own pages is kept, so that
	// another site cannot prepare a form for someone to send after signing
	// in (parsePost has refused a foreign Origin already; a request without
	// one must name a Haven page as its Referer).
	if sentFromHere(r) {
		d.Kept = keptFrom(r.PostForm, "")
	}
	return a.render(w, r, c, http.StatusUnauthorized, "signin", "signin.title", d)
}

// sentFromHere reports whether a POST names this host as its origin, or,
// without an Origin header, as its referrer.
func sentFromHere(r *http.Request) bool {
	from := r.Header.Get("Origin")
	if from == "" || from == "null" {
		from = r.Referer()
	}
	u, err := url.Parse(from)
	return err == nil && from != "" && u.Host == r.Host
}

// Signin exchanges a token for a session cookie. The token itself is not
// kept in the cookie or anywhere else: the session holds the token record
// (ID, role, sites) found by its hash. A form kept through sign-in is shown
// again, ready to send.
func (a *App) Signin(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	secret := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	kept := keptFrom(r.PostForm, "keep.")
	tok, err := a.svc.SignIn(r.Context(), httpx.ClientAddr(r), secret)
	switch registry.ErrorCode(err) {
	case registry.EUNAUTHORIZED:
		w.Header().Set(errorHeader, registry.EUNAUTHORIZED)
		return a.render(w, r, c, http.StatusUnauthorized, "signin", "signin.title", signinData{Next: next, Error: "signin.bad_token", Kept: kept})
	case registry.ERATELIMITED:
		status := failed(w, err)
		return a.render(w, r, c, status, "signin", "signin.title", signinData{Next: next, Error: "signin.rate_limited", Kept: kept})
	}
	if err != nil {
		return err
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		a.sessions.end(ck.Value)
	}
	id, sess := a.sessions.create(tok, a.svc.Now())
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: httpx.CookieSecure(r)})
	a.logger.LogAttrs(r.Context(), slog.LevelInfo, "web sign-in", slog.String("actor", tok.ID), slog.String("role", string(tok.Role)))
	if len(kept) > 0 && next != "" {
		c.sess, c.CSRF = sess, sess.csrf
		return a.render(w, r, c, http.StatusOK, "resubmit", "resubmit.title", resubmitData{Action: next, Fields: kept})
	}
	if next == "" {
		next = homeOf(tok.Role)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// resubmitData is a form kept through sign-in, ready to send again.
type resubmitData struct {
	Action string
	Fields []keptField
}

// Signout ends the session and returns to the home page.
func (a *App) Signout(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		a.sessions.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: httpx.CookieSecure(r)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// homeOf is the first page of a role.
func homeOf(role registry.Role) string {
	switch role {
	case registry.RoleVaccinator:
		return "/clinic"
	case registry.RoleAnalyst:
		return "/program"
	case registry.RoleAdmin:
		return "/admin"
	case registry.RoleAuditor:
		return "/audit"
	}
	return "/"
}

// safeNext keeps a redirect target only if it is a path on this site, and
// returns it cleaned. It refuses a backslash anywhere (raw or escaped:
// browsers read "/\\host" as "//host", another origin), control characters,
// and anything with a scheme, a host or user information; the path is
// compared after path.Clean, so "/./" tricks collapse before the check.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.ContainsAny(next, "\\\x00\r\n\t") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	if !strings.HasPrefix(u.Path, "/") || strings.ContainsAny(u.Path, "\\\x00\r\n\t") {
		return ""
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if strings.HasPrefix(clean, "//") {
		return ""
	}
	out := (&url.URL{Path: clean, RawQuery: u.RawQuery}).String()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
		return ""
	}
	return out
}

// SetLanguage stores the visitor's choice of language and returns to the
// page they came from.
func (a *App) SetLanguage(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	next := safeNext(r.URL.Query().Get("next"))
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// Home is the home page.
func (a *App) Home(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	return a.render(w, r, c, http.StatusOK, "home", "home.title", nil)
}

// returnPath is the page the language switcher comes back to: the same
// page for a GET (with its query, less lang), and for a POST, whose answer
// cannot be fetched again, back with its {card} filled in from r.
func returnPath(r *http.Request, back string) string {
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		q.Del("lang")
		if enc := q.Encode(); enc != "" {
			return r.URL.Path + "?" + enc
		}
		return r.URL.Path
	}
	if back == "" {
		return "/"
	}
	return strings.ReplaceAll(back, "{card}", url.PathEscape(r.PathValue("card")))
}
