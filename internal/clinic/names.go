package clinic

import (
	"errors"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/translit"
)

// NameForms are the machine-readable forms (ICAO 9303, as certificates
// carry them) suggested for a person's names, with the other spellings a
// clinic may pick (for example the passport spelling of a Korean surname).
// A part that cannot be transliterated has Problem set: a stable code
// (mixed_scripts, unsupported_script, not_a_letter, no_reading, too_long)
// for the page to translate, and the clinic must type the form itself.
type NameForms struct {
	Family, Given NameForm
}

// NameForm is one part of a name in its suggested machine-readable form.
type NameForm struct {
	ICAO        string   // A-Z and "<"; empty when the part is empty or cannot be transliterated
	Latin       string   // the same, as a person reads it ("Kim Minjun")
	Suggestions []string // other ICAO forms the clinic may pick, most likely first
	Problem     string
}

// SuggestNames transliterates a family and a given name as written (Hangul
// by the Revised Romanization, Han by Pinyin, Latin and Cyrillic by ICAO
// 9303). It reads nothing and writes nothing.
func SuggestNames(family, given string) NameForms {
	return NameForms{Family: suggest(family, translit.Family), Given: suggest(given, translit.Given)}
}

func suggest(name string, part translit.Part) NameForm {
	if strings.TrimSpace(name) == "" {
		return NameForm{}
	}
	r, err := translit.Transliterate(name, part)
	if err != nil {
		var te *translit.Error
		if errors.As(err, &te) {
			return NameForm{Problem: string(te.Reason)}
		}
		return NameForm{Problem: "unsupported_script"}
	}
	f := NameForm{ICAO: r.Name.ICAO, Latin: r.Name.Latin}
	for _, s := range r.Suggestions {
		f.Suggestions = append(f.Suggestions, s.ICAO)
	}
	return f
}

// icaoForm validates a machine-readable name a clinic typed: upper-case A-Z
// and "<" (lower case and spaces are accepted and converted), at most
// translit.MaxICAO characters. An empty form is kept empty.
func icaoForm(field, s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.NewReplacer(" ", "<", "-", "<").Replace(s)
	if s != "" && !translit.ValidICAO(s) {
		return "", fieldErr(field, "Use only the letters A to Z and < (at most %d).", translit.MaxICAO)
	}
	return s, nil
}

// withICAO fills in the machine-readable forms of d's names that the clinic
// did not give, from the names as written; prev are the demographics before
// an edit (zero for a new person), whose forms are kept while the name they
// came from is unchanged.
func withICAO(d registry.Demographics, prev registry.Demographics, famICAO, givICAO *string) (registry.Demographics, error) {
	forms := SuggestNames(d.FamilyName, d.GivenName)
	var err error
	switch {
	case famICAO != nil:
		if d.FamilyNameICAO, err = icaoForm("family_name_icao", *famICAO); err != nil {
			return d, err
		}
	case d.FamilyName == prev.FamilyName && prev.FamilyNameICAO != "":
		d.FamilyNameICAO = prev.FamilyNameICAO
	default:
		d.FamilyNameICAO = forms.Family.ICAO
	}
	switch {
	case givICAO != nil:
		if d.GivenNameICAO, err = icaoForm("given_name_icao", *givICAO); err != nil {
			return d, err
		}
	case d.GivenName == prev.GivenName && prev.GivenNameICAO != "":
		d.GivenNameICAO = prev.GivenNameICAO
	default:
		d.GivenNameICAO = forms.Given.ICAO
	}
	return d, nil
}
