package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
	"github.com/haven-registry/haven/internal/translit"
)

// Names in every script, and corrections. A name is kept as written
// (Hangul, Hanzi, Latin, Cyrillic…) with its machine-readable form (ICAO
// 9303: A–Z and <), which certificates carry as fnt and gnt. The pages show
// the form beside the name, with the spellings to choose from (the strict
// Revised Romanization GIM and the passport spelling KIM of 김), and a field
// to type it where no suggestion fits. A person's details are corrected
// behind a confirm step, and a dose or test is marked entered in error
// behind another; both are audited with the purpose "correction".

// nameChoice is one part of a name with the machine-readable forms to pick
// from: the suggestion first, then the other spellings.
type nameChoice struct {
	Part    string // "family" or "given"
	Field   string // the form field: family_name_icao or given_name_icao
	Name    string // as written
	Options []string
	// Current is the form stored or chosen; Other is set when it is none of
	// the options (typed by the clinic).
	Current string
	Other   bool
	// Problem is why the part cannot be transliterated (a catalogue key
	// suffix: mixed_scripts, unsupported_script…); the clinic types it.
	Problem string
}

// nameChoices are both parts of a name.
type nameChoices struct{ Family, Given nameChoice }

// Parts lists the parts that have a name, family first.
func (n *nameChoices) Parts() []nameChoice {
	var out []nameChoice
	for _, p := range []nameChoice{n.Family, n.Given} {
		if p.Name != "" {
			out = append(out, p)
		}
	}
	return out
}

// choicesFor suggests the machine-readable forms of a name; famICAO and
// givICAO, when set and not empty, are the forms chosen so far. It is nil
// for a person without a name.
func choicesFor(family, given string, famICAO, givICAO *string) *nameChoices {
	if strings.TrimSpace(family) == "" && strings.TrimSpace(given) == "" {
		return nil
	}
	forms := clinic.SuggestNames(family, given)
	part := func(p, name string, f clinic.NameForm, chosen *string) nameChoice {
		c := nameChoice{Part: p, Field: p + "_name_icao", Name: name, Problem: f.Problem}
		if f.ICAO != "" {
			c.Options = append(c.Options, f.ICAO)
		}
		for _, s := range f.Suggestions {
			if s != "" && !slices.Contains(c.Options, s) {
				c.Options = append(c.Options, s)
			}
		}
		c.Current = f.ICAO
		if chosen != nil && *chosen != "" {
			c.Current = normICAO(*chosen)
		}
		c.Other = c.Current != "" && !slices.Contains(c.Options, c.Current)
		return c
	}
	return &nameChoices{Family: part("family", family, forms.Family, famICAO), Given: part("given", given, forms.Given, givICAO)}
}

// normICAO writes a typed machine-readable name as the action stores it:
// upper case, with spaces and hyphens as "<".
func normICAO(s string) string {
	return strings.NewReplacer(" ", "<", "-", "<").Replace(strings.ToUpper(strings.TrimSpace(s)))
}

// icaoFromForm reads a machine-readable name from a form: the typed form
// (field_other) when given, else the option chosen; nil when neither, so
// that the action suggests one.
func icaoFromForm(r *http.Request, field string) *string {
	if v := strings.TrimSpace(r.PostFormValue(field + "_other")); v != "" {
		return &v
	}
	if v := strings.TrimSpace(r.PostFormValue(field)); v != "" {
		return &v
	}
	return nil
}

// ICAOName is a machine-readable name as a person reads it: "GIM MINJUN".
func ICAOName(family, given string) string {
	return strings.TrimSpace(strings.ReplaceAll(family+" "+given, "<", " "))
}

// personValues are a person's details as the edit form holds them.
type personValues struct {
	FamilyName, GivenName, FamilyNameICAO, GivenNameICAO string
	BirthDate, Sex, Phone                                string
	Estimated                                            bool
}

func valuesOf(d registry.Demographics) personValues {
	return personValues{FamilyName: d.FamilyName, GivenName: d.GivenName, FamilyNameICAO: d.FamilyNameICAO, GivenNameICAO: d.GivenNameICAO,
		BirthDate: d.BirthDate.String(), Sex: string(d.Sex), Phone: d.Phone, Estimated: d.BirthDateEstimated}
}

// editChange is one field an edit changes, as the confirm step lists it.
type editChange struct {
	Field, Before, After string
}

// editPageData is the edit form and its confirm step.
type editPageData struct {
	Card   string
	Values personValues
	Names  *nameChoices
	Sexes  []registry.Sex
	Idem   string
	Err    *formErr
	// The confirm step: the changes, and the fields to send again.
	Changes   []editChange
	Confirm   url.Values
	Unchanged bool
}

// HiddenFields lists the confirm step's fields in a stable order.
func (d editPageData) HiddenFields() [][2]string {
	var out [][2]string
	for _, k := range editFields {
		if vs, ok := d.Confirm[k]; ok {
			out = append(out, [2]string{k, vs[0]})
		}
	}
	return out
}

// editFields are the fields a correction may change, in the order the
// confirm step lists them.
var editFields = []string{"family_name", "given_name", "family_name_icao", "given_name_icao", "birth_date", "birth_date_estimated", "sex", "phone"}

func (a *App) editPage(w http.ResponseWriter, r *http.Request, c *PageCtx, status int, d editPageData) error {
	d.Sexes = []registry.Sex{registry.SexFemale, registry.SexMale, registry.SexOther, registry.SexUnknown}
	if d.Idem == "" {
		d.Idem = newIdemKey()
	}
	if d.Names == nil && (d.Values.FamilyName != "" || d.Values.GivenName != "") {
		d.Names = choicesFor(d.Values.FamilyName, d.Values.GivenName, &d.Values.FamilyNameICAO, &d.Values.GivenNameICAO)
	}
	title := "edit.title"
	if d.Changes != nil {
		title = "edit.confirm_title"
	}
	return a.render(w, r, c, status, "edit", title, d)
}

// EditPersonForm shows a person's details in a form to correct them. The
// record is read with the purpose "correction".
func (a *App) EditPersonForm(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	code, err := httpx.CardFrom(r)
	if err != nil {
		return err
	}
	rec, err := a.svc.ReadRecord(r.Context(), c.actor(r), code, "correction")
	if err != nil {
		return err
	}
	return a.editPage(w, r, c, http.StatusOK, editPageData{Card: string(code), Values: valuesOf(rec.Person.Demographics)})
}

// editedValues applies the fields a form sent to before. A field the form
// does not hold is left as it is (the person page's names form sends only
// the machine-readable names). A machine-readable form follows its name:
// when the name changes and the form was left as it was, it is suggested
// again from the new name.
func editedValues(r *http.Request, before personValues) personValues {
	after := before
	set := func(dst *string, field string) {
		if _, ok := r.PostForm[field]; ok {
			*dst = strings.TrimSpace(r.PostFormValue(field))
		}
	}
	set(&after.FamilyName, "family_name")
	set(&after.GivenName, "given_name")
	set(&after.BirthDate, "birth_date")
	set(&after.Sex, "sex")
	set(&after.Phone, "phone")
	if r.PostFormValue("form") == "full" {
		after.Estimated = r.PostFormValue("birth_date_estimated") == "on"
	}
	if after.BirthDate == "" {
		after.Estimated = false
	}
	forms := clinic.SuggestNames(after.FamilyName, after.GivenName)
	icao := func(field, name, prevName, prev, suggested string) string {
		chosen := icaoFromForm(r, field)
		switch {
		case chosen != nil && (name == prevName || normICAO(*chosen) != prev):
			return normICAO(*chosen)
		case name != prevName:
			return suggested
		}
		return prev
	}
	after.FamilyNameICAO = icao("family_name_icao", after.FamilyName, before.FamilyName, before.FamilyNameICAO, forms.Family.ICAO)
	after.GivenNameICAO = icao("given_name_icao", after.GivenName, before.GivenName, before.GivenNameICAO, forms.Given.ICAO)
	return after
}

// changes lists what differs between before and after, and the fields a
// confirm step sends to make the change.
func changes(before, after personValues) ([]editChange, url.Values) {
	var out []editChange
	send := url.Values{}
	add := func(field, b, a string) {
		if a != b {
			out = append(out, editChange{Field: field, Before: b, After: a})
			send.Set(field, a)
		}
	}
	add("family_name", before.FamilyName, after.FamilyName)
	add("given_name", before.GivenName, after.GivenName)
	add("family_name_icao", before.FamilyNameICAO, after.FamilyNameICAO)
	add("given_name_icao", before.GivenNameICAO, after.GivenNameICAO)
	add("birth_date", before.BirthDate, after.BirthDate)
	add("birth_date_estimated", strconv.FormatBool(before.Estimated), strconv.FormatBool(after.Estimated))
	add("sex", before.Sex, after.Sex)
	add("phone", before.Phone, after.Phone)
	return out, send
}

// checkValues finds the mistakes the confirm step can show before the
// action sees them; the action checks everything again.
func (a *App) checkValues(v personValues) error {
	if v.BirthDate != "" {
		bd, err := registry.ParsePartialDate(v.BirthDate)
		if err != nil {
			return registry.FieldErrorf(registry.EINVALID, "birth_date", "%v.", err)
		}
		if bd.Earliest().After(registry.DateOf(a.svc.Now())) {
			return registry.FieldErrorf(registry.EINVALID, "birth_date", "The birth date is in the future.")
		}
	}
	if v.Sex != "" && !registry.Sex(v.Sex).Valid() {
		return registry.FieldErrorf(registry.EINVALID, "sex", "Sex must be female, male, other or unknown.")
	}
	for field, s := range map[string]string{"family_name_icao": v.FamilyNameICAO, "given_name_icao": v.GivenNameICAO} {
		if s != "" && !translit.ValidICAO(s) {
			return registry.FieldErrorf(registry.EINVALID, field, "Use only the letters A to Z and < (at most %d).", translit.MaxICAO)
		}
	}
	return nil
}

// editOf is the correction a confirm step's fields ask for.
func editOf(r *http.Request) clinic.PersonEdit {
	var e clinic.PersonEdit
	ptr := func(field string) *string {
		if _, ok := r.PostForm[field]; !ok {
			return nil
		}
		v := r.PostFormValue(field)
		return &v
	}
	e.FamilyName, e.GivenName = ptr("family_name"), ptr("given_name")
	e.FamilyNameICAO, e.GivenNameICAO = ptr("family_name_icao"), ptr("given_name_icao")
	e.BirthDate, e.Sex, e.Phone = ptr("birth_date"), ptr("sex"), ptr("phone")
	if v := ptr("birth_date_estimated"); v != nil {
		b := *v == "true"
		e.BirthDateEstimated = &b
	}
	return e
}

// EditPerson is the edit form's target. Without confirm=1 it shows what
// would change (the confirm step); with it, it corrects the person once per
// Idempotency-Key and returns to the person page.
func (a *App) EditPerson(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	code, err := httpx.CardFrom(r)
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") == "1" {
		key, err := formIdem(r)
		if err != nil {
			return err
		}
		_, err = a.svc.EditPerson(r.Context(), c.actor(r), code, editOf(r), key)
		if userError(err) {
			rec, rerr := a.svc.ReadRecord(r.Context(), c.actor(r), code, "correction")
			if rerr != nil {
				return rerr
			}
			before := valuesOf(rec.Person.Demographics)
			return a.editPage(w, r, c, failed(w, err), editPageData{Card: string(code), Values: editedValues(r, before), Err: toFormErr(err)})
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, personURL(code, "correction")+"#person", http.StatusSeeOther)
		return nil
	}
	rec, err := a.svc.ReadRecord(r.Context(), c.actor(r), code, "correction")
	if err != nil {
		return err
	}
	before := valuesOf(rec.Person.Demographics)
	after := editedValues(r, before)
	d := editPageData{Card: string(code), Values: after, Idem: r.PostFormValue("idem")}
	if err := a.checkValues(after); err != nil {
		d.Err = toFormErr(err)
		return a.editPage(w, r, c, failed(w, err), d)
	}
	d.Changes, d.Confirm = changes(before, after)
	if len(d.Changes) == 0 {
		d.Changes, d.Unchanged = nil, true
	}
	return a.editPage(w, r, c, http.StatusOK, d)
}

// correctPageData is the confirm step of marking a record entered in error.
type correctPageData struct {
	Card string
	// ID is the record's; Done says it is already marked entered in error.
	ID   string
	Done bool
	Dose *doseRow
	Test *testRow
	// Others are the records of the same kind that may replace it.
	Doses []doseRow
	Tests []testRow
	Idem  string
	Err   *formErr
}

func (a *App) correctPage(w http.ResponseWriter, r *http.Request, c *PageCtx, status int, code registry.CardCode, d correctPageData) error {
	rec, err := a.svc.ReadRecord(r.Context(), c.actor(r), code, "correction")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	v := a.viewOf(rec, nil, c)
	for _, x := range v.Doses {
		if x.ID == id {
			d.Dose = &x
		} else if x.Status == registry.StatusCompleted {
			d.Doses = append(d.Doses, x)
		}
	}
	for _, x := range v.Tests {
		if x.ID == id {
			d.Test = &x
		} else if x.Status == registry.StatusCompleted {
			d.Tests = append(d.Tests, x)
		}
	}
	switch {
	case d.Dose != nil:
		d.Done = d.Dose.Status == registry.StatusEnteredInError
	case d.Test != nil:
		d.Done = d.Test.Status != registry.StatusCompleted
	default:
		return registry.FieldErrorf(registry.ENOTFOUND, "id", "This person has no such record.")
	}
	d.Card, d.ID = string(code), id
	if d.Idem == "" {
		d.Idem = newIdemKey()
	}
	return a.render(w, r, c, status, "correct", "correct.title", d)
}

// CorrectionForm asks to confirm that a dose or test was entered in error,
// and which record (if any) replaces it.
func (a *App) CorrectionForm(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	code, err := httpx.CardFrom(r)
	if err != nil {
		return err
	}
	return a.correctPage(w, r, c, http.StatusOK, code, correctPageData{})
}

// MarkEnteredInError marks a dose or test entered in error, once per
// Idempotency-Key, and returns to the person's history.
func (a *App) MarkEnteredInError(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	code, err := httpx.CardFrom(r)
	if err != nil {
		return err
	}
	id, err := registry.ParseID(r.PathValue("id"))
	if err != nil {
		return registry.FieldErrorf(registry.EINVALID, "id", "Malformed record ID.")
	}
	key, err := formIdem(r)
	if err != nil {
		return err
	}
	_, err = a.svc.MarkEnteredInError(r.Context(), c.actor(r), code, id, clinic.Correction{ReplacedBy: r.PostFormValue("replaced_by")}, key)
	if err != nil {
		if !userError(err) && registry.ErrorCode(err) != registry.EFORBIDDEN {
			return err
		}
		return a.correctPage(w, r, c, failed(w, err), code, correctPageData{Err: toFormErr(err), Idem: r.PostFormValue("idem")})
	}
	http.Redirect(w, r, personURL(code, "correction")+"#history", http.StatusSeeOther)
	return nil
}

// ICAOName shows a person's machine-readable name as it is read.
func (c *PageCtx) ICAOName(family, given string) string { return ICAOName(family, given) }

// EditValue shows a value of a person's details in the page's language:
// sex and the estimated mark translated, an empty value as a dash, a
// machine-readable name as it is read.
func (c *PageCtx) EditValue(field, value string) string {
	switch {
	case field == "birth_date_estimated":
		if value == "true" {
			return c.loc.text("form.yes")
		}
		return c.loc.text("form.no")
	case value == "":
		return "—"
	case field == "sex":
		return c.TOr("sex.", value)
	case field == "birth_date":
		if p, err := registry.ParsePartialDate(value); err == nil {
			return c.Date(p)
		}
	case strings.HasSuffix(field, "_icao"):
		return strings.ReplaceAll(value, "<", " ")
	}
	return value
}
