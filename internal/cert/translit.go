package cert

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/haven-registry/haven/internal/registry"
)

// icaoSpecial maps letters that ICAO Doc 9303 part 3 transliterates to more
// than their base letter (or that have no decomposition).
var icaoSpecial = map[rune]string{
	'Ä': "AE", 'Å': "AA", 'Æ': "AE", 'Ð': "D", 'Ö': "OE", 'Ø': "OE", 'Ü': "UE",
	'ß': "SS", 'Þ': "TH", 'Œ': "OE", 'Ĳ': "IJ", 'Ł': "L", 'Đ': "D", 'Ħ': "H",
	'ı': "I", 'Ŋ': "N", 'Ŀ': "L", 'ẞ': "SS",
	// Cyrillic (ICAO 9303 part 3, table B).
	'А': "A", 'Б': "B", 'В': "V", 'Г': "G", 'Ґ': "G", 'Д': "D", 'Е': "E", 'Ё': "E",
	'Є': "IE", 'Ж': "ZH", 'З': "Z", 'И': "I", 'І': "I", 'Ї': "I", 'Й': "I", 'К': "K",
	'Л': "L", 'М': "M", 'Н': "N", 'О': "O", 'П': "P", 'Р': "R", 'С': "S", 'Т': "T",
	'У': "U", 'Ў': "U", 'Ф': "F", 'Х': "KH", 'Ц': "TS", 'Ч': "CH", 'Ш': "SH",
	'Щ': "SHCH", 'Ъ': "IE", 'Ы': "Y", 'Ь': "", 'Э': "E", 'Ю': "IU", 'Я': "IA",
}

// TransliterateICAO converts a name to the ICAO 9303 machine-readable form
// that the DCC fields fnt and gnt require (pattern ^[A-Z<]*$): letters are
// upper-cased and stripped of diacritics (with the ICAO special cases such
// as Ä→AE, ß→SS and the Cyrillic table), spaces and hyphens become "<", and
// apostrophes, dots and commas are dropped. Names in other scripts cannot be
// transliterated without a table and return EINVALID naming field, so that
// the caller supplies the transliteration.
func TransliterateICAO(name, field string) (string, error) {
	var b strings.Builder
	lastSep := true
	for _, r := range norm.NFC.String(strings.TrimSpace(name)) {
		up := unicode.ToUpper(r)
		switch {
		case up >= 'A' && up <= 'Z':
			b.WriteRune(up)
			lastSep = false
			continue
		case r == ' ' || r == '-' || r == '<' || r == '\u00a0':
			if !lastSep {
				b.WriteByte('<')
				lastSep = true
			}
			continue
		case r == '\'' || r == '’' || r == '.' || r == ',':
			continue
		}
		if s, ok := icaoSpecial[up]; ok {
			b.WriteString(s)
			lastSep = false
			continue
		}
		// Strip diacritics: decompose and keep the base letter.
		base := []rune(norm.NFD.String(string(up)))
		if len(base) > 0 && base[0] >= 'A' && base[0] <= 'Z' {
			b.WriteRune(base[0])
			lastSep = false
			continue
		}
		return "", registry.FieldErrorf(registry.EINVALID, field, "the name has a character outside the Latin and Cyrillic scripts; give the ICAO 9303 transliteration explicitly")
	}
	return strings.TrimRight(b.String(), "<"), nil
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
