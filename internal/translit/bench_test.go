package translit_test

import (
	"testing"

	"github.com/haven-registry/haven/internal/translit"
)

func BenchmarkTransliterate(b *testing.B) {
	for _, bc := range []struct {
		name, in string
		part     translit.Part
	}{
		{"hangul-family", "김", translit.Family},
		{"hangul-given", "민준", translit.Given},
		{"han-family", "欧阳", translit.Family},
		{"han-given", "小明", translit.Given},
		{"latin", "Müller-Lüdenscheidt", translit.Family},
		{"cyrillic", "Щербакова", translit.Family},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := translit.Transliterate(bc.in, bc.part); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
