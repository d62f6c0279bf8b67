package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
)

// These tests pin the defects that the layer of actions fixed. Each failed
// before it: the guarantee held on one path and not on another.

// TestCorrectionIsSiteScoped: a vaccinator may not mark as entered in error
// a dose recorded at a site outside their scope, as they may not record one
// there.
func TestCorrectionIsSiteScoped(t *testing.T) {
	e := newTestEnv(t)
	seoul := e.token(registry.RoleVaccinator, "SEL-1")
	p := e.register(`{"birth_date":"1985-03-02"}`)
	res := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", seoul, `{"product":"coronavac","date":"2021-09-01","site":"SEL-1"}`)
	if res.status != http.StatusCreated {
		t.Fatalf("record at SEL-1: %d %s", res.status, res.body)
	}
	var dose struct{ ID string }
	res.decode(t, &dose)
	path := "/api/v1/persons/" + p.CardCode + "/records/" + dose.ID + "/entered-in-error"
	if res := e.do("POST", path, e.vaccinator, `{}`); res.status != http.StatusForbidden || !strings.Contains(string(res.body), `"field":"site"`) {
		t.Fatalf("YB-1 vaccinator corrects a SEL-1 dose: %d %s, want 403 naming site", res.status, res.body)
	}
	if res := e.do("POST", path, seoul, `{}`); res.status != http.StatusCreated {
		t.Fatalf("SEL-1 vaccinator corrects its own dose: %d %s", res.status, res.body)
	}
}

// TestEveryPersonReadIsLimited: forecasts, certificates, replays and
// lookups of one card share one limit; none of them is a way around it.
func TestEveryPersonReadIsLimited(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(e *testEnv, card, dose string) response
	}{
		{"ok/lookup", func(e *testEnv, card, _ string) response {
			return e.do("GET", "/api/v1/persons/"+card+"?purpose=care", e.vaccinator, "")
		}},
		{"ok/forecast", func(e *testEnv, card, _ string) response {
			return e.do("GET", "/api/v1/persons/"+card+"/forecast", e.vaccinator, "")
		}},
		{"ok/certificate", func(e *testEnv, card, dose string) response {
			return e.do("POST", "/api/v1/persons/"+card+"/certificates", e.vaccinator, `{"record":"`+dose+`"}`)
		}},
		{"ok/replayed-dose", func(e *testEnv, card, _ string) response {
			return e.do("POST", "/api/v1/persons/"+card+"/vaccinations", e.vaccinator,
				`{"product":"coronavac","date":"2021-09-01","site":"YB-1"}`, "Idempotency-Key", "same-dose")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			p := e.register(`{"given_name":"Mina","family_name":"Lee","birth_date":"1985-03-02"}`)
			res := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator,
				`{"product":"coronavac","date":"2021-09-01","site":"YB-1"}`, "Idempotency-Key", "same-dose")
			var dose struct{ ID string }
			res.decode(t, &dose)
			limited := 0
			for range 60 {
				res := tc.call(e, p.CardCode, dose.ID)
				switch res.status {
				case http.StatusOK, http.StatusCreated:
				case http.StatusTooManyRequests:
					limited++
				default:
					t.Fatalf("%d %s", res.status, res.body)
				}
			}
			if limited == 0 {
				t.Fatal("60 reads of one card in one instant were all served; want the read limit to apply")
			}
		})
	}
}

// TestHolderSecretIsShownOnce: a retried registration returns the person
// it created, without the holder secret.
func TestHolderSecretIsShownOnce(t *testing.T) {
	e := newTestEnv(t)
	first := e.do("POST", "/api/v1/persons", e.vaccinator, `{"birth_date":"1990"}`, "Idempotency-Key", "reg-1")
	var p1, p2 person
	first.decode(t, &p1)
	if p1.HolderSecret == "" {
		t.Fatalf("the create response has no holder secret: %s", first.body)
	}
	again := e.do("POST", "/api/v1/persons", e.vaccinator, `{"birth_date":"1990"}`, "Idempotency-Key", "reg-1")
	again.decode(t, &p2)
	if again.status != http.StatusCreated || again.header.Get("Idempotent-Replayed") != "true" || p2.CardCode != p1.CardCode {
		t.Fatalf("replay: %d %v %s", again.status, again.header, again.body)
	}
	if p2.HolderSecret != "" || strings.Contains(string(again.body), p1.HolderSecret) {
		t.Fatalf("a replay showed the holder secret again: %s", again.body)
	}
}

// TestRedirectsStayOnSite: the language switcher's and the sign-in form's
// next parameter accept only paths on this site.
func TestRedirectsStayOnSite(t *testing.T) {
	e := newWebEnv(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, next := range []string{
		`/./\evil.example`, `/\evil.example`, `/%5Cevil.example`, `/./%5Cevil.example`, `//evil.example`,
		`/%2F%2Fevil.example`, `https://evil.example/`, `/\/evil.example`, "/\tevil", `/..//evil.example`, `/a/../../\evil`,
	} {
		res, err := noFollow.Get(e.srv.URL + "/lang?lang=ko&next=" + url.QueryEscape(next))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc := res.Header.Get("Location")
		u, err := url.Parse(loc)
		if err != nil || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, `\`) ||
			u.Host != "" || strings.Contains(strings.ToLower(loc), "%5c") {
			t.Errorf("next=%q redirects to %q", next, loc)
		}
	}
	// A path on this site survives, cleaned.
	res, err := noFollow.Get(e.srv.URL + "/lang?next=" + url.QueryEscape("/clinic/./p/../?purpose=care"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); loc != "/clinic/?purpose=care" {
		t.Errorf("same-site next redirects to %q", loc)
	}
	// The sign-in form's next too.
	b := e.browser(t)
	b.get("/signin")
	form := url.Values{"token": {e.vaccinator}, "next": {`/./\evil.example`}, "csrf": {b.csrf()}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noFollow.Jar = b.c.Jar
	res, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); loc != "/clinic" {
		t.Errorf("sign-in with a foreign next redirects to %q, want the role's home", loc)
	}
}

// TestStrictText: names hold text as written, and nothing that hides or
// reorders it; JSON is read strictly.
func TestStrictText(t *testing.T) {
	e := newTestEnv(t)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"fail/invalid-utf8", "{\"given_name\":\"Mi\xffna\"}", "given_name"},
		{"fail/lone-surrogate", `{"family_name":"\ud800"}`, "family_name"},
		{"fail/replacement-character", `{"given_name":"Mi\ufffdna"}`, "given_name"},
		{"fail/bidi-override", `{"given_name":"\u202eanim"}`, "given_name"},
		{"fail/zero-width-space", `{"family_name":"김\u200b"}`, "family_name"},
		{"fail/zero-width-joiner", `{"family_name":"李\u200d"}`, "family_name"},
		{"fail/bom", `{"given_name":"\ufeffMina"}`, "given_name"},
		{"fail/duplicate-key", `{"given_name":"Mina","given_name":"Nari"}`, "given_name"},
		{"fail/field-case", `{"Given_Name":"Mina"}`, "Given_Name"},
		{"fail/nested-unknown", `{"birth_date":"1990","sex":"female","phone":"010","extra":{"a":1}}`, "extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do("POST", "/api/v1/persons", e.vaccinator, tc.body)
			var body struct {
				Error struct{ Code, Field string }
			}
			res.decode(t, &body)
			if res.status != http.StatusUnprocessableEntity || body.Error.Field != tc.field {
				t.Fatalf("%d %s; want 422 naming %s", res.status, res.body, tc.field)
			}
		})
	}
	// Hangul and Hanzi names, with their ordinary spaces, are text as
	// written.
	p := e.register(`{"given_name":"민 준","family_name":"김"}`)
	if got := e.record(p.CardCode).GivenName; got != "민 준" {
		t.Fatalf("given name %q", got)
	}
	// The lot of a dose is text too.
	res := e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator,
		`{"product":"coronavac","date":"2021-09-01","site":"YB-1","lot":"A\u202e1"}`)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"field":"lot"`) {
		t.Fatalf("lot with a bidi override: %d %s", res.status, res.body)
	}
	res = e.do("POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", e.vaccinator,
		`{"product":"coronavac","date":"2021-09-01","site":"YB-1","payment":{"kind":"paid","amount":"1","amount":"2","currency":"CNY"}}`)
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"field":"payment.amount"`) {
		t.Fatalf("duplicate nested key: %d %s", res.status, res.body)
	}
}

// TestEventDates: a dose or a test before the birth date, or after today,
// is refused; a history that already holds one still forecasts, with the
// dose flagged.
func TestEventDates(t *testing.T) {
	e := newTestEnv(t) // today is 2021-09-17
	p := e.register(`{"birth_date":"1985-03-02"}`)
	base := "/api/v1/persons/" + p.CardCode
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"fail/dose-1900", "/vaccinations", `{"product":"coronavac","date":"1900-01-01","site":"YB-1"}`, 422},
		{"fail/dose-day-before-birth", "/vaccinations", `{"product":"coronavac","date":"1985-03-01","site":"YB-1"}`, 422},
		{"fail/dose-after-today", "/vaccinations", `{"product":"coronavac","date":"2021-09-19","site":"YB-1"}`, 422},
		{"fail/test-before-birth", "/tests", `{"kind":"pcr","result":"negative","date":"1984-12-31","site":"YB-1"}`, 422},
		{"ok/dose-on-birth-day", "/vaccinations", `{"product":"coronavac","date":"1985-03-02","site":"YB-1","source":"historical-card"}`, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do("POST", base+tc.path, e.vaccinator, tc.body)
			if res.status != tc.status {
				t.Fatalf("%d %s, want %d", res.status, res.body, tc.status)
			}
			if tc.status == 422 && !strings.Contains(string(res.body), `"field":"date"`) {
				t.Fatalf("the error does not name date: %s", res.body)
			}
		})
	}
	// A dose stored before this check existed, dated before the birth date.
	sp, err := e.store.FindPerson(context.Background(), registry.CardCode(p.CardCode))
	if err != nil {
		t.Fatal(err)
	}
	bad := registry.Vaccination{ID: registry.NewID(), PersonID: sp.ID, Product: "coronavac", Date: registry.Date{Year: 1900, Month: 1, Day: 1},
		Source: registry.SourceHistoricalCard, Payment: registry.Payment{Kind: "free"}, RecordedAt: e.now, Status: registry.StatusCompleted}
	if _, err := e.store.RecordVaccination(context.Background(), bad, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	res := e.do("GET", base+"/forecast", e.vaccinator, "")
	var f struct {
		Flagged []struct{ Record, Date, Reason string }
	}
	res.decode(t, &f)
	if res.status != http.StatusOK || len(f.Flagged) != 1 || f.Flagged[0].Record != bad.ID.String() || f.Flagged[0].Reason != "before_birth" {
		t.Fatalf("forecast with a dose before birth: %d %s", res.status, res.body)
	}
	// And the bad dose cannot be hidden by moving the birth date: the edit
	// that would put a recorded dose before birth is refused.
	if res := e.do("PATCH", base, e.vaccinator, `{"birth_date":"1985-03-03"}`); res.status != 422 {
		t.Fatalf("birth date after a recorded dose: %d %s", res.status, res.body)
	}
}

// failingStore answers every record read with a fault that is not an
// application error: the kind of detail that must stay in the log.
type failingStore struct{ *sqlite.DB }

func (failingStore) FindRecord(context.Context, registry.CardCode) (*registry.SealedRecord, error) {
	return nil, errors.New("sqlite: page 7 of /srv/haven/haven.db: checksum mismatch")
}

// TestInternalErrorsShowAReference: a fault inside Haven answers "Internal
// error." with the request ID to quote; the detail goes to the log only.
func TestInternalErrorsShowAReference(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvOn(t, failingStore{db})
	p := e.register(`{}`)
	res := e.do("GET", "/api/v1/persons/"+p.CardCode+"?purpose=care", e.vaccinator, "")
	var body struct {
		Error struct{ Code, Message, Field string }
	}
	res.decode(t, &body)
	id := res.header.Get("X-Request-Id")
	if res.status != http.StatusInternalServerError || body.Error.Code != registry.EINTERNAL || id == "" ||
		body.Error.Message != "Internal error. Reference: "+id || body.Error.Field != "" {
		t.Fatalf("internal error: %d %s (request %s)", res.status, res.body, id)
	}
	if strings.Contains(string(res.body), "checksum") || strings.Contains(string(res.body), "/srv") {
		t.Fatalf("the answer shows internal detail: %s", res.body)
	}
	if logs := string(e.logs.Bytes()); !strings.Contains(logs, id) || !strings.Contains(logs, "checksum mismatch") {
		t.Fatal("the log has no entry with the detail under the reference")
	}
}

// TestStorageFailuresAreUnavailable: when the database cannot serve, writes
// answer 503 unavailable with Retry-After (a client retries them), not 500,
// and /readyz says so.
func TestStorageFailuresAreUnavailable(t *testing.T) {
	e := newTestEnv(t)
	p := e.register(`{}`)
	if res := e.do("GET", "/readyz", "", ""); res.status != http.StatusOK {
		t.Fatalf("readyz: %d %s", res.status, res.body)
	}
	e.store.Close()
	res := e.do("POST", "/api/v1/persons/"+p.CardCode+"/tests", e.vaccinator, `{"kind":"pcr","result":"negative","date":"2021-09-01","site":"YB-1"}`)
	if res.status != http.StatusServiceUnavailable || !strings.Contains(string(res.body), `"code":"unavailable"`) || res.header.Get("Retry-After") == "" {
		t.Fatalf("write to a closed store: %d %v %s", res.status, res.header, res.body)
	}
	if res := e.do("GET", "/readyz", "", ""); res.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with a closed store: %d %s", res.status, res.body)
	}
}

// TestNoRevokingYourOwnToken: an administrator cannot revoke the token they
// act with, through the API as through the pages.
func TestNoRevokingYourOwnToken(t *testing.T) {
	e := newTestEnv(t)
	var list struct {
		Tokens []struct{ ID, Role string }
	}
	e.do("GET", "/api/v1/tokens", e.admin, "").decode(t, &list)
	own := ""
	for _, tok := range list.Tokens {
		if tok.Role == "admin" {
			own = tok.ID
		}
	}
	if res := e.do("DELETE", "/api/v1/tokens/"+own, e.admin, ""); res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"field":"id"`) {
		t.Fatalf("revoke own token %q: %d %s", own, res.status, res.body)
	}
}
