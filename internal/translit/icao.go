package translit

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
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

// icaoLetter returns the ICAO 9303 form of one Latin or Cyrillic letter:
// upper-cased, with the special cases above, otherwise stripped of
// diacritics. ok is false for a letter ICAO does not map.
func icaoLetter(r rune) (s string, ok bool) {
	up := unicode.ToUpper(r)
	if up >= 'A' && up <= 'Z' {
		return string(up), true
	}
	if s, ok := icaoSpecial[up]; ok {
		return s, true
	}
	// Strip diacritics: decompose and keep the base letter.
	for _, base := range norm.NFD.String(string(up)) {
		if base >= 'A' && base <= 'Z' {
			return string(base), true
		}
		break
	}
	return "", false
}

// icaoName transliterates a Latin or Cyrillic name (s is NFC, trimmed, and
// of that one script) by ICAO 9303 part 3. The Latin form of a Latin name is
// the name as written, with runs of spaces made one; that of a Cyrillic
// name is its transliteration in the case it was written in.
func icaoName(s string, part Part, script Script) (Result, error) {
	var icao, lat strings.Builder
	lastSep := true // no "<" at the start, nor two in a row
	latSep := true
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r == '\u00b7' || isDropped(r):
			// Dropped, like the Catalan middle dot in "Gil·labert".
			if script == Latin {
				lat.WriteRune(r)
			}
			continue
		case isSeparator(r):
			if !lastSep {
				icao.WriteByte('<')
				lastSep = true
			}
			if !latSep {
				if r == '-' || r == '\u2010' || r == '\u2011' {
					lat.WriteByte('-')
				} else {
					lat.WriteByte(' ')
				}
				latSep = true
			}
			continue
		case unicode.Is(unicode.Mn, r):
			// A diacritic scriptOf allowed after a letter: stripped.
			continue
		}
		t, ok := icaoLetter(r)
		if !ok {
			return Result{}, &Error{Part: part, Reason: ReasonNoReading, Char: r}
		}
		icao.WriteString(t)
		if t != "" {
			lastSep = false
		}
		latSep = false
		switch {
		case script == Latin:
			lat.WriteRune(r)
		case unicode.IsLower(r):
			lat.WriteString(strings.ToLower(t))
		case len(t) > 1 && !(i+1 < len(rs) && unicode.IsUpper(rs[i+1])):
			// Щ in "Щербакова" is "Shch"; in "ЩЕРБАКОВА" it is "SHCH".
			lat.WriteString(t[:1] + strings.ToLower(t[1:]))
		default:
			lat.WriteString(t)
		}
	}
	return Result{
		Name:   Name{ICAO: strings.TrimRight(icao.String(), "<"), Latin: strings.TrimRight(lat.String(), " -")},
		System: ICAO9303,
	}, nil
}
