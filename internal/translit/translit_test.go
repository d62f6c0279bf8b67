package translit_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/haven-registry/haven/internal/translit"
)

// split is a full name split into the two parts the registry keeps.
type split struct{ family, given string }

// TestKoreanNamesFromTheRules checks the personal names that the Revised
// Romanization of Korean gives as examples, in rule 3.4 (제3장 제4항):
// Ministry of Culture and Tourism proclamation 2000-8 of 7 July 2000,
// "국어의 로마자 표기법", as published by the National Institute of Korean
// Language (https://www.korean.go.kr/front_eng/roman/roman_01.do) and as
// submitted by the Republic of Korea to the Eighth UN Conference on the
// Standardization of Geographical Names (E/CONF.94/INF.68, 2002). The rule
// allows a hyphen between syllables (Min Yong-ha); Haven writes the given
// name as one word, the form the rule gives first.
func TestKoreanNamesFromTheRules(t *testing.T) {
	tests := []struct {
		hangul         split
		family, given  string
		icaoF, icaoGiv string
	}{
		{split{"민", "용하"}, "Min", "Yongha", "MIN", "YONGHA"},
		{split{"송", "나리"}, "Song", "Nari", "SONG", "NARI"},
		// 3.4 (1): sound changes in a name are not written, so 한복남 is
		// not [한봉남] Bongnam and 홍빛나 is not [홍빈나] Binna.
		{split{"한", "복남"}, "Han", "Boknam", "HAN", "BOKNAM"},
		{split{"홍", "빛나"}, "Hong", "Bitna", "HONG", "BITNA"},
	}
	for _, tt := range tests {
		t.Run("ok/"+tt.hangul.family+tt.hangul.given, func(t *testing.T) {
			f := mustTranslit(t, tt.hangul.family, translit.Family)
			g := mustTranslit(t, tt.hangul.given, translit.Given)
			if f.Latin != tt.family || g.Latin != tt.given || f.ICAO != tt.icaoF || g.ICAO != tt.icaoGiv {
				t.Errorf("got %q %q (%s %s), want %q %q (%s %s)", f.Latin, g.Latin, f.ICAO, g.ICAO, tt.family, tt.given, tt.icaoF, tt.icaoGiv)
			}
			if f.Script != translit.Hangul || f.System != translit.RR {
				t.Errorf("script %q system %q", f.Script, f.System)
			}
		})
	}
}

// TestKoreanNames checks names built from the tables of the rules (chapter
// 2), romanized syllable by syllable as rule 3.4 asks for names.
func TestKoreanNames(t *testing.T) {
	tests := []struct {
		name, in string
		part     translit.Part
		latin    string
		icao     string
	}{
		{"ok/vowels-and-ng", "영희", translit.Given, "Yeonghui", "YEONGHUI"}, // ㅢ is ui (2.1 note 1)
		{"ok/diphthongs", "왜워웨", translit.Given, "Waewowe", "WAEWOWE"},
		{"ok/tense-initials", "꼬뚜뿌씨찌", translit.Given, "Kkottuppussijji", "KKOTTUPPUSSIJJI"},
		{"ok/aspirates", "카타파차하", translit.Given, "Katapachaha", "KATAPACHAHA"},
		{"ok/final-by-representative-sound", "빛밭부엌앞낫있낮닿", translit.Given, "Bitbatbueokapnatitnatdat", "BITBATBUEOKAPNATITNATDAT"},
		{"ok/no-linking-inside-a-name", "석우", translit.Given, "Seoku", "SEOKU"},
		{"ok/no-assimilation-inside-a-name", "진리", translit.Given, "Jinri", "JINRI"},
		{"ok/ll-is-spelled-ll", "설리", translit.Given, "Seolli", "SEOLLI"},
		{"ok/initial-r", "류", translit.Family, "Ryu", "RYU"},
		{"ok/given-name-one-word", "민준", translit.Given, "Minjun", "MINJUN"},
		{"ok/hyphen-kept-in-latin", "길-동", translit.Given, "Gil-dong", "GIL<DONG"},
		{"ok/space-is-a-word-break", "서 윤", translit.Given, "Seo Yun", "SEO<YUN"},
		{"ok/compound-surname", "남궁", translit.Family, "Namgung", "NAMGUNG"},
		{"ok/surname-i", "이", translit.Family, "I", "I"},
		{"ok/conjoining-jamo-are-composed", "\u1100\u1175\u11B7", translit.Family, "Gim", "GIM"}, // NFC of ᄀ ᅵ ᆷ is 김
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustTranslit(t, tt.in, tt.part)
			if r.Latin != tt.latin || r.ICAO != tt.icao {
				t.Errorf("%s: got %q %q, want %q %q", tt.in, r.Latin, r.ICAO, tt.latin, tt.icao)
			}
		})
	}
}

// TestKoreanSurnameSuggestions checks that strict Revised Romanization is the
// default and that the passport spellings come only as suggestions.
func TestKoreanSurnameSuggestions(t *testing.T) {
	tests := []struct {
		in          string
		def         string
		suggestions []string
	}{
		{"김", "Gim", []string{"Kim"}},
		{"이", "I", []string{"Lee", "Yi", "Rhee"}},
		{"박", "Bak", []string{"Park", "Pak"}},
		{"최", "Choe", []string{"Choi"}},
		{"정", "Jeong", []string{"Jung", "Chung"}}, // Jeong is the default, not repeated
		{"남궁", "Namgung", []string{"Namkoong", "Namgoong"}},
		{"한", "Han", nil},
		{"김이", "Gimi", nil}, // not a known surname
	}
	for _, tt := range tests {
		t.Run("ok/"+tt.in, func(t *testing.T) {
			r := mustTranslit(t, tt.in, translit.Family)
			var got []string
			for _, s := range r.Suggestions {
				got = append(got, s.Latin)
				if s.ICAO != strings.ToUpper(s.Latin) {
					t.Errorf("suggestion %+v: ICAO is not the Latin form", s)
				}
			}
			if r.Latin != tt.def || !slices.Equal(got, tt.suggestions) {
				t.Errorf("got %q %q, want %q %q", r.Latin, got, tt.def, tt.suggestions)
			}
		})
	}
	// A given name gets no surname suggestions.
	if r := mustTranslit(t, "김", translit.Given); len(r.Suggestions) != 0 {
		t.Errorf("given name 김: suggestions %v", r.Suggestions)
	}
}

func TestChineseNames(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		part  translit.Part
		latin string
		icao  string
	}{
		{"ok/family", "王", translit.Family, "Wang", "WANG"},
		{"ok/given-one-word", "小明", translit.Given, "Xiaoming", "XIAOMING"},
		{"ok/traditional-family", "陳", translit.Family, "Chen", "CHEN"},
		{"ok/traditional-given", "大文", translit.Given, "Dawen", "DAWEN"},
		{"ok/traditional-liu", "劉", translit.Family, "Liu", "LIU"},
		{"ok/extension-b", "𠅤", translit.Given, "Xi", "XI"},
		{"ok/apostrophe-in-latin-only", "西安", translit.Given, "Xi'an", "XIAN"},
		{"ok/apostrophe-before-e", "天恩", translit.Given, "Tian'en", "TIANEN"},
		// Polyphonic surnames read as surnames.
		{"ok/surname-shan", "单", translit.Family, "Shan", "SHAN"},
		{"ok/surname-shan-traditional", "單", translit.Family, "Shan", "SHAN"},
		{"ok/surname-zeng", "曾", translit.Family, "Zeng", "ZENG"},
		{"ok/surname-ou", "区", translit.Family, "Ou", "OU"},
		{"ok/surname-ou-traditional", "區", translit.Family, "Ou", "OU"},
		{"ok/surname-qiu", "仇", translit.Family, "Qiu", "QIU"},
		{"ok/surname-xie", "解", translit.Family, "Xie", "XIE"},
		{"ok/surname-piao", "朴", translit.Family, "Piao", "PIAO"},
		{"ok/surname-zha", "查", translit.Family, "Zha", "ZHA"},
		{"ok/surname-ge", "盖", translit.Family, "Ge", "GE"},
		{"ok/surname-yue", "乐", translit.Family, "Yue", "YUE"},
		{"ok/surname-yue-traditional", "樂", translit.Family, "Yue", "YUE"},
		{"ok/surname-qin", "覃", translit.Family, "Qin", "QIN"},
		{"ok/surname-bo", "薄", translit.Family, "Bo", "BO"},
		{"ok/compound-yuchi", "尉迟", translit.Family, "Yuchi", "YUCHI"},
		{"ok/compound-yuchi-traditional", "尉遲", translit.Family, "Yuchi", "YUCHI"},
		{"ok/compound-moqi", "万俟", translit.Family, "Moqi", "MOQI"},
		{"ok/compound-zhangsun", "长孙", translit.Family, "Zhangsun", "ZHANGSUN"},
		{"ok/compound-ouyang", "欧阳", translit.Family, "Ouyang", "OUYANG"},
		{"ok/compound-chanyu", "单于", translit.Family, "Chanyu", "CHANYU"},
		{"ok/double-surname-one-word", "曾单", translit.Family, "Zengshan", "ZENGSHAN"},
		// The same characters in a given name take the common reading.
		{"ok/given-ceng", "曾", translit.Given, "Ceng", "CENG"},
		{"ok/given-wei", "尉", translit.Given, "Wei", "WEI"},
		// ü as on Chinese passports.
		{"ok/lyu", "吕", translit.Family, "Lyu", "LYU"},
		{"ok/lyu-traditional", "呂", translit.Family, "Lyu", "LYU"},
		{"ok/nyu", "女", translit.Given, "Nyu", "NYU"},
		{"ok/lyu-green", "绿", translit.Given, "Lyu", "LYU"},
		{"ok/lue", "略", translit.Given, "Lue", "LUE"},
		{"ok/nue", "虐", translit.Given, "Nue", "NUE"},
		{"ok/ju-stays-ju", "菊", translit.Given, "Ju", "JU"},
		{"ok/xu-stays-xu", "旭", translit.Given, "Xu", "XU"},
		{"ok/yu-stays-yu", "雨", translit.Given, "Yu", "YU"},
		{"ok/compound-lyuqiu", "闾丘", translit.Family, "Lyuqiu", "LYUQIU"},
		// Separators written between Han characters.
		{"ok/middle-dot", "买买提·艾力", translit.Given, "Maimaiti Aili", "MAIMAITI<AILI"},
		{"ok/ideographic-space", "小\u3000明", translit.Given, "Xiao Ming", "XIAO<MING"},
		{"ok/cjk-compatibility-ideograph", "\uF9A8", translit.Given, "Ling", "LING"}, // NFC: 令
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustTranslit(t, tt.in, tt.part)
			if r.Latin != tt.latin || r.ICAO != tt.icao {
				t.Errorf("%s: got %q %q, want %q %q", tt.in, r.Latin, r.ICAO, tt.latin, tt.icao)
			}
			if r.Script != translit.Han || r.System != translit.Pinyin {
				t.Errorf("script %q system %q", r.Script, r.System)
			}
		})
	}
}

func TestChineseGivenNameSuggestions(t *testing.T) {
	r := mustTranslit(t, "乐乐", translit.Given)
	if r.Latin != "Lele" {
		t.Fatalf("default %q", r.Latin)
	}
	want := []translit.Name{{ICAO: "YUELE", Latin: "Yuele"}, {ICAO: "LEYUE", Latin: "Leyue"}}
	if diff := cmp.Diff(want, r.Suggestions); diff != "" {
		t.Errorf("suggestions (-want +got):\n%s", diff)
	}
	// A family name read from the surname table gets no suggestions.
	if r := mustTranslit(t, "乐", translit.Family); len(r.Suggestions) != 0 {
		t.Errorf("family 乐: %v", r.Suggestions)
	}
	// Suggestions are bounded.
	if r := mustTranslit(t, strings.Repeat("乐", 20), translit.Given); len(r.Suggestions) > 8 {
		t.Errorf("%d suggestions", len(r.Suggestions))
	}
}

// TestLatinAndCyrillic checks that the ICAO 9303 part 3 rules for Latin and
// Cyrillic are those internal/cert has always applied.
func TestLatinAndCyrillic(t *testing.T) {
	tests := []struct {
		name, in, latin, icao string
		script                translit.Script
	}{
		{"ok/umlauts", "Müller-Lüdenscheidt", "Müller-Lüdenscheidt", "MUELLER<LUEDENSCHEIDT", translit.Latin},
		{"ok/accents", "Jürgen  Ólafur", "Jürgen Ólafur", "JUERGEN<OLAFUR", translit.Latin},
		{"ok/apostrophe-dropped", "O'Brien", "O'Brien", "OBRIEN", translit.Latin},
		{"ok/eszett", "Strauß", "Strauß", "STRAUSS", translit.Latin},
		{"ok/catalan-middle-dot", "Gil·labert", "Gil·labert", "GILLABERT", translit.Latin},
		{"ok/combining-diacritic", "Nguye\u0302\u0303n", "Nguyễn", "NGUYEN", translit.Latin},
		{"ok/cyrillic", "Щербакова", "Shcherbakova", "SHCHERBAKOVA", translit.Cyrillic},
		{"ok/cyrillic-capitals", "ЩЕРБАКОВА", "SHCHERBAKOVA", "SHCHERBAKOVA", translit.Cyrillic},
		{"ok/cyrillic-hyphen", "Анна-Мария", "Anna-Mariia", "ANNA<MARIIA", translit.Cyrillic},
		{"ok/fullwidth", "ＫＩＭ", "KIM", "KIM", translit.Latin},
		{"ok/modifier-apostrophe", "Marʼyana", "Marʼyana", "MARYANA", translit.Latin},
		{"ok/icao-filler-is-a-separator", "MUELLER<LUEDENSCHEIDT", "MUELLER LUEDENSCHEIDT", "MUELLER<LUEDENSCHEIDT", translit.Latin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustTranslit(t, tt.in, translit.Family)
			if r.Latin != tt.latin || r.ICAO != tt.icao || r.Script != tt.script || r.System != translit.ICAO9303 {
				t.Errorf("%s: got %q %q %s, want %q %q %s", tt.in, r.Latin, r.ICAO, r.Script, tt.latin, tt.icao, tt.script)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	for _, in := range []string{"", "   ", "'", " - ", ".,"} {
		r, err := translit.Transliterate(in, translit.Family)
		if err != nil || r.ICAO != "" || r.Latin != "" || r.Script != "" {
			t.Errorf("%q: %+v, %v", in, r, err)
		}
	}
}

func TestRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		part    translit.Part
		reason  translit.Reason
		char    rune
		scripts []string
	}{
		{"fail/hangul-and-latin", "김Kim", translit.Family, translit.ReasonMixedScripts, 0, []string{"Hangul", "Latin"}},
		{"fail/han-and-hangul", "金민준", translit.Given, translit.ReasonMixedScripts, 0, []string{"Han", "Hangul"}},
		{"fail/latin-and-cyrillic-lookalike", "Хavier", translit.Given, translit.ReasonMixedScripts, 0, []string{"Cyrillic", "Latin"}},
		{"fail/han-and-latin-across-a-space", "王 Wang", translit.Family, translit.ReasonMixedScripts, 0, []string{"Han", "Latin"}},
		{"fail/thai", "สมชาย", translit.Given, translit.ReasonUnsupportedScript, 'ส', []string{"Thai"}},
		{"fail/hiragana", "さくら", translit.Given, translit.ReasonUnsupportedScript, 'さ', []string{"Hiragana"}},
		{"fail/kanji-with-kana", "山田はな", translit.Given, translit.ReasonUnsupportedScript, 'は', []string{"Hiragana"}},
		{"fail/greek", "Αλέξης", translit.Given, translit.ReasonUnsupportedScript, 'Α', []string{"Greek"}},
		{"fail/digit", "J0hn", translit.Given, translit.ReasonNotALetter, '0', nil},
		{"fail/emoji", "김😀", translit.Family, translit.ReasonNotALetter, '😀', nil},
		{"fail/invalid-utf8", "김\xff", translit.Family, translit.ReasonNotALetter, '\uFFFD', nil},
		{"fail/lone-jamo", "ㄱ", translit.Family, translit.ReasonNoReading, 'ㄱ', nil},
		{"fail/han-without-reading", "々", translit.Given, translit.ReasonNoReading, '々', nil},
		{"fail/cyrillic-outside-the-table", "Ђорђе", translit.Given, translit.ReasonNoReading, 'Ђ', nil},
		{"fail/too-long", strings.Repeat("김", 27), translit.Family, translit.ReasonTooLong, 0, nil},
		{"fail/too-long-input", strings.Repeat("'", 2000), translit.Given, translit.ReasonTooLong, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := translit.Transliterate(tt.in, tt.part)
			var e *translit.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %+v, %v; want *translit.Error", r, err)
			}
			if e.Part != tt.part || e.Reason != tt.reason || e.Char != tt.char || !slices.Equal(e.Scripts, tt.scripts) {
				t.Errorf("got %+v, want part %v reason %s char %q scripts %q", e, tt.part, tt.reason, tt.char, tt.scripts)
			}
			if !strings.HasPrefix(err.Error(), "translit: "+tt.part.String()+": ") || e.Message() == "" {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestValidICAO(t *testing.T) {
	for s, want := range map[string]bool{
		"KIM": true, "MUELLER<LUEDENSCHEIDT": true, "": true, strings.Repeat("A", 80): true,
		"Kim": false, "KIM ": false, "KIM-LEE": false, "ÄB": false, strings.Repeat("A", 81): false,
	} {
		if got := translit.ValidICAO(s); got != want {
			t.Errorf("ValidICAO(%q) = %v", s, got)
		}
	}
}

func mustTranslit(tb testing.TB, s string, part translit.Part) translit.Result {
	tb.Helper()
	r, err := translit.Transliterate(s, part)
	if err != nil {
		tb.Fatalf("%s: %v", s, err)
	}
	return r
}
