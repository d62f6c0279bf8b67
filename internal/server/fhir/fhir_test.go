package fhir_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
	"github.com/haven-registry/haven/internal/server/fhir"
	"github.com/haven-registry/haven/internal/server/httpx"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/vault"
)

// now is the fixtures' clock: the day the doses below were recorded.
var now = time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)

// The actors of the tests, by name.
var actors = map[string]clinic.Actor{
	"vaccinator": {TokenID: "tk_vax", Role: registry.RoleVaccinator, Sites: []string{"YB-1"}, Addr: "192.0.2.1"},
	"elsewhere":  {TokenID: "tk_else", Role: registry.RoleVaccinator, Sites: []string{"YB-2"}, Addr: "192.0.2.2"},
	"analyst":    {TokenID: "tk_ana", Role: registry.RoleAnalyst, Addr: "192.0.2.3"},
	"anonymous":  clinic.Anonymous("192.0.2.4"),
}

// scheduleEvaluator stands in for the clinic action proposed for
// $immds-forecast (clinic.Service.EvaluateHistory): vaccinators only, the
// named schedule, nothing stored.
type scheduleEvaluator struct{ schedule string }

func (e scheduleEvaluator) EvaluateHistory(_ context.Context, a clinic.Actor, h fhir.History) (*clinic.Forecast, error) {
	switch a.Role {
	case registry.RoleVaccinator:
	case "", clinic.RolePublic:
		return nil, registry.FieldErrorf(registry.EUNAUTHORIZED, "Authorization", "A bearer token is required.")
	default:
		return nil, registry.Errorf(registry.EFORBIDDEN, "The %s role may not do this.", a.Role)
	}
	sch, err := schedule.Load(e.schedule)
	if err != nil {
		return nil, err
	}
	p := schedule.Patient{BirthDate: h.BirthDate.Earliest().Time()}
	switch h.Sex {
	case registry.SexFemale:
		p.Sex = "F"
	case registry.SexMale:
		p.Sex = "M"
	}
	for _, d := range h.Doses {
		p.Doses = append(p.Doses, schedule.Dose{Date: d.Date.Time(), CVX: d.CVX, MVX: d.MVX})
	}
	res, err := sch.Forecast(p, h.AsOf.Time())
	if err != nil {
		return nil, err
	}
	return &clinic.Forecast{Schedule: sch.Name(), AsOf: h.AsOf, BirthDate: h.BirthDate.Earliest(), Result: res}, nil
}

// fixture is a clinic service with two people, and the FHIR handlers
// mounted on a mux of the test's own, as routes.go will mount them.
type fixture struct {
	svc     *clinic.Service
	mux     *http.ServeMux
	card    registry.CardCode // a person with doses
	bare    registry.CardCode // a person with a full birth date and no dose
	doses   []registry.Vaccination
	emitted *collector
}

// collector keeps every body the handlers answer, for the validator.
type collector struct {
	mu     sync.Mutex
	bodies []emittedBody
}

type emittedBody struct {
	name string
	body []byte
}

func (c *collector) add(name string, body []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bodies = append(c.bodies, emittedBody{name, append([]byte(nil), body...)})
}

func newFixture(tb testing.TB, limits *clinic.Limits) *fixture {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "haven.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		tb.Fatal(err)
	}
	for _, code := range []string{"YB-1", "YB-2"} {
		if _, err := db.CreateSite(ctx, registry.Site{Code: code, Name: code, Jurisdiction: "CN-JL-YB",
			Services: []string{registry.ServiceVaccination, registry.ServiceTesting}}, registry.Write{}); err != nil {
			tb.Fatal(err)
		}
	}
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	svc := clinic.New(clinic.Deps{Store: db, Vault: v, Catalog: catalog.Default(), Schedule: "cn", Limits: limits,
		Now: func() time.Time { return now }})
	f := &fixture{svc: svc, mux: http.NewServeMux()}
	h := fhir.New(svc, fhir.Options{Evaluator: scheduleEvaluator{"cdc"}, BaseURL: "https://haven.test/fhir/r4"})
	mount(f.mux, h)

	vax := actors["vaccinator"]
	reg, err := svc.RegisterPerson(ctx, vax, clinic.PersonInput{GivenName: "민준", FamilyName: "김", Phone: "010-1234-5678",
		BirthDate: "1985", BirthDateEstimated: true, Sex: "male"}, "")
	if err != nil {
		tb.Fatal(err)
	}
	f.card = reg.Record.Person.CardCode
	for _, in := range []clinic.VaccinationInput{
		{Product: "bbibp-corv", Date: "2021-05-01", Source: "self-report"},
		{Product: "comirnaty", Date: "2021-06-01", Source: "historical-card", Lot: "FF1234"},
		{Product: "coronavac", Date: "2021-08-01", Site: "YB-1", Lot: "L1", Payment: &registry.Payment{Kind: "paid", Amount: "50.00", Currency: "CNY"}},
		{Product: "coronavac", Date: "2021-08-29", Site: "YB-1", Lot: "L2"},
	} {
		d, err := svc.RecordVaccination(ctx, vax, f.card, in, "")
		if err != nil {
			tb.Fatal(err)
		}
		f.doses = append(f.doses, d.Vaccination)
	}
	// The self-reported dose turns out to be wrong.
	if _, err := svc.MarkEnteredInError(ctx, vax, f.card, f.doses[0].ID, clinic.Correction{}, ""); err != nil {
		tb.Fatal(err)
	}
	reg, err = svc.RegisterPerson(ctx, vax, clinic.PersonInput{BirthDate: "1990-02-14", Sex: "female"}, "")
	if err != nil {
		tb.Fatal(err)
	}
	f.bare = reg.Record.Person.CardCode
	return f
}

// mount registers the handlers with the route lines proposed for
// routes.go (there, the server's authorize middleware puts the actor in the
// context; here the test does).
func mount(mux *http.ServeMux, h *fhir.Handler) {
	for _, rt := range []struct {
		pattern string
		handler http.Handler
	}{
		{"GET /fhir/r4/metadata", h.Metadata()},
		{"GET /fhir/r4/Patient/{card}", h.PatientRead()},
		{"GET /fhir/r4/Patient", h.PatientSearch()},
		{"GET /fhir/r4/Immunization/{id}", h.ImmunizationRead()},
		{"GET /fhir/r4/Immunization", h.ImmunizationSearch()},
		{"POST /fhir/r4/Immunization", h.ImmunizationCreate()},
		{"GET /fhir/r4/ImmunizationEvaluation", h.EvaluationSearch()},
		{"GET /fhir/r4/ImmunizationRecommendation", h.RecommendationSearch()},
		{"POST /fhir/r4/$immds-forecast", h.ImmDSForecast()},
		{"GET /fhir/r4/", h.NotFound()},
		{"POST /fhir/r4/", h.NotFound()},
	} {
		mux.Handle(rt.pattern, rt.handler)
	}
}

// expand fills the placeholders of a test target or body: {card}, {bare},
// {unknown} (a well-formed card nobody has), {dose} (the id of the third
// dose), {sys} (CardSystem).
func (f *fixture) expand(s string) string {
	return strings.NewReplacer("{card}", string(f.card), "{bare}", string(f.bare), "{unknown}", string(unknownCard),
		"{dose}", string(f.card)+"."+f.doses[2].ID.String(), "{sys}", fhir.CardSystem).Replace(s)
}

// unknownCard is a well-formed card code that the fixture never issues.
var unknownCard = func() registry.CardCode {
	c, err := registry.ParseCardCode("2222-2222-222")
	for x := 0; err != nil && x < len(registry.CardAlphabet); x++ {
		c, err = registry.ParseCardCode("2222-2222-222" + registry.CardAlphabet[x:x+1])
	}
	return c
}()

// do sends a request as the named actor ("" for none) and records the
// answer's body.
func (f *fixture) do(tb testing.TB, actor, method, target, body string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, f.expand(target), strings.NewReader(f.expand(body)))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], f.expand(header[i+1]))
	}
	if a, ok := actors[actor]; ok {
		req = req.WithContext(httpx.WithActor(req.Context(), a))
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	f.emitted.add(tb.Name(), rec.Body.Bytes())
	return rec
}

// personReads counts the person-level entries of the access log.
func (f *fixture) personReads(tb testing.TB) int {
	tb.Helper()
	page, err := f.svc.AuditEntries(context.Background(), clinic.Operator(), 0, 1, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range page.Entries {
		if strings.HasPrefix(e.Action, "person.") && e.Action != string(clinic.ActPersonCreate) {
			n++
		}
	}
	return n
}

// httpCase is one request and what it must answer: a status, and for an
// error the OperationOutcome's issue code and the expression or location it
// names.
type httpCase struct {
	name                 string
	actor                string
	method, target, body string
	header               []string
	status               int
	issue, where         string
	check                func(t *testing.T, f *fixture, doc map[string]any)
}

func (c httpCase) run(t *testing.T, f *fixture) {
	t.Helper()
	rec := f.do(t, c.actor, c.method, c.target, c.body, c.header...)
	if rec.Code != c.status {
		t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.target, rec.Code, c.status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
	}
	if c.issue != "" {
		issue := outcome(t, doc)
		if issue["code"] != c.issue {
			t.Errorf("issue code %v, want %s: %s", issue["code"], c.issue, rec.Body)
		}
		if where := f.expand(c.where); where != "" && !slices.Contains(strs(issue["expression"]), where) && !slices.Contains(strs(issue["location"]), where) {
			t.Errorf("issue names %v %v, want %s", issue["expression"], issue["location"], where)
		}
	} else if doc["resourceType"] == "OperationOutcome" {
		t.Errorf("success answered an OperationOutcome: %s", rec.Body)
	}
	if c.check != nil {
		c.check(t, f, doc)
	}
}

// outcome returns the one issue of an OperationOutcome.
func outcome(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	if doc["resourceType"] != "OperationOutcome" {
		t.Fatalf("resourceType %v, want OperationOutcome", doc["resourceType"])
	}
	issues, _ := doc["issue"].([]any)
	if len(issues) != 1 {
		t.Fatalf("%d issues", len(issues))
	}
	return issues[0].(map[string]any)
}

func strs(v any) []string {
	var out []string
	for _, x := range asList(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

// get walks a decoded document by keys and list indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = asMap(v)[k]
		case int:
			l := asList(v)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// entries returns the resources of a searchset, checking its shape.
func entries(t *testing.T, doc map[string]any) []map[string]any {
	t.Helper()
	if doc["resourceType"] != "Bundle" || doc["type"] != "searchset" {
		t.Fatalf("not a searchset: %v %v", doc["resourceType"], doc["type"])
	}
	var out []map[string]any
	for _, e := range asList(doc["entry"]) {
		if get(e, "search", "mode") != "match" || get(e, "fullUrl") == nil {
			t.Errorf("entry %v", e)
		}
		out = append(out, asMap(get(e, "resource")))
	}
	if total, _ := doc["total"].(float64); int(total) != len(out) {
		t.Errorf("total %v, %d entries", doc["total"], len(out))
	}
	return out
}

var patientCases = []httpCase{
	{name: "ok/pseudonymous", actor: "vaccinator", method: "GET", target: "/fhir/r4/Patient/{card}", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if doc["resourceType"] != "Patient" || doc["id"] != string(f.card) || doc["gender"] != "male" || doc["birthDate"] != "1985" {
				t.Errorf("patient %v", doc)
			}
			if get(doc, "identifier", 0, "system") != fhir.CardSystem || get(doc, "identifier", 0, "value") != string(f.card) {
				t.Errorf("identifier %v", doc["identifier"])
			}
			if get(doc, "extension", 0, "url") != fhir.BirthDateEstimatedExtension || get(doc, "extension", 0, "valueBoolean") != true {
				t.Errorf("estimated birth date not marked: %v", doc["extension"])
			}
			for _, k := range []string{"name", "telecom", "address"} {
				if _, ok := doc[k]; ok {
					t.Errorf("Patient carries %s", k)
				}
			}
			raw, _ := json.Marshal(doc)
			if strings.Contains(string(raw), "민준") || strings.Contains(string(raw), "1234") {
				t.Errorf("demographics leaked: %s", raw)
			}
		}},
	{name: "ok/full birth date", actor: "vaccinator", method: "GET", target: "/fhir/r4/Patient/{bare}", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if doc["birthDate"] != "1990-02-14" || doc["gender"] != "female" || doc["extension"] != nil {
				t.Errorf("patient %v", doc)
			}
		}},
	{name: "fail/unknown card", actor: "vaccinator", method: "GET", target: "/fhir/r4/Patient/{unknown}", status: 404, issue: "not-found", where: "Patient.id"},
	{name: "fail/mistyped card", actor: "vaccinator", method: "GET", target: "/fhir/r4/Patient/2222-2222-2223", status: 422, issue: "invalid", where: "Patient.id"},
	{name: "fail/analyst", actor: "analyst", method: "GET", target: "/fhir/r4/Patient/{card}", status: 403, issue: "forbidden"},
	{name: "fail/no token", actor: "anonymous", method: "GET", target: "/fhir/r4/Patient/{card}", status: 401, issue: "login", where: "http.Authorization"},
	{name: "ok/search by identifier", actor: "vaccinator", method: "GET", target: "/fhir/r4/Patient?identifier={sys}|{card}", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if es := entries(t, doc); len(es) != 1 || es[0]["id"] != string(f.card) {
				t.Errorf("entries %v", es)
			}
		}},
	{name: "ok/search unknown card", actor: "vaccinator", method: "GET", target: "/fhir/r4/Patient?identifier={sys}|{unknown}", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if es := entries(t, doc); len(es) != 0 {
				t.Errorf("entries %v", es)
			}
		}},
	{name: "fail/search another system", actor: "vaccinator", method: "GET", target: "/fhir/r4/Patient?identifier=http://passports.example|X123", status: 422, issue: "invalid", where: "http.identifier"},
	{name: "fail/search without identifier", actor: "vaccinator", method: "GET", target: "/fhir/r4/Patient", status: 422, issue: "invalid", where: "http.identifier"},
}

func TestPatient(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range patientCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// refusedSearches are searches by something other than the card code: each
// is refused with an OperationOutcome, never answered with a result.
var refusedSearches = []struct{ target, param string }{
	{"/fhir/r4/Patient?name=Kim", "name"},
	{"/fhir/r4/Patient?family=%EA%B9%80", "family"},
	{"/fhir/r4/Patient?given=Minjun", "given"},
	{"/fhir/r4/Patient?name:exact=Kim", "name:exact"},
	{"/fhir/r4/Patient?birthdate=1985", "birthdate"},
	{"/fhir/r4/Patient?birthdate=ge1980-01-01", "birthdate"},
	{"/fhir/r4/Patient?phone=010-1234-5678", "phone"},
	{"/fhir/r4/Patient?telecom=010-1234-5678", "telecom"},
	{"/fhir/r4/Patient?email=a@example.org", "email"},
	{"/fhir/r4/Patient?address-city=Yanji", "address-city"},
	{"/fhir/r4/Patient?identifier={sys}|{card}&name=Kim", "name"},
	{"/fhir/r4/Patient?_id={card}", "_id"},
	{"/fhir/r4/Immunization?patient.name=Kim", "patient.name"},
	{"/fhir/r4/Immunization?patient.birthdate=1985", "patient.birthdate"},
	{"/fhir/r4/Immunization?patient.phone=010-1234-5678", "patient.phone"},
	{"/fhir/r4/Immunization?patient.identifier={sys}|{card}&patient.family=Kim", "patient.family"},
	{"/fhir/r4/Immunization?date=2021-08-01", "date"},
	{"/fhir/r4/Immunization?lot-number=L1", "lot-number"},
	{"/fhir/r4/ImmunizationEvaluation?patient.name=Kim", "patient.name"},
	{"/fhir/r4/ImmunizationRecommendation?patient.birthdate=1985", "patient.birthdate"},
}

// TestNoSearchByNameBirthDateOrPhone: every search by a detail other than
// the card code is refused with an OperationOutcome before anything is read:
// no result, and no read in the access log.
func TestNoSearchByNameBirthDateOrPhone(t *testing.T) {
	f := newFixture(t, nil)
	before := f.personReads(t)
	for _, s := range refusedSearches {
		t.Run(s.target, func(t *testing.T) {
			rec := f.do(t, "vaccinator", "GET", s.target, "")
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			issue := outcome(t, doc)
			if issue["code"] != "not-supported" || !slices.Contains(strs(issue["location"]), "http."+s.param) {
				t.Errorf("issue %v, want not-supported at http.%s", issue, s.param)
			}
			if strings.Contains(rec.Body.String(), string(f.card)) && !strings.Contains(s.target, "{card}") {
				t.Errorf("the refusal names a card: %s", rec.Body)
			}
		})
	}
	if after := f.personReads(t); after != before {
		t.Errorf("refused searches made %d person reads", after-before)
	}
}

var immunizationCases = []httpCase{
	{name: "ok/search by patient.identifier", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization?patient.identifier={sys}|{card}", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			es := entries(t, doc)
			if len(es) != 4 {
				t.Fatalf("%d doses, want 4", len(es))
			}
			byDate := map[string]map[string]any{}
			for _, e := range es {
				byDate[e["occurrenceDateTime"].(string)] = e
				if get(e, "vaccineCode", "coding", 0, "system") != "http://hl7.org/fhir/sid/cvx" {
					t.Errorf("vaccineCode does not start with CVX: %v", e["vaccineCode"])
				}
				if get(e, "patient", "reference") != "Patient/"+string(f.card) {
					t.Errorf("patient %v", e["patient"])
				}
			}
			self, card, paid, free := byDate["2021-05-01"], byDate["2021-06-01"], byDate["2021-08-01"], byDate["2021-08-29"]
			if self["status"] != "entered-in-error" || paid["status"] != "completed" {
				t.Errorf("statuses %v %v", self["status"], paid["status"])
			}
			if self["primarySource"] != false || get(self, "reportOrigin", "coding", 0, "code") != "recall" {
				t.Errorf("self-report %v", self)
			}
			if card["primarySource"] != false || get(card, "reportOrigin", "coding", 0, "code") != "record" || card["lotNumber"] != "FF1234" {
				t.Errorf("historical card %v", card)
			}
			if paid["primarySource"] != true || paid["lotNumber"] != "L1" || get(paid, "location", "identifier", "value") != "YB-1" {
				t.Errorf("administered %v", paid)
			}
			if get(paid, "vaccineCode", "coding", 0, "code") != "511" || get(paid, "manufacturer", "identifier", "value") != "SNV" {
				t.Errorf("CoronaVac %v %v", paid["vaccineCode"], paid["manufacturer"])
			}
			systems := []string{}
			for _, c := range asList(get(paid, "vaccineCode", "coding")) {
				systems = append(systems, get(c, "system").(string))
			}
			if !slices.Equal(systems, []string{"http://hl7.org/fhir/sid/cvx", "http://snomed.info/sct", "http://id.who.int/icd11/mms", fhir.ProductSystem}) {
				t.Errorf("vaccineCode systems %v", systems)
			}
			if get(paid, "fundingSource", "coding", 0, "code") != "private" || get(paid, "extension", 0, "valueMoney", "value") != 50.0 ||
				get(paid, "extension", 0, "valueMoney", "currency") != "CNY" {
				t.Errorf("payment %v %v", paid["fundingSource"], paid["extension"])
			}
			if free["fundingSource"] != nil || free["extension"] != nil {
				t.Errorf("free dose carries funding %v %v", free["fundingSource"], free["extension"])
			}
		}},
	{name: "ok/search by patient reference", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization?patient=Patient/{card}", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if len(entries(t, doc)) != 4 {
				t.Errorf("doses %v", doc)
			}
		}},
	{name: "ok/search without system", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization?patient.identifier={card}&_format=json", status: 200},
	{name: "ok/search unknown card", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization?patient.identifier={sys}|{unknown}", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if len(entries(t, doc)) != 0 {
				t.Errorf("doses %v", doc)
			}
		}},
	{name: "fail/search without patient", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization", status: 422, issue: "invalid", where: "http.patient.identifier"},
	{name: "fail/search other system", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization?patient.identifier=urn:oid:1.2.3|{card}", status: 422, issue: "invalid", where: "http.patient.identifier"},
	{name: "fail/search twice", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization?patient.identifier={card}&patient.identifier={bare}", status: 422, issue: "invalid", where: "http.patient.identifier"},
	{name: "fail/search both", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization?patient.identifier={card}&patient=Patient/{bare}", status: 422, issue: "invalid", where: "http.patient"},
	{name: "fail/search as analyst", actor: "analyst", method: "GET", target: "/fhir/r4/Immunization?patient.identifier={card}", status: 403, issue: "forbidden"},
	{name: "ok/read", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization/{dose}", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if doc["resourceType"] != "Immunization" || doc["id"] != f.expand("{dose}") || doc["occurrenceDateTime"] != "2021-08-01" {
				t.Errorf("immunization %v", doc)
			}
		}},
	{name: "fail/read with another person's card", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization/{bare}." + strings.Repeat("ab", 16), status: 404, issue: "not-found", where: "Immunization.id"},
	{name: "fail/read without card", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization/" + strings.Repeat("ab", 16), status: 422, issue: "invalid", where: "Immunization.id"},
	{name: "fail/read unknown card", actor: "vaccinator", method: "GET", target: "/fhir/r4/Immunization/{unknown}." + strings.Repeat("ab", 16), status: 404, issue: "not-found", where: "Immunization.id"},
	{name: "fail/read as nobody", actor: "anonymous", method: "GET", target: "/fhir/r4/Immunization/{dose}", status: 401, issue: "login"},
}

func TestImmunization(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range immunizationCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// immunizationBody is an Immunization for {card} with the given overrides
// of its JSON members (a nil value removes the member).
func immunizationBody(over map[string]any) string {
	doc := map[string]any{
		"resourceType":       "Immunization",
		"status":             "completed",
		"vaccineCode":        map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/cvx", "code": "511"}}},
		"patient":            map[string]any{"identifier": map[string]any{"system": "{sys}", "value": "{bare}"}},
		"occurrenceDateTime": "2021-09-01",
		"location":           map[string]any{"identifier": map[string]any{"system": fhir.SiteSystem, "value": "YB-1"}},
		"lotNumber":          "A77",
		"performer":          []any{map[string]any{"actor": map[string]any{"display": "Nurse Park"}}},
		"note":               []any{map[string]any{"text": "free text Haven never keeps"}},
	}
	for k, v := range over {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	raw, _ := json.Marshal(doc)
	return string(raw)
}

var createCases = []httpCase{
	{name: "ok/created", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(nil),
		header: []string{"Content-Type", "application/fhir+json"}, status: 201,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if doc["status"] != "completed" || get(doc, "vaccineCode", "coding", 0, "code") != "511" || doc["lotNumber"] != "A77" ||
				doc["primarySource"] != true || !strings.HasPrefix(doc["id"].(string), string(f.bare)+".") {
				t.Errorf("created %v", doc)
			}
			if doc["note"] != nil || doc["performer"] != nil {
				t.Errorf("kept what Haven never keeps: %v", doc)
			}
		}},
	{name: "ok/historical with payment", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body: immunizationBody(map[string]any{"primarySource": false, "location": nil, "occurrenceDateTime": "2021-03-02T10:30:00+09:00",
			"reportOrigin": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/immunization-origin", "code": "record"}}},
			"extension":    []any{map[string]any{"url": fhir.PaymentExtension, "valueMoney": map[string]any{"value": 12.50, "currency": "KRW"}}},
			"vaccineCode": map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/cvx", "code": "500"},
				map[string]any{"system": fhir.ProductSystem, "code": "wibp-corv"}}}}),
		status: 201,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if doc["primarySource"] != false || get(doc, "reportOrigin", "coding", 0, "code") != "record" || doc["occurrenceDateTime"] != "2021-03-02" {
				t.Errorf("historical %v", doc)
			}
			if text, _ := get(doc, "vaccineCode", "text").(string); get(doc, "vaccineCode", "coding", 0, "code") != "500" || !strings.Contains(text, "WIBP") {
				t.Errorf("vaccine %v", doc["vaccineCode"])
			}
			if get(doc, "extension", 0, "valueMoney", "value") != 12.5 || get(doc, "fundingSource", "coding", 0, "code") != "private" {
				t.Errorf("payment %v", doc["extension"])
			}
		}},
	{name: "fail/not json", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: "{", status: 400, issue: "structure"},
	{name: "fail/empty", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: "", status: 400, issue: "structure"},
	{name: "fail/xml", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: "<Immunization/>",
		header: []string{"Content-Type", "application/fhir+xml"}, status: 415, issue: "not-supported", where: "http.Content-Type"},
	{name: "fail/unknown element", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(map[string]any{"vaccineKode": "x"}),
		status: 422, issue: "invalid", where: "Immunization.vaccineKode"},
	{name: "fail/unknown nested element", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body:   immunizationBody(map[string]any{"vaccineCode": map[string]any{"coding": []any{map[string]any{"sytem": "x"}}}}),
		status: 422, issue: "invalid", where: "Immunization.vaccineCode.coding[0].sytem"},
	{name: "fail/element twice", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body: `{"resourceType":"Immunization","status":"completed","status":"completed"}`, status: 422, issue: "invalid", where: "Immunization.status"},
	{name: "fail/wrong resource", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(map[string]any{"resourceType": "Patient"}),
		status: 422, issue: "invalid", where: "Immunization.resourceType"},
	{name: "fail/no patient", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(map[string]any{"patient": nil}),
		status: 422, issue: "invalid", where: "Immunization.patient.identifier"},
	{name: "fail/patient by another identifier", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body:   immunizationBody(map[string]any{"patient": map[string]any{"identifier": map[string]any{"system": "http://passports.example", "value": "M1234"}}}),
		status: 422, issue: "invalid", where: "Immunization.patient.identifier.system"},
	{name: "fail/unknown person", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body:   immunizationBody(map[string]any{"patient": map[string]any{"reference": "Patient/{unknown}"}}),
		status: 404, issue: "not-found", where: "Immunization.patient.identifier"},
	{name: "fail/unknown CVX", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body:   immunizationBody(map[string]any{"vaccineCode": map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/cvx", "code": "999999"}}}}),
		status: 422, issue: "invalid", where: "Immunization.vaccineCode"},
	{name: "fail/no vaccine code", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body:   immunizationBody(map[string]any{"vaccineCode": map[string]any{"text": "CoronaVac"}}),
		status: 422, issue: "invalid", where: "Immunization.vaccineCode"},
	{name: "fail/future date", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(map[string]any{"occurrenceDateTime": "2021-12-01"}),
		status: 422, issue: "invalid", where: "Immunization.occurrenceDateTime"},
	{name: "fail/month only", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(map[string]any{"occurrenceDateTime": "2021-08"}),
		status: 422, issue: "invalid", where: "Immunization.occurrenceDateTime"},
	{name: "fail/occurrence as text", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body:   immunizationBody(map[string]any{"occurrenceDateTime": nil, "occurrenceString": "last spring"}),
		status: 422, issue: "invalid", where: "Immunization.occurrenceString"},
	{name: "fail/another site", actor: "elsewhere", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(nil),
		status: 403, issue: "forbidden", where: "Immunization.location"},
	{name: "fail/administered without site", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(map[string]any{"location": nil}),
		status: 422, issue: "invalid", where: "Immunization.location"},
	{name: "fail/not done", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(map[string]any{"status": "not-done"}),
		status: 422, issue: "not-supported", where: "Immunization.status"},
	{name: "fail/subpotent", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(map[string]any{"isSubpotent": true}),
		status: 422, issue: "not-supported", where: "Immunization.isSubpotent"},
	{name: "fail/modifier extension", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body:   immunizationBody(map[string]any{"modifierExtension": []any{map[string]any{"url": "http://example.org/x", "valueBoolean": true}}}),
		status: 422, issue: "not-supported", where: "Immunization.modifierExtension"},
	{name: "fail/private without amount", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body:   immunizationBody(map[string]any{"fundingSource": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/immunization-funding-source", "code": "private"}}}}),
		status: 422, issue: "invalid", where: "Immunization.extension"},
	{name: "fail/bad currency", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body:   immunizationBody(map[string]any{"extension": []any{map[string]any{"url": fhir.PaymentExtension, "valueMoney": map[string]any{"value": 5, "currency": "yuan"}}}}),
		status: 422, issue: "invalid", where: "Immunization.extension"},
	{name: "fail/analyst", actor: "analyst", method: "POST", target: "/fhir/r4/Immunization", body: immunizationBody(nil), status: 403, issue: "forbidden"},
	{name: "fail/too large", actor: "vaccinator", method: "POST", target: "/fhir/r4/Immunization",
		body: immunizationBody(map[string]any{"lotNumber": strings.Repeat("x", 70<<10)}), status: 413, issue: "too-long"},
}

func TestImmunizationCreate(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range createCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// TestImmunizationCreateIdempotent: a retry with the same Idempotency-Key,
// or the same If-None-Exist in any order, records nothing new and answers
// with the first dose; the same condition with another dose is a conflict.
func TestImmunizationCreateIdempotent(t *testing.T) {
	f := newFixture(t, nil)
	count := func() int {
		rec, err := f.svc.ReadRecord(context.Background(), actors["vaccinator"], f.bare, "care")
		if err != nil {
			t.Fatal(err)
		}
		return len(rec.Vaccinations)
	}
	post := func(body string, header ...string) (int, string, http.Header) {
		rec := f.do(t, "vaccinator", "POST", "/fhir/r4/Immunization", body, header...)
		var doc map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &doc)
		id, _ := doc["id"].(string)
		return rec.Code, id, rec.Header()
	}
	body := immunizationBody(nil)
	code, first, hdr := post(body, "Idempotency-Key", "dose-1")
	if code != 201 || hdr.Get("Location") != "https://haven.test/fhir/r4/Immunization/"+first {
		t.Fatalf("first create %d %q %v", code, first, hdr)
	}
	code, again, hdr := post(body, "Idempotency-Key", "dose-1")
	if code != 201 || again != first || hdr.Get("Idempotent-Replayed") != "true" || count() != 1 {
		t.Fatalf("replay %d %q %v, %d doses", code, again, hdr, count())
	}

	cond := immunizationBody(map[string]any{"occurrenceDateTime": "2021-09-10"})
	code, c1, _ := post(cond, "If-None-Exist", "identifier=http://clinic.example/ids|77&date=2021-09-10")
	if code != 201 {
		t.Fatalf("conditional create %d", code)
	}
	code, c2, hdr := post(cond, "If-None-Exist", "date=2021-09-10&identifier=http://clinic.example/ids|77")
	if code != 200 || c2 != c1 || hdr.Get("Idempotent-Replayed") != "true" || count() != 2 {
		t.Fatalf("conditional replay %d %q (first %q), %d doses", code, c2, c1, count())
	}
	rec := f.do(t, "vaccinator", "POST", "/fhir/r4/Immunization", immunizationBody(map[string]any{"occurrenceDateTime": "2021-09-11"}),
		"If-None-Exist", "identifier=http://clinic.example/ids|77&date=2021-09-10")
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), `"conflict"`) || count() != 2 {
		t.Fatalf("same condition, another dose: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(t, "vaccinator", "POST", "/fhir/r4/Immunization", body, "If-None-Exist", "=")
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "http.If-None-Exist") {
		t.Fatalf("malformed If-None-Exist: %d %s", rec.Code, rec.Body)
	}
}

var forecastCases = []httpCase{
	{name: "ok/evaluations", actor: "vaccinator", method: "GET", target: "/fhir/r4/ImmunizationEvaluation?patient.identifier={sys}|{card}", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			es := entries(t, doc)
			if len(es) == 0 {
				t.Fatal("no evaluation")
			}
			for _, e := range es {
				if e["resourceType"] != "ImmunizationEvaluation" || get(e, "patient", "reference") != "Patient/"+string(f.card) {
					t.Errorf("evaluation %v", e)
				}
				if get(e, "doseStatus", "coding", 0, "system") != schedule.FHIRSystemDoseStatus || len(asList(get(e, "doseStatus", "coding"))) != 1 ||
					get(e, "extension", 0, "url") != fhir.CDSiStatusExtension || get(e, "extension", 0, "valueCode") != get(e, "doseStatus", "text") {
					t.Errorf("dose status %v", e["doseStatus"])
				}
				if ref, _ := get(e, "immunizationEvent", "reference").(string); !strings.HasPrefix(ref, "Immunization/"+string(f.card)+".") {
					t.Errorf("event %v", e["immunizationEvent"])
				}
				if n, _ := e["doseNumberPositiveInt"].(float64); get(e, "doseStatus", "coding", 0, "code") == "valid" && (n < 1 || e["series"] == nil) {
					t.Errorf("valid dose numbered %v in %v", e["doseNumberPositiveInt"], e["series"])
				}
			}
		}},
	{name: "ok/recommendation", actor: "vaccinator", method: "GET", target: "/fhir/r4/ImmunizationRecommendation?patient.identifier={sys}|{bare}&date=2021-09-17", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			es := entries(t, doc)
			if len(es) != 1 || es[0]["resourceType"] != "ImmunizationRecommendation" || es[0]["date"] != "2021-09-17" {
				t.Fatalf("entries %v", es)
			}
			r := get(es[0], "recommendation", 0)
			if get(r, "forecastStatus", "coding", 0, "system") != schedule.FHIRSystemForecastStatus || get(r, "doseNumberPositiveInt") != 1.0 {
				t.Errorf("recommendation %v", r)
			}
			if get(r, "dateCriterion", 0, "code", "coding", 0, "system") != "http://loinc.org" {
				t.Errorf("date criteria %v", get(r, "dateCriterion"))
			}
		}},
	{name: "ok/unknown card", actor: "vaccinator", method: "GET", target: "/fhir/r4/ImmunizationRecommendation?patient.identifier={unknown}", status: 200},
	{name: "fail/bad date", actor: "vaccinator", method: "GET", target: "/fhir/r4/ImmunizationRecommendation?patient.identifier={card}&date=soon", status: 422, issue: "invalid", where: "http.date"},
	{name: "fail/analyst", actor: "analyst", method: "GET", target: "/fhir/r4/ImmunizationEvaluation?patient.identifier={card}", status: 403, issue: "forbidden"},
}

func TestEvaluationAndRecommendation(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range forecastCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
}

// immdsBody is an $immds-forecast request for a person born in 1950 with
// the given doses (CVX, date).
func immdsBody(asOf string, doses ...[2]string) string {
	params := []any{
		map[string]any{"name": "assessmentDate", "valueDate": asOf},
		map[string]any{"name": "patient", "resource": map[string]any{"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-11-10",
			"name": []any{map[string]any{"family": "masked"}}}},
	}
	for i, d := range doses {
		params = append(params, map[string]any{"name": "immunization", "resource": map[string]any{"resourceType": "Immunization",
			"id": "im" + string(rune('1'+i)), "status": "completed", "patient": map[string]any{"reference": "Patient/p1"},
			"vaccineCode":        map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/cvx", "code": d[0]}}},
			"occurrenceDateTime": d[1]}})
	}
	raw, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": params})
	return string(raw)
}

var immdsCases = []httpCase{
	{name: "ok/forecast", actor: "vaccinator", method: "POST", target: "/fhir/r4/$immds-forecast",
		body: immdsBody("2025-11-10", [2]string{"309", "2025-09-10"}, [2]string{"309", "2025-09-20"}, [2]string{"08", "1980-01-01"}), status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if doc["resourceType"] != "Parameters" {
				t.Fatalf("%v", doc)
			}
			var recs, evals int
			statuses := map[string]bool{}
			for _, p := range asList(doc["parameter"]) {
				switch get(p, "name") {
				case "recommendation":
					recs++
					for _, r := range asList(get(p, "resource", "recommendation")) {
						if get(r, "extension", 0, "url") == fhir.CDSiStatusExtension {
							statuses[get(r, "extension", 0, "valueCode").(string)] = true
						}
						if get(r, "forecastStatus", "coding", 0, "system") != schedule.FHIRSystemForecastStatus {
							t.Errorf("forecast status %v", get(r, "forecastStatus"))
						}
					}
					if get(p, "resource", "patient", "reference") != "Patient/p1" {
						t.Errorf("patient %v", get(p, "resource", "patient"))
					}
				case "evaluation":
					evals++
					if ref := get(p, "resource", "immunizationEvent", "reference"); ref != "Immunization/im1" && ref != "Immunization/im2" && ref != "Immunization/im3" {
						t.Errorf("event %v", ref)
					}
				}
			}
			if recs != 1 || evals < 3 || !statuses["aged_out"] || !statuses["not_complete"] {
				t.Errorf("%d recommendations, %d evaluations, statuses %v", recs, evals, statuses)
			}
		}},
	{name: "fail/no assessment date", actor: "vaccinator", method: "POST", target: "/fhir/r4/$immds-forecast",
		body:   `{"resourceType":"Parameters","parameter":[{"name":"patient","resource":{"resourceType":"Patient","birthDate":"1950"}}]}`,
		status: 422, issue: "invalid", where: "Parameters.parameter"},
	{name: "fail/no birth date", actor: "vaccinator", method: "POST", target: "/fhir/r4/$immds-forecast",
		body:   `{"resourceType":"Parameters","parameter":[{"name":"assessmentDate","valueDate":"2025-11-10"},{"name":"patient","resource":{"resourceType":"Patient"}}]}`,
		status: 422, issue: "invalid", where: "Parameters.parameter[1].resource.birthDate"},
	{name: "fail/unknown CVX", actor: "vaccinator", method: "POST", target: "/fhir/r4/$immds-forecast",
		body: immdsBody("2025-11-10", [2]string{"309", "2025-09-10"}, [2]string{"999999", "2025-09-20"}), status: 422, issue: "invalid",
		where: "Parameters.parameter[3].resource.vaccineCode"},
	{name: "fail/unknown parameter", actor: "vaccinator", method: "POST", target: "/fhir/r4/$immds-forecast",
		body: `{"resourceType":"Parameters","parameter":[{"name":"ssn","valueString":"1"}]}`, status: 422, issue: "invalid", where: "Parameters.parameter[0].name"},
	{name: "fail/not parameters", actor: "vaccinator", method: "POST", target: "/fhir/r4/$immds-forecast", body: `{"resourceType":"Bundle"}`,
		status: 422, issue: "invalid", where: "Parameters.resourceType"},
	{name: "fail/analyst", actor: "analyst", method: "POST", target: "/fhir/r4/$immds-forecast", body: immdsBody("2025-11-10"), status: 403, issue: "forbidden"},
}

func TestImmDSForecast(t *testing.T) {
	f := newFixture(t, nil)
	before := f.personReads(t)
	for _, c := range immdsCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
	if f.personReads(t) != before {
		t.Error("$immds-forecast read a person")
	}
	// Without the clinic action wired, the operation is unavailable.
	mux := http.NewServeMux()
	mount(mux, fhir.New(f.svc, fhir.Options{}))
	req := httptest.NewRequest("POST", "/fhir/r4/$immds-forecast", strings.NewReader(immdsBody("2025-11-10")))
	req = req.WithContext(httpx.WithActor(req.Context(), actors["vaccinator"]))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"transient"`) {
		t.Errorf("without an evaluator: %d %s", rec.Code, rec.Body)
	}
}

var otherCases = []httpCase{
	{name: "ok/metadata", actor: "anonymous", method: "GET", target: "/fhir/r4/metadata", status: 200,
		check: func(t *testing.T, f *fixture, doc map[string]any) {
			if doc["resourceType"] != "CapabilityStatement" || doc["fhirVersion"] != "4.0.1" || get(doc, "rest", 0, "operation", 0, "name") != "immds-forecast" {
				t.Errorf("capability %v", doc)
			}
		}},
	{name: "ok/json asked", actor: "anonymous", method: "GET", target: "/fhir/r4/metadata", header: []string{"Accept", "application/json"}, status: 200},
	{name: "fail/xml asked", actor: "anonymous", method: "GET", target: "/fhir/r4/metadata", header: []string{"Accept", "application/fhir+xml"},
		status: 406, issue: "not-supported", where: "http.Accept"},
	{name: "fail/_format xml", actor: "vaccinator", method: "GET", target: "/fhir/r4/Patient/{card}?_format=xml", status: 406, issue: "not-supported", where: "http._format"},
	{name: "fail/no route", actor: "vaccinator", method: "GET", target: "/fhir/r4/Observation?patient.identifier={card}", status: 404, issue: "not-found"},
	{name: "fail/no route post", actor: "vaccinator", method: "POST", target: "/fhir/r4/Patient", body: "{}", status: 404, issue: "not-found"},
}

func TestMetadataAndFormats(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range otherCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, f) })
	}
	rec := f.do(t, "anonymous", "GET", "/fhir/r4/metadata", "", "Accept", "application/json")
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("asked for application/json, got %q", ct)
	}
	rec = f.do(t, "anonymous", "GET", "/fhir/r4/metadata", "")
	if ct := rec.Header().Get("Content-Type"); ct != "application/fhir+json; charset=utf-8" {
		t.Errorf("default Content-Type %q", ct)
	}
}

// errorCases are Haven's error codes and the OperationOutcome each becomes.
var errorCases = []struct {
	err          error
	status       int
	issue, where string
	header       string
}{
	{registry.FieldErrorf(registry.EINVALID, "Immunization.lotNumber", "bad"), 422, "invalid", "Immunization.lotNumber", ""},
	{registry.FieldErrorf(registry.ENOTFOUND, "Patient.id", "none"), 404, "not-found", "Patient.id", ""},
	{registry.Errorf(registry.EFORBIDDEN, "no"), 403, "forbidden", "", ""},
	{registry.FieldErrorf(registry.EUNAUTHORIZED, "Authorization", "token"), 401, "login", "http.Authorization", "WWW-Authenticate"},
	{registry.Errorf(registry.ERATELIMITED, "slow down"), 429, "throttled", "", "Retry-After"},
	{registry.FieldErrorf(registry.ECONFLICT, "record", "clash"), 409, "conflict", "record", ""},
	{registry.Errorf(registry.EUNAVAILABLE, "later"), 503, "transient", "", "Retry-After"},
	{registry.Errorf(registry.ESEALED, "sealed"), 503, "transient", "", ""},
	{registry.Errorf(registry.EINTERNAL, "secret detail"), 500, "exception", "", ""},
	{context.DeadlineExceeded, 500, "exception", "", ""},
	{registry.Errorf(registry.EMALFORMED, "junk"), 400, "structure", "", ""},
	{registry.Errorf(registry.ETOOLARGE, "big"), 413, "too-long", "", ""},
	{registry.FieldErrorf(registry.EIDEMPOTENCY, "Idempotency-Key", "reused"), 422, "conflict", "http.Idempotency-Key", ""},
	{registry.FieldErrorf(registry.EUNSUPPORTED, "http.name", "no"), 400, "not-supported", "http.name", ""},
}

func TestErrors(t *testing.T) {
	h := fhir.New(nil, fhir.Options{})
	for _, c := range errorCases {
		t.Run(c.issue+"/"+registry.ErrorCode(c.err), func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.Error(rec, httptest.NewRequest("GET", "/fhir/r4/Patient/x", nil), c.err)
			if rec.Code != c.status {
				t.Errorf("status %d, want %d", rec.Code, c.status)
			}
			if c.header != "" && rec.Header().Get(c.header) == "" {
				t.Errorf("no %s header", c.header)
			}
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			issue := outcome(t, doc)
			if issue["code"] != c.issue {
				t.Errorf("issue %v, want %s", issue["code"], c.issue)
			}
			if c.where != "" && !slices.Contains(strs(issue["expression"]), c.where) && !slices.Contains(strs(issue["location"]), c.where) {
				t.Errorf("issue names %v %v, want %s", issue["expression"], issue["location"], c.where)
			}
			if strings.Contains(rec.Body.String(), "secret detail") {
				t.Errorf("internal detail shown: %s", rec.Body)
			}
		})
	}
}

// TestRateLimited: person-level reads over the limit answer throttled.
func TestRateLimited(t *testing.T) {
	lim := clinic.ReadLimits(4) // a card may be read once a minute, burst 0-1
	f := newFixture(t, &lim)
	var last *httptest.ResponseRecorder
	for range 5 {
		last = f.do(t, "vaccinator", "GET", "/fhir/r4/Immunization?patient.identifier={card}", "")
	}
	if last.Code != 429 || last.Header().Get("Retry-After") == "" || !strings.Contains(last.Body.String(), `"throttled"`) {
		t.Fatalf("over the limit: %d %s", last.Code, last.Body)
	}
}
