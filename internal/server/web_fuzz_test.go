package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzWebForms sends arbitrary values in the fields of the eligibility,
// register and dose forms. A form may be refused (4xx) but never makes the
// server fail (5xx), and nothing but the page's own HTML comes back.
func FuzzWebForms(f *testing.F) {
	for _, seed := range [][4]string{
		{"CN-JL", "registered_irregular", "36", "coronavac"},
		{"KR", "unregistered", "", "511"},
		{"", "", "", ""},
		{"CN-JL-YB", "tourist", "-1", "sputnik"},
		{"XX", "citizen", "99999999999999999999", "\x00"},
		{"KR-11", "temporary_hukou", "1e3", "CoronaVac"},
		{"<script>", "\"'><", "NaN", "2021-02-30"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	e := newWebEnv(f)
	b := e.browser(f)
	b.signin(e.vaccinator)
	card := b.register(url.Values{"birth_date": {"1985"}})
	base, _ := url.Parse(e.srv.URL)
	cookies := b.c.Jar.Cookies(base)
	csrf := b.csrf()
	f.Fuzz(func(t *testing.T, place, status, number, text string) {
		forms := []struct {
			path string
			form url.Values
		}{
			{"/check", url.Values{"card": {card}, "jurisdiction": {place}, "service": {text}, "as_of": {number},
				"fact.residence_status": {status}, "fact.age_years": {number}, "fact.can_pay": {text}, "pack": {place}}},
			{"/clinic/register", url.Values{"idem": {"fuzz-" + number}, "given_name": {text}, "birth_date": {number}, "sex": {status}, "phone": {place}}},
			{"/clinic/p/" + card + "/dose", url.Values{"idem": {"fuzz"}, "product": {text}, "date": {number}, "site": {place},
				"source": {status}, "payment": {status}, "amount": {number}, "currency": {text}}},
			{"/clinic/p/" + card + "/test", url.Values{"idem": {"fuzz"}, "kind": {status}, "result": {text}, "date": {number}, "site": {place}}},
		}
		for _, fm := range forms {
			fm.form.Set("csrf", csrf)
			req := httptest.NewRequest("POST", fm.path, strings.NewReader(fm.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, c := range cookies {
				req.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s with %q %q %q %q: %d\n%.1000s", fm.path, place, status, number, text, rec.Code, rec.Body.String())
			}
			if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusSeeOther && !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("%s: answered %s", fm.path, ct)
			}
			if strings.Contains(rec.Body.String(), "<script>") {
				t.Fatalf("%s echoes markup unescaped", fm.path)
			}
		}
	})
}
