package server_test

import (
	"bytes"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// The pages in every state a person can meet them: each page as it first
// opens, and the answers to good and bad input, refusals, rate limits and
// errors. Tests read them for untranslated text (TestWebNoEnglishInErrorStates)
// and lay them out at 360 px in Chromium (TestBrowserPhoneWidth).

// pageState is one page as a visitor saw it.
type pageState struct {
	name   string
	status int
	body   string
}

// postMultipart sends a multipart form (with one file, when file is set)
// with the CSRF token of the last page.
func (b *browser) postMultipart(path string, form url.Values, fileField, fileName, file string) page {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf())
	}
	for k, vs := range form {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	if fileField != "" {
		fw, _ := w.CreateFormFile(fileField, fileName)
		fw.Write([]byte(file))
	}
	w.Close()
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Origin", b.e.srv.URL)
	return b.do(req)
}

var (
	hc1Re     = regexp.MustCompile(`>(HC1:[^<]+)</textarea>`)
	secretRe  = regexp.MustCompile(`id="card-secret">([0-9A-Z]+)<`)
	optionID  = regexp.MustCompile(`<option value="([0-9a-f]{32})"`)
	correctRe = regexp.MustCompile(`href="(/clinic/p/[0-9A-Z-]+/records/[0-9a-f]+/error)"`)
)

// walkStates drives every page through its states in lang, as a browser
// without JavaScript would, and returns each page seen. It fails the test
// when a step does not reach the state it is for (a status it should have),
// so that a page missing from the walk is noticed.
func walkStates(t *testing.T, e *webEnv, lang string) []pageState {
	t.Helper()
	var states []pageState
	newB := func() *browser { b := e.browser(t); b.lang = lang; return b }
	keep := func(name string, want int, p page) page {
		t.Helper()
		if p.status != want {
			t.Fatalf("%s (%s): status %d, want %d\n%.3000s", name, lang, p.status, want, p.body)
		}
		states = append(states, pageState{name, p.status, p.body})
		e.advance(time.Minute) // every rate-limit bucket refills between steps
		return p
	}

	// A visitor.
	anon := newB()
	for _, path := range []string{"/", "/signin", "/holder", "/verify", "/signin?next=%2Fclinic"} {
		keep("GET "+path, 200, anon.get(path))
	}
	anon.get("/signin")
	keep("sign-in with a wrong token", 401, anon.post("/signin", url.Values{"token": {"hvn_wrong"}}))
	keep("verify with nothing", 422, anon.post("/verify", url.Values{"text": {" "}}))
	keep("verify a text that is no certificate", 200, anon.post("/verify", url.Values{"text": {"hello"}}))
	anon.get("/holder")
	keep("holder with a bad card code", 422, anon.post("/holder", url.Values{"card": {"0000-0000-0000"}, "secret": {"WRONGWRONG"}}))

	// A vaccinator: the clinic flow with a Korean name, and its errors.
	vac := newB()
	vac.signin(e.vaccinator)
	keep("GET /clinic", 200, vac.get("/clinic"))
	keep("find a bad card code", 422, vac.post("/clinic/find", url.Values{"card": {"ABCD"}, "purpose": {"care"}}))
	vac.get("/clinic")
	nobody := string(registry.NewCardCode())
	keep("find an unknown card", 404, vac.post("/clinic/find", url.Values{"card": {nobody}, "purpose": {"care"}}))
	vac.get("/clinic")
	names := url.Values{"family_name": {"김"}, "given_name": {"민준"}, "birth_date": {"1990-05-01"}, "sex": {"female"}, "idem": {vac.idem()}}
	withSuggest := url.Values{"suggest": {"1"}}
	for k, v := range names {
		withSuggest[k] = v
	}
	keep("register: suggest the machine-readable names", 200, vac.post("/clinic/register", withSuggest))
	bad := url.Values{"family_name": {"김"}, "family_name_icao_other": {"K1M"}, "idem": {vac.idem()}}
	keep("register with a bad machine-readable name", 422, vac.post("/clinic/register", bad))
	vac.get("/clinic")
	keep("register with a bad birth date", 422, vac.post("/clinic/register", url.Values{"birth_date": {"1990-13"}, "idem": {vac.idem()}}))
	vac.get("/clinic")
	keep("register with a mixed-script name", 200, vac.post("/clinic/register", url.Values{"family_name": {"김Kim"}, "suggest": {"1"}, "idem": {vac.idem()}}))
	vac.get("/clinic")
	names.Set("idem", vac.idem())
	p := keep("register", 200, vac.post("/clinic/register", names))
	card := cardRe.FindStringSubmatch(p.body)[1]
	person := "/clinic/p/" + card
	keep("person page", 200, vac.get(person+"?purpose=care"))
	keep("person page with a bad purpose", 422, vac.get(person+"?purpose=curiosity"))
	keep("person page of nobody", 404, vac.get("/clinic/p/"+nobody+"?purpose=care"))

	// The visit's observations.
	vac.get(person + "?purpose=care")
	keep("visit: pregnant without an onset", 422, vac.post(person+"/visit", url.Values{"purpose": {"care"}, "schedule": {"cdc"}, "obs": {"007"}}))
	keep("visit: a schedule without observations", 422, vac.post(person+"/visit", url.Values{"purpose": {"care"}, "schedule": {"cn"}, "obs": {"055"}}))
	keep("visit: pregnant, with the CDC schedule", 200, vac.post(person+"/visit", url.Values{"purpose": {"care"}, "schedule": {"cdc"},
		"obs": {"007", "055"}, "onset": {"2021-06-01"}}))

	// Doses: a bad date, a dose, one too soon (saved anyway), a certificate
	// of each, with and without an override.
	vac.get(person + "?purpose=care")
	dose := vac.form(person + "/dose")
	dose.Set("product", "coronavac")
	dose.Set("date", "2021-02-30")
	keep("dose with a bad date", 422, vac.post(person+"/dose", dose))
	dose.Set("date", "2021-07-01")
	keep("dose: confirm step", 200, vac.post(person+"/dose", dose))
	keep("dose: saved, the card", 200, vac.post(person+"/dose", vac.hidden(person+"/dose")))
	vac.get(person + "?purpose=care")
	dose = vac.form(person + "/dose")
	dose.Set("product", "coronavac")
	dose.Set("date", "2021-07-04")
	keep("dose too soon: the warning", 200, vac.post(person+"/dose", dose))
	saved := keep("dose too soon: saved anyway", 200, vac.post(person+"/dose", vac.hidden(person+"/dose")))
	early := regexp.MustCompile(`name="record" value="([0-9a-f]+)"`).FindStringSubmatch(saved.body)[1]
	keep("person page with a dose the schedule does not count", 200, vac.get(person+"?purpose=care"))
	keep("certificate of a dose not counted", 409, vac.post(person+"/certificate", url.Values{"record": {early}}))
	keep("certificate with an unknown override", 422, vac.post(person+"/certificate", url.Values{"record": {early}, "override": {"because"}}))
	keep("certificate with an override", 200, vac.post(person+"/certificate", url.Values{"record": {early}, "override": {"clinical_judgement"}}))
	vac.get(person + "?purpose=care")
	keep("certificate of an unknown record", 404, vac.post(person+"/certificate", url.Values{"record": {strings.Repeat("0", 32)}}))

	// A test, and its errors.
	vac.get(person + "?purpose=care")
	test := vac.form(person + "/test")
	test.Set("result", "maybe")
	keep("test with a bad result", 422, vac.post(person+"/test", test))
	test.Set("result", "negative")
	keep("test: confirm step", 200, vac.post(person+"/test", test))
	keep("test: saved", 200, vac.post(person+"/test", vac.hidden(person+"/test")))

	// Corrections: details behind a confirm step, a record entered in
	// error behind another.
	keep("edit form", 200, vac.get(person+"/edit"))
	edit := vac.form(person + "/edit")
	edit.Set("birth_date", "2030")
	keep("edit with a birth date in the future", 422, vac.post(person+"/edit", edit))
	vac.get(person + "/edit")
	keep("edit with nothing changed", 200, vac.post(person+"/edit", vac.form(person+"/edit")))
	vac.get(person + "/edit")
	edit = vac.form(person + "/edit")
	edit.Set("family_name_icao", "KIM")
	edit.Set("phone", "+82 10 1234 5678")
	keep("edit: confirm step", 200, vac.post(person+"/edit", edit))
	keep("edit: saved", 200, vac.post(person+"/edit", vac.hidden(person+"/edit")))
	vac.get(person + "/edit")
	edit = vac.form(person + "/edit")
	edit.Set("birth_date", "2021-08-01")
	vac.post(person+"/edit", edit)
	keep("edit: a birth date after a recorded dose", 422, vac.post(person+"/edit", vac.hidden(person+"/edit")))
	pp := vac.get(person + "?purpose=correction")
	link := correctRe.FindStringSubmatch(pp.body)
	if link == nil {
		t.Fatalf("no correction link on the person page:\n%.3000s", pp.body)
	}
	keep("entered in error: confirm step", 200, vac.get(html.UnescapeString(link[1])))
	vac.post(link[1], vac.hidden(link[1]))
	keep("person page after a correction", 200, vac.get(person+"?purpose=care"))
	keep("entered in error: already marked", 200, vac.get(link[1]))

	// The card, eligibility, and a certificate to verify.
	keep("card", 200, vac.get(person+"/card?cardlang="+lang))
	keep("card on a receipt printer", 200, vac.get(person+"/card?size=receipt"))
	keep("GET /check", 200, vac.get("/check?card="+card))
	check := url.Values{"jurisdiction": {"CN-JL-YB"}, "service": {"vaccination"}, "as_of": {"2021-17-09"}, "card": {card},
		"fact.residence_status": {"registered_irregular"}, "fact.years_resident": {"22"}, "fact.has_child_with_citizen": {"yes"}}
	keep("eligibility with a bad date", 422, vac.post("/check", check))
	check.Set("as_of", "2021-09-17")
	keep("eligibility: refused, with an assumption and alternatives", 200, vac.post("/check", check))
	check.Set("jurisdiction", "CN-BJ")
	keep("eligibility: eligible, the dose form follows", 200, vac.post("/check", check))
	check.Set("fact.years_resident", "many")
	keep("eligibility with a bad fact", 422, vac.post("/check", check))
	vac.get(person + "?purpose=certificate")
	valid := optionID.FindStringSubmatch(vac.last.body[strings.Index(vac.last.body, `id="cert-record"`):])[1]
	cp := keep("certificate", 200, vac.post(person+"/certificate", url.Values{"record": {valid}}))
	hc1 := html.UnescapeString(hc1Re.FindStringSubmatch(cp.body)[1])
	anon.get("/verify")
	keep("verify a valid certificate", 200, anon.post("/verify", url.Values{"text": {hc1}}))
	keep("verify a damaged certificate", 200, anon.post("/verify", url.Values{"text": {damage(hc1, 40)}}))
	keep("verify without the prefix", 200, anon.post("/verify", url.Values{"text": {strings.TrimPrefix(hc1, "HC1:")}}))

	// The holder's own record.
	secret := secretRe.FindStringSubmatch(vac.get(person + "/card").body)
	h := newB()
	h.get("/holder")
	keep("holder: wrong secret", 404, h.post("/holder", url.Values{"card": {card}, "secret": {"WRONGWRONG"}}))
	hp := keep("holder: own record", 200, h.post("/holder", url.Values{"card": {card}, "secret": {secret[1]}}))
	grant := h.hidden("/holder/certificate").Get("grant")
	rec := optionID.FindStringSubmatch(hp.body)[1]
	keep("holder: certificate", 200, h.post("/holder/certificate", url.Values{"grant": {grant}, "record": {rec}}))
	h.get("/holder")
	keep("holder: an expired grant", 401, h.post("/holder/certificate", url.Values{"grant": {"forged"}, "record": {rec}}))
	var limited page
	for range 12 {
		h.get("/holder")
		if limited = h.post("/holder", url.Values{"card": {card}, "secret": {"WRONGWRONG"}}); limited.status == http.StatusTooManyRequests {
			break
		}
	}
	keep("holder: too many attempts", 429, limited)
	e.advance(time.Hour)

	// A form sent after the session ended keeps its input through sign-in.
	late := newB()
	late.signin(e.vaccinator)
	late.get("/clinic")
	form := url.Values{"family_name": {"王"}, "given_name": {"小明"}, "idem": {late.idem()}, "csrf": {late.csrf()}}
	late.post("/signout", url.Values{})
	keep("a form sent after the session ended", 401, late.post("/clinic/register", form))
	kept := late.hidden("/signin")
	kept.Set("token", e.vaccinator)
	keep("signed in again: send the form", 200, late.post("/signin", kept))

	// Programme staff.
	an := newB()
	an.signin(e.analyst)
	for _, path := range []string{"/program", "/program/policy?date=2021-09-17", "/program/policy?pack=inclusive",
		"/program/policy/diff", "/program/policy/diff?from=2021-09&to=inclusive-paid", "/program/simulate",
		"/program/coverage", "/program/coverage?from=2021-07-01&to=2021-09-17&jurisdiction=CN-JL-YB"} {
		keep("GET "+path, 200, an.get(path))
	}
	cov := an.get("/program/coverage")
	block := regexp.MustCompile(`<option value="([0-9W/-]+)"`).FindAllStringSubmatch(cov.body, -1)
	keep("coverage of a chosen block", 200, an.get("/program/coverage?block="+url.QueryEscape(block[2][1])))
	keep("coverage of a block not published", 422, an.get("/program/coverage?block=1999-W01%2F1999-W04"))
	keep("coverage with a bad date", 422, an.get("/program/coverage?from=someday"))
	keep("coverage with no finished block", 200, an.get("/program/coverage?from=2021-09-10&to=2021-09-17"))
	keep("analyst at the clinic", 403, an.get("/clinic"))
	an.get("/program/policy?date=2021-09-17")
	explain := url.Values{"pack": {"2021-09"}, "service": {"vaccination"}, "date": {"2021-09-17"}, "status": {"registered_irregular"}, "jurisdiction": {"CN-JL-YB"}}
	keep("explain a decision", 200, an.post("/program/policy/explain", explain))
	explain.Set("date", "2021-02-30")
	keep("explain with a bad date", 422, an.post("/program/policy/explain", explain))
	an.get("/program/simulate")
	keep("simulate without a file", 422, an.post("/program/simulate", url.Values{"pack": {"2021-09"}, "service": {"vaccination"}, "as_of": {"2021-09-17"}}))
	an.get("/program/simulate")
	keep("simulate a bad file", 422, an.postMultipart("/program/simulate", url.Values{"pack": {"2021-09"}, "service": {"vaccination"}, "as_of": {"2021-09-17"},
		"flag_above": {"0.2"}}, "population", "pop.csv", "nothing,here\n"))
	an.get("/program/simulate")
	keep("simulate", 200, an.postMultipart("/program/simulate", url.Values{"pack": {"2021-09"}, "service": {"vaccination"}, "as_of": {"2021-09-17"},
		"flag_above": {"0.2"}}, "population", "pop.csv", "jurisdiction,residence_status,count\nCN-JL,registered_irregular,3000\nCN-JL,citizen,20000\nKR,unregistered,400\n"))

	ad := newB()
	ad.signin(e.admin)
	keep("GET /admin", 200, ad.get("/admin"))
	keep("admin: a site that exists", 409, ad.post("/admin/sites", url.Values{"code": {"YB-1"}, "name": {"Yanji"}, "jurisdiction": {"CN-JL-YB"}, "services": {"vaccination"}}))
	keep("admin: a bad role", 422, ad.post("/admin/tokens", url.Values{"role": {"root"}}))
	keep("admin: a token", 201, ad.post("/admin/tokens", url.Values{"role": {"analyst"}}))
	keep("admin: revoke a token that does not exist", 404, ad.post("/admin/tokens/revoke", url.Values{"id": {"tk_0000"}}))
	au := newB()
	au.signin(e.auditor)
	keep("audit log, verified", 200, au.get("/audit?verify=1"))
	keep("audit log from a bad entry", 422, au.get("/audit?from_seq=0"))
	keep("auditor at the programme pages", 403, au.get("/program"))

	// Sign-in over its limit: too many failures from one address.
	x := newB()
	var over page
	for range 12 {
		x.get("/signin")
		if over = x.post("/signin", url.Values{"token": {"hvn_wrong"}}); over.status == http.StatusTooManyRequests {
			break
		}
	}
	keep("sign-in: too many failures", 429, over)
	e.advance(time.Hour)
	return states
}

var (
	tokenRe = regexp.MustCompile(`<!--.*?-->|<[^>]*>|[^<]+`)
	tagRe   = regexp.MustCompile(`^<\s*(/?)\s*([a-zA-Z0-9]+)`)
	shownRe = regexp.MustCompile(`(?i)\s(placeholder|title|alt|aria-label|data-label)="([^"]*)"`)
	// wordRe finds words with a lower-case letter: English text, as
	// opposed to codes (COVID-19, HC1, YB-1, ICAO forms).
	wordRe = regexp.MustCompile(`[A-Za-z0-9]*[a-z][A-Za-z0-9]*`)
)

// voidTags have no end tag.
var voidTags = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

// notText are elements whose content a reader does not read as the page's
// prose: code, scripts, styles, and the certificate text.
var notText = map[string]bool{"code": true, "script": true, "style": true, "textarea": true}

// latinAllowed are the Latin words a Korean or Chinese page may show: the
// product's name, names of notations, vaccine abbreviations as the
// schedules write them, and the language switcher's "English".
var latinAllowed = map[string]bool{"Haven": true, "English": true, "Base45": true, "DTaP": true, "Tdap": true, "Td": true, "Hib": true}

// englishIn returns the English words a reader sees on page body: in text
// and in the attributes a browser shows (placeholder, title, alt,
// aria-label, and data-label, which the phone layout shows), outside code,
// scripts, the certificate text and elements marked translate="no" (names,
// codes, product names and other data).
func englishIn(body string) []string {
	var found []string
	type open struct {
		tag  string
		skip bool
	}
	var stack []open
	skipping := func() bool { return len(stack) > 0 && stack[len(stack)-1].skip }
	look := func(text string) {
		for _, w := range wordRe.FindAllString(html.UnescapeString(text), -1) {
			if len(w) >= 2 && !latinAllowed[w] {
				found = append(found, w)
			}
		}
	}
	for _, tok := range tokenRe.FindAllString(body, -1) {
		switch {
		case strings.HasPrefix(tok, "<!"):
			continue
		case strings.HasPrefix(tok, "<"):
			m := tagRe.FindStringSubmatch(tok)
			if m == nil {
				continue
			}
			name := strings.ToLower(m[2])
			if m[1] == "/" {
				for i := len(stack) - 1; i >= 0; i-- {
					if stack[i].tag == name {
						stack = stack[:i]
						break
					}
				}
				continue
			}
			skip := skipping() || notText[name] || strings.Contains(tok, `translate="no"`)
			if !skip && !strings.Contains(tok, `type="hidden"`) {
				for _, a := range shownRe.FindAllStringSubmatch(tok, -1) {
					look(a[2])
				}
			}
			if !voidTags[name] && !strings.HasSuffix(tok, "/>") {
				stack = append(stack, open{name, skip})
			}
		default:
			if !skipping() {
				look(tok)
			}
		}
	}
	return found
}

// No Korean or Chinese page shows English, in any state: errors and
// refusals, rate limits, policy notes, verification failures, the
// forecast with the visit's observations, corrections and certificates.
// English pages show no missing key.
func TestWebNoEnglishInErrorStates(t *testing.T) {
	for _, lang := range webLangs {
		t.Run(lang, func(t *testing.T) {
			e := newWebEnv(t)
			states := walkStates(t, e, lang)
			if len(states) < 80 {
				t.Fatalf("only %d page states were seen", len(states))
			}
			for _, st := range states {
				if i := strings.Index(st.body, "⟦"); i >= 0 {
					t.Errorf("%s: a missing key: %s", st.name, st.body[i:min(len(st.body), i+60)])
				}
				if !strings.Contains(st.body, `<html lang="`+lang+`">`) {
					t.Errorf("%s: not in %s", st.name, lang)
				}
				if lang == "en" {
					continue
				}
				if words := englishIn(st.body); len(words) > 0 {
					t.Errorf("%s (%d) shows English in %s: %q", st.name, st.status, lang, words)
				}
			}
		})
	}
}

// The checker finds English where it is, and only there.
func TestEnglishIn(t *testing.T) {
	for _, tc := range []struct {
		html string
		want string
	}{
		{`<p>접종 기록</p>`, ""},
		{`<p>접종 <span>not valid</span></p>`, "not valid"},
		{`<p class="detail" lang="en">missing context identifier "HC1:"</p>`, "missing context identifier"},
		{`<p translate="no">Kim Jiyoung</p><p>이름</p>`, ""},
		{`<code>cn-jl-2021</code> <textarea>HC1:6BF</textarea>`, ""},
		{`<input placeholder="Choose"> <td data-label="Date">`, "Choose Date"},
		{`<input type="hidden" name="x" value="hello">`, ""},
		{`<p>COVID-19 · HC1 · YB-1 · GIM MINJUN · Haven</p>`, ""},
		{`<select translate="no"><option>CoronaVac</option></select><p>끝</p>`, ""},
	} {
		if got := strings.Join(englishIn(tc.html), " "); got != tc.want {
			t.Errorf("englishIn(%s) = %q, want %q", tc.html, got, tc.want)
		}
	}
}
