package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/vault"
	"github.com/haven-registry/haven/policies"
)

// testEnv is a server on a fresh store with an admin token, a vaccinator
// token for site YB-1, and analyst and auditor tokens.
type testEnv struct {
	t                                   *testing.T
	srv                                 *httptest.Server
	store                               migratable
	vault                               *vault.Vault
	logs                                *syncBuffer
	admin, vaccinator, analyst, auditor string
	node                                string // an offline clinic node's token for YB-1
	now                                 time.Time
	dbPath                              string // the SQLite file, for tests that search it
}

// syncBuffer collects log output written by server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// testDeps are the server's dependencies for tests: db, an ephemeral vault,
// debug logs into logs, the bundled policy packs, the China schedule, and
// fresh certificate keys valid from a month before now().
func testDeps(tb testing.TB, db registry.Store, logs *syncBuffer, now func() time.Time) (server.Deps, *vault.Vault) {
	tb.Helper()
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	engine, err := policy.NewEngine(policies.FS())
	if err != nil {
		tb.Fatal(err)
	}
	keyDir := tb.TempDir()
	keys, err := cert.InitKeys(keyDir, cert.DirStore(keyDir), cert.KeyOptions{Country: "KR", Organization: "Haven test", Now: now().AddDate(0, -1, 0)})
	if err != nil {
		tb.Fatal(err)
	}
	issuer, err := cert.NewIssuer(keys.Signer, keys.DSC, cert.IssuerOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := clinic.New(clinic.Deps{Logger: logger, Store: db, Vault: v, Keys: v, Catalog: catalog.Default(), Policy: engine,
		Schedule: "cn", Now: now, Certs: clinic.Certs{Issuer: issuer, Verifier: cert.NewVerifier(keys.TrustList()), Country: "KR"}})
	return server.Deps{Logger: logger, Service: svc}, v
}

type migratable interface {
	registry.Store
	Migrate(ctx context.Context, now time.Time) ([]string, error)
}

// newTestEnv runs the server on SQLite.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "haven.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvOn(t, db)
	e.dbPath = path
	return e
}

// newTestEnvOn runs the server on db, which it migrates and closes; each
// configure function may change the server's dependencies first.
func newTestEnvOn(t *testing.T, db migratable, configure ...func(*server.Deps)) *testEnv {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)
	e := &testEnv{t: t, store: db, now: now, logs: &syncBuffer{}}
	deps, v := testDeps(t, db, e.logs, func() time.Time { return now })
	e.vault = v
	for _, f := range configure {
		f(&deps)
	}
	srv := server.New(deps)
	e.srv = httptest.NewServer(srv)
	t.Cleanup(func() { e.srv.Close(); db.Close() })
	e.admin = e.token(registry.RoleAdmin)
	for _, site := range []registry.Site{
		{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination", "testing"}},
		{Code: "SEL-1", Name: "Seoul", Jurisdiction: "KR-11", Services: []string{"vaccination"}},
	} {
		if _, err := db.CreateSite(ctx, site, registry.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	e.vaccinator = e.token(registry.RoleVaccinator, "YB-1")
	e.analyst = e.token(registry.RoleAnalyst)
	e.auditor = e.token(registry.RoleAuditor)
	e.node = e.token(registry.RoleNode, "YB-1")
	return e
}

func (e *testEnv) token(role registry.Role, sites ...string) string {
	secret, tok, err := clinic.NewToken(role, sites, e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateToken(context.Background(), tok, registry.Write{}); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (e *testEnv) do(method, path, token, body string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return response{res.StatusCode, res.Header, buf.Bytes()}
}

type person struct {
	CardCode     string `json:"card_code"`
	HolderSecret string `json:"holder_secret"`
	GivenName    string `json:"given_name"`
	BirthDate    string `json:"birth_date"`
	Vaccinations []struct {
		ID, Product, Date, Status, ReplacedBy string
		Replaces                              string `json:"replaces"`
	} `json:"vaccinations"`
	Tests []struct{ ID, Kind, Result string } `json:"tests"`
}

func (e *testEnv) register(body string) person {
	e.t.Helper()
	res := e.do("POST", "/api/v1/persons", e.vaccinator, body)
	if res.status != http.StatusCreated {
		e.t.Fatalf("register: %d %s", res.status, res.body)
	}
	var p person
	res.decode(e.t, &p)
	return p
}

func (e *testEnv) record(card string) person {
	e.t.Helper()
	res := e.do("GET", "/api/v1/persons/"+card+"?purpose=care", e.vaccinator, "")
	if res.status != http.StatusOK {
		e.t.Fatalf("get record: %d %s", res.status, res.body)
	}
	var p person
	res.decode(e.t, &p)
	return p
}

func TestClinicFlow(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(`{"given_name":"Kim","birth_date":"1985","birth_date_estimated":true,"sex":"female"}`)
	if _, err := registry.ParseCardCode(p.CardCode); err != nil || len(p.HolderSecret) != 10 {
		t.Fatalf("card %q secret %q: %v", p.CardCode, p.HolderSecret, err)
	}
	// A person with no demographics at all can be registered.
	bare := e.register(`{}`)

	dose := `{"product":"511","date":"2021-09-01","site":"YB-1","payment":{"kind":"paid","amount":"50.00","currency":"CNY"}}`
	first := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator, dose, "Idempotency-Key", "k1")
	if first.status != http.StatusCreated {
		t.Fatalf("record dose: %d %s", first.status, first.body)
	}
	again := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator, dose, "Idempotency-Key", "k1")
	if again.status != http.StatusCreated || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry = %d %s (replayed %q); want the first response %s", again.status, again.body,
			again.header.Get("Idempotent-Replayed"), first.body)
	}
	// The same key on another person's card is a different request.
	other := e.do("POST", "/api/v1/persons/"+bare.CardCode+"/vaccinations", e.vaccinator, dose, "Idempotency-Key", "k1")
	if other.status != http.StatusUnprocessableEntity {
		t.Fatalf("key reuse on another card = %d %s", other.status, other.body)
	}

	// Historical doses may lack a site; a correction links the replacement.
	wrong := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator,
		`{"product":"coronavac","date":"2021-06-01","source":"historical-card"}`)
	right := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator,
		`{"product":"BBIBP-CorV","date":"2021-06-02","source":"historical-card"}`)
	var w, r struct{ ID string }
	wrong.decode(t, &w)
	right.decode(t, &r)
	fix := e.do("POST", "/api/v1/persons/"+p.CardCode+"/records/"+w.ID+"/entered-in-error", e.vaccinator,
		`{"replaced_by":"`+r.ID+`"}`)
	if fix.status != http.StatusCreated {
		t.Fatalf("entered in error: %d %s", fix.status, fix.body)
	}
	tst := e.do("POST", "/api/v1/persons/"+p.CardCode+"/tests", e.vaccinator,
		`{"kind":"pcr","result":"negative","date":"2021-09-16","site":"YB-1"}`)
	if tst.status != http.StatusCreated {
		t.Fatalf("record test: %d %s", tst.status, tst.body)
	}

	got := e.record(strings.ToLower(strings.ReplaceAll(p.CardCode, "-", " ")))
	if got.GivenName != "Kim" || got.BirthDate != "1985" || got.HolderSecret != "" {
		t.Fatalf("record = %+v", got)
	}
	if len(got.Vaccinations) != 3 || len(got.Tests) != 1 {
		t.Fatalf("record has %d doses and %d tests, want 3 and 1", len(got.Vaccinations), len(got.Tests))
	}
	if v := got.Vaccinations[0]; v.ID != w.ID || v.Status != "entered-in-error" {
		t.Fatalf("corrected dose = %+v", v)
	}
	if v := got.Vaccinations[1]; v.Product != "bbibp-corv" || v.Replaces != w.ID {
		t.Fatalf("replacement dose = %+v", v)
	}

	// Every write and every read, the replay included, is in the access
	// log, under the person's pseudonym and never their card code or name.
	log := e.do("GET", "/api/v1/audit?limit=1000", e.auditor, "")
	for _, action := range []string{"person.create", "vaccination.create", "vaccination.replay", "correction.create", "test.create", "person.read"} {
		if !bytes.Contains(log.body, []byte(`"action":"`+action+`"`)) {
			t.Errorf("audit log lacks %s: %s", action, log.body)
		}
	}
	for _, leak := range []string{p.CardCode, "Kim", p.HolderSecret} {
		if bytes.Contains(log.body, []byte(leak)) {
			t.Errorf("audit log holds %q", leak)
		}
	}
	verify := e.do("GET", "/api/v1/audit/verify", e.auditor, "")
	if !bytes.Contains(verify.body, []byte(`"ok":true`)) {
		t.Errorf("audit verify: %s", verify.body)
	}
}

// Each bad request gets a 4xx with a stable code and the field named, and
// writes nothing.
func TestBadInput(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(`{}`)
	card := "/api/v1/persons/" + p.CardCode
	good := `{"product":"511","date":"2021-09-01","site":"YB-1"}`
	badCheck := p.CardCode[:len(p.CardCode)-1] + string(registry.CardAlphabet[(strings.IndexByte(registry.CardAlphabet, p.CardCode[len(p.CardCode)-1])+1)%31])
	tests := []struct {
		name, method, path, token, body string
		headers                         []string
		status                          int
		code, field                     string
	}{
		{"fail/malformed-json", "POST", card + "/vaccinations", e.vaccinator, `{"product":`, nil, 400, "malformed", ""},
		{"fail/not-json", "POST", card + "/vaccinations", e.vaccinator, `product=511`, nil, 400, "malformed", ""},
		{"fail/two-values", "POST", card + "/vaccinations", e.vaccinator, good + good, nil, 400, "malformed", ""},
		{"fail/unknown-field", "POST", card + "/vaccinations", e.vaccinator, `{"product":"511","date":"2021-09-01","site":"YB-1","status":"citizen"}`, nil, 422, "invalid", "status"},
		{"fail/wrong-type", "POST", card + "/vaccinations", e.vaccinator, `{"product":511,"date":"2021-09-01","site":"YB-1"}`, nil, 422, "invalid", "product"},
		{"fail/wrong-nested-type", "POST", card + "/vaccinations", e.vaccinator, `{"product":"511","date":"2021-09-01","site":"YB-1","payment":{"kind":"paid","amount":50}}`, nil, 422, "invalid", "payment.amount"},
		{"fail/unknown-product", "POST", card + "/vaccinations", e.vaccinator, `{"product":"sputnik","date":"2021-09-01","site":"YB-1"}`, nil, 422, "invalid", "product"},
		{"fail/future-date", "POST", card + "/vaccinations", e.vaccinator, `{"product":"511","date":"2021-09-19","site":"YB-1"}`, nil, 422, "invalid", "date"},
		{"fail/impossible-date", "POST", card + "/vaccinations", e.vaccinator, `{"product":"511","date":"2021-02-30","site":"YB-1"}`, nil, 422, "invalid", "date"},
		{"fail/unknown-site", "POST", card + "/vaccinations", e.vaccinator, `{"product":"511","date":"2021-09-01","site":"NOPE"}`, nil, 422, "invalid", "site"},
		{"fail/site-out-of-scope", "POST", card + "/vaccinations", e.vaccinator, `{"product":"511","date":"2021-09-01","site":"SEL-1"}`, nil, 403, "forbidden", "site"},
		{"fail/paid-without-currency", "POST", card + "/vaccinations", e.vaccinator, `{"product":"511","date":"2021-09-01","site":"YB-1","payment":{"kind":"paid","amount":"50"}}`, nil, 422, "invalid", "payment.currency"},
		{"fail/bad-currency", "POST", card + "/vaccinations", e.vaccinator, `{"product":"511","date":"2021-09-01","site":"YB-1","payment":{"kind":"paid","amount":"50","currency":"XYZ"}}`, nil, 422, "invalid", "payment.currency"},
		{"fail/bad-check-character", "POST", "/api/v1/persons/" + badCheck + "/vaccinations", e.vaccinator, good, nil, 422, "invalid", "card_code"},
		{"fail/unknown-card", "POST", "/api/v1/persons/" + string(registry.NewCardCode()) + "/vaccinations", e.vaccinator, good, nil, 404, "not_found", "card_code"},
		{"fail/oversized-body", "POST", card + "/vaccinations", e.vaccinator, `{"lot":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, "too_large", ""},
		{"fail/no-token", "POST", card + "/vaccinations", "", good, nil, 401, "unauthorized", "Authorization"},
		{"fail/wrong-token", "POST", card + "/vaccinations", "hvn_notatoken", good, nil, 401, "unauthorized", "Authorization"},
		{"fail/wrong-role", "POST", card + "/vaccinations", e.analyst, good, nil, 403, "forbidden", ""},
		{"fail/wrong-content-type", "POST", card + "/vaccinations", e.vaccinator, good, []string{"Content-Type", "text/plain"}, 415, "unsupported", "Content-Type"},
		{"fail/bad-idempotency-key", "POST", card + "/vaccinations", e.vaccinator, good, []string{"Idempotency-Key", "has space"}, 422, "invalid", "Idempotency-Key"},
		{"fail/test-kind", "POST", card + "/tests", e.vaccinator, `{"kind":"saliva","result":"negative","date":"2021-09-01","site":"YB-1"}`, nil, 422, "invalid", "kind"},
		{"fail/person-future-birth", "POST", "/api/v1/persons", e.vaccinator, `{"birth_date":"2030"}`, nil, 422, "invalid", "birth_date"},
		{"fail/person-bad-sex", "POST", "/api/v1/persons", e.vaccinator, `{"sex":"x"}`, nil, 422, "invalid", "sex"},
		{"fail/person-residence-status-is-not-a-field", "POST", "/api/v1/persons", e.vaccinator, `{"residence_status":"unregistered"}`, nil, 422, "invalid", "residence_status"},
		{"fail/site-bad-jurisdiction", "POST", "/api/v1/sites", e.admin, `{"code":"X-1","name":"x","jurisdiction":"jilin","services":["testing"]}`, nil, 422, "invalid", "jurisdiction"},
		{"fail/eligibility-unknown-field", "POST", "/api/v1/eligibility", e.vaccinator, `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{},"name":"Kim"}`, nil, 422, "invalid", "name"},
		{"fail/eligibility-wrong-type", "POST", "/api/v1/eligibility", e.vaccinator, `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{},"explain":"yes"}`, nil, 422, "invalid", "explain"},
		{"fail/eligibility-two-objects", "POST", "/api/v1/eligibility", e.vaccinator, `{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{}} {}`, nil, 400, "malformed", ""},
		{"fail/eligibility-oversized", "POST", "/api/v1/eligibility", e.vaccinator, `{"jurisdiction":"` + strings.Repeat("A", 70<<10) + `"}`, nil, 413, "too_large", ""},
		{"fail/no-route", "GET", "/api/v1/nothing", e.admin, "", nil, 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(tt.method, tt.path, tt.token, tt.body, tt.headers...)
			var body struct {
				Error struct{ Code, Message, Field string }
			}
			res.decode(t, &body)
			if res.status != tt.status || body.Error.Code != tt.code || body.Error.Field != tt.field || body.Error.Message == "" {
				t.Fatalf("got %d %s; want %d code %q field %q", res.status, res.body, tt.status, tt.code, tt.field)
			}
		})
	}
	if got := e.record(p.CardCode); len(got.Vaccinations) != 0 || len(got.Tests) != 0 {
		t.Fatalf("bad requests wrote records: %+v", got)
	}
	sites := e.do("GET", "/api/v1/sites", e.admin, "")
	if !bytes.Contains(sites.body, []byte(`"YB-1"`)) || bytes.Contains(sites.body, []byte(`"X-1"`)) {
		t.Fatalf("sites after bad requests: %s", sites.body)
	}
}

func TestHealthAndDocs(t *testing.T) {
	e := newTestEnv(t)
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"} {
		res := e.do("GET", path, "", "")
		if res.status != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, res.status, res.body)
		}
		if res.header.Get("X-Content-Type-Options") != "nosniff" || res.header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s lacks security headers", path)
		}
	}
	e.register(`{}`)
	metrics := e.do("GET", "/metrics", "", "")
	if !bytes.Contains(metrics.body, []byte(`route="POST /api/v1/persons",status="201"`)) {
		t.Fatalf("metrics lack the person route: %s", metrics.body)
	}
}

func TestTokenLifecycle(t *testing.T) {
	e := newTestEnv(t)
	res := e.do("POST", "/api/v1/tokens", e.admin, `{"role":"vaccinator","sites":["YB-1"]}`)
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var tok struct{ ID, Token string }
	res.decode(t, &tok)
	if e.do("GET", "/api/v1/sites", tok.Token, "").status != 200 {
		t.Fatal("new token does not work")
	}
	list := e.do("GET", "/api/v1/tokens", e.admin, "")
	if !bytes.Contains(list.body, []byte(tok.ID)) || bytes.Contains(list.body, []byte(tok.Token)) || bytes.Contains(list.body, []byte("hash")) {
		t.Fatalf("token list: %s", list.body)
	}
	if res := e.do("DELETE", "/api/v1/tokens/"+tok.ID, e.admin, ""); res.status != 204 {
		t.Fatalf("revoke: %d %s", res.status, res.body)
	}
	if res := e.do("GET", "/api/v1/sites", tok.Token, ""); res.status != 401 {
		t.Fatalf("revoked token still works: %d", res.status)
	}
	if res := e.do("DELETE", "/api/v1/tokens/"+tok.ID, e.admin, ""); res.status != 404 {
		t.Fatalf("second revoke: %d", res.status)
	}
	if res := e.do("POST", "/api/v1/tokens", e.admin, `{"role":"vaccinator"}`); res.status != 422 {
		t.Fatalf("vaccinator token without sites: %d %s", res.status, res.body)
	}
}
