package server_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server"
	"github.com/haven-registry/haven/internal/sqlite"
)

// webEnv is a Haven server on a fresh SQLite store and ephemeral vault,
// with a clock the test can move, tokens for every role, and the sites
// YB-1 (Yanbian, vaccination and testing) and SEL-1 (Seoul).
type webEnv struct {
	t                                   *testing.T
	srv                                 *httptest.Server
	handler                             http.Handler
	dir                                 string
	store                               migratable
	logs                                *syncBuffer
	admin, vaccinator, analyst, auditor string

	mu  sync.Mutex
	now time.Time
}

func (e *webEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *webEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// seed makes the sites YB-1 and SEL-1 and a token of each staff role.
func (e *webEnv) seed(t testing.TB, db *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	for _, site := range []registry.Site{
		{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination", "testing"}},
		{Code: "SEL-1", Name: "Seoul", Jurisdiction: "KR-11", Services: []string{"vaccination"}},
	} {
		if _, err := db.CreateSite(ctx, site, registry.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(role registry.Role, sites ...string) string {
		secret, tok, err := clinic.NewToken(role, sites, e.now)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateToken(ctx, tok, registry.Write{}); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	e.admin, e.vaccinator, e.analyst, e.auditor = mk(registry.RoleAdmin), mk(registry.RoleVaccinator, "YB-1"),
		mk(registry.RoleAnalyst), mk(registry.RoleAuditor)
}

func newWebEnv(t testing.TB) *webEnv {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	e := &webEnv{dir: dir, store: db, logs: &syncBuffer{}, now: time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)}
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
	}
	deps, _ := testDeps(t, db, e.logs, e.clock)
	srv := server.New(deps)
	e.handler = srv
	e.srv = httptest.NewServer(srv)
	t.Cleanup(func() { e.srv.Close(); db.Close() })
	e.seed(t, db)
	return e
}

// browser is a plain HTTP client with a cookie jar: a browser without
// JavaScript, for the page tests that do not need Chromium.
type browser struct {
	t      testing.TB
	e      *webEnv
	c      *http.Client
	lang   string
	last   page
	navs   int // page loads: requests made, each following its redirects
	header http.Header
}

type page struct {
	status int
	url    string
	body   string
	header http.Header
}

func (e *webEnv) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, c: &http.Client{Jar: jar}}
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	b.navs++
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	b.last = page{res.StatusCode, res.Request.URL.String(), string(body), res.Header}
	return b.last
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form with the CSRF token of the last page, from this
// origin.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf())
	}
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.srv.URL) // as a browser sends a form
	return b.do(req)
}

var (
	csrfRe   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	idemRe   = regexp.MustCompile(`name="idem" value="([^"]+)"`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

func (b *browser) csrf() string {
	m := csrfRe.FindStringSubmatch(b.last.body)
	if m == nil {
		b.t.Fatalf("no CSRF token on the last page (%s):\n%.2000s", b.last.url, b.last.body)
	}
	return m[1]
}

func (b *browser) idem() string {
	m := idemRe.FindStringSubmatch(b.last.body)
	if m == nil {
		b.t.Fatalf("no idempotency key on the last page:\n%.2000s", b.last.body)
	}
	return m[1]
}

// hidden returns the hidden fields of the last form on the page that posts
// to action.
func (b *browser) hidden(action string) url.Values {
	i := strings.LastIndex(b.last.body, `action="`+action+`"`)
	if i < 0 {
		b.t.Fatalf("no form posting to %s on %s", action, b.last.url)
	}
	rest := b.last.body[i:]
	rest = rest[:strings.Index(rest, "</form>")]
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(rest, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

func (b *browser) signin(token string) {
	b.t.Helper()
	b.get("/signin")
	p := b.post("/signin", url.Values{"token": {token}})
	if p.status != 200 {
		b.t.Fatalf("sign-in: %d %.1000s", p.status, p.body)
	}
}

// cardOf reads the card code shown on a person page.
var cardRe = regexp.MustCompile(`id="person-card">([0-9A-Z-]+)<`)

func (b *browser) register(form url.Values) string {
	b.t.Helper()
	b.get("/clinic")
	form.Set("idem", b.idem())
	p := b.post("/clinic/register", form)
	m := cardRe.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		b.t.Fatalf("register: %d %s\n%.3000s", p.status, p.url, p.body)
	}
	return m[1]
}

// recordDose records a dose through the form and its confirm step.
func (b *browser) recordDose(card, product, date string) page {
	b.t.Helper()
	b.get("/clinic/p/" + card + "?purpose=care")
	f := b.hidden("/clinic/p/" + card + "/dose")
	f.Set("product", product)
	f.Set("date", date)
	f.Set("site", "YB-1")
	if p := b.post("/clinic/p/"+card+"/dose", f); p.status != 200 {
		b.t.Fatalf("dose preview: %d %.2000s", p.status, p.body)
	}
	p := b.post("/clinic/p/"+card+"/dose", b.hidden("/clinic/p/"+card+"/dose"))
	if p.status != 200 || !strings.Contains(p.body, `id="saved"`) {
		b.t.Fatalf("dose confirm: %d %.2000s", p.status, p.body)
	}
	return p
}

var (
	inputRe  = regexp.MustCompile(`<input\b[^>]*>`)
	attrRe   = regexp.MustCompile(`\s([a-z-]+)(?:="([^"]*)")?`)
	selectRe = regexp.MustCompile(`(?s)<select\b([^>]*)>(.*?)</select>`)
	optionRe = regexp.MustCompile(`<option value="([^"]*)"( selected)?`)
)

// form returns what a browser would send for the last form on the page
// that posts to action, unchanged: hidden and visible inputs with their
// values, checked boxes, and the selected (or first) option of each select.
func (b *browser) form(action string) url.Values {
	i := strings.LastIndex(b.last.body, `action="`+action+`"`)
	if i < 0 {
		b.t.Fatalf("no form posting to %s on %s", action, b.last.url)
	}
	rest := b.last.body[i:]
	rest = rest[:strings.Index(rest, "</form>")]
	v := url.Values{}
	for _, tag := range inputRe.FindAllString(rest, -1) {
		attrs := map[string]string{}
		for _, m := range attrRe.FindAllStringSubmatch(tag, -1) {
			attrs[m[1]] = html.UnescapeString(m[2])
		}
		_, checked := attrs["checked"]
		if attrs["name"] == "" || (attrs["type"] == "checkbox" && !checked) || attrs["type"] == "file" {
			continue
		}
		val := attrs["value"]
		if attrs["type"] == "checkbox" && val == "" {
			val = "on"
		}
		v.Add(attrs["name"], val)
	}
	for _, m := range selectRe.FindAllStringSubmatch(rest, -1) {
		name := regexp.MustCompile(`name="([^"]+)"`).FindStringSubmatch(m[1])
		if name == nil {
			continue
		}
		opts := optionRe.FindAllStringSubmatch(m[2], -1)
		if len(opts) == 0 {
			continue
		}
		chosen := opts[0][1]
		for _, o := range opts {
			if o[2] != "" {
				chosen = o[1]
			}
		}
		v.Set(name[1], html.UnescapeString(chosen))
	}
	return v
}
