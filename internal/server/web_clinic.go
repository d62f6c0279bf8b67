package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

// The clinic flow: find or register, check eligibility, record a dose or a
// test (with a confirm step that shows the forecast and any warning), print
// the card. Register → check → record → confirm takes four page loads, and
// the confirmation page is the printable card.

// siteOption is a site the signed-in vaccinator may record at.
type siteOption struct {
	Code, Name, Jurisdiction string
	Services                 []string
}

// Offers reports whether the site offers a service.
func (o siteOption) Offers(svc string) bool { return slices.Contains(o.Services, svc) }

// productOption is a catalogue product for the dose form.
type productOption struct{ ID, Name string }

// doseForm is the state of the dose form: its values and the
// Idempotency-Key that travels with it.
type doseForm struct {
	Product, Date, Site, Lot, Source, Payment, Amount, Currency string
	Idem                                                        string
}

type testForm struct {
	Kind, Result, Date, Site string
	Idem                     string
}

// clinicForms is what every page holding the record forms needs.
type clinicForms struct {
	Card     string
	Sites    []siteOption
	Products []productOption
	Dose     doseForm
	Test     testForm
	Sources  []registry.Source
}

func (a *webApp) sitesOf(ctx context.Context, tok *registry.Token) []siteOption {
	var out []siteOption
	for _, code := range tok.Sites {
		site, err := a.s.findSite(ctx, code)
		if err != nil {
			continue
		}
		out = append(out, siteOption{Code: site.Code, Name: site.Name, Jurisdiction: site.Jurisdiction, Services: site.Services})
	}
	return out
}

func (a *webApp) products(c *pageCtx) []productOption {
	var out []productOption
	for _, p := range a.s.catalog.Products() {
		out = append(out, productOption{ID: p.ID, Name: p.Name(c.loc.catalog)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// newIdemKey is the Idempotency-Key of one rendered form.
func newIdemKey() string { return "web-" + randomToken(18) }

func (a *webApp) forms(r *http.Request, c *pageCtx, card registry.CardCode) clinicForms {
	today := registry.DateOf(a.s.now()).String()
	sites := a.sitesOf(r.Context(), c.sess.tok)
	f := clinicForms{Card: string(card), Sites: sites, Products: a.products(c),
		Dose:    doseForm{Date: today, Source: string(registry.SourceAdministered), Payment: "free", Idem: newIdemKey()},
		Test:    testForm{Date: today, Kind: string(registry.TestAntigen), Idem: newIdemKey()},
		Sources: []registry.Source{registry.SourceAdministered, registry.SourceHistoricalCard, registry.SourceSelfReport}}
	for _, s := range sites {
		if s.Offers(registry.ServiceVaccination) && f.Dose.Site == "" {
			f.Dose.Site = s.Code
		}
		if s.Offers(registry.ServiceTesting) && f.Test.Site == "" {
			f.Test.Site = s.Code
		}
	}
	return f
}

// clinicHomeData is the find-or-register page.
type clinicHomeData struct {
	Langs    []*locale
	CardLang string
	Purposes []string
	Sexes    []registry.Sex
	Idem     string
	Err      *formErr
	// Values of the register form, when it is shown again with an error.
	Person personRequest
	Find   string
}

func (a *webApp) clinicHomePage(w http.ResponseWriter, r *http.Request, c *pageCtx, status int, d clinicHomeData) error {
	d.Purposes = lookupPurposes
	d.Langs = a.locales.list
	if d.CardLang == "" {
		d.CardLang = c.loc.Tag
	}
	d.Sexes = []registry.Sex{registry.SexFemale, registry.SexMale, registry.SexOther, registry.SexUnknown}
	if d.Idem == "" {
		d.Idem = newIdemKey()
	}
	return a.render(w, r, c, status, "clinic", "clinic.title", d)
}

func (a *webApp) clinicHome(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	return a.clinicHomePage(w, r, c, http.StatusOK, clinicHomeData{})
}

// personURL is the person page, with the purpose of the lookup.
func personURL(code registry.CardCode, purpose string) string {
	return "/clinic/p/" + url.PathEscape(string(code)) + "?purpose=" + url.QueryEscape(purpose)
}

func (a *webApp) clinicFind(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	code, err := registry.ParseCardCode(r.PostFormValue("card"))
	if err == nil && !slices.Contains(lookupPurposes, r.PostFormValue("purpose")) {
		err = registry.FieldErrorf(registry.EINVALID, "purpose", "Say why you are looking up this record.")
	}
	if err != nil {
		return a.clinicHomePage(w, r, c, statusOf(registry.ErrorCode(err)), clinicHomeData{Err: toFormErr(err), Find: r.PostFormValue("card")})
	}
	http.Redirect(w, r, personURL(code, r.PostFormValue("purpose")), http.StatusSeeOther)
	return nil
}

// formHash is the idempotency request hash of a web form: the path and
// every field except the CSRF token, the confirm flag and the key itself,
// in a canonical order.
func formHash(r *http.Request) []byte {
	h := sha256.New()
	h.Write([]byte("WEB " + r.Method + " " + r.URL.Path + "\n"))
	keys := make([]string, 0, len(r.PostForm))
	for k := range r.PostForm {
		if k != "csrf" && k != "confirm" && k != "idem" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.PostForm[k] {
			h.Write([]byte(url.QueryEscape(k) + "=" + url.QueryEscape(v) + "\n"))
		}
	}
	return h.Sum(nil)
}

// webIdempotency is the idempotency claim of a form submission. The key
// comes from the form's hidden field; the scope is the token, as in the API.
func (a *webApp) webIdempotency(r *http.Request, c *pageCtx, kind string) (*registry.Idempotency, error) {
	key := r.PostFormValue("idem")
	if key == "" || len(key) > maxIdempotencyKey {
		return nil, registry.FieldErrorf(registry.EINVALID, "idem", "The form has no valid idempotency key; open it again.")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return nil, registry.FieldErrorf(registry.EINVALID, "idem", "The form has no valid idempotency key; open it again.")
		}
	}
	return &registry.Idempotency{Scope: c.sess.tok.ID, Key: key, RequestHash: formHash(r), Kind: kind, CreatedAt: a.s.stamp()}, nil
}

func personFromForm(r *http.Request) personRequest {
	f := r.PostFormValue
	return personRequest{GivenName: f("given_name"), FamilyName: f("family_name"), BirthDate: strings.TrimSpace(f("birth_date")),
		BirthDateEstimated: f("birth_date_estimated") == "on", Sex: f("sex"), Phone: f("phone")}
}

func (a *webApp) clinicRegister(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	req := personFromForm(r)
	demo, err := req.validate(a.s.today())
	if err != nil {
		return a.clinicHomePage(w, r, c, statusOf(registry.ErrorCode(err)), clinicHomeData{Err: toFormErr(err), Person: req,
			Idem: r.PostFormValue("idem"), CardLang: r.PostFormValue("card_lang")})
	}
	idem, err := a.webIdempotency(r, c, "person")
	if err != nil {
		return err
	}
	p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: a.s.stamp(),
		Demographics: demo, HolderSecret: newHolderSecret()}
	sealed, err := registry.SealPerson(a.s.vault, p)
	if err != nil {
		return err
	}
	idem.ResourceID = string(p.CardCode)
	subject, err := a.s.subjectOf(p.ID)
	if err != nil {
		return err
	}
	prev, err := a.s.store.CreatePerson(r.Context(), sealed, registry.Write{Idem: idem, Audit: a.s.auditFor(r, "person.create", "care", subject)})
	if err != nil {
		return err
	}
	code := p.CardCode
	if prev != nil {
		code = registry.CardCode(prev.ResourceID)
	} else {
		lang := r.PostFormValue("card_lang")
		if _, ok := a.locales.byTag[lang]; !ok {
			lang = ""
		}
		a.sessions.rememberSecret(c.sess, code, p.HolderSecret, lang)
	}
	http.Redirect(w, r, personURL(code, "care"), http.StatusSeeOther)
	return nil
}

// doseRow is one dose as the person page shows it.
type doseRow struct {
	ID, Product, Site, Lot, Status string
	Date                           registry.Date
	Source                         registry.Source
	Payment                        registry.Payment
}

type testRow struct {
	ID, Site, Status string
	Kind             registry.TestKind
	Result           registry.TestResult
	Date             registry.Date
}

// personView is a record as the clinic pages show it.
type personView struct {
	Card         string
	HasSecret    bool
	GivenName    string
	FamilyName   string
	BirthDate    registry.PartialDate
	Estimated    bool
	Sex          registry.Sex
	Phone        string
	Doses        []doseRow
	Tests        []testRow
	Forecasts    []schedule.Forecast
	ForecastNote string // a translation key when there is no forecast
	Schedule     string
}

func (a *webApp) viewOf(rec *openedRecord, c *pageCtx) personView {
	d := rec.Person.Demographics
	v := personView{Card: string(rec.Person.CardCode), GivenName: d.GivenName, FamilyName: d.FamilyName, BirthDate: d.BirthDate,
		Estimated: d.BirthDateEstimated, Sex: d.Sex, Phone: d.Phone}
	if c.sess != nil {
		v.HasSecret = a.sessions.cardFor(c.sess, rec.Person.CardCode).secret != ""
	}
	for _, x := range rec.Vaccinations {
		v.Doses = append(v.Doses, doseRow{ID: x.ID.String(), Product: x.Product, Site: x.Site, Lot: x.Lot, Status: x.Status,
			Date: x.Date, Source: x.Source, Payment: x.Payment})
	}
	for _, t := range rec.Tests {
		v.Tests = append(v.Tests, testRow{ID: t.ID.String(), Site: t.Site, Status: t.Status, Kind: t.Kind, Result: t.Result, Date: t.Date})
	}
	v.Forecasts, v.ForecastNote, v.Schedule = a.forecastOf(rec, a.s.now())
	return v
}

// forecastOf forecasts a record as of asOf with the server's schedule. It
// returns the vaccine groups still to do, or a translation key saying why
// there is no forecast.
func (a *webApp) forecastOf(rec *openedRecord, asOf time.Time) ([]schedule.Forecast, string, string) {
	p, _, _, err := a.s.patientOf(rec)
	if err != nil {
		return nil, "forecast.no_birth_date", ""
	}
	sch, err := a.s.scheduleFor("")
	if err != nil {
		return nil, "forecast.unavailable", ""
	}
	res, err := sch.Forecast(p, asOf)
	if err != nil {
		return nil, "forecast.unavailable", sch.Name()
	}
	return res.Forecasts, "", sch.Name()
}

// personPageData is the person page.
type personPageData struct {
	Person  personView
	Forms   clinicForms
	Purpose string
	Check   eligibilityForm
}

func (a *webApp) readForPage(r *http.Request, c *pageCtx, purpose string) (*openedRecord, error) {
	code, err := cardFrom(r)
	if err != nil {
		return nil, err
	}
	if !a.s.lookupByToken.allow(c.sess.tok.ID, a.s.now()) || !a.s.lookupByAddr.allow(clientAddr(r), a.s.now()) {
		return nil, registry.Errorf(registry.ERATELIMITED, "Too many lookups; slow down.")
	}
	return a.s.readRecord(r, code, "person.read", purpose)
}

func (a *webApp) personPage(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	purpose, err := lookupPurpose(r)
	if err != nil {
		return err
	}
	rec, err := a.readForPage(r, c, purpose)
	if err != nil {
		return err
	}
	check, err := a.newCheckForm(r, c, string(rec.Person.CardCode))
	if err != nil && registry.ErrorCode(err) != registry.EUNAVAILABLE {
		return err
	}
	return a.render(w, r, c, http.StatusOK, "person", "person.title", personPageData{Person: a.viewOf(rec, c),
		Forms: a.forms(r, c, rec.Person.CardCode), Purpose: purpose, Check: check})
}

// recordPageData is the confirm step of a dose or a test: the values sent,
// the evaluation the dose would get, the forecast before and after, and any
// warning. With Err set, it is the form shown again with the error.
type recordPageData struct {
	Kind      string // "dose" or "test"
	Card      string
	Forms     clinicForms
	Err       *formErr
	Dose      doseRow
	Test      testRow
	Evals     []schedule.Evaluation
	Warnings  []doseWarning
	Before    []schedule.Forecast
	After     []schedule.Forecast
	NoEvalKey string
}

func doseFromForm(r *http.Request) (vaccinationRequest, doseForm) {
	f := r.PostFormValue
	form := doseForm{Product: f("product"), Date: strings.TrimSpace(f("date")), Site: f("site"), Lot: f("lot"), Source: f("source"),
		Payment: f("payment"), Amount: strings.TrimSpace(f("amount")), Currency: strings.ToUpper(strings.TrimSpace(f("currency"))), Idem: f("idem")}
	req := vaccinationRequest{Product: form.Product, Date: form.Date, Site: form.Site, Lot: form.Lot, Source: form.Source}
	switch form.Payment {
	case "paid":
		req.Payment = &registry.Payment{Kind: "paid", Amount: form.Amount, Currency: form.Currency}
	case "free", "":
	default:
		req.Payment = &registry.Payment{Kind: form.Payment}
	}
	return req, form
}

// recordDose is the dose form's target. Without confirm=1 it validates and
// shows the confirm step; with it, it records the dose once per
// Idempotency-Key and sends the browser to the saved page.
func (a *webApp) recordDose(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	code, err := cardFrom(r)
	if err != nil {
		return err
	}
	req, form := doseFromForm(r)
	forms := a.forms(r, c, code)
	forms.Dose = form
	v, err := a.s.validVaccination(r.Context(), req)
	if err != nil {
		if !userError(err) && registry.ErrorCode(err) != registry.EFORBIDDEN {
			return err
		}
		return a.render(w, r, c, statusOf(registry.ErrorCode(err)), "record", "record.title",
			recordPageData{Kind: "dose", Card: string(code), Forms: forms, Err: toFormErr(err)})
	}
	if r.PostFormValue("confirm") != "1" {
		rec, err := a.readForPage(r, c, "care")
		if err != nil {
			return err
		}
		d := recordPageData{Kind: "dose", Card: string(code), Forms: forms,
			Dose: doseRow{Product: v.Product, Date: v.Date, Site: v.Site, Lot: v.Lot, Source: v.Source, Payment: v.Payment}}
		d.Evals, d.Warnings, d.Before, d.After, d.NoEvalKey = a.previewDose(rec, v)
		return a.render(w, r, c, http.StatusOK, "record", "record.confirm_title", d)
	}
	idem, err := a.webIdempotency(r, c, "vaccination")
	if err != nil {
		return err
	}
	v.ID, v.RecordedAt, v.Status = registry.NewID(), a.s.stamp(), registry.StatusCompleted
	idem.ResourceID = v.ID.String()
	person, err := a.s.store.FindPerson(r.Context(), code)
	if err != nil {
		return err
	}
	subject, err := a.s.subjectOf(person.ID)
	if err != nil {
		return err
	}
	v.PersonID = person.ID
	prev, err := a.s.store.RecordVaccination(r.Context(), v, registry.Write{Idem: idem, Audit: a.s.auditFor(r, "vaccination.create", "care", subject)})
	if err != nil {
		return err
	}
	id := v.ID.String()
	if prev != nil {
		id = prev.ResourceID
	}
	http.Redirect(w, r, savedURL(code, id), http.StatusSeeOther)
	return nil
}

func savedURL(code registry.CardCode, id string) string {
	return "/clinic/p/" + url.PathEscape(string(code)) + "/saved/" + url.PathEscape(id)
}

// previewDose evaluates v as if it were recorded, without recording it:
// the evaluation it would get, the warnings, and the forecast before and
// after. noEval is a translation key when nothing can be evaluated.
func (a *webApp) previewDose(rec *openedRecord, v registry.Vaccination) (evals []schedule.Evaluation, warns []doseWarning, before, after []schedule.Forecast, noEval string) {
	now := a.s.now()
	before, noEval, _ = a.forecastOf(rec, now)
	if noEval != "" {
		return nil, nil, nil, nil, noEval
	}
	v.ID, v.Status = registry.NewID(), registry.StatusCompleted
	with := *rec
	with.Vaccinations = append(slices.Clone(rec.Vaccinations), v)
	sort.SliceStable(with.Vaccinations, func(i, j int) bool {
		return with.Vaccinations[j].Date.After(with.Vaccinations[i].Date)
	})
	p, index, _, err := a.s.patientOf(&with)
	if err != nil {
		return nil, nil, before, nil, "forecast.no_birth_date"
	}
	sch, err := a.s.scheduleFor("")
	if err != nil {
		return nil, nil, before, nil, "forecast.unavailable"
	}
	asOf := now
	if t := v.Date.Time(); t.After(asOf) {
		asOf = t
	}
	res, err := sch.Forecast(p, asOf.Add(24*time.Hour))
	if err != nil {
		return nil, nil, before, nil, "forecast.unavailable"
	}
	found := false
	for i, at := range index {
		if with.Vaccinations[at].ID != v.ID {
			continue
		}
		found = true
		evals = res.EvaluationsFor(i)
		for _, e := range evals {
			if e.Status != schedule.Valid {
				warns = append(warns, doseWarning{Code: string(e.Status), Message: e.Reason})
			}
		}
	}
	if !found {
		noEval = "forecast.product_not_evaluated"
	}
	return evals, warns, before, res.Forecasts, noEval
}

func testFromForm(r *http.Request) (testRequest, testForm) {
	f := r.PostFormValue
	form := testForm{Kind: f("kind"), Result: f("result"), Date: strings.TrimSpace(f("date")), Site: f("site"), Idem: f("idem")}
	return testRequest{Kind: form.Kind, Result: form.Result, Date: form.Date, Site: form.Site}, form
}

// recordTest is recordDose for tests: a confirm step, then one write per
// Idempotency-Key.
func (a *webApp) recordTest(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	code, err := cardFrom(r)
	if err != nil {
		return err
	}
	req, form := testFromForm(r)
	forms := a.forms(r, c, code)
	forms.Test = form
	t, err := a.s.validTest(r.Context(), req)
	if err != nil {
		if !userError(err) && registry.ErrorCode(err) != registry.EFORBIDDEN {
			return err
		}
		return a.render(w, r, c, statusOf(registry.ErrorCode(err)), "record", "record.title",
			recordPageData{Kind: "test", Card: string(code), Forms: forms, Err: toFormErr(err)})
	}
	person, err := a.s.store.FindPerson(r.Context(), code)
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != "1" {
		return a.render(w, r, c, http.StatusOK, "record", "record.confirm_title", recordPageData{Kind: "test", Card: string(code), Forms: forms,
			Test: testRow{Kind: t.Kind, Result: t.Result, Date: t.Date, Site: t.Site}})
	}
	idem, err := a.webIdempotency(r, c, "test")
	if err != nil {
		return err
	}
	t.ID, t.RecordedAt, t.Status, t.PersonID = registry.NewID(), a.s.stamp(), registry.StatusCompleted, person.ID
	idem.ResourceID = t.ID.String()
	subject, err := a.s.subjectOf(person.ID)
	if err != nil {
		return err
	}
	prev, err := a.s.store.RecordTest(r.Context(), t, registry.Write{Idem: idem, Audit: a.s.auditFor(r, "test.create", "care", subject)})
	if err != nil {
		return err
	}
	id := t.ID.String()
	if prev != nil {
		id = prev.ResourceID
	}
	http.Redirect(w, r, savedURL(code, id), http.StatusSeeOther)
	return nil
}

// cardView is the printable card, in the person's language (which may
// differ from the page's).
type cardView struct {
	loc    *locale
	Code   string
	Secret string
	QR     template.URL // data: URI of the QR code's SVG
	Size   string       // "a6" or "receipt"
	Lang   string
}

// T translates key into the card's language.
func (v cardView) T(key string, args ...any) string { return v.loc.text(key, args...) }

func (a *webApp) cardOf(c *pageCtx, code registry.CardCode, lang, size string) (cardView, error) {
	v := cardView{loc: c.loc, Code: string(code), Size: "a6", Lang: c.loc.Tag}
	var nc newCard
	if c.sess != nil {
		nc = a.sessions.cardFor(c.sess, code)
		v.Secret = nc.secret
	}
	if lang == "" {
		lang = nc.lang // the language chosen at registration
	}
	if l, ok := a.locales.byTag[lang]; ok {
		v.loc, v.Lang = l, l.Tag
	}
	if size == "receipt" {
		v.Size = size
	}
	qr, err := cert.NewQR(string(code))
	if err != nil {
		return v, err
	}
	v.QR = svgDataURI(qr.SVG())
	return v, nil
}

func svgDataURI(svg []byte) template.URL {
	return template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg))
}

// savedPageData is the page after a dose or test was recorded: what was
// saved, the next dose due, and the card ready to print.
type savedPageData struct {
	Person   personView
	Dose     *doseRow
	Test     *testRow
	Evals    []schedule.Evaluation
	Warnings []doseWarning
	Card     cardView
	Langs    []*locale
}

func (a *webApp) savedPage(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	rec, err := a.readForPage(r, c, "care")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	d := savedPageData{Person: a.viewOf(rec, c), Langs: a.locales.list}
	p, index, _, perr := a.s.patientOf(rec)
	for _, x := range d.Person.Doses {
		if x.ID == id {
			d.Dose = &x
			break
		}
	}
	for _, x := range d.Person.Tests {
		if x.ID == id {
			d.Test = &x
			break
		}
	}
	if d.Dose == nil && d.Test == nil {
		return registry.FieldErrorf(registry.ENOTFOUND, "id", "No such record on this card.")
	}
	if d.Dose != nil && perr == nil {
		if sch, err := a.s.scheduleFor(""); err == nil {
			if res, err := sch.Forecast(p, a.s.now().Add(24*time.Hour)); err == nil {
				for i, at := range index {
					if rec.Vaccinations[at].ID.String() == id {
						d.Evals = res.EvaluationsFor(i)
					}
				}
				for _, e := range d.Evals {
					if e.Status != schedule.Valid {
						d.Warnings = append(d.Warnings, doseWarning{Code: string(e.Status), Message: e.Reason})
					}
				}
			}
		}
	}
	if d.Card, err = a.cardOf(c, rec.Person.CardCode, r.URL.Query().Get("cardlang"), r.URL.Query().Get("size")); err != nil {
		return err
	}
	return a.render(w, r, c, http.StatusOK, "saved", "saved.title", d)
}

// printCard shows the card alone, for printing on A6 or a receipt printer.
func (a *webApp) printCard(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	code, err := cardFrom(r)
	if err != nil {
		return err
	}
	if !a.s.lookupByToken.allow(c.sess.tok.ID, a.s.now()) || !a.s.lookupByAddr.allow(clientAddr(r), a.s.now()) {
		return registry.Errorf(registry.ERATELIMITED, "Too many lookups; slow down.")
	}
	person, err := a.s.store.FindPerson(r.Context(), code)
	if err != nil {
		return err
	}
	// Showing the card confirms that the card code exists: it is traced
	// like a read, though nothing is decrypted.
	subject, err := a.s.subjectOf(person.ID)
	if err != nil {
		return err
	}
	if err := a.s.store.AppendAudit(r.Context(), *a.s.auditFor(r, "card.print", "care", subject)); err != nil {
		return err
	}
	card, err := a.cardOf(c, code, r.URL.Query().Get("cardlang"), r.URL.Query().Get("size"))
	if err != nil {
		return err
	}
	return a.render(w, r, c, http.StatusOK, "card", "card.title", cardPageData{card, a.locales.list})
}

// cardPageData is the card page.
type cardPageData struct {
	Card  cardView
	Langs []*locale
}

func (d cardPageData) printSize() string  { return d.Card.Size }
func (d savedPageData) printSize() string { return d.Card.Size }
