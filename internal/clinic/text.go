package clinic

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/haven-registry/haven/internal/registry"
)

// fieldErr is an EINVALID error naming the field.
func fieldErr(field, format string, args ...any) error {
	return registry.FieldErrorf(registry.EINVALID, field, format, args...)
}

// cleanText trims s and refuses what has no place in a name, a lot number or
// a site name: invalid UTF-8, the replacement character U+FFFD (the trace of
// invalid UTF-8 or a lone surrogate that a decoder replaced), control
// characters, and format characters (Unicode category Cf: bidirectional
// overrides such as U+202E, zero-width spaces and joiners, the BOM), which
// can make a name display as something else. Strings longer than max runes
// are refused too. Every error names the field.
//
// Zero-width joiners and non-joiners are format characters that some scripts
// use inside words (Persian, Indic); Haven's people write Korean, Chinese and
// Latin names, where they carry no meaning, so they are refused too.
func cleanText(field, s string, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", fieldErr(field, "The text is not valid UTF-8.")
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		return "", fieldErr(field, "Longer than %d characters.", max)
	}
	for _, c := range s {
		switch {
		case c == utf8.RuneError:
			return "", fieldErr(field, "The text holds an invalid character (U+FFFD): it was not valid UTF-8.")
		case unicode.IsControl(c):
			return "", fieldErr(field, "Control characters are not allowed.")
		case unicode.Is(unicode.Cf, c):
			return "", fieldErr(field, "Invisible formatting characters (U+%04X) are not allowed.", c)
		case unicode.Is(unicode.Co, c) || unicode.Is(unicode.Cs, c) || c == 0xFFFE || c == 0xFFFF:
			return "", fieldErr(field, "The text holds a character that is not allowed (U+%04X).", c)
		}
	}
	return s, nil
}
