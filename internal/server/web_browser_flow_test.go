package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Browser tests of the clinic-ready work: names in every script on
// certificates, corrections, the visit's observations, every page at
// 360 px, and the Korean clinic flow of the README.

// click clicks an element that does not load a page.
func (c *chrome) click(sel string) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		c.t.Fatalf("click %s on %s: %v", sel, c.url(), err)
	}
}

// registerNamed registers a person through the form, after asking for the
// machine-readable names, and returns the card code. It checks that the
// suggestions offered include want.
func (c *chrome) registerNamed(family, given, birth string, want ...string) string {
	c.t.Helper()
	c.open("/clinic")
	c.fill("#reg-family", family, "#reg-given", given, "#reg-birth", birth, "#reg-sex", "female")
	c.submit("#suggest-submit")
	offered := c.text("#reg-names")
	for _, w := range want {
		if !strings.Contains(offered, w) {
			c.t.Fatalf("the machine-readable forms offered for %s %s are %q, want %s among them", family, given, offered, w)
		}
	}
	c.submit("#register-submit")
	return c.text("#person-card")
}

// recordDoseUI records a dose through the person page and its confirm step.
func (c *chrome) recordDoseUI(card, product, date string) {
	c.t.Helper()
	c.open("/clinic/p/" + card + "?purpose=care#record")
	c.fill("#dose-product", product, "#dose-date", date)
	c.submit("#dose-submit")
	c.submit("#confirm-submit")
	if !c.has("#saved") {
		c.t.Fatalf("the dose was not saved: %s", c.body())
	}
}

// certify issues a certificate for the newest completed record on the
// person page and returns its text.
func (c *chrome) certify(card string) string {
	c.t.Helper()
	c.open("/clinic/p/" + card + "?purpose=certificate#certificate")
	c.submit("#cert-submit")
	hc1 := c.eval(`document.querySelector("#cert-text") ? document.querySelector("#cert-text").value : ""`)
	if !strings.HasPrefix(hc1, "HC1:") {
		c.t.Fatalf("no certificate: %s", c.body())
	}
	return hc1
}

// verified checks hc1 on the verifier page and returns the machine-readable
// name it carries.
func (c *chrome) verified(hc1 string) string {
	c.t.Helper()
	c.open("/verify")
	c.fill("#verify-text", hc1)
	c.submit("#verify-submit")
	if !c.has("p#verdict.ok") {
		c.t.Fatalf("the certificate does not verify: %s", c.body())
	}
	return c.text("#cert-name-icao")
}

// A person with a Hangul name and one with a Hanzi name get certificates
// that verify, carrying the machine-readable names (fnt/gnt) expected: the
// Revised Romanization by default, the passport spelling once the clinic
// picks it, Pinyin for Chinese. Then their details are corrected and a dose
// is marked entered in error, each behind a confirm step. In every
// language.
func TestBrowserNamesAndCorrections(t *testing.T) {
	e := newWebEnv(t)
	for _, lang := range webLangs {
		t.Run(lang, func(t *testing.T) {
			e.advance(time.Hour) // fresh read limits
			c := newChrome(t, e, lang)
			c.signin(e.vaccinator)

			kim := c.registerNamed("김", "민준", "1990-05-01", "GIM", "KIM")
			if got := c.text("#person-icao"); got != "GIM MINJUN" {
				t.Fatalf("machine-readable name on the person page = %q, want GIM MINJUN", got)
			}
			c.recordDoseUI(kim, "coronavac", "2021-07-01")
			if got := c.verified(c.certify(kim)); got != "GIM MINJUN" {
				t.Fatalf("fnt/gnt = %q, want GIM MINJUN", got)
			}

			// The clinic picks the passport spelling, behind a confirm step.
			c.open("/clinic/p/" + kim + "?purpose=correction#names")
			c.click("#family-icao-1")
			c.submit("#names-submit")
			if got := c.text("#changes"); !strings.Contains(got, "GIM") || !strings.Contains(got, "KIM") {
				t.Fatalf("the confirm step shows %q", got)
			}
			c.submit("#edit-confirm-submit")
			if got := c.text("#person-icao"); got != "KIM MINJUN" {
				t.Fatalf("after picking KIM the person page shows %q", got)
			}
			e.advance(time.Minute)
			if got := c.verified(c.certify(kim)); got != "KIM MINJUN" {
				t.Fatalf("fnt/gnt after the correction = %q, want KIM MINJUN", got)
			}

			wang := c.registerNamed("王", "小明", "1985", "WANG", "XIAOMING")
			c.recordDoseUI(wang, "coronavac", "2021-08-01")
			if got := c.verified(c.certify(wang)); got != "WANG XIAOMING" {
				t.Fatalf("fnt/gnt = %q, want WANG XIAOMING", got)
			}

			// Correct the phone and the birth date, behind a confirm step.
			e.advance(time.Minute)
			c.open("/clinic/p/" + wang + "/edit")
			c.fill("#edit-phone", "+86 138 0000 0000", "#edit-birth", "1985-03")
			c.submit("#edit-submit")
			changes := c.text("#changes")
			if !strings.Contains(changes, "+86 138 0000 0000") || c.has("#edit-form") {
				t.Fatalf("confirm step of the correction: %q", changes)
			}
			c.shot("50-edit-confirm-" + lang)
			c.submit("#edit-confirm-submit")
			if !strings.Contains(c.text("#person"), "+86 138 0000 0000") {
				t.Fatalf("the correction was not saved: %s", c.text("#person"))
			}

			// Mark the dose entered in error, behind a confirm step.
			c.open("/clinic/p/" + wang + "?purpose=correction#history")
			c.submit("#doses .correct-link")
			if !c.has("#correct-submit") {
				t.Fatalf("no confirm step: %s", c.body())
			}
			c.shot("51-entered-in-error-" + lang)
			c.submit("#correct-submit")
			if n := c.eval(`String(document.querySelectorAll("#doses tr.struck").length)`); n != "1" {
				t.Fatalf("%s doses are struck out after the correction, want 1", n)
			}
			if c.eval(`String(document.querySelectorAll("#cert-record option").length)`) != "0" {
				t.Fatal("a dose entered in error is still offered for a certificate")
			}
			if m := c.labelsMissing(); m != "" {
				t.Fatalf("controls without a label on the person page: %s", m)
			}
		})
	}
}

// The clinic chooses "pregnant" with its onset at the visit and sees the
// Tdap pregnancy dose (the CDC schedule's increased-risk series group),
// in every language; a forecast without it has no such entry. Nothing of
// the observation is kept: not in the database, its WAL, or the logs.
func TestBrowserVisitObservations(t *testing.T) {
	e := newWebEnv(t)
	c := newChrome(t, e, "en")
	c.signin(e.vaccinator)
	card := c.registerNamed("이", "서연", "1992-02-02")
	person := "/clinic/p/" + card + "?purpose=care"
	series := map[string]string{"en": "Increased risk", "ko": "고위험", "zh-Hans": "高风险"}
	onsets := map[string]string{"en": "2021-03-03", "ko": "2021-03-04", "zh-Hans": "2021-03-05"}
	for _, lang := range webLangs {
		e.advance(time.Minute)
		c.open(person + "&lang=" + lang + "#forecast")
		c.fill("#visit-schedule", "cdc")
		c.submit("#visit-submit")
		if strings.Contains(c.text("#forecast"), series[lang]) {
			t.Fatalf("%s: without a pregnancy the forecast names the increased-risk series: %s", lang, c.text("#forecast"))
		}
		c.fill("#visit-schedule", "cdc", "#visit-onset", onsets[lang])
		c.click("#obs-007")
		c.submit("#visit-submit")
		if !c.has("#visit-used") {
			t.Fatalf("%s: the forecast was not made with the visit's observations: %s", lang, c.body())
		}
		due := c.text("#due-now")
		if !strings.Contains(due, series[lang]) || !strings.Contains(due, "DTaP/Tdap/Td") {
			t.Fatalf("%s: due now = %q, want the Tdap pregnancy dose (%s)", lang, due, series[lang])
		}
		if c.eval(`document.querySelector("#obs-007").checked ? "yes" : "no"`) != "yes" {
			t.Fatalf("%s: the form does not show the choice made", lang)
		}
		c.shot("52-visit-pregnant-" + lang)
	}
	// Reloading the person page shows nothing of the visit.
	c.open(person)
	if c.has("#visit-used") || c.eval(`document.querySelector("#obs-007").checked ? "yes" : "no"`) == "yes" {
		t.Fatal("the visit's observations outlived their request")
	}
	// Nor in a cookie.
	ctx, cancel := c.step()
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	cookies := res.Cookies
	for _, ck := range cookies {
		for _, onset := range onsets {
			if strings.Contains(ck.Value, onset) || strings.Contains(ck.Value, "007") || len(ck.Value) > 64 {
				t.Errorf("cookie %s = %q may hold the visit", ck.Name, ck.Value)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "haven.db*"))
	if len(files) == 0 {
		t.Fatal("no database files to search")
	}
	haystacks := map[string][]byte{"server log": e.logs.Bytes()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		haystacks[filepath.Base(f)] = b
	}
	if !bytes.Contains(e.logs.Bytes(), []byte("/visit")) {
		t.Fatalf("the visits were not logged at all; the search proves nothing:\n%s", e.logs.Bytes())
	}
	for name, b := range haystacks {
		for _, onset := range onsets {
			for _, needle := range []string{onset, strings.ReplaceAll(onset, "-", ""), "170:", "observation"} {
				if bytes.Contains(bytes.ToLower(b), []byte(needle)) {
					t.Errorf("%s holds %q", name, needle)
				}
			}
		}
	}
}

// Every page, in every state the walk reaches (errors, refusals and rate
// limits included), fits a 360-pixel-wide phone in every language: nothing
// scrolls sideways. The pages are the ones the plain-HTTP walk saw, served
// again as they were (static files from the server) to a 360-pixel
// Chromium.
func TestBrowserPhoneWidth(t *testing.T) {
	chromiumPath(t)
	// A few states are kept as screenshots too.
	shots := map[string]string{"person page with a dose the schedule does not count": "person", "certificate of a dose not counted": "cert-conflict",
		"holder: too many attempts": "holder-429", "GET /program/coverage": "coverage", "verify a damaged certificate": "verify-damaged",
		"edit: confirm step": "edit-confirm", "audit log, verified": "audit"}
	for _, lang := range webLangs {
		t.Run(lang, func(t *testing.T) {
			e := newWebEnv(t)
			states := walkStates(t, e, lang)
			upstream, _ := url.Parse(e.srv.URL)
			proxy := httputil.NewSingleHostReverseProxy(upstream)
			snaps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/snap/")); err == nil && i >= 0 && i < len(states) {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					w.Write([]byte(states[i].body))
					return
				}
				if strings.HasPrefix(r.URL.Path, "/static/") {
					proxy.ServeHTTP(w, r)
					return
				}
				http.NotFound(w, r)
			}))
			defer snaps.Close()
			c := newChromeSized(t, e, lang, 360, 740)
			c.base = snaps.URL
			for i, st := range states {
				c.open(fmt.Sprintf("/snap/%d", i))
				if shots[st.name] != "" {
					c.shot(fmt.Sprintf("60-%s-%s", shots[st.name], lang))
				}
				width := c.eval(`String(document.documentElement.scrollWidth)`)
				if n, _ := strconv.Atoi(width); n > 360 {
					wide := c.eval(`Array.from(document.querySelectorAll("body *")).filter(el => el.getBoundingClientRect().right > 360.5)
						.slice(0, 4).map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + el.className : "")).join(" ")`)
					t.Errorf("%s (%s) is %s px wide at 360: %s", st.name, lang, width, wide)
				}
			}
		})
	}
}

// The README's picture: the clinic flow on a 360-pixel phone in Korean,
// with a Hangul name, from registration to the certificate.
func TestBrowserKoreanClinicFlow(t *testing.T) {
	e := newWebEnv(t)
	c := newChromeSized(t, e, "ko", 360, 760)
	c.signin(e.vaccinator)
	c.open("/clinic?lang=ko")
	c.fill("#reg-family", "김", "#reg-given", "민준", "#reg-birth", "1990-05-01", "#reg-sex", "female")
	c.submit("#suggest-submit")
	c.eval(`document.querySelector("#register-form").scrollIntoView(); "ok"`)
	c.keep()
	c.submit("#register-submit")
	card := c.text("#person-card")
	if got := c.text("#person-icao"); got != "GIM MINJUN" {
		t.Fatalf("machine-readable name = %q", got)
	}
	c.keep()
	c.open("/clinic/p/" + card + "?purpose=care#eligibility")
	c.fill("#check-jurisdiction", "KR", "#check-asof", "2021-09-17", "#fact-residence_status", "unregistered")
	c.submit("#check-submit")
	if got := c.text("#outcome"); !strings.Contains(got, "접종 가능") {
		t.Fatalf("outcome = %q", got)
	}
	c.keep()
	c.fill("#dose-product", "coronavac", "#dose-date", "2021-09-17")
	c.submit("#dose-submit")
	c.keep()
	c.submit("#confirm-submit")
	if !strings.Contains(c.text("#card-due"), "다음 접종") {
		t.Fatalf("the card does not say when the next dose is due: %q", c.text(".print-card"))
	}
	c.eval(`document.querySelector(".print-card").scrollIntoView(); "ok"`)
	c.keep()
	c.submit("#cert-submit")
	if got := c.text("#cert-name-icao"); got != "GIM MINJUN" {
		t.Fatalf("certificate name = %q", got)
	}
	c.keep()
	c.montage("clinic-flow")
}
