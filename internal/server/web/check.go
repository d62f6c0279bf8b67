package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
)

// The eligibility check. The facts (residence status and the rest) travel
// in a POST body, are used for one decision, shown back to the same
// browser, and forgotten: they are not stored, not logged and not audited,
// and the page says so.

// jurOption is one jurisdiction of the place list, indented by depth.
type jurOption struct {
	Code, Name string
	Depth      int
}

// factField is one input of the facts form.
type factField struct {
	Name, Type, Value, Description string
	Statuses                       []policy.Status
	Min, Max                       int64
}

// eligibilityForm is the facts form with its current values.
type eligibilityForm struct {
	Card          string
	Pack          string
	Packs         []string
	Jurisdictions []jurOption
	Jurisdiction  string
	Service       string
	Services      []string
	AsOf          string
	Facts         []factField
}

// jurisdictionTree lists a pack's jurisdictions depth-first, each after its
// parent.
func jurisdictionTree(p *policy.Pack) []jurOption {
	children := map[string][]string{}
	var roots []string
	for _, code := range p.Jurisdictions() {
		parent, _ := p.Parent(code)
		if parent == "" {
			roots = append(roots, code)
		} else {
			children[parent] = append(children[parent], code)
		}
	}
	var out []jurOption
	var walk func(code string, depth int)
	walk = func(code string, depth int) {
		out = append(out, jurOption{Code: code, Name: p.JurisdictionName(code), Depth: depth})
		for _, c := range children[code] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return out
}

// Indent is the prefix that shows a jurisdiction's depth in a list.
func (j jurOption) Indent() string { return strings.Repeat("\u00a0\u00a0", j.Depth) }

func (a *App) packFor(name string) (*policy.Pack, error) {
	if a.svc.Policy() == nil {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "No policy packs are loaded.")
	}
	if name == "" {
		return a.svc.Policy().Default(), nil
	}
	p, ok := a.svc.Policy().Pack(name)
	if !ok {
		return nil, registry.FieldErrorf(registry.EINVALID, "pack", "Unknown policy pack %q.", name)
	}
	return p, nil
}

func packNames(e *policy.Engine) []string {
	var out []string
	for _, p := range e.Packs() {
		out = append(out, p.Name)
	}
	return out
}

// newCheckForm is an empty facts form: the place defaults to the
// vaccinator's first site's jurisdiction, the date to today.
func (a *App) newCheckForm(r *http.Request, c *PageCtx, card string) (eligibilityForm, error) {
	p, err := a.packFor("")
	if err != nil {
		return eligibilityForm{}, err
	}
	f := eligibilityForm{Card: card, Pack: p.Name, Packs: packNames(a.svc.Policy()), Jurisdictions: jurisdictionTree(p),
		Service: policy.ServiceVaccination, Services: policy.Services, AsOf: registry.DateOf(a.svc.Now()).String()}
	if c.sess != nil {
		for _, site := range a.sitesOf(r.Context(), c.sess.tok) {
			if _, ok := p.Parent(site.Jurisdiction); ok {
				f.Jurisdiction = site.Jurisdiction
				break
			}
		}
	}
	f.Facts = factFields(p, nil)
	return f, nil
}

// factFields lists the built-in facts and the pack's own, with the values
// sent (if any).
func factFields(p *policy.Pack, values map[string]string) []factField {
	var out []factField
	for _, d := range append(slices.Clone(policy.BuiltinFacts), p.Facts...) {
		f := factField{Name: d.Name, Type: string(d.Type), Description: d.Description, Min: d.Min, Max: d.Max, Value: values[d.Name]}
		if d.Type == policy.TypeStatus {
			f.Statuses = policy.Statuses
		}
		out = append(out, f)
	}
	return out
}

// CheckForm shows an empty eligibility form; a vaccinator's carries the
// card of the person it is for.
func (a *App) CheckForm(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	card := ""
	if c.sess.tok.Role == registry.RoleVaccinator {
		if code, err := registry.ParseCardCode(r.URL.Query().Get("card")); err == nil {
			card = string(code)
		}
	}
	f, err := a.newCheckForm(r, c, card)
	if err != nil {
		return err
	}
	return a.render(w, r, c, http.StatusOK, "check", "check.title", checkPageData{Form: f})
}

// checkPageData is the eligibility page: the form and, after a POST, the
// decision (or the error that prevented one), and the dose form when the
// check was made for a registered person who may be vaccinated.
type checkPageData struct {
	Form     eligibilityForm
	Decision *policy.Decision
	Err      *formErr
	Forms    *clinicForms
}

// factsFromForm reads the facts inputs. An empty input is a fact not given.
func factsFromForm(r *http.Request, p *policy.Pack) (map[string]any, map[string]string, error) {
	facts := map[string]any{}
	values := map[string]string{}
	for _, d := range append(slices.Clone(policy.BuiltinFacts), p.Facts...) {
		raw := strings.TrimSpace(r.PostFormValue("fact." + d.Name))
		if raw == "" {
			continue
		}
		values[d.Name] = raw
		field := "facts." + d.Name
		switch d.Type {
		case policy.TypeBool:
			switch raw {
			case "yes":
				facts[d.Name] = true
			case "no":
				facts[d.Name] = false
			default:
				return nil, values, registry.FieldErrorf(registry.EINVALID, field, "Answer yes or no.")
			}
		case policy.TypeInt:
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return nil, values, registry.FieldErrorf(registry.EINVALID, field, "Enter a whole number.")
			}
			facts[d.Name] = n
		case policy.TypeDouble:
			x, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				return nil, values, registry.FieldErrorf(registry.EINVALID, field, "Enter a number.")
			}
			facts[d.Name] = x
		default:
			facts[d.Name] = raw
		}
	}
	return facts, values, nil
}

// Check decides one eligibility question. Nothing of the facts is kept:
// they live in this request only.
func (a *App) Check(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	p, err := a.packFor(r.PostFormValue("pack"))
	if err != nil {
		return err
	}
	f := eligibilityForm{Pack: p.Name, Packs: packNames(a.svc.Policy()), Jurisdictions: jurisdictionTree(p), Services: policy.Services,
		Jurisdiction: r.PostFormValue("jurisdiction"), Service: r.PostFormValue("service"), AsOf: strings.TrimSpace(r.PostFormValue("as_of"))}
	if c.sess.tok.Role == registry.RoleVaccinator {
		if code, err := registry.ParseCardCode(r.PostFormValue("card")); err == nil {
			f.Card = string(code)
		}
	}
	facts, values, err := factsFromForm(r, p)
	f.Facts = factFields(p, values)
	d := checkPageData{Form: f}
	if err == nil {
		var raw []byte
		raw, err = json.Marshal(facts)
		if err == nil {
			d.Decision, err = a.svc.Decide(r.Context(), c.actor(r), policy.EligibilityRequest{Pack: p.Name, Jurisdiction: f.Jurisdiction,
				Service: f.Service, AsOf: f.AsOf, Facts: raw, Lang: c.loc.Tag})
		}
	}
	if err != nil {
		if !userError(err) {
			return err
		}
		d.Err = toFormErr(err)
		return a.render(w, r, c, failed(w, err), "check", "check.title", d)
	}
	if f.Card != "" && (d.Decision.Outcome == policy.Eligible || d.Decision.Outcome == policy.EligiblePaid) && f.Service == policy.ServiceVaccination {
		code, _ := registry.ParseCardCode(f.Card)
		forms := a.forms(r, c, code)
		if fee := d.Decision.Fee; fee != nil && d.Decision.Outcome == policy.EligiblePaid {
			forms.Dose.Payment, forms.Dose.Amount, forms.Dose.Currency = "paid", fee.Amount, fee.Currency
		}
		forms.Dose.Date = f.AsOf
		d.Forms = &forms
	}
	return a.render(w, r, c, http.StatusOK, "check", "check.title", d)
}

// Jur names a jurisdiction in the page's language, falling back to the
// pack's name for it.
func (c *PageCtx) Jur(code string) string {
	if c.loc.has("jur." + code) {
		return c.loc.text("jur." + code)
	}
	if c.app.svc.Policy() != nil {
		for _, p := range c.app.svc.Policy().Packs() {
			if n := p.JurisdictionName(code); n != "" {
				return n
			}
		}
	}
	return code
}

// Fact labels a fact: the catalogue's label, or (on an English page) the
// pack's description of a fact the catalogue does not know.
func (c *PageCtx) Fact(f factField) string {
	if c.loc.has("fact." + f.Name) {
		return c.loc.text("fact." + f.Name)
	}
	if c.loc.Tag == "en" && f.Description != "" {
		return f.Description
	}
	return c.factLabel(f.Name)
}

// criteriaMet says whether an obtainable status's criteria are met: "yes",
// "no" or "unknown".
func criteriaMet(b *bool) string {
	switch {
	case b == nil:
		return "unknown"
	case *b:
		return "yes"
	}
	return "no"
}

// PackText is a policy pack's title or description ("title",
// "description") in the page's language: the catalogue's translation, or
// the pack's own English text on an English page ("" elsewhere).
func (c *PageCtx) PackText(p *policy.Pack, what string) string {
	if p == nil {
		return ""
	}
	if k := "pack." + p.Name + "." + what; c.loc.has(k) {
		return c.loc.text(k)
	}
	if c.loc.Tag != "en" {
		return ""
	}
	if what == "title" {
		return p.Title
	}
	return p.Description
}

// policyNoteKey is the catalogue key of a policy note: the note's text,
// with its spacing made plain, names it (packs write notes in English and
// give them no key of their own).
func policyNoteKey(note string) string {
	sum := sha256.Sum256([]byte(strings.Join(strings.Fields(note), " ")))
	return "policynote." + hex.EncodeToString(sum[:4])
}

// PolicyNote is what a rule assumed, in the page's language: the
// catalogue's translation of the pack's note, or the note itself on an
// English page ("" elsewhere).
func (c *PageCtx) PolicyNote(note string) string {
	if note == "" {
		return ""
	}
	if k := policyNoteKey(note); c.loc.has(k) {
		return c.loc.text(k)
	}
	if c.loc.Tag == "en" {
		return note
	}
	return ""
}

// PackName is a policy pack's short name in the page's language (the
// bundled packs have one in the catalogue), or its own name.
func (c *PageCtx) PackName(name string) string {
	if c.loc.has("packname." + name) {
		return c.loc.text("packname." + name)
	}
	return name
}
