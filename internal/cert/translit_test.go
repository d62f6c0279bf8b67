package cert_test

import (
	"errors"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/translit"
)

func TestTransliterateICAO(t *testing.T) {
	const fam, giv = "person.family_name", "person.given_name"
	tests := []struct {
		name, in, field, want string
	}{
		{"ok/latin", "Müller-Lüdenscheidt", fam, "MUELLER<LUEDENSCHEIDT"},
		{"ok/cyrillic", "Щербакова", fam, "SHCHERBAKOVA"},
		{"ok/hangul-family-strict-rr", "김", fam, "GIM"},
		{"ok/hangul-given", "민준", giv, "MINJUN"},
		{"ok/han-family", "王", fam, "WANG"},
		{"ok/han-given-one-word", "小明", giv, "XIAOMING"},
		{"ok/han-surname-reading", "单", fam, "SHAN"},
		{"ok/han-same-character-as-given-name", "单", giv, "DAN"},
		{"ok/han-compound-surname", "尉迟", fam, "YUCHI"},
		{"ok/pinyin-u-umlaut-as-on-passports", "吕", fam, "LYU"},
		{"ok/traditional", "陳", "family_name", "CHEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cert.TransliterateICAO(tt.in, tt.field)
			if err != nil || got != tt.want {
				t.Errorf("TransliterateICAO(%q, %q) = %q, %v; want %q", tt.in, tt.field, got, err, tt.want)
			}
		})
	}
}

func TestTransliterateICAORejects(t *testing.T) {
	tests := []struct {
		name, in, field string
		reason          translit.Reason
	}{
		{"fail/mixed-hangul-latin", "김Kim", "person.family_name", translit.ReasonMixedScripts},
		{"fail/thai", "สมชาย", "person.given_name", translit.ReasonUnsupportedScript},
		{"fail/digit", "J0hn", "person.given_name", translit.ReasonNotALetter},
		{"fail/too-long", "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaftschaferswessenschafewarenwohlgepflegeundsorgfaltigkeitbeschutzenvonangreifendurchihrraubgierigfeindewelchevoralternzwolftausendjahresvorandieerscheinenvanderersteerdemenschderraumschiffgenachtmittungsteinundsiebeniridiumelektrischmotorsgebrauchlichtalsseinursprungvonkraftgestartseinlangefahrthinzwischensternartigraumaufdersuchenachdiesternwelchegehabtbewohnbarplanetenkreisedrehensichundwohinderneurassevonverstandigmenschlichkeitkonntefortpflanzenundsicherfreuenanlebenslanglichfreudeundruhemitnichteinfurchtvorangreifenvonandererintelligentgeschopfsvonhinzwischensternartigraum", "person.family_name", translit.ReasonTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cert.TransliterateICAO(tt.in, tt.field)
			if registry.ErrorCode(err) != registry.EINVALID || registry.ErrorField(err) != tt.field {
				t.Fatalf("err = %v, want invalid %s", err, tt.field)
			}
			var te *translit.Error
			if !errors.As(err, &te) || te.Reason != tt.reason {
				t.Errorf("cause %v, want reason %s", err, tt.reason)
			}
		})
	}
}

// TestIssueTransliteratesHangulAndHan issues certificates for a Korean and a Chinese
// name with no transliteration given, and checks fnt and gnt in the
// verified payload; a transliteration given by the caller still wins.
func TestIssueTransliteratesHangulAndHan(t *testing.T) {
	k, _ := mustKeys(t)
	is := mustIssuer(t, k)
	v := cert.NewVerifier(k.TrustList())
	tests := []struct {
		name string
		p    cert.Person
		want cert.Name
	}{
		{"ok/hangul", cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "김", GivenName: "민준", BirthDate: "1990"},
			cert.Name{Fn: "김", Fnt: "GIM", Gn: "민준", Gnt: "MINJUN"}},
		{"ok/hangul-with-passport-spelling", cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "김", GivenName: "민준", FamilyNameICAO: "KIM"},
			cert.Name{Fn: "김", Fnt: "KIM", Gn: "민준", Gnt: "MINJUN"}},
		{"ok/han-simplified", cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "王", GivenName: "小明"},
			cert.Name{Fn: "王", Fnt: "WANG", Gn: "小明", Gnt: "XIAOMING"}},
		{"ok/han-traditional-surname-reading", cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "單", GivenName: "志強"},
			cert.Name{Fn: "單", Fnt: "SHAN", Gn: "志強", Gnt: "ZHIQIANG"}},
		{"ok/han-given-name-only", cert.Person{CardCode: "7KQM-X4TD-9HCA", GivenName: "金智英"},
			cert.Name{Fn: "7KQM-X4TD-9HCA", Fnt: "SEVENKQM<XFOURTD<NINEHCA", Gn: "金智英", Gnt: "JINZHIYING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := is.IssueCertificate(&cert.IssueRequest{Person: tt.p, Vaccination: vaccination()}, t0)
			if err != nil {
				t.Fatal(err)
			}
			res := v.Verify(c.HC1, cert.VerifyOptions{At: t0.Add(time.Hour)})
			if !res.Valid {
				t.Fatalf("does not verify: %s: %s", res.Failed, res.Reason)
			}
			d, ok := res.Payload.(*cert.DCC)
			if !ok {
				t.Fatalf("payload %T", res.Payload)
			}
			if d.Nam != tt.want {
				t.Errorf("nam = %+v, want %+v", d.Nam, tt.want)
			}
		})
	}
}
