package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/schedule"
	"github.com/haven-registry/haven/internal/testenv"
)

// Page tests of the clinic-ready work, without a browser: names in every
// script, corrections, certificates of doses the schedule does not count,
// forecasts as a clinic reads them, the visit's observations, forms kept
// through sign-in, and the coverage blocks.

// dccName verifies a certificate through the API and returns the names it
// carries.
func dccName(t *testing.T, e *webEnv, hc1 string) (cert.Name, int64, int64) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"text": hc1})
	res, err := http.Post(e.srv.URL+"/api/v1/certificates/verify", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Valid   bool
		Payload struct {
			Nam cert.Name
			V   []struct{ Dn, Sd int64 }
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || !out.Valid {
		t.Fatalf("verify: %d %v %+v", res.StatusCode, err, out)
	}
	var dn, sd int64
	if len(out.Payload.V) > 0 {
		dn, sd = out.Payload.V[0].Dn, out.Payload.V[0].Sd
	}
	return out.Payload.Nam, dn, sd
}

// certOf issues a certificate for record on the person page and returns
// its text.
func (b *browser) certOf(card, record string, extra ...string) (page, string) {
	b.t.Helper()
	b.get("/clinic/p/" + card + "?purpose=certificate")
	form := url.Values{"record": {record}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	p := b.post("/clinic/p/"+card+"/certificate", form)
	m := hc1Re.FindStringSubmatch(p.body)
	if m == nil {
		return p, ""
	}
	return p, html.UnescapeString(m[1])
}

// doseIDs lists the IDs of the doses offered for a certificate.
func doseIDs(body string) []string {
	i := strings.Index(body, `id="cert-record"`)
	if i < 0 {
		return nil
	}
	var out []string
	for _, m := range optionID.FindAllStringSubmatch(body[i:strings.Index(body[i:], "</select>")+i], -1) {
		out = append(out, m[1])
	}
	return out
}

// auditActions lists the actions and purposes of the access log after seq.
func auditActions(t *testing.T, e *webEnv, after uint64) []string {
	t.Helper()
	var out []string
	err := e.store.(auditLog).Scan(context.Background(), after+1, func(en audit.Entry) error {
		out = append(out, en.Action+"/"+en.Purpose)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lastSeq(t *testing.T, e *webEnv) uint64 {
	en, err := e.store.(auditLog).Last(context.Background())
	if err != nil {
		return 0
	}
	return en.Seq
}

// Names in every script: the registration page offers the machine-readable
// forms to pick; certificates carry the forms chosen (fnt/gnt) for a Hangul
// and a Hanzi name; a form the clinic types is kept.
func TestWebNamesInEveryScript(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.signin(e.vaccinator)
	b.get("/clinic")
	p := b.post("/clinic/register", url.Values{"family_name": {"김"}, "given_name": {"민준"}, "suggest": {"1"}, "idem": {b.idem()}})
	for _, want := range []string{`name="family_name_icao" value="GIM" checked`, `name="family_name_icao" value="KIM"`, `name="given_name_icao" value="MINJUN" checked`} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("the suggestions lack %s:\n%.3000s", want, p.body[strings.Index(p.body, "<main"):])
		}
	}
	if strings.Contains(p.body, `id="person-card"`) {
		t.Fatal("asking for the suggestions registered the person")
	}
	cases := []struct {
		family, given, pick, typed string
		fnt, gnt                   string
	}{
		{"김", "민준", "", "", "GIM", "MINJUN"},
		{"김", "민준", "KIM", "", "KIM", "MINJUN"},
		{"王", "小明", "", "", "WANG", "XIAOMING"},
		{"이", "서연", "", "rhee", "RHEE", "SEOYEON"},
		{"", "", "", "", "", ""}, // no name: the card code stands in
	}
	for _, tc := range cases {
		b.get("/clinic")
		form := url.Values{"family_name": {tc.family}, "given_name": {tc.given}, "birth_date": {"1980"}, "idem": {b.idem()}}
		if tc.pick != "" {
			form.Set("family_name_icao", tc.pick)
		}
		if tc.typed != "" {
			form.Set("family_name_icao_other", tc.typed)
		}
		card := cardRe.FindStringSubmatch(b.post("/clinic/register", form).body)[1]
		if tc.fnt != "" && !strings.Contains(b.last.body, `id="person-icao" translate="no">`+tc.fnt+" "+tc.gnt+"<") {
			t.Fatalf("%s %s: the person page does not show %s %s", tc.family, tc.given, tc.fnt, tc.gnt)
		}
		e.advance(time.Minute)
		b.recordDose(card, "coronavac", "2021-09-01")
		_, hc1 := b.certOf(card, doseIDs(b.get("/clinic/p/" + card + "?purpose=care").body)[0])
		nam, _, _ := dccName(t, e, hc1)
		if tc.fnt == "" {
			if nam.Fnt == "" {
				t.Errorf("a person with no name got no temporary identity: %+v", nam)
			}
			continue
		}
		if nam.Fn != tc.family || nam.Gn != tc.given || nam.Fnt != tc.fnt || nam.Gnt != tc.gnt {
			t.Errorf("%s %s: certificate names %+v, want fnt %s gnt %s", tc.family, tc.given, nam, tc.fnt, tc.gnt)
		}
	}
	// A name no suggestion can write asks the clinic to type its form.
	b.get("/clinic")
	p = b.post("/clinic/register", url.Values{"family_name": {"김Kim"}, "suggest": {"1"}, "idem": {b.idem()}})
	if !strings.Contains(p.body, `id="icao-problem-family"`) {
		t.Fatalf("a mixed-script name shows no problem:\n%.3000s", p.body)
	}
	// A bad form is refused beside the form, named and translated.
	b.lang = "ko"
	b.get("/clinic")
	p = b.post("/clinic/register", url.Values{"family_name": {"김"}, "family_name_icao_other": {"K1M"}, "idem": {b.idem()}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "기계 판독용 성은") || !strings.Contains(p.body, `id="family-icao-other" name="family_name_icao_other" value="K1M"`) &&
		!strings.Contains(p.body, `aria-invalid="true"`) {
		t.Fatalf("a bad machine-readable name: %d\n%.3000s", p.status, p.body[strings.Index(p.body, "<main"):])
	}
}

// Corrections: details change only after the confirm step, and a dose is
// marked entered in error only after its own; both are audited with the
// purpose "correction", and a dose entered in error is no longer offered
// for a certificate.
func TestWebCorrections(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.signin(e.vaccinator)
	card := b.register(url.Values{"family_name": {"王"}, "given_name": {"小明"}, "birth_date": {"1985"}, "phone": {"123"}})
	person := "/clinic/p/" + card
	b.recordDose(card, "coronavac", "2021-08-01")
	b.recordDose(card, "coronavac", "2021-09-01")

	b.get(person + "/edit")
	edit := b.form(person + "/edit")
	edit.Set("phone", "+86 138 0000 0000")
	edit.Set("given_name", "晓明")
	before := lastSeq(t, e)
	p := b.post(person+"/edit", edit)
	if p.status != 200 || !strings.Contains(p.body, `id="edit-confirm"`) || !strings.Contains(p.body, "晓明") {
		t.Fatalf("confirm step: %d\n%.3000s", p.status, p.body)
	}
	if got := b.get(person + "?purpose=care"); !strings.Contains(got.body, ">123<") {
		t.Fatal("the confirm step changed the record")
	}
	b.get(person + "/edit")
	b.post(person+"/edit", edit)
	p = b.post(person+"/edit", b.hidden(person+"/edit"))
	if p.status != 200 || !strings.Contains(html.UnescapeString(p.body), "+86 138 0000 0000") || !strings.Contains(p.body, "王 晓明") || !strings.Contains(p.url, "purpose=correction") {
		t.Fatalf("after the correction: %d %s\n%.3000s", p.status, p.url, p.body)
	}
	if !slices.Contains(auditActions(t, e, before), "person.edit/correction") {
		t.Fatalf("the edit was not audited as a correction: %v", auditActions(t, e, before))
	}

	// Entered in error: the confirm page writes nothing; the form does.
	body := b.get(person + "?purpose=correction").body
	links := correctRe.FindAllStringSubmatch(body, -1)
	if len(links) != 2 {
		t.Fatalf("%d correction links, want 2", len(links))
	}
	before = lastSeq(t, e)
	b.get(links[0][1])
	if slices.Contains(auditActions(t, e, before), "correction.create/correction") {
		t.Fatal("the confirm page marked the record")
	}
	form := b.hidden(links[0][1])
	first := b.post(links[0][1], form)
	again := b.post(links[0][1], form) // a double submit
	if first.status != 200 || again.status != 200 || !strings.Contains(first.url, "purpose=correction") {
		t.Fatalf("mark: %d %d %s", first.status, again.status, first.url)
	}
	acts := auditActions(t, e, before)
	if n := strings.Count(strings.Join(acts, " "), "correction.create/correction"); n != 1 {
		t.Fatalf("the correction was written %d times: %v", n, acts)
	}
	if n := strings.Count(first.body, `class="struck"`); n != 1 {
		t.Fatalf("%d rows struck out, want 1", n)
	}
	if ids := doseIDs(first.body); len(ids) != 1 {
		t.Fatalf("%d doses offered for a certificate, want 1 (the other is entered in error)", len(ids))
	}
	if p := b.get(links[0][1]); !strings.Contains(p.body, `id="correct-done"`) {
		t.Fatal("a record already marked is offered to be marked again")
	}
	// The holder does not see correction links.
	if strings.Contains(b.get(person+"/card").body, "correct-link") {
		t.Fatal("the card page offers corrections")
	}
}

// A dose the schedule does not count: the certificate page says why in the
// page's language and offers the override reasons; an override issues the
// certificate with the numbers the schedule gives, audited with its reason.
func TestWebCertificateOverride(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.lang = "zh-Hans"
	b.signin(e.vaccinator)
	card := b.register(url.Values{"birth_date": {"1980-01-01"}})
	b.recordDose(card, "coronavac", "2021-07-01")
	b.get("/clinic/p/" + card + "?purpose=care")
	dose := b.form("/clinic/p/" + card + "/dose")
	dose.Set("product", "coronavac")
	dose.Set("date", "2021-07-04")
	b.post("/clinic/p/"+card+"/dose", dose)
	b.post("/clinic/p/"+card+"/dose", b.hidden("/clinic/p/"+card+"/dose"))
	ids := doseIDs(b.get("/clinic/p/" + card + "?purpose=care").body)
	if len(ids) != 2 || !strings.Contains(b.last.body, "程序不计入") {
		t.Fatalf("the person page does not mark the dose not counted:\n%.3000s", b.last.body)
	}
	early := ids[1]
	p, hc1 := b.certOf(card, early)
	if p.status != http.StatusConflict || hc1 != "" {
		t.Fatalf("a dose not counted was certified: %d", p.status)
	}
	for _, want := range []string{"接种程序不计入这一剂", "距上一剂太早", "临床判断", `name="override" value="other_schedule"`} {
		if !strings.Contains(p.body, want) {
			t.Fatalf("the conflict page lacks %q:\n%.3000s", want, p.body[strings.Index(p.body, "<main"):])
		}
	}
	before := lastSeq(t, e)
	p, hc1 = b.certOf(card, early, "override", "clinical_judgement")
	if p.status != 200 || hc1 == "" {
		t.Fatalf("override: %d\n%.2000s", p.status, p.body)
	}
	_, dn, sd := dccName(t, e, hc1)
	if dn != 2 || sd != 2 {
		t.Errorf("the overridden certificate says dose %d of %d, want 2 of 2 as the schedule numbers it", dn, sd)
	}
	if acts := auditActions(t, e, before); !slices.Contains(acts, "certificate.override/clinical_judgement") {
		t.Fatalf("the override was not audited with its reason: %v", acts)
	}
}

// Forecasts as a clinic reads them: an adult's first dose is due now (not
// "earliest 1 Jan 2008"), an overdue one says since when, the card prints
// the next dose due, and a vaccine group with several series groups names
// them.
func TestWebForecastAsRead(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.signin(e.vaccinator)
	card := b.register(url.Values{"birth_date": {"1990"}})
	p := b.get("/clinic/p/" + card + "?purpose=care")
	if !strings.Contains(p.body, `id="due-now"`) || !strings.Contains(p.body, "<strong>Due now</strong>") || strings.Contains(p.body, "From 1 Jan 2008") {
		t.Fatalf("an adult's first dose is not due now:\n%.3000s", p.body[strings.Index(p.body, `id="forecast"`):])
	}
	for _, lang := range []string{"ko", "zh-Hans"} {
		want := map[string]string{"ko": "지금 접종", "zh-Hans": "现在应接种"}[lang]
		if p := b.get("/clinic/p/" + card + "?purpose=care&lang=" + lang); !strings.Contains(p.body, want) {
			t.Errorf("%s: no %q", lang, want)
		}
	}
	b.get("/clinic/p/" + card + "/card?lang=en")
	if c := b.last.body; !strings.Contains(c, `id="card-due"`) || !strings.Contains(c, "Next dose: due now") {
		t.Fatalf("the card does not print that a dose is due now:\n%.2000s", c)
	}
	saved := b.recordDose(card, "coronavac", "2021-09-17")
	if !strings.Contains(saved.body, `id="card-due"><strong>Next dose from 8 Oct 2021`) && !regexp.MustCompile(`id="card-due"><strong>Next dose from [0-9]+ [A-Z][a-z]+ 2021`).MatchString(saved.body) {
		t.Fatalf("the card does not print the next dose due:\n%.3000s", saved.body)
	}
	b.get("/clinic/p/" + card + "/card?cardlang=ko")
	if !strings.Contains(b.last.body, "다음 접종: 2021년") {
		t.Fatalf("the Korean card does not print the next dose due:\n%.2000s", b.last.body)
	}
	// Overdue: a 2021 baby under the CDC schedule, and the DTaP pregnancy
	// series named beside the routine one.
	baby := b.register(url.Values{"birth_date": {"2021-01-01"}, "sex": {"female"}})
	b.get("/clinic/p/" + baby + "?purpose=care")
	p = b.post("/clinic/p/"+baby+"/visit", url.Values{"purpose": {"care"}, "schedule": {"cdc"}})
	if !strings.Contains(p.body, "Overdue since") {
		t.Fatalf("no overdue entry:\n%.3000s", p.body[strings.Index(p.body, `id="forecast"`):])
	}
	mum := b.register(url.Values{"birth_date": {"1990-01-01"}, "sex": {"female"}})
	b.get("/clinic/p/" + mum + "?purpose=care")
	p = b.post("/clinic/p/"+mum+"/visit", url.Values{"purpose": {"care"}, "schedule": {"cdc"}, "obs": {"007"}, "onset": {"2021-03-03"}})
	due := p.body[strings.Index(p.body, `id="due-now"`):]
	due = due[:strings.Index(due, "</ul></li></ul>")]
	if !strings.Contains(due, `<span class="series-group">Increased risk</span>`) || !strings.Contains(due, "DTaP/Tdap/Td") {
		t.Fatalf("the pregnancy dose is not due now, named by its series group:\n%s", due)
	}
}

// The visit's observations travel in the form only: the page shows them
// back, and neither the database, its WAL, the logs nor a cookie holds them.
func TestWebVisitObservationsForgotten(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.signin(e.vaccinator)
	card := b.register(url.Values{"birth_date": {"1990-01-01"}, "sex": {"female"}})
	b.get("/clinic/p/" + card + "?purpose=care")
	p := b.post("/clinic/p/"+card+"/visit", url.Values{"purpose": {"care"}, "schedule": {"cdc"}, "obs": {"007", "186"}, "onset": {"1999-12-31"}})
	if p.status != 200 || !strings.Contains(p.body, `id="visit-used"`) || !strings.Contains(p.body, `value="007" checked`) {
		t.Fatalf("visit: %d\n%.3000s", p.status, p.body)
	}
	p = b.get("/clinic/p/" + card + "?purpose=care")
	if strings.Contains(p.body, `value="007" checked`) || strings.Contains(p.body, "1999-12-31") {
		t.Fatal("the person page remembers the visit")
	}
	for _, ck := range b.c.Jar.Cookies(mustURL(e.srv.URL)) {
		if strings.Contains(ck.Value, "1999") || strings.Contains(ck.Value, "007") {
			t.Fatalf("cookie %s holds the visit: %q", ck.Name, ck.Value)
		}
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "haven.db*"))
	haystacks := map[string][]byte{"server log": e.logs.Bytes()}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		haystacks[filepath.Base(f)] = data
	}
	for name, data := range haystacks {
		for _, needle := range []string{"1999-12-31", "19991231", "170:", "observation", "pregnan"} {
			if bytes.Contains(bytes.ToLower(data), []byte(needle)) {
				t.Errorf("%s holds %q", name, needle)
			}
		}
	}
	if !bytes.Contains(e.logs.Bytes(), []byte(`"route":"POST /clinic/p/{card}/visit"`)) {
		t.Fatal("the visit was not logged at all; the search proved nothing")
	}
}

// A form sent after the session ended keeps its input through sign-in,
// in the pages only; the sign-in page over its limit has a way back.
func TestWebFormKeptThroughSignIn(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.signin(e.vaccinator)
	b.get("/clinic")
	form := url.Values{"family_name": {"王"}, "given_name": {"小明"}, "birth_date": {"1985"}, "idem": {b.idem()}, "csrf": {b.csrf()}}
	e.advance(31 * time.Minute) // the session times out
	p := b.post("/clinic/register", form)
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `name="keep.family_name" value="王"`) || strings.Contains(p.body, `name="keep.csrf"`) {
		t.Fatalf("the sign-in page does not keep the form:\n%.3000s", p.body)
	}
	// Not from another site, or from nowhere said.
	req, _ := http.NewRequest("POST", e.srv.URL+"/clinic/register", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p := b.do(req); p.status != http.StatusUnauthorized || strings.Contains(p.body, `name="keep.`) {
		t.Fatalf("a form without an origin was kept: %d", p.status)
	}
	b.post("/clinic/register", form)
	kept := b.hidden("/signin")
	kept.Set("token", e.vaccinator)
	p = b.post("/signin", kept)
	if p.status != 200 || !strings.Contains(p.body, `action="/clinic/register"`) || !strings.Contains(p.body, `name="given_name" value="小明"`) {
		t.Fatalf("the resubmit page:\n%.3000s", p.body)
	}
	p = b.post("/clinic/register", b.hidden("/clinic/register"))
	if !strings.Contains(p.body, `id="person-name" translate="no">王 小明`) {
		t.Fatalf("the kept form did not register the person:\n%.3000s", p.body)
	}
	// Over the sign-in limit, the page says to wait and offers the form
	// and the way home.
	x := e.browser(t)
	x.lang = "ko"
	var over page
	for range 12 {
		x.get("/signin")
		if over = x.post("/signin", url.Values{"token": {"hvn_wrong"}}); over.status == http.StatusTooManyRequests {
			break
		}
	}
	if over.status != http.StatusTooManyRequests || over.header.Get("Retry-After") == "" || !strings.Contains(over.body, `id="signin-home"`) ||
		!strings.Contains(over.body, `id="signin-submit"`) || !strings.Contains(over.body, "1분 기다린") {
		t.Fatalf("the 429 sign-in page: %d\n%.3000s", over.status, over.body)
	}
	// Any page over a limit offers to try again, and home.
	e.advance(time.Hour)
	b.signin(e.vaccinator)
	card := b.register(url.Values{})
	var limited page
	for range 100 {
		if limited = b.get("/clinic/p/" + card + "?purpose=care"); limited.status == http.StatusTooManyRequests {
			break
		}
	}
	if limited.status != http.StatusTooManyRequests || !strings.Contains(limited.body, `id="error-back"`) || !strings.Contains(limited.body, `id="error-home" href="/clinic"`) &&
		!strings.Contains(limited.body, `href="/clinic" id="error-home"`) {
		t.Fatalf("the 429 page is a dead end: %d\n%.3000s", limited.status, limited.body)
	}
}

// The coverage page explains its blocks and lets the analyst choose among
// the published ones; each choice shows that block, as the API releases it.
func TestWebCoverageBlocks(t *testing.T) {
	e := newWebEnv(t)
	an := e.browser(t)
	an.signin(e.analyst)
	p := an.get("/program/coverage")
	if !strings.Contains(p.body, `id="blocks"`) || !strings.Contains(p.body, "fixed blocks of 4 ISO weeks") {
		t.Fatalf("the coverage page does not explain its blocks:\n%.3000s", p.body)
	}
	blocks := regexp.MustCompile(`<option value="([0-9]{4}-W[0-9]{2}/[0-9]{4}-W[0-9]{2})"`).FindAllStringSubmatch(p.body, -1)
	if len(blocks) < 12 {
		t.Fatalf("%d blocks to choose from", len(blocks))
	}
	for _, m := range blocks {
		p := an.get("/program/coverage?block=" + url.QueryEscape(m[1]))
		if !strings.Contains(p.body, "Shown: block "+m[1]) || !strings.Contains(p.body, `<option value="`+m[1]+`" selected>`) {
			t.Errorf("block %s: the page shows another:\n%.500s", m[1], p.body[strings.Index(p.body, `id="block-shown"`):])
		}
		e.advance(time.Second)
	}
	if p := an.get("/program/coverage?block=2021-W01%2F2021-W05"); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a block that is not published: %d", p.status)
	}
}

// Every audit action (the clinic.Action constants, replays and refusals
// included), policy note, bundled pack, vaccine group and antigen of the
// schedules, series group, observation offered at a visit and verification
// step has a text in every catalogue.
func TestWebCataloguesCoverDomainTexts(t *testing.T) {
	cats := loadCatalogues(t)
	need := map[string]bool{}
	src, err := os.ReadFile(filepath.Join("..", "clinic", "action.go"))
	if err != nil {
		t.Fatal(err)
	}
	actions := regexp.MustCompile(`Act[A-Za-z]+\s+Action\s*=\s*"([a-z_.]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(actions) < 30 {
		t.Fatalf("found only %d actions", len(actions))
	}
	for _, m := range actions {
		need["action."+m[1]] = true
	}
	root := testenv.RepoRoot(t)
	notes := 0
	err = filepath.WalkDir(filepath.Join(root, "policies"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || strings.Contains(path, string(filepath.Separator)+"cases"+string(filepath.Separator)) {
			return err // test cases' notes are for the pack's authors, never shown
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return err
		}
		var walk func(any)
		walk = func(x any) {
			switch v := x.(type) {
			case map[string]any:
				for k, val := range v {
					if s, ok := val.(string); ok && k == "note" {
						sum := sha256.Sum256([]byte(strings.Join(strings.Fields(s), " ")))
						need["policynote."+hex.EncodeToString(sum[:4])] = true
						notes++
					}
					if k == "name" && filepath.Base(path) == "pack.yaml" {
						if s, ok := val.(string); ok {
							need["pack."+s+".title"], need["pack."+s+".description"], need["packname."+s] = true, true, true
						}
					}
					walk(val)
				}
			case []any:
				for _, val := range v {
					walk(val)
				}
			}
		}
		walk(doc)
		return nil
	})
	if err != nil || notes < 10 {
		t.Fatalf("policy notes: %v (%d found)", err, notes)
	}
	for _, name := range []string{"cn", "who", "cdc"} {
		sch, err := schedule.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range append(sch.VaccineGroups(), sch.Antigens()...) {
			need["group."+g] = true
		}
	}
	for _, sg := range []string{"Standard", "Increased Risk", "Risk", "Standard 50+", "Standard 75+", "Increased Risk Infant", "Increased Risk - Pediatric Travel"} {
		need["seriesgroup."+sg] = true
	}
	for _, code := range []string{"007", "009", "055", "003", "246", "186", "160", "014", "016", "017", "015", "161", "032", "005", "041", "043", "042", "121", "069", "048"} {
		need["obs."+code] = true
	}
	for _, s := range append(cert.HCERTSteps, "parse", "header", "jws", "claims", "disclosures", "key_binding", "check_phrase", "unknown") {
		need["certreason."+s] = true
	}
	for _, r := range []string{"clinical_judgement", "other_schedule", "incomplete_history"} {
		need["override."+r], need["purpose."+r] = true, true
	}
	for key := range need {
		for _, lang := range webLangs {
			if _, ok := cats[lang][key]; !ok {
				t.Errorf("%s lacks %s", lang, key)
			}
		}
	}
}
