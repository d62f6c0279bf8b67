package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// webPages are the pages whose weight is checked: every clinic page of the
// flow and the heaviest program pages.
func webPages(t testing.TB, e *webEnv) (vac, an *browser, card string) {
	vac = e.browser(t)
	vac.signin(e.vaccinator)
	card = vac.register(url.Values{"given_name": {"Kim"}, "family_name": {"Min"}, "birth_date": {"1985"}, "sex": {"female"}})
	vac.recordDose(card, "coronavac", "2021-07-01")
	an = e.browser(t)
	an.signin(e.analyst)
	return vac, an, card
}

// Every page weighs under 100 KB, with its stylesheet; the QR codes and
// charts are inline data: images and count in the page's own weight.
func TestWebPageWeights(t *testing.T) {
	e := newWebEnv(t)
	vac, an, card := webPages(t, e)
	css := vac.get("/static/app.css")
	if css.status != 200 || !strings.Contains(css.header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d %s", css.status, css.header.Get("Content-Type"))
	}
	check := func(name string, p page) {
		t.Helper()
		total := len(p.body) + len(css.body)
		t.Logf("%-28s %6d bytes HTML, %6d with CSS", name, len(p.body), total)
		if p.status >= 400 {
			t.Errorf("%s: status %d", name, p.status)
		}
		if total >= 100*1024 {
			t.Errorf("%s weighs %d bytes with its stylesheet, over 100 KB", name, total)
		}
	}
	check("clinic", vac.get("/clinic"))
	check("person", vac.get("/clinic/p/"+card+"?purpose=care"))
	form := vac.hidden("/check")
	form.Set("jurisdiction", "CN-JL")
	form.Set("service", "vaccination")
	form.Set("as_of", "2021-09-17")
	form.Set("fact.residence_status", "registered_irregular")
	form.Set("fact.years_resident", "22")
	form.Set("fact.has_child_with_citizen", "yes")
	check("check (decision)", vac.post("/check", form))
	vac.get("/clinic/p/" + card + "?purpose=care")
	dose := vac.hidden("/clinic/p/" + card + "/dose")
	dose.Set("product", "coronavac")
	dose.Set("date", "2021-07-29")
	dose.Set("site", "YB-1")
	confirm := vac.post("/clinic/p/"+card+"/dose", dose)
	if !strings.Contains(confirm.body, `id="confirm-submit"`) || !strings.Contains(confirm.body, "Next doses") {
		t.Fatalf("the confirm step is not shown:\n%s", confirm.body)
	}
	check("record (confirm)", confirm)
	saved := vac.post("/clinic/p/"+card+"/dose", vac.hidden("/clinic/p/"+card+"/dose"))
	check("saved (with card)", saved)
	check("card", vac.get("/clinic/p/"+card+"/card"))
	vac.get("/clinic/p/" + card + "?purpose=care")
	cf := vac.hidden("/clinic/p/" + card + "/certificate")
	cf.Set("record", saved.url[strings.LastIndex(saved.url, "/")+1:])
	check("certificate", vac.post("/clinic/p/"+card+"/certificate", cf))
	check("policy explorer", an.get("/program/policy?date=2021-09-17"))
	check("policy diff", an.get("/program/policy/diff?from=2021-09&to=inclusive-paid"))
	check("coverage", an.get("/program/coverage"))
	check("holder", e.browser(t).get("/holder"))
	check("verify", e.browser(t).get("/verify"))
}

// BenchmarkWebClinicPages measures the server-side time of each clinic
// page, from request to the last byte written, through the whole handler
// (session, CSRF, store reads, the audit append of a record read, template
// rendering), without the network. It reports the median (p50) besides the
// mean, and the page's weight.
func BenchmarkWebClinicPages(b *testing.B) {
	e := newWebEnv(b)
	vac, _, card := webPages(b, e)
	base, _ := url.Parse(e.srv.URL)
	cookies := vac.c.Jar.Cookies(base)
	vac.get("/clinic/p/" + card + "?purpose=care")
	csrf := vac.csrf()
	checkForm := url.Values{"csrf": {csrf}, "card": {card}, "pack": {"2021-09"}, "jurisdiction": {"KR"}, "service": {"vaccination"},
		"as_of": {"2021-09-17"}, "fact.residence_status": {"unregistered"}}
	doseForm := url.Values{"csrf": {csrf}, "idem": {"bench"}, "product": {"coronavac"}, "date": {"2021-07-29"}, "site": {"YB-1"},
		"source": {"administered"}, "payment": {"free"}}
	pages := []struct {
		name, method, path string
		form               url.Values
		lookup             bool // reads a record, so counts against the lookup rate limit
	}{
		{"clinic", "GET", "/clinic", nil, false},
		{"person", "GET", "/clinic/p/" + card + "?purpose=care", nil, true},
		{"check", "POST", "/check", checkForm, false},
		{"confirm", "POST", "/clinic/p/" + card + "/dose", doseForm, true},
		{"card", "GET", "/clinic/p/" + card + "/card", nil, true},
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			var body string
			if pg.form != nil {
				body = pg.form.Encode()
			}
			durs := make([]time.Duration, 0, b.N)
			size := 0
			for b.Loop() {
				req := httptest.NewRequest(pg.method, pg.path, strings.NewReader(body))
				if pg.form != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				for _, c := range cookies {
					req.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				// Half a second of Haven's clock per lookup keeps the
				// lookup rate limits (two per second per token) open; the
				// session is refreshed by every request, so it never idles.
				if pg.lookup {
					e.advance(500 * time.Millisecond)
				}
				start := time.Now()
				e.handler.ServeHTTP(rec, req)
				durs = append(durs, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %.500s", pg.name, rec.Code, rec.Body.String())
				}
				size = rec.Body.Len()
			}
			slices.Sort(durs)
			b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
