package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

// The transport-parity test. Every action of internal/clinic has a row
// here saying which transports offer it. Each transport that does is
// driven as each role, with a vaccinator token of another site, with bad
// input and (for person-level reads) over the read limit; the JSON API and
// the web pages must give the same outcome: the same error code (or none)
// and the same entries in the access log. An action without a row fails
// the test, so a new action cannot be added without saying how each
// transport treats it. The CLI's actions (token, erase, stats) are compared
// with the API in cmd/haven.

// outcome is what one call came to: its error code ("" for success) and
// the actions of the audit entries it wrote that belong to the action
// under test (a page may call other actions too, such as the record read
// after a dose is saved).
type outcome struct {
	Code  string
	Audit []string
}

// call makes one call through one transport and returns its HTTP status
// and error code.
type call func(p *parity, who, variant string) (status int, code string)

type parityRow struct {
	api, web call
	// reads marks a person-level read: it is also called over the read
	// limit, where every transport must answer rate_limited.
	reads bool
	// why says why a transport does not offer the action.
	why string
	// noInput marks an action that takes no input, so has no bad variant.
	noInput bool
}

// The roles the calls are made as. "elsewhere" is a vaccinator of another
// site (SEL-1); the fixtures are at YB-1.
var parityWho = []string{"admin", "vaccinator", "elsewhere", "analyst", "auditor"}

type parity struct {
	t        *testing.T
	e        *webEnv
	tokens   map[string]string
	browsers map[string]*browser
	// Fixtures, all at YB-1: a person with a dose and a test, their
	// holder secret, and a certificate of the dose.
	card, secret, dose, test, hc1 string
}

func newParity(t *testing.T) *parity {
	e := newWebEnv(t)
	p := &parity{t: t, e: e, tokens: map[string]string{"admin": e.admin, "vaccinator": e.vaccinator,
		"analyst": e.analyst, "auditor": e.auditor}, browsers: map[string]*browser{}}
	secret, tok, err := clinic.NewToken(registry.RoleVaccinator, []string{"SEL-1"}, e.clock())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateToken(context.Background(), tok, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	p.tokens["elsewhere"] = secret
	for who, token := range p.tokens {
		b := e.browser(t)
		b.signin(token)
		p.browsers[who] = b
	}
	p.card, p.secret = p.register()
	p.dose = p.mustAPI("POST", "/api/v1/persons/"+p.card+"/vaccinations", `{"product":"coronavac","date":"2021-09-01","site":"YB-1"}`)["id"].(string)
	p.test = p.mustAPI("POST", "/api/v1/persons/"+p.card+"/tests", `{"kind":"pcr","result":"negative","date":"2021-09-01","site":"YB-1"}`)["id"].(string)
	p.hc1 = p.mustAPI("POST", "/api/v1/persons/"+p.card+"/certificates", `{"record":"`+p.dose+`"}`)["hc1"].(string)
	return p
}

// register makes a person at YB-1 and returns their card and holder secret.
func (p *parity) register() (card, secret string) {
	out := p.mustAPI("POST", "/api/v1/persons", `{"given_name":"Mina","family_name":"Kim","birth_date":"1985-03-02","sex":"female"}`)
	return out["card_code"].(string), out["holder_secret"].(string)
}

func (p *parity) mustAPI(method, path, body string) map[string]any {
	p.t.Helper()
	status, out := p.apiRaw("vaccinator", method, path, body)
	if status >= 300 {
		p.t.Fatalf("%s %s: %d %s", method, path, status, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		p.t.Fatal(err)
	}
	return m
}

func (p *parity) apiRaw(who, method, path, body string, headers ...string) (int, []byte) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.e.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+p.tokens[who])
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes()
}

// api calls the JSON API as who and returns the status and error code.
func (p *parity) api(who, method, path, body string) (int, string) {
	status, out := p.apiRaw(who, method, path, body)
	if status < 400 {
		return status, ""
	}
	var e struct{ Error struct{ Code string } }
	if err := json.Unmarshal(out, &e); err != nil || e.Error.Code == "" {
		p.t.Fatalf("%s %s: %d without an error body: %s", method, path, status, out)
	}
	return status, e.Error.Code
}

// page answers a web call with its status and the error code the page
// names in its Haven-Error header.
func (p *parity) page(pg page) (int, string) {
	if pg.status < 400 {
		return pg.status, ""
	}
	code := pg.header.Get("Haven-Error")
	if code == "" {
		p.t.Fatalf("%s: %d without a Haven-Error header:\n%.1500s", pg.url, pg.status, pg.body)
	}
	return pg.status, code
}

func (p *parity) get(who, path string) (int, string) {
	return p.page(p.browsers[who].get(path))
}

// post opens from (for its CSRF token and, when idem, a fresh idempotency
// key) and posts form to action.
func (p *parity) post(who, from, action string, form url.Values, idem bool) (int, string) {
	b := p.browsers[who]
	b.get(from)
	form.Set("csrf", csrfOf(b.last))
	if idem {
		form.Set("idem", "web-parity-"+fmt.Sprint(time.Now().UnixNano()))
	}
	return p.page(b.post(action, form))
}

func csrfOf(pg page) string {
	m := csrfRe.FindStringSubmatch(pg.body)
	if m == nil {
		return "none"
	}
	return m[1]
}

// bad picks the input of a variant.
func bad[T any](variant string, ok, bad T) T {
	if variant == "bad" {
		return bad
	}
	return ok
}

// auditLog reads the access log of the test's store.
type auditLog interface {
	Last(ctx context.Context) (audit.Entry, error)
	Scan(ctx context.Context, fromSeq uint64, fn func(audit.Entry) error) error
}

func (p *parity) lastSeq() uint64 {
	e, err := p.e.store.(auditLog).Last(context.Background())
	if err != nil {
		return 0
	}
	return e.Seq
}

// related are the audit actions that belong to an action: its own, and
// its replays and refusals.
func related(a clinic.Action) []string {
	out := []string{string(a)}
	switch a {
	case clinic.ActPersonCreate:
		out = append(out, string(clinic.ActPersonReplay))
	case clinic.ActVaccinationCreate:
		out = append(out, string(clinic.ActVaccinationReplay))
	case clinic.ActTestCreate:
		out = append(out, string(clinic.ActTestReplay))
	case clinic.ActCorrectionCreate:
		out = append(out, string(clinic.ActCorrectionReplay))
	case clinic.ActSiteCreate:
		out = append(out, string(clinic.ActSiteReplay))
	case clinic.ActHolderRead:
		out = append(out, string(clinic.ActHolderDenied))
	case clinic.ActVaultUnlock:
		out = append(out, string(clinic.ActVaultUnlockFailed))
	}
	return out
}

// run makes one call and returns its outcome.
func (p *parity) run(a clinic.Action, c call, who, variant string) outcome {
	p.e.advance(time.Minute) // every rate-limit bucket refills between calls
	before := p.lastSeq()
	_, code := c(p, who, variant)
	var acts []string
	rel := related(a)
	err := p.e.store.(auditLog).Scan(context.Background(), before+1, func(e audit.Entry) error {
		if slices.Contains(rel, e.Action) {
			acts = append(acts, e.Action)
		}
		return nil
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return outcome{Code: code, Audit: acts}
}

// exhaust spends who's reads of card, so that the next read is over the
// limit.
func (p *parity) exhaust(who, card string) {
	p.e.advance(time.Minute)
	for range 200 {
		if status, _ := p.apiRaw(who, "GET", "/api/v1/persons/"+card+"?purpose=care", ""); status == http.StatusTooManyRequests {
			return
		}
	}
	p.t.Fatal("200 reads of one card were all served")
}

func parityRows() map[clinic.Action]parityRow {
	personForm := func(variant string) url.Values {
		return url.Values{"given_name": {"Nari"}, "family_name": {"Park"}, "birth_date": {bad(variant, "1990-05", "1990-13")}, "sex": {"female"}}
	}
	doseForm := func(variant string, confirm bool) url.Values {
		f := url.Values{"product": {"coronavac"}, "date": {bad(variant, "2021-09-10", "2021-02-30")}, "site": {"YB-1"}, "source": {"administered"}, "payment": {"free"}}
		if confirm {
			f.Set("confirm", "1")
		}
		return f
	}
	testForm := func(variant string, confirm bool) url.Values {
		f := url.Values{"kind": {"antigen"}, "result": {bad(variant, "negative", "maybe")}, "date": {"2021-09-10"}, "site": {"YB-1"}}
		if confirm {
			f.Set("confirm", "1")
		}
		return f
	}
	personPage := func(p *parity) string { return "/clinic/p/" + p.card + "?purpose=care" }
	apiOnly := "the web app does not offer it"
	nodeOnly := "offline clinic nodes only: internal/nodesync's client calls it, and the multi-process tests in cmd/haven (sync_test.go) drive it"
	return map[clinic.Action]parityRow{
		clinic.ActProductList: {api: func(p *parity, who, _ string) (int, string) {
			return p.api(who, "GET", "/api/v1/products", "")
		}, why: "the web forms list the catalogue without an action", noInput: true},
		clinic.ActPersonCreate: {
			api: func(p *parity, who, v string) (int, string) {
				f := personForm(v)
				return p.api(who, "POST", "/api/v1/persons", fmt.Sprintf(`{"given_name":"Nari","family_name":"Park","birth_date":%q,"sex":"female"}`, f.Get("birth_date")))
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, "/clinic", "/clinic/register", personForm(v), true)
			},
		},
		clinic.ActPersonRead: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "GET", "/api/v1/persons/"+p.card+"?purpose="+bad(v, "care", "curiosity"), "")
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.get(who, "/clinic/p/"+p.card+"?purpose="+bad(v, "care", "curiosity"))
			},
			reads: true,
		},
		clinic.ActPersonEdit: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "PATCH", "/api/v1/persons/"+p.card, fmt.Sprintf(`{"birth_date":%q}`, bad(v, "1985-03-02", "1985-13-02")))
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, "/clinic/p/"+p.card+"/edit", "/clinic/p/"+p.card+"/edit",
					url.Values{"confirm": {"1"}, "birth_date": {bad(v, "1985-03-02", "1985-13-02")}, "sex": {"female"},
						"given_name": {"Mina"}, "family_name": {"Kim"}}, true)
			},
		},
		clinic.ActPersonErase: {api: func(p *parity, who, v string) (int, string) {
			card := string(registry.NewCardCode())
			if v == "ok" {
				card, _ = p.register()
			}
			return p.api(who, "DELETE", "/api/v1/persons/"+card, "")
		}, why: apiOnly + "; the CLI does (haven erase)"},
		clinic.ActPersonForecast: {api: func(p *parity, who, v string) (int, string) {
			return p.api(who, "GET", "/api/v1/persons/"+p.card+"/forecast?schedule="+bad(v, "cn", "moon"), "")
		}, reads: true, why: "the person page shows the forecast through its read"},
		clinic.ActHistoryEvaluate: {why: "only FHIR's $immds-forecast evaluates a history given by the caller; see internal/server/fhir"},
		clinic.ActHistoryImport:   {why: "HL7 v2 only: POST /api/v1/hl7 and the MLLP listener share internal/iis, whose tests drive both"},
		clinic.ActReportSend:      {why: "the upstream feed runs inside the server as the operator; see internal/iis"},
		clinic.ActOutboxList: {api: func(p *parity, who, v string) (int, string) {
			return p.api(who, "GET", "/api/v1/iis/outbox?limit="+bad(v, "10", "0"), "")
		}, why: apiOnly + "; haven iis status reads the same"},
		clinic.ActOutboxRetry: {api: func(p *parity, who, v string) (int, string) {
			return p.api(who, "POST", "/api/v1/iis/outbox/"+bad(v, "999", "x")+"/retry", "")
		}, why: apiOnly},
		clinic.ActSyncHello:  {why: nodeOnly},
		clinic.ActSyncPush:   {why: nodeOnly},
		clinic.ActSyncPull:   {why: nodeOnly},
		clinic.ActSyncLookup: {why: nodeOnly},
		clinic.ActSyncStatus: {why: apiOnly + " (GET /api/v1/sync/status takes no input; TestRouteMatrix checks who may call it); haven sync status reads the same, and the web app shows a node's state on every page"},
		clinic.ActSyncRetry: {api: func(p *parity, who, v string) (int, string) {
			return p.api(who, "POST", "/api/v1/sync/failed/"+bad(v, "0", "x")+"/retry", "")
		}, why: apiOnly + "; haven sync retry does the same"},
		clinic.ActCardPrint: {web: func(p *parity, who, v string) (int, string) {
			return p.get(who, "/clinic/p/"+bad(v, p.card, "0000-0000-0000")+"/card")
		}, reads: true, why: "printing a card is a page"},
		clinic.ActVaccinationCreate: {
			api: func(p *parity, who, v string) (int, string) {
				f := doseForm(v, false)
				return p.api(who, "POST", "/api/v1/persons/"+p.card+"/vaccinations", fmt.Sprintf(`{"product":"coronavac","date":%q,"site":"YB-1"}`, f.Get("date")))
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, personPage(p), "/clinic/p/"+p.card+"/dose", doseForm(v, true), true)
			},
		},
		clinic.ActVaccinationPreview: {web: func(p *parity, who, v string) (int, string) {
			return p.post(who, personPage(p), "/clinic/p/"+p.card+"/dose", doseForm(v, false), false)
		}, reads: true, why: "the confirm step is a page; the API records and evaluates in one call"},
		clinic.ActTestCreate: {
			api: func(p *parity, who, v string) (int, string) {
				f := testForm(v, false)
				return p.api(who, "POST", "/api/v1/persons/"+p.card+"/tests", fmt.Sprintf(`{"kind":"antigen","result":%q,"date":"2021-09-10","site":"YB-1"}`, f.Get("result")))
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, personPage(p), "/clinic/p/"+p.card+"/test", testForm(v, true), true)
			},
		},
		clinic.ActTestPreview: {web: func(p *parity, who, v string) (int, string) {
			return p.post(who, personPage(p), "/clinic/p/"+p.card+"/test", testForm(v, false), false)
		}, reads: true, why: "the confirm step is a page"},
		clinic.ActCorrectionCreate: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "POST", "/api/v1/persons/"+p.card+"/records/"+p.spareDose(v)+"/entered-in-error", `{}`)
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, personPage(p), "/clinic/p/"+p.card+"/records/"+p.spareDose(v)+"/error", url.Values{}, true)
			},
		},
		clinic.ActCertificateIssue: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "POST", "/api/v1/persons/"+p.card+"/certificates", `{"record":"`+bad(v, p.dose, "zz")+`"}`)
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, personPage(p), "/clinic/p/"+p.card+"/certificate", url.Values{"record": {bad(v, p.dose, "zz")}}, false)
			},
			reads: true,
		},
		clinic.ActCertificateVerify: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "POST", "/api/v1/certificates/verify", fmt.Sprintf(`{"text":%q}`, bad(v, p.hc1, " ")))
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, "/verify", "/verify", url.Values{"text": {bad(v, p.hc1, " ")}}, false)
			},
		},
		clinic.ActEligibility: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "POST", "/api/v1/eligibility", fmt.Sprintf(`{"jurisdiction":"KR","service":"vaccination","as_of":%q,"facts":{}}`, bad(v, "2021-09-17", "2021-17-09")))
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, "/check", "/check", url.Values{"jurisdiction": {"KR"}, "service": {"vaccination"}, "as_of": {bad(v, "2021-09-17", "2021-17-09")}}, false)
			},
		},
		clinic.ActHolderRead: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "POST", "/api/v1/holder/record", fmt.Sprintf(`{"card_code":%q,"holder_secret":%q}`, p.card, bad(v, p.secret, "WRONGWRONG")))
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, "/holder", "/holder", url.Values{"card": {p.card}, "secret": {bad(v, p.secret, "WRONGWRONG")}}, false)
			},
		},
		clinic.ActHolderCertificate: {web: func(p *parity, who, v string) (int, string) {
			b := p.browsers[who]
			b.get("/holder")
			b.post("/holder", url.Values{"card": {p.card}, "secret": {p.secret}})
			grant := b.hidden("/holder/certificate").Get("grant")
			return p.page(b.post("/holder/certificate", url.Values{"grant": {bad(v, grant, "forged")}, "record": {p.dose}}))
		}, why: "a holder's certificate needs the grant of the holder page"},
		clinic.ActSiteCreate: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "POST", "/api/v1/sites", fmt.Sprintf(`{"code":%q,"name":"Hunchun","jurisdiction":"CN-JL-YB","services":["testing"]}`, siteCode(v)))
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, "/admin", "/admin/sites", url.Values{"code": {siteCode(v)}, "name": {"Hunchun"}, "jurisdiction": {"CN-JL-YB"}, "services": {"testing"}}, false)
			},
		},
		clinic.ActSiteList: {api: func(p *parity, who, _ string) (int, string) {
			return p.api(who, "GET", "/api/v1/sites", "")
		}, why: "the admin page lists sites for administrators only, beside tokens", noInput: true},
		clinic.ActTokenCreate: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "POST", "/api/v1/tokens", fmt.Sprintf(`{"role":%q}`, bad(v, "analyst", "root")))
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, "/admin", "/admin/tokens", url.Values{"role": {bad(v, "analyst", "root")}}, false)
			},
		},
		clinic.ActTokenList: {
			api:     func(p *parity, who, _ string) (int, string) { return p.api(who, "GET", "/api/v1/tokens", "") },
			web:     func(p *parity, who, _ string) (int, string) { return p.get(who, "/admin") },
			noInput: true,
		},
		clinic.ActTokenRevoke: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "DELETE", "/api/v1/tokens/"+p.spareToken(v), "")
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.post(who, "/admin", "/admin/tokens/revoke", url.Values{"id": {p.spareToken(v)}, "confirm": {"1"}}, false)
			},
		},
		clinic.ActVaultSeal: {api: func(p *parity, who, _ string) (int, string) {
			// A body that fails to decode: sealing this test's vault would
			// end the test.
			return p.api(who, "POST", "/api/v1/seal", `{"shred":"no"}`)
		}, why: apiOnly + "; haven seal calls the API"},
		clinic.ActVaultShred: {why: "sealing with shred goes through POST /api/v1/seal {\"shred\":true}; see TestSealShred"},
		clinic.ActVaultUnlock: {api: func(p *parity, who, _ string) (int, string) {
			return p.api(who, "POST", "/api/v1/unlock", `{"passphrase":1}`)
		}, why: apiOnly + "; haven unlock calls the API"},
		clinic.ActStatsCoverage: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "GET", "/api/v1/stats/coverage?from="+bad(v, "2021-08-01", "2021-08-32"), "")
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.get(who, "/program/coverage?from="+bad(v, "2021-08-01", "2021-08-32"))
			},
		},
		clinic.ActStatsGaps: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "GET", "/api/v1/stats/gaps?week="+bad(v, "2021-09-13", "2021-09-31"), "")
			},
			web: func(p *parity, who, v string) (int, string) {
				return p.get(who, "/program/coverage?week="+bad(v, "2021-09-13", "2021-09-31"))
			},
		},
		clinic.ActAuditList: {
			api: func(p *parity, who, v string) (int, string) {
				return p.api(who, "GET", "/api/v1/audit?from_seq="+bad(v, "1", "0"), "")
			},
			web: func(p *parity, who, v string) (int, string) { return p.get(who, "/audit?from_seq="+bad(v, "1", "0")) },
		},
		clinic.ActAuditVerify: {
			api:     func(p *parity, who, _ string) (int, string) { return p.api(who, "GET", "/api/v1/audit/verify", "") },
			web:     func(p *parity, who, _ string) (int, string) { return p.get(who, "/audit?verify=1") },
			noInput: true,
		},
	}
}

var siteSeq int

func siteCode(variant string) string {
	if variant == "bad" {
		return "hunchun clinic"
	}
	siteSeq++
	return fmt.Sprintf("HC-%d", siteSeq)
}

// spareDose records a dose at YB-1 to mark entered in error, or names a
// record that does not exist for bad input.
func (p *parity) spareDose(variant string) string {
	if variant == "bad" {
		return registry.NewID().String()
	}
	return p.mustAPI("POST", "/api/v1/persons/"+p.card+"/vaccinations", `{"product":"coronavac","date":"2021-09-02","site":"YB-1"}`)["id"].(string)
}

// spareToken makes a token to revoke, or names none for bad input.
func (p *parity) spareToken(variant string) string {
	if variant == "bad" {
		return "tk_nonexistent"
	}
	_, tok, err := clinic.NewToken(registry.RoleAuditor, nil, p.e.clock())
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.e.store.CreateToken(context.Background(), tok, registry.Write{}); err != nil {
		p.t.Fatal(err)
	}
	return tok.ID
}

func TestTransportParity(t *testing.T) {
	if testing.Short() {
		t.Skip("drives every action through every transport; skipped with -short")
	}
	p := newParity(t)
	rows := parityRows()
	for _, a := range clinic.Actions() {
		row, ok := rows[a]
		if !ok {
			t.Errorf("action %s has no row in the parity test: say which transports offer it", a)
			continue
		}
		if (row.api == nil || row.web == nil) && row.why == "" {
			t.Errorf("action %s is offered by one transport only, and its row does not say why", a)
		}
	}
	for a := range rows {
		if _, ok := clinic.PermissionOf(a); !ok {
			t.Errorf("the parity test has a row for %s, which is not an action", a)
		}
	}
	for _, a := range clinic.Actions() {
		row := rows[a]
		perm, _ := clinic.PermissionOf(a)
		// Sessions last twelve hours at most, and the clock moves a minute
		// a call: sign in afresh for each action.
		for who, b := range p.browsers {
			b.signin(p.tokens[who])
		}
		t.Run(string(a), func(t *testing.T) {
			for _, who := range parityWho {
				for _, variant := range []string{"ok", "bad"} {
					if variant == "bad" && row.noInput {
						continue
					}
					var got []outcome
					for _, c := range []call{row.api, row.web} {
						if c != nil {
							got = append(got, p.run(a, c, who, variant))
						}
					}
					if len(got) == 0 {
						continue
					}
					role := registry.Role(who)
					if who == "elsewhere" {
						role = registry.RoleVaccinator
					}
					if !perm.Admits(role) && got[0].Code != registry.EFORBIDDEN {
						t.Errorf("%s/%s as %s: %+v, want forbidden", a, variant, who, got[0])
					}
					if variant == "bad" && perm.Admits(role) && got[0].Code == "" {
						t.Errorf("%s/bad as %s succeeded", a, who)
					}
					if len(got) == 2 && !equalOutcomes(got[0], got[1]) {
						t.Errorf("%s/%s as %s: API %+v, web %+v", a, variant, who, got[0], got[1])
					}
				}
			}
			if !row.reads {
				return
			}
			// Over the limit: every transport refuses with the same code,
			// because one limiter counts reads from all of them.
			for _, c := range []call{row.api, row.web} {
				if c == nil {
					continue
				}
				p.exhaust("vaccinator", p.card)
				before := p.lastSeq()
				if _, code := c(p, "vaccinator", "ok"); code != registry.ERATELIMITED {
					t.Errorf("%s over the read limit: %q, want rate_limited", a, code)
				}
				if after := p.lastSeq(); after != before {
					t.Errorf("%s over the read limit wrote %d audit entries", a, after-before)
				}
			}
		})
	}
}

func equalOutcomes(a, b outcome) bool {
	return a.Code == b.Code && slices.Equal(a.Audit, b.Audit)
}
