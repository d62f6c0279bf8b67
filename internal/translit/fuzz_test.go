package translit_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/translit"
)

// FuzzTransliterate checks that no string makes Transliterate panic, that
// every result is a valid fnt/gnt with valid suggestions, that the two
// forms of a Hangul or Han name agree, and that every failure is an *Error
// naming the part.
func FuzzTransliterate(f *testing.F) {
	for _, s := range []string{
		"김", "민준", "남궁", "홍빛나", "王", "小明", "尉迟", "吕", "略", "买买提·艾力",
		"Müller-Lüdenscheidt", "O'Brien", "Щербакова", "", " - ", "김Kim", "金민준",
		"ㄱ", "々", "สมชาย", "J0hn", "\xff", "a\u0308\u0323", "\u1100\u1175\u11b7", "<<<",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, family bool) {
		part := translit.Given
		if family {
			part = translit.Family
		}
		r, err := translit.Transliterate(s, part)
		if err != nil {
			var e *translit.Error
			if !errors.As(err, &e) || e.Part != part || e.Message() == "" {
				t.Fatalf("%q: error %v is not a *translit.Error for the %v", s, err, part)
			}
			return
		}
		if !translit.ValidICAO(r.ICAO) {
			t.Fatalf("%q: ICAO %q", s, r.ICAO)
		}
		if strings.HasPrefix(r.ICAO, "<") || strings.HasSuffix(r.ICAO, "<") || strings.Contains(r.ICAO, "<<") {
			t.Fatalf("%q: stray filler in %q", s, r.ICAO)
		}
		if (r.ICAO == "") != (r.Script == "") && r.Script != translit.Cyrillic {
			// Only a Cyrillic name of soft signs alone writes nothing.
			t.Fatalf("%q: script %q but ICAO %q", s, r.Script, r.ICAO)
		}
		if r.Script == translit.Hangul || r.Script == translit.Han {
			if want := latinICAO(r.Latin); r.ICAO != want {
				t.Fatalf("%q: ICAO %q does not match Latin %q", s, r.ICAO, r.Latin)
			}
		}
		for _, sg := range r.Suggestions {
			if !translit.ValidICAO(sg.ICAO) || sg.ICAO == "" || sg == r.Name {
				t.Fatalf("%q: suggestion %+v", s, sg)
			}
		}
	})
}

// latinICAO is the ICAO form a romanized Latin form implies.
func latinICAO(lat string) string {
	r := strings.NewReplacer(" ", "<", "-", "<", "'", "")
	return strings.ToUpper(r.Replace(lat))
}
