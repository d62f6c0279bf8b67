package translit

import (
	"strings"
	"unicode/utf8"

	pinyin "github.com/mozillazg/go-pinyin"
	"golang.org/x/text/unicode/norm"
)

// maxSuggestions bounds the alternative readings offered for a given name.
const maxSuggestions = 8

// pinyinArgs asks go-pinyin for every reading of a character, with tone
// marks (Haven removes them itself, so that ü is kept until the passport
// rule applies), and for nothing when the dictionary has no reading.
var pinyinArgs = pinyin.Args{
	Style:     pinyin.Tone,
	Heteronym: true,
	Fallback:  func(rune, pinyin.Args) []string { return nil },
}

// readings returns the toneless readings of a Han character, the most
// common first, without repeats. ok is false when the dictionary has none.
func readings(r rune) ([]string, bool) {
	raw := pinyin.SinglePinyin(r, pinyinArgs)
	out := make([]string, 0, len(raw))
	for _, p := range raw {
		p = toneless(p)
		if p == "" {
			continue
		}
		dup := false
		for _, q := range out {
			dup = dup || q == p
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out, len(out) > 0
}

// toneless removes the tone marks of a Pinyin syllable and writes ü as
// Chinese passports do: yu in lü and nü, u in lüe and nüe (which cannot be
// confused), and u after j, q, x and y, where Pinyin already writes it so.
// ê becomes e. It returns "" for anything that is not a Pinyin syllable.
func toneless(p string) string {
	d := norm.NFD.String(p)
	b := make([]byte, 0, len(d)+2)
	for i := 0; i < len(d); {
		r, n := utf8.DecodeRuneInString(d[i:])
		i += n
		switch {
		case r >= 'a' && r <= 'z':
			if r == 'u' && strings.HasPrefix(d[i:], "\u0308") {
				i += len("\u0308")
				prev := byte(0)
				if len(b) > 0 {
					prev = b[len(b)-1]
				}
				next := byte(0)
				// Skip the tone mark that may follow the diaeresis.
				for i < len(d) {
					r2, n2 := utf8.DecodeRuneInString(d[i:])
					if r2 < 0x300 || r2 > 0x36f {
						break
					}
					i += n2
				}
				if i < len(d) {
					next = d[i]
				}
				if (prev == 'l' || prev == 'n') && next != 'e' {
					b = append(b, 'y', 'u')
				} else {
					b = append(b, 'u')
				}
				continue
			}
			b = append(b, byte(r))
		case r >= 0x300 && r <= 0x36f: // combining marks: tones, and the circumflex of ê
		default:
			return ""
		}
	}
	return string(b)
}

// pinyinName transliterates a name written in Han characters.
func pinyinName(s string, part Part) (Result, error) {
	ws, seps := words(s)
	type word struct {
		syl   []string   // the default reading of each character
		other [][]string // the other readings of each character
	}
	parsed := make([]word, len(ws))
	def := make([]string, len(ws))
	for k, w := range ws {
		rs := []rune(w)
		var wd word
		for i := 0; i < len(rs); {
			if part == Family {
				if i+1 < len(rs) {
					if c, ok := compoundSurnames[string(rs[i:i+2])]; ok {
						wd.syl = append(wd.syl, c[0], c[1])
						wd.other = append(wd.other, nil, nil)
						i += 2
						continue
					}
				}
				if r, ok := hanSurnames[rs[i]]; ok {
					wd.syl = append(wd.syl, r)
					wd.other = append(wd.other, nil)
					i++
					continue
				}
			}
			rd, ok := readings(rs[i])
			if !ok {
				return Result{}, &Error{Part: part, Reason: ReasonNoReading, Char: rs[i]}
			}
			wd.syl = append(wd.syl, rd[0])
			if part == Given {
				wd.other = append(wd.other, rd[1:])
			} else {
				wd.other = append(wd.other, nil)
			}
			i++
		}
		parsed[k] = wd
		def[k] = joinSyllables(wd.syl)
	}
	r := Result{Name: joinLatin(def, seps), System: Pinyin}
	// Suggestions for a given name: one other reading of one polyphonic
	// character at a time, character by character.
	for k, wd := range parsed {
		for i, other := range wd.other {
			for _, o := range other {
				if len(r.Suggestions) >= maxSuggestions {
					return r, nil
				}
				syl := append([]string(nil), wd.syl...)
				syl[i] = o
				w := append([]string(nil), def...)
				w[k] = joinSyllables(syl)
				r.Suggestions = addSuggestion(r.Suggestions, r.Name, joinLatin(w, seps))
			}
		}
	}
	return r, nil
}

// joinSyllables writes the syllables of one word together, with the Pinyin
// apostrophe before a syllable that starts with a, o or e (Xi'an).
func joinSyllables(syl []string) string {
	var b strings.Builder
	for i, p := range syl {
		if i > 0 && p != "" && (p[0] == 'a' || p[0] == 'o' || p[0] == 'e') {
			b.WriteByte('\'')
		}
		b.WriteString(p)
	}
	return b.String()
}

// hanSurnames gives the reading of characters whose reading as a surname is
// not the dictionary's first (单 is dan in general, Shan as a surname), in
// simplified and traditional forms. Readings are toneless Pinyin, with ü.
var hanSurnames = map[rune]string{
	'单': "shan", '單': "shan", '曾': "zeng", '区': "ou", '區': "ou", '仇': "qiu",
	'解': "xie", '朴': "piao", '查': "zha", '査': "zha", '盖': "ge", '蓋': "ge",
	'乐': "yue", '樂': "yue", '覃': "qin", '尉': "wei", '缪': "miao", '繆': "miao",
	'翟': "zhai", '召': "shao", '秘': "bi", '种': "chong", '種': "chong", '繁': "po",
	'员': "yun", '員': "yun", '能': "nai", '句': "gou", '阚': "kan", '闞': "kan",
	'祭': "zhai", '折': "she", '佴': "nai", '薄': "bo", '卜': "bu", '郇': "xun",
	'么': "yao", '藏': "zang", '重': "chong", '都': "du", '朝': "chao", '乜': "nie",
	'粘': "nian", '啜': "chuai", '洗': "xian", '贾': "jia", '賈': "jia", '隗': "wei",
	'长': "chang", '長': "chang", '沈': "shen", '柏': "bai", '华': "hua", '華': "hua",
	'任': "ren", '宿': "su", '石': "shi", '陆': "lu", '陸': "lu", '车': "che", '車': "che",
	'褚': "chu", '冯': "feng", '馮': "feng", '叶': "ye", '葉': "ye", '阙': "que", '闕': "que",
	'吕': "lyu", '呂': "lyu", '闾': "lyu", '閭': "lyu",
}

// compoundSurnames gives the syllables of two-character surnames whose
// characters read differently inside them (尉迟 is Yuchi, not Weichi), and of
// the common ones, so that they are never split.
var compoundSurnames = map[string][2]string{
	"尉迟": {"yu", "chi"}, "尉遲": {"yu", "chi"},
	"万俟": {"mo", "qi"}, // written 万 in traditional script too: 萬 has no reading mo
	"长孙": {"zhang", "sun"}, "長孫": {"zhang", "sun"}, "澹台": {"tan", "tai"}, "澹臺": {"tan", "tai"},
	"单于": {"chan", "yu"}, "單于": {"chan", "yu"}, "乐正": {"yue", "zheng"}, "樂正": {"yue", "zheng"},
	"欧阳": {"ou", "yang"}, "歐陽": {"ou", "yang"}, "司马": {"si", "ma"}, "司馬": {"si", "ma"},
	"诸葛": {"zhu", "ge"}, "諸葛": {"zhu", "ge"}, "上官": {"shang", "guan"}, "夏侯": {"xia", "hou"},
	"皇甫": {"huang", "fu"}, "令狐": {"ling", "hu"}, "宇文": {"yu", "wen"}, "慕容": {"mu", "rong"},
	"东方": {"dong", "fang"}, "東方": {"dong", "fang"}, "公孙": {"gong", "sun"}, "公孫": {"gong", "sun"},
	"闻人": {"wen", "ren"}, "聞人": {"wen", "ren"}, "轩辕": {"xuan", "yuan"}, "軒轅": {"xuan", "yuan"},
	"端木": {"duan", "mu"}, "南宫": {"nan", "gong"}, "南宮": {"nan", "gong"}, "西门": {"xi", "men"},
	"西門": {"xi", "men"}, "独孤": {"du", "gu"}, "獨孤": {"du", "gu"}, "呼延": {"hu", "yan"},
	"申屠": {"shen", "tu"}, "司徒": {"si", "tu"}, "司空": {"si", "kong"}, "太史": {"tai", "shi"},
	"钟离": {"zhong", "li"}, "鍾離": {"zhong", "li"}, "闾丘": {"lyu", "qiu"}, "閭丘": {"lyu", "qiu"},
	"拓跋": {"tuo", "ba"}, "赫连": {"he", "lian"}, "赫連": {"he", "lian"}, "濮阳": {"pu", "yang"},
	"濮陽": {"pu", "yang"}, "公羊": {"gong", "yang"}, "左丘": {"zuo", "qiu"}, "百里": {"bai", "li"},
}
