package web

import (
	"context"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
	"github.com/haven-registry/haven/internal/server/httpx"
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

func (a *App) sitesOf(ctx context.Context, tok *registry.Token) []siteOption {
	var out []siteOption
	for _, code := range tok.Sites {
		site, err := a.svc.FindSite(ctx, code)
		if err != nil {
			continue
		}
		out = append(out, siteOption{Code: site.Code, Name: site.Name, Jurisdiction: site.Jurisdiction, Services: site.Services})
	}
	return out
}

func (a *App) products(c *PageCtx) []productOption {
	var out []productOption
	// The form offers the COVID-19 products; any other vaccine in the
	// catalogue arrives through HL7, FHIR or the API.
	for _, p := range a.svc.Catalog().ProductsFor("COVID-19") {
		out = append(out, productOption{ID: p.ID, Name: p.Name(c.loc.catalog)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// newIdemKey is the Idempotency-Key of one rendered form.
func newIdemKey() string { return "web-" + randomToken(18) }

func (a *App) forms(r *http.Request, c *PageCtx, card registry.CardCode) clinicForms {
	today := registry.DateOf(a.svc.Now()).String()
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
	// Values of the register form, when it is shown again with an error
	// or with the machine-readable names suggested.
	Person clinic.PersonInput
	Names  *nameChoices
	Find   string
}

func (a *App) clinicHomePage(w http.ResponseWriter, r *http.Request, c *PageCtx, status int, d clinicHomeData) error {
	d.Purposes = clinic.Purposes
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

// ClinicHome is the clinic's first page: find a person by card, or register
// one.
func (a *App) ClinicHome(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	return a.clinicHomePage(w, r, c, http.StatusOK, clinicHomeData{})
}

// personURL is the person page, with the purpose of the lookup.
func personURL(code registry.CardCode, purpose string) string {
	return "/clinic/p/" + url.PathEscape(string(code)) + "?purpose=" + url.QueryEscape(purpose)
}

// ClinicFind opens the person page of a card for the purpose given.
func (a *App) ClinicFind(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	code, err := registry.ParseCardCode(r.PostFormValue("card"))
	if err == nil && !slices.Contains(clinic.Purposes, r.PostFormValue("purpose")) {
		err = registry.FieldErrorf(registry.EINVALID, "purpose", "Say why you are looking up this record.")
	}
	if err != nil {
		return a.clinicHomePage(w, r, c, failed(w, err), clinicHomeData{Err: toFormErr(err), Find: r.PostFormValue("card")})
	}
	http.Redirect(w, r, personURL(code, r.PostFormValue("purpose")), http.StatusSeeOther)
	return nil
}

// formIdem is the Idempotency-Key of a form submission, from the form's
// hidden field. Every recording form carries one.
func formIdem(r *http.Request) (string, error) {
	key := r.PostFormValue("idem")
	if key == "" {
		return "", registry.FieldErrorf(registry.EINVALID, "idem", "The form has no valid idempotency key; open it again.")
	}
	return key, nil
}

func personFromForm(r *http.Request) clinic.PersonInput {
	f := r.PostFormValue
	return clinic.PersonInput{GivenName: f("given_name"), FamilyName: f("family_name"), BirthDate: strings.TrimSpace(f("birth_date")),
		BirthDateEstimated: f("birth_date_estimated") == "on", Sex: f("sex"), Phone: f("phone"),
		FamilyNameICAO: icaoFromForm(r, "family_name_icao"), GivenNameICAO: icaoFromForm(r, "given_name_icao")}
}

// ClinicRegister registers a person once per form (its Idempotency-Key),
// keeps the holder secret in the session for printing the card, and opens
// the new person's page. With suggest=1 it registers nothing and shows the
// form again with the machine-readable forms of the names to choose from.
func (a *App) ClinicRegister(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	in := personFromForm(r)
	if r.PostFormValue("suggest") == "1" {
		return a.clinicHomePage(w, r, c, http.StatusOK, clinicHomeData{Person: in, Names: choicesFor(in.FamilyName, in.GivenName, in.FamilyNameICAO, in.GivenNameICAO),
			Idem: r.PostFormValue("idem"), CardLang: r.PostFormValue("card_lang")})
	}
	key, err := formIdem(r)
	if err != nil {
		return err
	}
	reg, err := a.svc.RegisterPerson(r.Context(), c.actor(r), in, key)
	if userError(err) {
		return a.clinicHomePage(w, r, c, failed(w, err), clinicHomeData{Err: toFormErr(err), Person: in,
			Names: choicesFor(in.FamilyName, in.GivenName, in.FamilyNameICAO, in.GivenNameICAO),
			Idem:  r.PostFormValue("idem"), CardLang: r.PostFormValue("card_lang")})
	}
	if err != nil {
		return err
	}
	code := reg.Record.Person.CardCode
	if reg.HolderSecret != "" {
		lang := r.PostFormValue("card_lang")
		if _, ok := a.locales.byTag[lang]; !ok {
			lang = ""
		}
		a.sessions.rememberSecret(c.sess, code, reg.HolderSecret, lang)
	}
	http.Redirect(w, r, personURL(code, "care"), http.StatusSeeOther)
	return nil
}

// doseRow is one dose as the person page shows it. Eval is how the
// schedule evaluates it ("valid", "not_valid"…; "" when not evaluated).
type doseRow struct {
	ID, Product, Site, Lot, Status string
	Reason                         string // why a dose was not given (registry.Reason…), if known
	Date                           registry.Date
	Source                         registry.Source
	Payment                        registry.Payment
	Eval                           schedule.Status
}

// Counted reports whether a certificate may be issued for the dose without
// a clinician's override: the schedule counts it, or did not evaluate it.
func (d doseRow) Counted() bool {
	return d.Eval == "" || d.Eval == schedule.Valid || d.Eval == schedule.Extraneous
}

type testRow struct {
	ID, Site, Status string
	Kind             registry.TestKind
	Result           registry.TestResult
	Date             registry.Date
}

// personView is a record as the clinic pages show it.
type personView struct {
	Card           string
	HasSecret      bool
	GivenName      string
	FamilyName     string
	GivenNameICAO  string
	FamilyNameICAO string
	BirthDate      registry.PartialDate
	Estimated      bool
	Sex            registry.Sex
	Phone          string
	Doses          []doseRow
	Tests          []testRow
	Forecasts      []schedule.Forecast
	ForecastNote   string // a translation key when there is no forecast
	// Correctable marks the clinic's view, whose history offers to mark a
	// record entered in error (the holder's does not).
	Correctable bool
	Schedule    string
}

func (a *App) viewOf(rec *registry.Record, f *clinic.Forecast, c *PageCtx) personView {
	d := rec.Person.Demographics
	v := personView{Card: string(rec.Person.CardCode), GivenName: d.GivenName, FamilyName: d.FamilyName, BirthDate: d.BirthDate,
		Estimated: d.BirthDateEstimated, Sex: d.Sex, Phone: d.Phone, GivenNameICAO: d.GivenNameICAO, FamilyNameICAO: d.FamilyNameICAO}
	if c.sess != nil {
		v.HasSecret = a.sessions.cardFor(c.sess, rec.Person.CardCode).secret != ""
	}
	for _, x := range rec.Vaccinations {
		row := doseRow{ID: x.ID.String(), Product: x.Product, Site: x.Site, Lot: x.Lot, Status: x.Status, Reason: x.StatusReason,
			Date: x.Date, Source: x.Source, Payment: x.Payment}
		if f != nil {
			if evals := f.ByRecord[x.ID]; len(evals) > 0 {
				row.Eval = evals[0].Status
			}
		}
		v.Doses = append(v.Doses, row)
	}
	for _, t := range rec.Tests {
		v.Tests = append(v.Tests, testRow{ID: t.ID.String(), Site: t.Site, Status: t.Status, Kind: t.Kind, Result: t.Result, Date: t.Date})
	}
	if f != nil {
		v.Schedule = f.Schedule
		if f.Unavailable != "" {
			v.ForecastNote = "forecast." + f.Unavailable
		} else {
			v.Forecasts = f.Result.Forecasts
		}
	}
	return v
}

// personPageData is the person page, in sections a link can open directly:
// #person (names and details), #history, #forecast (with the visit form),
// #record, #eligibility and #certificate.
type personPageData struct {
	Person  personView
	Names   *nameChoices
	Forms   clinicForms
	Purpose string
	Check   eligibilityForm
	Visit   visitForm
	// Err is the visit form's error, which marks its field.
	Err *formErr
}

// overview reads the page's person for purpose, with the forecast.
func (a *App) overview(r *http.Request, c *PageCtx, purpose string) (*clinic.Overview, error) {
	code, err := httpx.CardFrom(r)
	if err != nil {
		return nil, err
	}
	return a.svc.Overview(r.Context(), c.actor(r), code, purpose, nil)
}

// personData is the person page for a record read with purpose.
func (a *App) personData(r *http.Request, c *PageCtx, o *clinic.Overview, purpose string) (personPageData, error) {
	check, err := a.newCheckForm(r, c, string(o.Record.Person.CardCode))
	if err != nil && registry.ErrorCode(err) != registry.EUNAVAILABLE {
		return personPageData{}, err
	}
	v := a.viewOf(o.Record, o.Forecast, c)
	v.Correctable = true
	d := personPageData{Person: v, Forms: a.forms(r, c, o.Record.Person.CardCode), Purpose: purpose, Check: check,
		Visit: newVisitForm(o.Forecast.Schedule)}
	if v.FamilyName != "" || v.GivenName != "" {
		d.Names = choicesFor(v.FamilyName, v.GivenName, &v.FamilyNameICAO, &v.GivenNameICAO)
	}
	return d, nil
}

// PersonPage shows a person's record for the purpose in the query, with the
// forecast, the eligibility form and the forms to record a dose or a test.
func (a *App) PersonPage(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	purpose := r.URL.Query().Get("purpose")
	o, err := a.overview(r, c, purpose)
	if err != nil {
		return err
	}
	d, err := a.personData(r, c, o, purpose)
	if err != nil {
		return err
	}
	return a.render(w, r, c, http.StatusOK, "person", "person.title", d)
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
	Warnings  []clinic.Warning
	Before    []schedule.Forecast
	After     []schedule.Forecast
	NoEvalKey string
}

func doseFromForm(r *http.Request) (clinic.VaccinationInput, doseForm) {
	f := r.PostFormValue
	form := doseForm{Product: f("product"), Date: strings.TrimSpace(f("date")), Site: f("site"), Lot: f("lot"), Source: f("source"),
		Payment: f("payment"), Amount: strings.TrimSpace(f("amount")), Currency: strings.ToUpper(strings.TrimSpace(f("currency"))), Idem: f("idem")}
	req := clinic.VaccinationInput{Product: form.Product, Date: form.Date, Site: form.Site, Lot: form.Lot, Source: form.Source}
	switch form.Payment {
	case "paid":
		req.Payment = &registry.Payment{Kind: "paid", Amount: form.Amount, Currency: form.Currency}
	case "free", "":
	default:
		req.Payment = &registry.Payment{Kind: form.Payment}
	}
	return req, form
}

// RecordDose is the dose form's target. Without confirm=1 it validates and
// shows the confirm step; with it, it records the dose once per
// Idempotency-Key and sends the browser to the saved page.
func (a *App) RecordDose(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	code, err := httpx.CardFrom(r)
	if err != nil {
		return err
	}
	in, form := doseFromForm(r)
	forms := a.forms(r, c, code)
	forms.Dose = form
	formError := func(err error) error {
		if !userError(err) && registry.ErrorCode(err) != registry.EFORBIDDEN {
			return err
		}
		return a.render(w, r, c, failed(w, err), "record", "record.title",
			recordPageData{Kind: "dose", Card: string(code), Forms: forms, Err: toFormErr(err)})
	}
	if r.PostFormValue("confirm") != "1" {
		p, err := a.svc.PreviewVaccination(r.Context(), c.actor(r), code, in)
		if err != nil {
			return formError(err)
		}
		v := p.Vaccination
		d := recordPageData{Kind: "dose", Card: string(code), Forms: forms,
			Dose:  doseRow{Product: v.Product, Date: v.Date, Site: v.Site, Lot: v.Lot, Source: v.Source, Payment: v.Payment},
			Evals: p.Evaluation}
		d.Warnings, d.NoEvalKey = splitWarnings(p.Warnings)
		if p.Before.Unavailable != "" {
			d.NoEvalKey = "forecast." + p.Before.Unavailable
		} else {
			d.Before = p.Before.Result.Forecasts
		}
		if p.After.Unavailable == "" && d.NoEvalKey == "" {
			d.After = p.After.Result.Forecasts
		}
		return a.render(w, r, c, http.StatusOK, "record", "record.confirm_title", d)
	}
	key, err := formIdem(r)
	if err != nil {
		return err
	}
	dose, err := a.svc.RecordVaccination(r.Context(), c.actor(r), code, in, key)
	if err != nil {
		return formError(err)
	}
	http.Redirect(w, r, savedURL(code, dose.Vaccination.ID.String()), http.StatusSeeOther)
	return nil
}

// splitWarnings separates the warnings about a dose the schedule does not
// count from the one saying it could not be evaluated, which the pages show
// as a note (a translation key).
func splitWarnings(ws []clinic.Warning) (warns []clinic.Warning, noEvalKey string) {
	for _, w := range ws {
		if w.NotEvaluated != "" {
			noEvalKey = "forecast." + w.NotEvaluated
			continue
		}
		warns = append(warns, w)
	}
	return warns, noEvalKey
}

func savedURL(code registry.CardCode, id string) string {
	return "/clinic/p/" + url.PathEscape(string(code)) + "/saved/" + url.PathEscape(id)
}

func testFromForm(r *http.Request) (clinic.TestInput, testForm) {
	f := r.PostFormValue
	form := testForm{Kind: f("kind"), Result: f("result"), Date: strings.TrimSpace(f("date")), Site: f("site"), Idem: f("idem")}
	return clinic.TestInput{Kind: form.Kind, Result: form.Result, Date: form.Date, Site: form.Site}, form
}

// RecordTest is RecordDose for tests: a confirm step, then one write per
// Idempotency-Key.
func (a *App) RecordTest(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	code, err := httpx.CardFrom(r)
	if err != nil {
		return err
	}
	in, form := testFromForm(r)
	forms := a.forms(r, c, code)
	forms.Test = form
	formError := func(err error) error {
		if !userError(err) && registry.ErrorCode(err) != registry.EFORBIDDEN {
			return err
		}
		return a.render(w, r, c, failed(w, err), "record", "record.title",
			recordPageData{Kind: "test", Card: string(code), Forms: forms, Err: toFormErr(err)})
	}
	if r.PostFormValue("confirm") != "1" {
		t, err := a.svc.PreviewTest(r.Context(), c.actor(r), code, in)
		if err != nil {
			return formError(err)
		}
		return a.render(w, r, c, http.StatusOK, "record", "record.confirm_title", recordPageData{Kind: "test", Card: string(code), Forms: forms,
			Test: testRow{Kind: t.Kind, Result: t.Result, Date: t.Date, Site: t.Site}})
	}
	key, err := formIdem(r)
	if err != nil {
		return err
	}
	t, err := a.svc.RecordTest(r.Context(), c.actor(r), code, in, key)
	if err != nil {
		return formError(err)
	}
	http.Redirect(w, r, savedURL(code, t.Test.ID.String()), http.StatusSeeOther)
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
	// Due is what the card says of the next dose: "now" (a dose is due or
	// overdue), "from" (Next is the earliest date of the next one) or "".
	Due  string
	Next string
}

// T translates key into the card's language.
func (v cardView) T(key string, args ...any) string { return v.loc.text(key, args...) }

// Date formats a date (YYYY-MM-DD) in the card's language.
func (v cardView) Date(s string) string {
	if d, err := registry.ParseDate(s); err == nil {
		return v.loc.dateFmt(d)
	}
	return s
}

// withDue notes on the card when the next dose is due.
func (v *cardView) withDue(due dueView) {
	switch {
	case due.DueNow:
		v.Due = "now"
	case due.Next != "":
		v.Due, v.Next = "from", due.Next
	}
}

func (a *App) cardOf(c *PageCtx, code registry.CardCode, lang, size string) (cardView, error) {
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
	Warnings []clinic.Warning
	Card     cardView
	Langs    []*locale
}

// SavedPage shows a dose or test just recorded, its evaluation and the card
// ready to print.
func (a *App) SavedPage(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	o, err := a.overview(r, c, "care")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	d := savedPageData{Person: a.viewOf(o.Record, o.Forecast, c), Langs: a.locales.list}
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
	if rid, err := registry.ParseID(id); err == nil && d.Dose != nil {
		d.Evals = o.Forecast.ByRecord[rid]
		for _, e := range d.Evals {
			if e.Status != schedule.Valid {
				d.Warnings = append(d.Warnings, clinic.Warning{Code: string(e.Status), Message: e.Reason})
			}
		}
	}
	if d.Card, err = a.cardOf(c, o.Record.Person.CardCode, r.URL.Query().Get("cardlang"), r.URL.Query().Get("size")); err != nil {
		return err
	}
	d.Card.withDue(c.Due(d.Person.Forecasts))
	return a.render(w, r, c, http.StatusOK, "saved", "saved.title", d)
}

// PrintCard shows the card alone, for printing on A6 or a receipt printer.
func (a *App) PrintCard(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	code, err := httpx.CardFrom(r)
	if err != nil {
		return err
	}
	if err := a.svc.PrintCard(r.Context(), c.actor(r), code); err != nil {
		return err
	}
	card, err := a.cardOf(c, code, r.URL.Query().Get("cardlang"), r.URL.Query().Get("size"))
	if err != nil {
		return err
	}
	// The next dose due is printed on the card. Without a birth date there
	// is no forecast, and the card says nothing of it.
	f, err := a.svc.ForecastPerson(r.Context(), c.actor(r), code, clinic.ForecastInput{})
	switch {
	case err == nil:
		card.withDue(c.Due(f.Result.Forecasts))
	case !userError(err):
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
