package server_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/postgres"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/storetest"
)

// TestRouteMatrix walks every route with every role and with no token. The
// expected matrix is written out here, independently of routes.go: a route
// added there without a row here fails, and everything not allowed is
// denied.
func TestRouteMatrix(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(`{}`)
	card := p.CardCode
	const (
		A = 1 << iota // admin
		V             // vaccinator
		N             // analyst
		U             // auditor
		O             // an offline clinic node
		P             // public: no token needed
	)
	matrix := []struct {
		method, path string
		allowed      int
	}{
		{"GET", "/healthz", P},
		{"GET", "/readyz", P},
		{"GET", "/metrics", P},
		{"GET", "/api/v1/openapi.json", P},
		{"GET", "/api/v1/products", A | V | N},
		{"POST", "/api/v1/persons", V},
		{"GET", "/api/v1/persons/" + card + "?purpose=care", V},
		{"PATCH", "/api/v1/persons/" + card, V},
		{"DELETE", "/api/v1/persons/" + string(registry.NewCardCode()), A},
		{"POST", "/api/v1/persons/" + card + "/vaccinations", V},
		{"POST", "/api/v1/persons/" + card + "/tests", V},
		{"POST", "/api/v1/persons/" + card + "/records/00/entered-in-error", V},
		{"GET", "/api/v1/persons/" + card + "/forecast", V},
		{"POST", "/api/v1/persons/" + card + "/certificates", V},
		{"POST", "/api/v1/certificates/verify", P},
		{"POST", "/api/v1/eligibility", A | V | N},
		{"GET", "/api/v1/sites", A | V | N},
		{"POST", "/api/v1/sites", A},
		{"POST", "/api/v1/tokens", A},
		{"GET", "/api/v1/tokens", A},
		{"DELETE", "/api/v1/tokens/tk_nonexistent", A},
		{"POST", "/api/v1/holder/record", P},
		{"GET", "/api/v1/stats/coverage", N},
		{"GET", "/api/v1/stats/gaps", N},
		{"GET", "/api/v1/audit", U},
		{"GET", "/api/v1/audit/verify", U},
		{"POST", "/api/v1/seal", A},
		{"POST", "/api/v1/unlock", A},
		{"POST", "/api/v1/hl7", V},
		{"GET", "/api/v1/iis/outbox", A},
		{"POST", "/api/v1/iis/outbox/1/retry", A},
		{"POST", "/api/v1/sync/hello", O},
		{"POST", "/api/v1/sync/push", O},
		{"GET", "/api/v1/sync/pull", O},
		{"GET", "/api/v1/sync/trust", O},
		{"GET", "/api/v1/sync/policies", O},
		{"GET", "/api/v1/sync/persons/" + card, O},
		{"GET", "/api/v1/sync/status", A},
		{"POST", "/api/v1/sync/failed/1/retry", A},
		{"GET", "/fhir/r4/metadata", P},
		{"GET", "/fhir/r4/Patient/" + card, V},
		{"GET", "/fhir/r4/Patient", V},
		{"GET", "/fhir/r4/Immunization/00", V},
		{"GET", "/fhir/r4/Immunization", V},
		{"POST", "/fhir/r4/Immunization", V},
		{"GET", "/fhir/r4/ImmunizationEvaluation", V},
		{"GET", "/fhir/r4/ImmunizationRecommendation", V},
		{"POST", "/fhir/r4/$immds-forecast", V},
		{"GET", "/fhir/r4/", P},
		{"POST", "/fhir/r4/", P},
	}
	roles := []struct {
		bit   int
		name  string
		token string
	}{{A, "admin", e.admin}, {V, "vaccinator", e.vaccinator}, {N, "analyst", e.analyst}, {U, "auditor", e.auditor}, {O, "node", e.node}, {0, "none", ""}}
	seen := map[string]bool{}
	for _, m := range matrix {
		path, _, _ := strings.Cut(m.path, "?")
		seen[m.method+" "+path] = true
		for _, role := range roles {
			// Bodies are deliberately empty objects: a permitted call fails
			// validation (4xx other than 401/403), a denied one never gets
			// that far. Seal is sent with an invalid body so that it never
			// seals this test's vault.
			body := "{}"
			if m.path == "/api/v1/seal" {
				body = `{"shred":"no"}`
			}
			if m.method == "GET" || m.method == "DELETE" {
				body = ""
			}
			res := e.do(m.method, m.path, role.token, body)
			allowed := m.allowed&P != 0 || m.allowed&role.bit != 0
			denied := res.status == http.StatusUnauthorized || res.status == http.StatusForbidden
			if allowed == denied {
				t.Errorf("%s %s as %s: status %d (%s); allowed=%v", m.method, m.path, role.name, res.status, res.body, allowed)
			}
			if !allowed && role.token == "" && res.status != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %d, want 401", m.method, m.path, res.status)
			}
		}
	}
	// Every route the OpenAPI document lists is in the matrix.
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	e.do("GET", "/api/v1/openapi.json", "", "").decode(t, &doc)
	for path, ops := range doc.Paths {
		for method := range ops {
			concrete := strings.NewReplacer("{card}", card, "{id}", "00", "{seq}", "1").Replace(path)
			if path == "/api/v1/tokens/{id}" {
				concrete = "/api/v1/tokens/tk_nonexistent"
			}
			key := strings.ToUpper(method) + " " + concrete
			if !seen[key] && !(strings.Contains(path, "{card}") && method == "delete") {
				t.Errorf("route %s %s is missing from the matrix", strings.ToUpper(method), path)
			}
		}
	}
	// Unknown routes and methods are denied.
	for _, tc := range []struct{ method, path string }{{"PUT", "/api/v1/persons"}, {"GET", "/api/v1/persons"}, {"GET", "/api/v1/admin"}, {"GET", "/no-such-page"}} {
		if res := e.do(tc.method, tc.path, e.admin, ""); res.status < 400 {
			t.Errorf("%s %s = %d, want a 4xx", tc.method, tc.path, res.status)
		}
	}
}

// piiValues are identifying values stored through the API; none may appear
// in clear anywhere at rest or in logs.
var piiValues = []string{"Jiyoung", "Pakhomova", "+86 433 555 0199", "金智英", "0199555433"}

func storePII(t *testing.T, e *testEnv) []string {
	var cards []string
	for _, body := range []string{
		`{"given_name":"Jiyoung","family_name":"Pakhomova","birth_date":"1983-04-12","sex":"female","phone":"+86 433 555 0199"}`,
		`{"given_name":"金智英","phone":"0199555433","birth_date":"1990"}`,
	} {
		p := e.register(body)
		cards = append(cards, p.CardCode)
		res := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator, `{"product":"511","date":"2021-09-01","site":"YB-1"}`)
		if res.status != 201 {
			t.Fatalf("dose: %d %s", res.status, res.body)
		}
		if got := e.record(p.CardCode); got.GivenName == "" {
			t.Fatalf("record did not decrypt: %+v", got)
		}
	}
	return cards
}

func scanFor(t *testing.T, what string, data []byte, needles []string) {
	t.Helper()
	for _, n := range needles {
		if bytes.Contains(data, []byte(n)) {
			t.Errorf("%q found in clear in %s", n, what)
		}
	}
}

// TestNoPIIAtRest stores known names and phones, then scans the SQLite file,
// its WAL and the logs, and finds none of them in clear.
func TestNoPIIAtRest(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvOn(t, db)
	cards := storePII(t, e)
	files, _ := filepath.Glob(filepath.Join(dir, "haven.db*"))
	if len(files) < 2 {
		t.Fatalf("expected the database and its WAL, found %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scanFor(t, filepath.Base(f), data, piiValues)
	}
	scanFor(t, "the logs", e.logs.Bytes(), append(append([]string{}, piiValues...), cards...))
	if !bytes.Contains(e.logs.Bytes(), []byte(`"route":"GET /api/v1/persons/{card}"`)) {
		t.Fatalf("the logs do not show the lookups at all; the scan proved nothing:\n%s", e.logs.Bytes())
	}
}

// TestNoPIIInPostgresDump does the same against a pg_dump of the database.
func TestNoPIIInPostgresDump(t *testing.T) {
	url := storetest.PostgresURL(t)
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvOn(t, db)
	storePII(t, e)
	out, err := exec.Command("pg_dump", "--data-only", "--dbname="+strings.Split(url, "?")[0], "--schema="+schemaOf(url)).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(out, []byte("COPY")) || !bytes.Contains(out, []byte("coronavac")) {
		t.Fatalf("the dump holds no data; the scan proved nothing:\n%s", out)
	}
	scanFor(t, "the pg_dump", out, piiValues)
}

func schemaOf(url string) string {
	_, q, _ := strings.Cut(url, "search_path=")
	s, _, _ := strings.Cut(q, "&")
	return s
}

// TestErasure shows that after erasure nothing about the person can be
// read: not through the API, and not from the database files, even by
// someone who holds the key-encryption key (the wrapped data key is gone
// from the file and its WAL).
func TestErasure(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvOn(t, db)
	cards := storePII(t, e)
	target := cards[0]
	code, _ := registry.ParseCardCode(target)
	sealed, err := e.store.FindPerson(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	if res := e.do("DELETE", "/api/v1/persons/"+target, e.admin, ""); res.status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", res.status, res.body)
	}
	if res := e.do("GET", "/api/v1/persons/"+target+"?purpose=care", e.vaccinator, ""); res.status != http.StatusNotFound {
		t.Fatalf("record after erasure: %d %s", res.status, res.body)
	}
	if res := e.do("POST", "/api/v1/holder/record", "", `{"card_code":"`+target+`","holder_secret":"x"}`); res.status != http.StatusNotFound {
		t.Fatalf("holder access after erasure: %d %s", res.status, res.body)
	}
	// The other person is untouched.
	if got := e.record(cards[1]); got.GivenName != "金智英" {
		t.Fatalf("other person after erasure: %+v", got)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "haven.db*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, sealed.WrappedKey) {
			t.Errorf("the erased person's wrapped data key survives in %s", filepath.Base(f))
		}
		if bytes.Contains(data, sealed.Sealed) {
			t.Errorf("the erased person's sealed fields survive in %s", filepath.Base(f))
		}
		if bytes.Contains(data, []byte(target)) {
			t.Errorf("the erased card code survives in %s", filepath.Base(f))
		}
	}
	// The sealed fields can only be opened with the wrapped key, which is
	// gone: the KEK alone opens nothing.
	if _, err := registry.OpenPerson(e.vault, registry.SealedPerson{ID: sealed.ID, CardCode: sealed.CardCode, Sealed: sealed.Sealed}); err == nil {
		t.Fatal("sealed fields opened without their data key")
	}
}

func TestHolderAccess(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(`{"given_name":"Kim"}`)
	ok := e.do("POST", "/api/v1/holder/record", "", `{"card_code":"`+p.CardCode+`","holder_secret":"`+p.HolderSecret+`"}`)
	if ok.status != 200 || !bytes.Contains(ok.body, []byte(`"Kim"`)) || bytes.Contains(ok.body, []byte(p.HolderSecret)) {
		t.Fatalf("holder read: %d %s", ok.status, ok.body)
	}
	bad := e.do("POST", "/api/v1/holder/record", "", `{"card_code":"`+p.CardCode+`","holder_secret":"WRONGWRONG"}`)
	if bad.status != 404 {
		t.Fatalf("wrong secret: %d %s", bad.status, bad.body)
	}
	limited := false
	for range 20 {
		if e.do("POST", "/api/v1/holder/record", "", `{"card_code":"`+p.CardCode+`","holder_secret":"WRONG"}`).status == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("holder sign-in is not rate-limited")
	}
}

// A sealed Haven serves nothing until it is unlocked.
func TestSeal(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(`{}`)
	if res := e.do("POST", "/api/v1/seal", e.admin, `{}`); res.status != 200 {
		t.Fatalf("seal: %d %s", res.status, res.body)
	}
	for _, tc := range []struct{ method, path, token string }{
		{"GET", "/api/v1/persons/" + p.CardCode + "?purpose=care", e.vaccinator},
		{"POST", "/api/v1/persons", e.vaccinator},
		{"GET", "/api/v1/sites", e.admin},
		{"GET", "/api/v1/stats/coverage", e.analyst},
	} {
		body := ""
		if tc.method == "POST" {
			body = "{}"
		}
		res := e.do(tc.method, tc.path, tc.token, body)
		if res.status != http.StatusServiceUnavailable || !bytes.Contains(res.body, []byte(`"sealed"`)) {
			t.Errorf("%s %s while sealed: %d %s", tc.method, tc.path, res.status, res.body)
		}
	}
	if res := e.do("GET", "/healthz", "", ""); res.status != 200 {
		t.Fatalf("healthz while sealed: %d", res.status)
	}
	// An ephemeral vault's key lives only in memory: once sealed, it can
	// never be unlocked, which is the point of sealing.
	if res := e.do("POST", "/api/v1/unlock", e.admin, `{}`); res.status < 400 {
		t.Fatalf("unlock of a dropped ephemeral key: %d %s", res.status, res.body)
	}
}

func TestCoverage(t *testing.T) {
	e := newTestEnv(t)
	for range 12 {
		p := e.register(`{}`)
		if res := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator, `{"product":"511","date":"2021-09-01","site":"YB-1"}`); res.status != 201 {
			t.Fatal(res.status)
		}
	}
	res := e.do("GET", "/api/v1/stats/coverage?from=2021-08-01&to=2021-09-17", e.analyst, "")
	if res.status != 200 {
		t.Fatalf("coverage: %d %s", res.status, res.body)
	}
	var cov struct {
		K     int
		Doses []struct {
			Jurisdiction string
			Total        *int64
		}
	}
	res.decode(t, &cov)
	// One table per jurisdiction that has a site, with fixed rows: a
	// jurisdiction with no doses is published as zeros, not left out.
	totals := map[string]int64{}
	for _, d := range cov.Doses {
		if d.Total == nil {
			t.Fatalf("table %s has a withheld total: %s", d.Jurisdiction, res.body)
		}
		totals[d.Jurisdiction] = *d.Total
	}
	if cov.K != 11 || len(totals) != 2 || totals["CN-JL-YB"] != 12 || totals["KR-11"] != 0 {
		t.Fatalf("coverage totals %v (k %d): %s", totals, cov.K, res.body)
	}
	if res := e.do("GET", "/api/v1/stats/coverage?k=5", e.analyst, ""); res.status != 422 {
		t.Fatalf("coverage with k=5: %d %s", res.status, res.body)
	}
	for _, word := range []string{"status", "citizen", "unregistered", "hukou"} {
		if bytes.Contains(bytes.ToLower(res.body), []byte(word)) {
			t.Errorf("coverage output mentions %q", word)
		}
	}
}
