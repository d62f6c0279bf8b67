package cert

import (
	"errors"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/translit"
)

// TransliterateICAO converts a name to the ICAO 9303 machine-readable form
// that the DCC fields fnt and gnt require (pattern ^[A-Z<]*$, at most 80
// characters), with the rules of internal/translit:
//   - Latin and Cyrillic by ICAO 9303 part 3: letters are upper-cased and
//     stripped of diacritics (with the special cases such as Ä→AE, ß→SS and
//     the Cyrillic table), spaces and hyphens become "<", and apostrophes,
//     dots and commas are dropped;
//   - Hangul by the Revised Romanization of Korean (김 GIM, 민준 MINJUN);
//   - Han by Hanyu Pinyin without tones (王 WANG, 小明 XIAOMING).
//
// field names the input field, and also says which part of the name it is:
// a field ending in "family_name" is read as a family name, so that Chinese
// surname readings apply (单 SHAN, not DAN); any other field is read as a
// given name. The default is always the standard transliteration; use
// TransliterateName for the suggestions (such as the passport spelling KIM).
//
// Returns EINVALID naming field when the name mixes scripts, has a
// character of another script or no known reading, or is too long, so that
// the caller supplies the transliteration; the *translit.Error is the
// cause (errors.As finds it).
func TransliterateICAO(name, field string) (string, error) {
	r, err := TransliterateName(name, field)
	return r.ICAO, err
}

// TransliterateName is TransliterateICAO with the whole result: the ICAO
// form, the human-readable Latin form, the script and the suggestions the
// clinic may pick instead.
func TransliterateName(name, field string) (translit.Result, error) {
	part := translit.Given
	if strings.HasSuffix(field, "family_name") {
		part = translit.Family
	}
	r, err := translit.Transliterate(name, part)
	if err != nil {
		msg := "the name cannot be transliterated"
		var te *translit.Error
		if errors.As(err, &te) {
			msg = te.Message()
		}
		if te == nil || te.Reason != translit.ReasonTooLong {
			msg += "; give the ICAO 9303 transliteration explicitly"
		}
		return translit.Result{}, &registry.Error{Code: registry.EINVALID, Field: field, Message: msg, Err: err}
	}
	return r, nil
}

var digitNames = [...]string{"ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"}

// CardCodeTransliteration writes a card code (letters, digits and hyphens,
// e.g. "7KQM-X4TD-9HCA") in the letters-only form the DCC fnt field
// accepts: digits are spelled out and groups are separated by "<"
// ("SEVENKQM<XFOURTD<NINEHCA").
func CardCodeTransliteration(code string) string {
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c)
		case c >= '0' && c <= '9':
			b.WriteString(digitNames[c-'0'])
		case c == '-' || c == ' ':
			b.WriteByte('<')
		}
	}
	return b.String()
}
