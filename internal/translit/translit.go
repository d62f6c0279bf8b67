package translit

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// MaxICAO is the longest machine-readable name the DCC schema allows in fnt
// and gnt.
const MaxICAO = 80

// maxInput bounds the work done on one field; a longer field cannot be a
// name and is refused as too long.
const maxInput = 1024

// Part says which part of a person's name a string is. Surnames have
// readings of their own, so the family name is read differently from the
// given name. The zero value is Given.
type Part uint8

const (
	Given Part = iota
	Family
)

func (p Part) String() string {
	if p == Family {
		return "family name"
	}
	return "given name"
}

// Script is the writing system a name was written in.
type Script string

const (
	Latin    Script = "Latin"
	Cyrillic Script = "Cyrillic"
	Hangul   Script = "Hangul"
	Han      Script = "Han"
)

// System names the rules a transliteration follows.
type System string

const (
	ICAO9303 System = "icao9303" // ICAO Doc 9303 part 3 (Latin, Cyrillic)
	RR       System = "rr"       // Revised Romanization of Korean
	Pinyin   System = "pinyin"   // Hanyu Pinyin without tones
)

// Name is one part of a name in its two Latin forms.
type Name struct {
	// ICAO is the machine-readable form for the DCC fields fnt and gnt:
	// upper-case A-Z and "<", at most MaxICAO characters.
	ICAO string `json:"icao"`
	// Latin is the human-readable form, e.g. "Gim", "Minjun", "Xi'an".
	Latin string `json:"latin"`
}

// Result is the transliteration of one part of a name.
type Result struct {
	Name          // the default transliteration
	Script Script `json:"script"`
	System System `json:"system"`
	// Suggestions are other spellings the clinic may pick, most likely
	// first: conventional passport spellings of Korean surnames, other
	// readings of polyphonic characters in Chinese given names. They never
	// repeat Name and each has a valid ICAO form.
	Suggestions []Name `json:"suggestions,omitempty"`
}

// Transliterate returns the machine-readable and human-readable Latin forms
// of one part of a person's name, written in the Latin, Cyrillic, Hangul or
// Han script (see the package documentation for the rules of each).
//
// Spaces, hyphens and "<" separate words ("<" in ICAO); apostrophes, dots
// and commas are dropped. A name that is empty, or holds only those marks,
// gives an empty Result and no error.
//
// Returns an *Error naming part when the name mixes scripts, has a
// character that is not a letter of a supported script, has a character
// with no known reading, or is longer than MaxICAO once transliterated.
func Transliterate(name string, part Part) (Result, error) {
	if len(name) > maxInput {
		return Result{}, &Error{Part: part, Reason: ReasonTooLong}
	}
	// Fullwidth Latin letters (ＫＩＭ, as East Asian keyboards type them)
	// and halfwidth forms are the same letters.
	s := norm.NFC.String(strings.TrimSpace(width.Fold.String(name)))
	script, err := scriptOf(s, part)
	if err != nil {
		return Result{}, err
	}
	var r Result
	switch script {
	case "":
		return Result{}, nil
	case Hangul:
		r, err = romanizeHangul(s, part)
	case Han:
		r, err = pinyinName(s, part)
	default:
		r, err = icaoName(s, part, script)
	}
	if err != nil {
		return Result{}, err
	}
	if len(r.ICAO) > MaxICAO {
		return Result{}, &Error{Part: part, Reason: ReasonTooLong}
	}
	r.Script = script
	return r, nil
}

// ValidICAO reports whether s may be used as fnt or gnt: upper-case A-Z and
// "<" only, at most MaxICAO characters. Use it to check a transliteration
// the clinic typed.
func ValidICAO(s string) bool {
	if len(s) > MaxICAO {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && c != '<' {
			return false
		}
	}
	return true
}

// isSeparator reports whether r separates the words of a name.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '-', '<', '\u00a0', '\u3000', // space, hyphen, ICAO filler, no-break and ideographic space
		'\u2010', '\u2011', // hyphens
		'\u00b7', '\u30fb', '\u2027': // middle dots that separate the parts of a name in Chinese and Japanese
		return true
	}
	return false
}

// isDropped reports whether r is punctuation that ICAO drops: apostrophes
// (including the modifier letters used as apostrophe and ʻokina), dots and
// commas.
func isDropped(r rune) bool {
	switch r {
	case '\'', '’', '‘', '\u02bc', '\u02bb', '.', ',':
		return true
	}
	return false
}

// scriptOf finds the one script of the letters in s. It returns "" when s
// has no letters.
func scriptOf(s string, part Part) (Script, error) {
	var seen []Script
	var prev Script // the script of the previous character, if a letter
	for _, r := range s {
		var sc Script
		switch {
		case isSeparator(r) || isDropped(r):
			prev = ""
			continue
		case unicode.Is(unicode.Mn, r) && (prev == Latin || prev == Cyrillic):
			// A combining diacritic that NFC could not compose onto a
			// Latin or Cyrillic letter: ICAO strips diacritics.
			continue
		case r < utf8.RuneSelf && (r|0x20 >= 'a' && r|0x20 <= 'z'):
			sc = Latin
		case unicode.Is(unicode.Hangul, r):
			sc = Hangul
		case unicode.Is(unicode.Han, r):
			sc = Han
		case unicode.Is(unicode.Latin, r):
			sc = Latin
		case unicode.Is(unicode.Cyrillic, r):
			sc = Cyrillic
		case unicode.IsLetter(r):
			return "", &Error{Part: part, Reason: ReasonUnsupportedScript, Char: r, Scripts: []string{scriptName(r)}}
		default:
			return "", &Error{Part: part, Reason: ReasonNotALetter, Char: r}
		}
		prev = sc
		found := false
		for _, x := range seen {
			found = found || x == sc
		}
		if !found {
			seen = append(seen, sc)
		}
	}
	switch len(seen) {
	case 0:
		return "", nil
	case 1:
		return seen[0], nil
	}
	names := make([]string, len(seen))
	for i, sc := range seen {
		names[i] = string(sc)
	}
	return "", &Error{Part: part, Reason: ReasonMixedScripts, Scripts: names}
}

// scriptName returns the Unicode script of r, or "unknown".
func scriptName(r rune) string {
	best := ""
	for name, table := range unicode.Scripts {
		// Scripts are disjoint, but pick the least name so that the answer
		// never depends on map order.
		if unicode.Is(table, r) && (best == "" || name < best) {
			best = name
		}
	}
	if best == "" {
		return "unknown"
	}
	return best
}

// Reason is why a name could not be transliterated. Reasons are stable: use
// them as message keys.
type Reason string

const (
	// ReasonMixedScripts: letters of more than one script in one part.
	ReasonMixedScripts Reason = "mixed_scripts"
	// ReasonUnsupportedScript: a letter of a script Haven cannot transliterate.
	ReasonUnsupportedScript Reason = "unsupported_script"
	// ReasonNotALetter: a digit, symbol, control or other character that
	// cannot be part of a name.
	ReasonNotALetter Reason = "not_a_letter"
	// ReasonNoReading: a Han character the Pinyin dictionary does not hold,
	// a Hangul jamo that is not part of a syllable, or a Latin or Cyrillic
	// letter that ICAO 9303 does not map.
	ReasonNoReading Reason = "no_reading"
	// ReasonTooLong: the transliteration would exceed MaxICAO characters.
	ReasonTooLong Reason = "too_long"
)

// Error says why one part of a name could not be transliterated. The caller
// should ask for the transliteration explicitly.
type Error struct {
	Part    Part
	Reason  Reason
	Char    rune     // the offending character, when there is one
	Scripts []string // the scripts involved (mixed_scripts, unsupported_script)
}

func (e *Error) Error() string {
	return "translit: " + e.Part.String() + ": " + e.Message()
}

// Message describes the problem in a sentence that does not name the part,
// for callers that name the field themselves.
func (e *Error) Message() string {
	switch e.Reason {
	case ReasonMixedScripts:
		return fmt.Sprintf("the name mixes %s letters", strings.Join(e.Scripts, " and "))
	case ReasonUnsupportedScript:
		return fmt.Sprintf("the name has a letter of the %s script (%q), which Haven cannot transliterate", strings.Join(e.Scripts, ", "), e.Char)
	case ReasonNotALetter:
		return fmt.Sprintf("the name has a character that is not a letter (%q, %U)", e.Char, e.Char)
	case ReasonNoReading:
		return fmt.Sprintf("the name has a character with no known reading (%q, %U)", e.Char, e.Char)
	case ReasonTooLong:
		return fmt.Sprintf("the transliterated name exceeds %d characters", MaxICAO)
	}
	return "the name cannot be transliterated"
}

// words splits s into words and the separators between them. A word is a
// maximal run of characters that are neither separators nor dropped marks;
// dropped marks vanish. sepBefore[i] is the separator before words[i]
// (0 for the first word): '-' for a hyphen, ' ' for anything else.
func words(s string) (ws []string, sepBefore []rune) {
	var b strings.Builder
	var pending rune
	flush := func() {
		if b.Len() == 0 {
			return
		}
		if len(ws) == 0 {
			pending = 0
		}
		ws = append(ws, b.String())
		sepBefore = append(sepBefore, pending)
		b.Reset()
		pending = 0
	}
	for _, r := range s {
		switch {
		case isSeparator(r):
			flush()
			if pending != '-' {
				pending = ' '
				if r == '-' || r == '\u2010' || r == '\u2011' {
					pending = '-'
				}
			}
		case isDropped(r):
		default:
			b.WriteRune(r)
		}
	}
	flush()
	return ws, sepBefore
}

// joinLatin joins romanized words into the Latin form, capitalising the
// first letter of every space-separated word, and derives the ICAO form.
func joinLatin(ws []string, sepBefore []rune) Name {
	var lat, icao strings.Builder
	for i, w := range ws {
		if i > 0 {
			lat.WriteRune(sepBefore[i])
			icao.WriteByte('<')
		}
		if i == 0 || sepBefore[i] == ' ' {
			w = capitalize(w)
		}
		lat.WriteString(w)
		icao.WriteString(latinToICAO(w))
	}
	return Name{ICAO: icao.String(), Latin: lat.String()}
}

// latinToICAO upper-cases a romanized word (ASCII letters and apostrophes)
// and drops everything but A-Z.
func latinToICAO(w string) string {
	b := make([]byte, 0, len(w))
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c >= 'A' && c <= 'Z' {
			b = append(b, c)
		}
	}
	return string(b)
}

func capitalize(w string) string {
	if w == "" || w[0] < 'a' || w[0] > 'z' {
		return w
	}
	return string(w[0]-('a'-'A')) + w[1:]
}

// addSuggestion appends n to list unless it is the default or already there.
func addSuggestion(list []Name, def, n Name) []Name {
	if n.ICAO == "" || n == def || len(n.ICAO) > MaxICAO {
		return list
	}
	for _, x := range list {
		if x == n {
			return list
		}
	}
	return append(list, n)
}
