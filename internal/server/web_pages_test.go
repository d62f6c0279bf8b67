package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The clinic flow through plain HTTP, as a browser without JavaScript
// would drive it: register → check → record (confirm) → card, with a
// double submit recording once.
func TestWebClinicFlow(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.signin(e.vaccinator)

	card := b.register(url.Values{"given_name": {"Jiyoung"}, "family_name": {"Kim"}, "birth_date": {"1985"}, "birth_date_estimated": {"on"},
		"sex": {"female"}, "card_lang": {"zh-Hans"}})

	checkForm := b.hidden("/check")
	checkForm.Set("jurisdiction", "CN-JL")
	checkForm.Set("service", "vaccination")
	checkForm.Set("as_of", "2021-09-17")
	checkForm.Set("fact.residence_status", "registered_irregular")
	checkForm.Set("fact.age_years", "36")
	checkForm.Set("fact.years_resident", "22")
	checkForm.Set("fact.has_child_with_citizen", "yes")
	p := b.post("/check", checkForm)
	if p.status != 200 || !strings.Contains(p.body, `id="alternatives"`) || !strings.Contains(p.body, "Not eligible") {
		t.Fatalf("CN-JL check: %d\n%.4000s", p.status, p.body)
	}
	if strings.Contains(p.body, `action="/clinic/p/`+card+`/dose"`) {
		t.Fatal("the dose form is offered after a refusal")
	}
	checkForm.Set("jurisdiction", "KR")
	p = b.post("/check", checkForm)
	if p.status != 200 || !strings.Contains(p.body, `id="outcome"><strong>Eligible, free of charge`) {
		t.Fatalf("KR check: %d\n%.4000s", p.status, p.body)
	}
	if !strings.Contains(p.body, "The answers on this page are not saved") {
		t.Fatal("the decision page does not say that the answers are not saved")
	}

	dose := b.hidden("/clinic/p/" + card + "/dose")
	dose.Set("product", "coronavac")
	dose.Set("date", "2021-07-01")
	dose.Set("site", "YB-1")
	dose.Set("payment", "free")
	p = b.post("/clinic/p/"+card+"/dose", dose)
	if p.status != 200 || !strings.Contains(p.body, `id="confirm-submit"`) || !strings.Contains(p.body, "Next doses") {
		t.Fatalf("confirm step: %d\n%.4000s", p.status, p.body)
	}
	confirm := b.hidden("/clinic/p/" + card + "/dose")
	first := b.post("/clinic/p/"+card+"/dose", confirm)
	if first.status != 200 || !strings.Contains(first.body, `id="saved"`) || !strings.Contains(first.body, `id="card-secret"`) {
		t.Fatalf("save: %d %s\n%.4000s", first.status, first.url, first.body)
	}
	if !strings.Contains(first.body, `lang="zh-Hans" aria-label="接种卡"`) || !strings.Contains(first.body, "持卡人密码") {
		t.Fatalf("the card is not in the language chosen at registration:\n%.4000s", first.body)
	}
	// A double submit (the same form sent again) records nothing new and
	// lands on the same saved page.
	b.last = p
	again := b.post("/clinic/p/"+card+"/dose", confirm)
	if again.url != first.url {
		t.Fatalf("double submit went to %s, first to %s", again.url, first.url)
	}
	person := b.get("/clinic/p/" + card + "?purpose=care")
	if n := strings.Count(person.body, `translate="no">CoronaVac (Sinovac)</td>`); n != 1 {
		t.Fatalf("the record shows %d CoronaVac doses after a double submit, want 1", n)
	}
	// The same key with other values is refused.
	b.last = p
	changed := url.Values{}
	for k, v := range confirm {
		changed[k] = v
	}
	changed.Set("lot", "OTHER")
	if res := b.post("/clinic/p/"+card+"/dose", changed); res.status != http.StatusUnprocessableEntity {
		t.Fatalf("a reused key with other values: %d", res.status)
	}

	// Dose 2 seven days later is too early: the warning shows before saving.
	b.get("/clinic/p/" + card + "?purpose=care")
	early := b.hidden("/clinic/p/" + card + "/dose")
	early.Set("product", "coronavac")
	early.Set("date", "2021-07-08")
	early.Set("site", "YB-1")
	p = b.post("/clinic/p/"+card+"/dose", early)
	if !strings.Contains(p.body, `id="warning"`) || !strings.Contains(p.body, "too soon") {
		t.Fatalf("no too-early warning:\n%.4000s", p.body)
	}

	// The card prints in the person's language.
	c := b.get("/clinic/p/" + card + "/card?cardlang=ko&size=receipt")
	if c.status != 200 || !strings.Contains(c.body, "접종 카드") || !strings.Contains(c.body, card) || !strings.Contains(c.body, "size-receipt") {
		t.Fatalf("Korean receipt card: %d\n%.3000s", c.status, c.body)
	}

	// A certificate for the dose verifies on the public verifier page.
	b.get("/clinic/p/" + card + "?purpose=care")
	certForm := b.hidden("/clinic/p/" + card + "/certificate")
	certForm.Set("record", regexp.MustCompile(`<option value="([0-9a-f]+)"`).FindStringSubmatch(b.last.body[strings.Index(b.last.body, `id="cert-record"`):])[1])
	cp := b.post("/clinic/p/"+card+"/certificate", certForm)
	hc1 := regexp.MustCompile(`>(HC1:[^<]+)</textarea>`).FindStringSubmatch(cp.body)
	if cp.status != 200 || hc1 == nil {
		t.Fatalf("certificate: %d\n%.3000s", cp.status, cp.body)
	}
	hc1[1] = html.UnescapeString(hc1[1])
	v := e.browser(t)
	v.get("/verify")
	res := v.post("/verify", url.Values{"text": {hc1[1]}})
	if !strings.Contains(res.body, `id="verdict"><strong>Valid`) {
		t.Fatalf("verify: %.3000s", res.body)
	}
	res = v.post("/verify", url.Values{"text": {damage(hc1[1], 40)}})
	if !strings.Contains(res.body, `id="failed-step"`) {
		t.Fatalf("a damaged certificate shows no failed step: %.3000s", res.body)
	}
}

// The shortest path for one dose, counted in page loads (each request a
// browser makes, with its redirects): register, check, confirm, save. The
// last page is the card, ready to print.
func TestWebFourPageLoads(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.signin(e.vaccinator)
	b.get("/clinic") // the starting page, where the register form is
	start := b.navs
	reg := url.Values{"birth_date": {"1990"}, "idem": {b.idem()}}
	p := b.post("/clinic/register", reg)
	card := cardRe.FindStringSubmatch(p.body)
	if card == nil {
		t.Fatalf("register: %d %.2000s", p.status, p.body)
	}
	check := b.form("/check") // as the page fills it: today, vaccination
	check.Set("jurisdiction", "KR")
	check.Set("fact.residence_status", "unregistered")
	if p = b.post("/check", check); !strings.Contains(p.body, `id="dose-submit"`) {
		t.Fatalf("no dose form after the decision: %d\n%.3000s", p.status, p.body)
	}
	dose := b.form("/clinic/p/" + card[1] + "/dose") // today, this site, free
	dose.Set("product", "coronavac")
	if p = b.post("/clinic/p/"+card[1]+"/dose", dose); !strings.Contains(p.body, `id="confirm-submit"`) {
		t.Fatalf("no confirm step: %d\n%.3000s", p.status, p.body)
	}
	p = b.post("/clinic/p/"+card[1]+"/dose", b.form("/clinic/p/"+card[1]+"/dose"))
	if loads := b.navs - start; loads > 4 {
		t.Fatalf("register → check → record → print took %d page loads, want at most 4", loads)
	}
	for _, want := range []string{`id="saved"`, `id="card-code">` + card[1], `id="card-secret"`, `class="qr"`, "print-a6"} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("the fourth page lacks %s:\n%.3000s", want, p.body)
		}
	}
}

// The eligibility answers are never stored or logged.
func TestWebEligibilityForgotten(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.signin(e.vaccinator)
	b.get("/check")
	for _, st := range []string{"registered_irregular", "unregistered"} {
		form := url.Values{"jurisdiction": {"CN-JL"}, "service": {"vaccination"}, "as_of": {"2021-09-17"},
			"fact.residence_status": {st}, "fact.years_resident": {"23"}}
		if p := b.post("/check", form); p.status != 200 || !strings.Contains(p.body, `id="decision"`) {
			t.Fatalf("check %s: %d %.2000s", st, p.status, p.body)
		}
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "haven.db*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		scanFor(t, filepath.Base(f), data, []string{"registered_irregular", "unregistered", "years_resident"})
	}
	scanFor(t, "the logs", e.logs.Bytes(), []string{"registered_irregular", "unregistered", "residence", "years_resident"})
	if !bytes.Contains(e.logs.Bytes(), []byte(`"route":"POST /check"`)) {
		t.Fatalf("the checks were not logged at all; the scan proved nothing:\n%s", e.logs.Bytes())
	}
}

// Every page denies by default: no session, another role, a missing CSRF
// token or a foreign origin are all refused.
func TestWebAccess(t *testing.T) {
	e := newWebEnv(t)
	vac := e.browser(t)
	vac.signin(e.vaccinator)
	card := vac.register(url.Values{})

	pages := []struct {
		path    string
		allowed []string // roles; "none" for a visitor
	}{
		{"/", []string{"none", "vaccinator", "analyst", "admin", "auditor"}},
		{"/holder", []string{"none", "vaccinator", "analyst", "admin", "auditor"}},
		{"/verify", []string{"none", "vaccinator", "analyst", "admin", "auditor"}},
		{"/clinic", []string{"vaccinator"}},
		{"/clinic/p/" + card + "?purpose=care", []string{"vaccinator"}},
		{"/clinic/p/" + card + "/card", []string{"vaccinator"}},
		{"/check", []string{"vaccinator", "analyst", "admin"}},
		{"/program", []string{"analyst", "admin"}},
		{"/program/policy", []string{"analyst", "admin"}},
		{"/program/policy/diff?from=2021-09&to=inclusive", []string{"analyst", "admin"}},
		{"/program/simulate", []string{"analyst", "admin"}},
		{"/program/coverage", []string{"analyst"}},
		{"/admin", []string{"admin"}},
		{"/audit", []string{"auditor"}},
	}
	browsers := map[string]*browser{"none": e.browser(t), "vaccinator": vac}
	for role, tok := range map[string]string{"analyst": e.analyst, "admin": e.admin, "auditor": e.auditor} {
		b := e.browser(t)
		b.signin(tok)
		browsers[role] = b
	}
	for _, pg := range pages {
		for role, b := range browsers {
			p := b.get(pg.path)
			ok := false
			for _, r := range pg.allowed {
				ok = ok || r == role
			}
			switch {
			case ok && p.status != 200:
				t.Errorf("%s as %s: %d, want 200", pg.path, role, p.status)
			case !ok && role == "none" && !strings.Contains(p.url, "/signin"):
				t.Errorf("%s without a session went to %s, want the sign-in page", pg.path, p.url)
			case !ok && role != "none" && p.status != http.StatusForbidden:
				t.Errorf("%s as %s: %d, want 403", pg.path, role, p.status)
			}
		}
	}
	// An analyst cannot open a person's page, nor post to one.
	an := browsers["analyst"]
	an.get("/program")
	if p := an.post("/clinic/p/"+card+"/dose", url.Values{"product": {"coronavac"}, "date": {"2021-09-01"}}); p.status != http.StatusForbidden {
		t.Fatalf("analyst dose post: %d", p.status)
	}
	// A form without the CSRF token, or from another origin, is refused.
	vac.get("/clinic")
	if p := vac.post("/clinic/register", url.Values{"csrf": {"forged"}, "idem": {"k-1"}}); p.status != http.StatusForbidden {
		t.Fatalf("forged CSRF: %d", p.status)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/clinic/register", strings.NewReader(url.Values{"csrf": {vac.csrf()}, "idem": {"k-2"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if p := vac.do(req); p.status != http.StatusForbidden {
		t.Fatalf("foreign origin: %d", p.status)
	}
	// The static folder serves files, not listings.
	if p := vac.get("/static/"); p.status != http.StatusNotFound {
		t.Fatalf("GET /static/: %d", p.status)
	}
	// A wrong token does not sign in.
	x := e.browser(t)
	x.get("/signin")
	if p := x.post("/signin", url.Values{"token": {"hvn_wrong"}}); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "not valid") {
		t.Fatalf("bad token: %d", p.status)
	}
}

// The session cookie is HttpOnly and SameSite=Strict, every HTML page
// carries the strict CSP, and an idle session times out.
func TestWebSession(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.get("/signin")
	req, _ := http.NewRequest("POST", e.srv.URL+"/signin", strings.NewReader(url.Values{"token": {e.vaccinator}, "csrf": {b.csrf()}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := (&http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cookie := res.Header.Get("Set-Cookie")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(cookie, "haven_session=") || !strings.Contains(cookie, "HttpOnly") ||
		!strings.Contains(cookie, "SameSite=Strict") || strings.Contains(cookie, e.vaccinator) {
		t.Fatalf("sign-in: %d, cookie %q", res.StatusCode, cookie)
	}
	p := b.get("/clinic")
	if p.status != 200 {
		t.Fatalf("clinic after sign-in: %d", p.status)
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("CSP %q, Cache-Control %q", csp, p.header.Get("Cache-Control"))
	}
	e.advance(29 * time.Minute)
	if p := b.get("/clinic"); p.status != 200 || strings.Contains(p.url, "/signin") {
		t.Fatalf("a session used 29 minutes ago expired: %s", p.url)
	}
	e.advance(31 * time.Minute)
	if p := b.get("/clinic"); !strings.Contains(p.url, "/signin") {
		t.Fatalf("an idle session did not time out: %d %s", p.status, p.url)
	}
	// Behind TLS the cookie is also Secure.
	tb := e.browser(t)
	tb.get("/signin")
	req = httptest.NewRequest("POST", "https://haven.example/signin", strings.NewReader(url.Values{"token": {e.vaccinator}, "csrf": {tb.csrf()}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range tb.c.Jar.Cookies(mustURL(e.srv.URL)) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if ck := rec.Header().Get("Set-Cookie"); rec.Code != http.StatusSeeOther || !strings.Contains(ck, "; Secure") || !strings.Contains(ck, "HttpOnly") {
		t.Fatalf("sign-in over TLS: %d, cookie %q", rec.Code, ck)
	}
	// Signing out ends the session on the server.
	b.signin(e.vaccinator)
	b.get("/clinic")
	b.post("/signout", url.Values{})
	if p := b.get("/clinic"); !strings.Contains(p.url, "/signin") {
		t.Fatalf("still signed in after sign-out: %s", p.url)
	}
}

// Language: the visitor's choice, then Accept-Language, then English; the
// choice is remembered in a cookie.
func TestWebLanguage(t *testing.T) {
	e := newWebEnv(t)
	tests := []struct {
		name, accept, query, want string
	}{
		{"ok/default-english", "", "", "Check a certificate"},
		{"ok/accept-korean", "ko-KR,ko;q=0.9,en;q=0.5", "", "증명서 확인"},
		{"ok/accept-chinese", "zh-CN,zh;q=0.9", "", "核验证书"},
		{"ok/accept-unknown-falls-back", "fr-FR,de;q=0.8", "", "Check a certificate"},
		{"ok/param-beats-header", "ko", "?lang=zh-Hans", "核验证书"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.browser(t)
			b.lang = tt.accept
			p := b.get("/" + tt.query)
			if !strings.Contains(p.body, tt.want) {
				t.Fatalf("page lacks %q:\n%.1500s", tt.want, p.body)
			}
		})
	}
	b := e.browser(t)
	b.lang = "en"
	b.get("/lang?lang=ko&next=/verify")
	if p := b.get("/holder"); !strings.Contains(p.body, `<html lang="ko">`) {
		t.Fatal("the language choice was not remembered")
	}
	// The switcher comes back to the same page with its query, and from
	// the answer to a form to the page the form was on.
	vac := e.browser(t)
	vac.signin(e.vaccinator)
	card := vac.register(url.Values{})
	p := vac.get("/clinic/p/" + card + "?purpose=care&lang=en")
	if !strings.Contains(p.body, `href="/lang?lang=ko&amp;next=%2Fclinic%2Fp%2F`+card+`%3Fpurpose%3Dcare"`) {
		t.Fatalf("language link of the person page:\n%.1500s", p.body)
	}
	form := vac.form("/clinic/p/" + card + "/dose")
	form.Set("product", "coronavac")
	p = vac.post("/clinic/p/"+card+"/dose", form)
	if !strings.Contains(p.body, `href="/lang?lang=ko&amp;next=%2Fclinic%2Fp%2F`+card+`%3Fpurpose%3Dcare"`) {
		t.Fatalf("language link of the confirm step:\n%.1500s", p.body)
	}
	if p = vac.get("/lang?lang=ko&next=%2Fclinic%2Fp%2F" + card + "%3Fpurpose%3Dcare"); p.status != 200 || !strings.Contains(p.body, "진료소") {
		t.Fatalf("switching language on the person page: %d %s", p.status, p.url)
	}
	if p := b.get("/lang?lang=ko&next=//evil.example/"); strings.Contains(p.url, "evil") {
		t.Fatalf("open redirect to %s", p.url)
	}
}

// Program, admin, audit and holder pages work end to end.
func TestWebProgramPages(t *testing.T) {
	e := newWebEnv(t)
	vac := e.browser(t)
	vac.signin(e.vaccinator)
	card := vac.register(url.Values{"birth_date": {"1990"}})
	vac.recordDose(card, "coronavac", "2021-09-01")
	secret := regexp.MustCompile(`id="card-secret">([0-9A-Z]+)<`).FindStringSubmatch(vac.get("/clinic/p/" + card + "/card").body)
	if secret == nil {
		t.Fatal("no holder secret on the card")
	}

	an := e.browser(t)
	an.signin(e.analyst)
	p := an.get("/program/policy?pack=2021-09&date=2021-09-17")
	if !strings.Contains(p.body, `id="rules"`) || !strings.Contains(p.body, `id="pack-rules"`) ||
		!strings.Contains(p.body, "<code>cn-jl-2021-registered-irregular</code>") || !strings.Contains(p.body, "residence_status == &#39;registered_irregular&#39;") {
		t.Fatalf("policy explorer:\n%.2000s", p.body)
	}
	p = an.post("/program/policy/explain", url.Values{"pack": {"2021-09"}, "service": {"vaccination"}, "date": {"2021-09-17"},
		"status": {"registered_irregular"}, "jurisdiction": {"CN-JL"}})
	if p.status != 200 || !strings.Contains(p.body, `id="explained"`) {
		t.Fatalf("explain: %d\n%.2000s", p.status, p.body)
	}
	p = an.get("/program/policy/diff?from=2021-09&to=inclusive-paid&service=vaccination")
	if p.status != 200 || !strings.Contains(p.body, `id="changes"`) || !strings.Contains(p.body, "Eligible on payment") {
		t.Fatalf("diff: %d\n%.2000s", p.status, p.body)
	}
	an.get("/program/simulate")
	var body bytes.Buffer
	boundary := "XhavenX"
	w := func(s string) { body.WriteString(s) }
	for k, v := range map[string]string{"csrf": an.csrf(), "pack": "2021-09", "service": "vaccination", "as_of": "2021-09-17", "flag_above": "0.2"} {
		w("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n")
	}
	w("--" + boundary + "\r\nContent-Disposition: form-data; name=\"population\"; filename=\"pop.csv\"\r\nContent-Type: text/csv\r\n\r\n")
	w("jurisdiction,status,count\nCN-JL,registered_irregular,3000\nCN-JL,citizen,20000\nKR,unregistered,400\n\r\n--" + boundary + "--\r\n")
	req, _ := http.NewRequest("POST", e.srv.URL+"/program/simulate", &body)
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	p = an.do(req)
	if p.status != 200 || !strings.Contains(p.body, `id="left-out"`) || !strings.Contains(p.body, "data:image/svg&#43;xml;base64,") {
		t.Fatalf("simulate: %d\n%.3000s", p.status, p.body)
	}
	// 12 doses at YB-1: the page shows the same release as the API (its
	// total), one jurisdiction at a time, without the all-zero rows.
	for range 11 {
		c := vac.register(url.Values{})
		vac.recordDose(c, "coronavac", "2021-09-01")
	}
	if p = an.get("/program/coverage?from=2021-08-01&to=2021-09-17&jurisdiction=CN-JL-YB"); p.status != 200 || !strings.Contains(p.body, `id="gaps"`) {
		t.Fatalf("coverage: %d\n%.2000s", p.status, p.body)
	}
	total := regexp.MustCompile(`(?s)id="dose-table".*?<tr class="total">.*?<td class="num">([0-9*]+)</td></tr>`).FindStringSubmatch(p.body)
	if total == nil || total[1] != "12" || !strings.Contains(p.body, "CoronaVac") || strings.Contains(p.body, "<th scope=\"row\">Comirnaty") {
		t.Fatalf("coverage table (total %v):\n%.4000s", total, p.body[strings.Index(p.body, `id="dose-table"`):])
	}
	apiReq, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/stats/coverage?from=2021-08-01&to=2021-09-17", nil)
	apiReq.Header.Set("Authorization", "Bearer "+e.analyst)
	res, err := http.DefaultClient.Do(apiReq)
	if err != nil {
		t.Fatal(err)
	}
	var api struct {
		Doses []struct {
			Jurisdiction string
			Total        *int64
		}
	}
	json.NewDecoder(res.Body).Decode(&api)
	res.Body.Close()
	for _, tb := range api.Doses {
		if tb.Jurisdiction == "CN-JL-YB" && (tb.Total == nil || fmt.Sprint(*tb.Total) != total[1]) {
			t.Fatalf("the API says %v doses in CN-JL-YB, the page %s", tb.Total, total[1])
		}
	}

	ad := e.browser(t)
	ad.signin(e.admin)
	p = ad.post("/admin/sites", url.Values{"code": {"JJ-1"}, "name": {"Jeju clinic"}, "jurisdiction": {"KR-49"}, "services": {"vaccination", "testing"}})
	if p.status != 200 || !strings.Contains(p.body, "JJ-1") {
		t.Fatalf("site: %d\n%.2000s", p.status, p.body)
	}
	p = ad.post("/admin/tokens", url.Values{"role": {"vaccinator"}, "sites": {"JJ-1"}, "label": {"Front desk tablet"}})
	tok := regexp.MustCompile(`<code class="secret">(hvn_[a-z0-9]+)</code>`).FindStringSubmatch(p.body)
	if p.status != http.StatusCreated || tok == nil {
		t.Fatalf("token: %d\n%.2000s", p.status, p.body)
	}
	nv := e.browser(t)
	nv.signin(tok[1])
	if !strings.Contains(nv.last.url, "/clinic") {
		t.Fatalf("the new token does not open the clinic: %s", nv.last.url)
	}
	// The token list shows the new token; revoking it ends its use at once.
	id := regexp.MustCompile(`id="new-token-id">(tk_[0-9a-f]+)<`).FindStringSubmatch(p.body)
	if id == nil || !strings.Contains(p.body, `<code>`+id[1]+`</code>`) {
		t.Fatalf("token list lacks the new token:\n%.3000s", p.body)
	}
	p = ad.post("/admin/tokens/revoke", url.Values{"id": {id[1]}})
	if p.status != 200 || !strings.Contains(p.body, `id="revoke-confirm"`) || !strings.Contains(p.body, "Front desk tablet") {
		t.Fatalf("revoke asks first, naming the token: %d\n%.2000s", p.status, p.body)
	}
	if pp := nv.get("/clinic"); strings.Contains(pp.url, "/signin") {
		t.Fatal("asking to revoke revoked the token")
	}
	p = ad.post("/admin/tokens/revoke", url.Values{"id": {id[1]}, "confirm": {"1"}})
	if p.status != 200 || !strings.Contains(p.body, `id="token-revoked"`) || strings.Contains(p.body, `<code>`+id[1]+`</code>`) {
		t.Fatalf("revoke: %d\n%.2000s", p.status, p.body)
	}
	if p := nv.get("/clinic"); !strings.Contains(p.url, "/signin") {
		t.Fatalf("a revoked token's session still opens the clinic: %d %s", p.status, p.url)
	}

	au := e.browser(t)
	au.signin(e.auditor)
	p = au.get("/audit?verify=1")
	if p.status != 200 || !strings.Contains(p.body, `id="audit-ok"`) || !strings.Contains(p.body, "person.read") {
		t.Fatalf("audit: %d\n%.3000s", p.status, p.body)
	}

	h := e.browser(t)
	h.lang = "ko"
	h.get("/holder")
	if p := h.post("/holder", url.Values{"card": {card}, "secret": {"WRONGWRONG"}}); p.status != http.StatusNotFound {
		t.Fatalf("wrong secret: %d", p.status)
	}
	p = h.post("/holder", url.Values{"card": {card}, "secret": {secret[1]}})
	if p.status != 200 || !strings.Contains(p.body, `id="own-record"`) || !strings.Contains(p.body, "다음 접종") {
		t.Fatalf("holder: %d\n%.3000s", p.status, p.body)
	}
	if strings.Contains(p.body, secret[1]) {
		t.Fatal("the holder page echoes the holder secret")
	}
	certForm := h.hidden("/holder/certificate")
	certForm.Set("record", regexp.MustCompile(`<option value="([0-9a-f]+)"`).FindStringSubmatch(p.body)[1])
	p = h.post("/holder/certificate", certForm)
	if p.status != 200 || !strings.Contains(p.body, `id="cert-qr"`) || !strings.Contains(p.body, "HC1:") {
		t.Fatalf("holder certificate: %d\n%.3000s", p.status, p.body)
	}
	// A forged grant gets nothing.
	certForm.Set("grant", "forged")
	if p = h.post("/holder/certificate", certForm); p.status != http.StatusUnauthorized {
		t.Fatalf("forged grant: %d", p.status)
	}
	// The audit log names the holder as the actor of the certificate read.
	if p = au.get("/audit"); !strings.Contains(p.body, "certificate.issue") || !strings.Contains(p.body, "holder.read") {
		t.Fatalf("audit after holder reads:\n%.3000s", p.body)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// Every link of a role's menu, and the page a role lands on after signing
// in, opens for that role: the menus never lead to a page the route table
// refuses.
func TestWebMenusOpen(t *testing.T) {
	e := newWebEnv(t)
	navRe := regexp.MustCompile(`<nav aria-label="[^"]*"><ul>(.*?)</ul></nav>`)
	hrefRe := regexp.MustCompile(`href="([^"]+)"`)
	for role, tok := range map[string]string{"none": "", "vaccinator": e.vaccinator, "analyst": e.analyst, "admin": e.admin, "auditor": e.auditor} {
		b := e.browser(t)
		home := b.get("/")
		if tok != "" {
			b.signin(tok)
			home = b.last
		}
		if home.status != http.StatusOK {
			t.Fatalf("%s: home %s: %d", role, home.url, home.status)
		}
		nav := navRe.FindStringSubmatch(home.body)
		if nav == nil {
			t.Fatalf("%s: no menu on %s", role, home.url)
		}
		links := hrefRe.FindAllStringSubmatch(nav[1], -1)
		if len(links) == 0 {
			t.Fatalf("%s: empty menu", role)
		}
		for _, l := range links {
			if p := b.get(html.UnescapeString(l[1])); p.status != http.StatusOK || strings.Contains(p.url, "/signin") != (l[1] == "/signin") {
				t.Errorf("%s: menu link %s: %d at %s", role, l[1], p.status, p.url)
			}
		}
	}
}
