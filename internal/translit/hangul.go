package translit

import "strings"

// Hangul syllables are composed arithmetically (Unicode chapter 3.12):
// syllable = 0xAC00 + (initial*21 + medial)*28 + final.
const (
	hangulFirst = 0xAC00
	hangulLast  = 0xD7A3
	nMedial     = 21
	nFinal      = 28
)

// Initial consonants, in Unicode order, with their Revised Romanization
// (table 2.2): ㄱ ㄲ ㄴ ㄷ ㄸ ㄹ ㅁ ㅂ ㅃ ㅅ ㅆ ㅇ ㅈ ㅉ ㅊ ㅋ ㅌ ㅍ ㅎ.
var rrInitial = [19]string{"g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h"}

const (
	iN  = 2  // ㄴ
	iD  = 3  // ㄷ
	iR  = 5  // ㄹ
	iM  = 6  // ㅁ
	iS  = 9  // ㅅ
	iNG = 11 // ㅇ: no sound as an initial
	iJ  = 12 // ㅈ
	iG  = 0  // ㄱ
	iH  = 18 // ㅎ
)

// Vowels, in Unicode order, with their romanization (table 2.1):
// ㅏ ㅐ ㅑ ㅒ ㅓ ㅔ ㅕ ㅖ ㅗ ㅘ ㅙ ㅚ ㅛ ㅜ ㅝ ㅞ ㅟ ㅠ ㅡ ㅢ ㅣ. ㅢ is ui even
// when pronounced ㅣ (note 1).
var rrMedial = [nMedial]string{"a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi", "yu", "eu", "ui", "i"}

const mI = 20 // ㅣ

// Final consonants, in Unicode order (index 0 is none), written by their
// representative sound at the end of a syllable (table 2.2 note 1 and the
// Standard Pronunciation rules 9-11): ㄱ ㄲ ㄳ ㅋ ㄺ → k; ㄷ ㅅ ㅆ ㅈ ㅊ ㅌ ㅎ →
// t; ㅂ ㅍ ㅄ ㄿ → p; ㄴ ㄵ ㄶ → n; ㄹ ㄼ ㄽ ㄾ ㅀ → l; ㅁ ㄻ → m; ㅇ → ng.
var rrFinal = [nFinal]string{
	"", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l",
	"p", "l", "m", "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t",
}

const (
	fG  = 1  // ㄱ
	fKK = 2  // ㄲ
	fGS = 3  // ㄳ
	fN  = 4  // ㄴ
	fNJ = 5  // ㄵ
	fNH = 6  // ㄶ
	fD  = 7  // ㄷ
	fL  = 8  // ㄹ
	fLG = 9  // ㄺ
	fLM = 10 // ㄻ
	fLB = 11 // ㄼ
	fLS = 12 // ㄽ
	fLT = 13 // ㄾ
	fLP = 14 // ㄿ
	fLH = 15 // ㅀ
	fM  = 16 // ㅁ
	fB  = 17 // ㅂ
	fBS = 18 // ㅄ
	fS  = 19 // ㅅ
	fSS = 20 // ㅆ
	fNG = 21 // ㅇ
	fJ  = 22 // ㅈ
	fCH = 23 // ㅊ
	fK  = 24 // ㅋ
	fT  = 25 // ㅌ
	fP  = 26 // ㅍ
	fH  = 27 // ㅎ
)

type syllable struct{ ini, med, fin int }

// decompose splits a word of Hangul syllables into jamo indexes. ok is false
// at the first character that is not a precomposed syllable (such as a lone
// jamo), which is returned.
func decompose(w string) (syls []syllable, bad rune, ok bool) {
	syls = make([]syllable, 0, len(w)/3)
	for _, r := range w {
		if r < hangulFirst || r > hangulLast {
			return nil, r, false
		}
		n := int(r - hangulFirst)
		syls = append(syls, syllable{n / (nMedial * nFinal), n / nFinal % nMedial, n % nFinal})
	}
	return syls, 0, true
}

// romanizeNameWord romanizes one word of a personal name syllable by
// syllable (rule 3.4: sound changes inside a name are not written), except
// that ㄹㄹ is written ll (table 2.2, note 2).
func romanizeNameWord(syls []syllable) string {
	var b strings.Builder
	b.Grow(len(syls) * 5)
	for i, s := range syls {
		if s.ini == iR && i > 0 && syls[i-1].fin == fL {
			b.WriteByte('l')
		} else {
			b.WriteString(rrInitial[s.ini])
		}
		b.WriteString(rrMedial[s.med])
		b.WriteString(rrFinal[s.fin])
	}
	return b.String()
}

// romanizeHangul transliterates a name written in Hangul.
func romanizeHangul(s string, part Part) (Result, error) {
	ws, seps := words(s)
	rom := make([]string, len(ws))
	for i, w := range ws {
		syls, bad, ok := decompose(w)
		if !ok {
			return Result{}, &Error{Part: part, Reason: ReasonNoReading, Char: bad}
		}
		rom[i] = romanizeNameWord(syls)
	}
	r := Result{Name: joinLatin(rom, seps), System: RR}
	if part == Family && len(ws) == 1 {
		for _, sp := range koreanSurnames[ws[0]] {
			r.Suggestions = addSuggestion(r.Suggestions, r.Name, Name{ICAO: latinToICAO(sp), Latin: sp})
		}
	}
	return r, nil
}

// koreanSurnames holds the spellings of common Korean surnames that South
// Korean passports mostly carry instead of the strict Revised Romanization,
// most common first. They are offered as suggestions only; the list is
// neither normative nor complete.
var koreanSurnames = map[string][]string{
	"김": {"Kim"}, "이": {"Lee", "Yi", "Rhee"}, "박": {"Park", "Pak"}, "최": {"Choi"},
	"정": {"Jung", "Chung", "Jeong"}, "강": {"Kang"}, "조": {"Cho", "Jo"}, "윤": {"Yoon", "Yun"},
	"장": {"Jang", "Chang"}, "임": {"Lim", "Im", "Yim"}, "한": {"Han"}, "오": {"Oh"},
	"서": {"Seo", "Suh"}, "신": {"Shin"}, "권": {"Kwon"}, "황": {"Hwang"}, "안": {"Ahn", "An"},
	"송": {"Song"}, "류": {"Ryu", "Yoo", "Yu"}, "유": {"Yoo", "Yu"}, "전": {"Jeon", "Jun", "Chun"},
	"홍": {"Hong"}, "고": {"Ko", "Koh"}, "문": {"Moon"}, "양": {"Yang"}, "손": {"Son", "Sohn"},
	"배": {"Bae"}, "백": {"Baek", "Paik"}, "허": {"Heo", "Huh"}, "남": {"Nam"}, "심": {"Shim"},
	"노": {"Noh", "Roh"}, "하": {"Ha"}, "곽": {"Kwak"}, "성": {"Sung"}, "차": {"Cha"},
	"주": {"Joo", "Ju"}, "우": {"Woo"}, "구": {"Koo", "Ku"}, "민": {"Min"}, "진": {"Jin"},
	"나": {"Na", "Ra"}, "지": {"Ji"}, "엄": {"Eom", "Um"}, "채": {"Chae"}, "원": {"Won"},
	"천": {"Chun", "Cheon"}, "방": {"Bang"}, "공": {"Kong"}, "현": {"Hyun"}, "변": {"Byun"},
	"염": {"Yeom", "Yum"}, "여": {"Yeo"}, "추": {"Choo"}, "도": {"Do"}, "석": {"Seok", "Suk"},
	"선": {"Sun"}, "설": {"Seol", "Sul"}, "마": {"Ma"}, "길": {"Kil", "Gil"}, "연": {"Yeon", "Youn"},
	"위": {"Wi", "Wee"}, "표": {"Pyo"}, "명": {"Myung"}, "기": {"Ki"}, "반": {"Ban", "Bahn"},
	"라": {"Ra", "La"}, "왕": {"Wang"}, "금": {"Keum"}, "옥": {"Ok"}, "육": {"Yook"},
	"인": {"In"}, "맹": {"Maeng"}, "제": {"Je"}, "모": {"Mo"}, "탁": {"Tak"}, "국": {"Kook", "Kuk"},
	"어": {"Eo", "Uh"}, "은": {"Eun"}, "편": {"Pyun"}, "용": {"Yong"}, "예": {"Yeh", "Ye"},
	"경": {"Kyung"}, "봉": {"Bong"}, "사": {"Sa"}, "부": {"Boo"}, "소": {"So"}, "가": {"Ka"},
	"남궁": {"Namkoong", "Namgoong"}, "황보": {"Hwangbo"}, "선우": {"Sunwoo"},
	"제갈": {"Jegal"}, "독고": {"Dokko"}, "사공": {"Sakong"}, "서문": {"Seomun"},
}

// romanizeWord romanizes an ordinary word or place name by the Revised
// Romanization, from its standard pronunciation as far as the spelling
// tells it (rule 3.1): linking of a final consonant to a following vowel,
// palatalization of ㄷ and ㅌ before 이, aspiration with ㅎ (keeping ㅎ after
// ㄱ, ㄷ, ㅂ as nouns do, rule 3.1.4), nasalization and lateralization.
// Tensification is not written. Changes that depend on morphemes (ㄴ
// insertion in 학여울 Hangnyeoul; ㄴㄹ read as ㄴㄴ in 신문로 Sinmunno) or on
// the part of speech (the verb 잡혀 japyeo) are not made. Words are separated
// as in the input; a hyphen stops assimilation, as before an administrative
// unit (충청북-도 Chungcheongbuk-do, rule 3.5). It is used for names of
// places and things, never for people, and returns lower case.
func romanizeWord(s string) (string, bool) {
	ws, seps := words(s)
	var b strings.Builder
	for k, w := range ws {
		syls, _, ok := decompose(w)
		if !ok {
			return "", false
		}
		if k > 0 {
			b.WriteRune(seps[k])
		}
		n := len(syls)
		ini := make([]string, n)
		fin := make([]string, n)
		for i, s := range syls {
			ini[i], fin[i] = rrInitial[s.ini], rrFinal[s.fin]
		}
		for i := 0; i+1 < n; i++ {
			assimilate(syls[i].fin, syls[i+1].ini, syls[i+1].med, &fin[i], &ini[i+1])
		}
		for i, s := range syls {
			b.WriteString(ini[i])
			b.WriteString(rrMedial[s.med])
			b.WriteString(fin[i])
		}
	}
	return b.String(), true
}

// assimilate rewrites the romanized final fo (of final F) and the following
// initial io (of initial I, before vowel V) as they are pronounced.
func assimilate(F, I, V int, fo, io *string) {
	switch {
	case F == 0:
		return
	case I == iNG: // a vowel follows: the final moves over (linking)
		first, moved := "", ""
		switch F {
		case fNG:
			return
		case fH:
		case fNH:
			moved = "n"
		case fLH:
			moved = "r"
		case fGS:
			first, moved = "k", "s"
		case fNJ:
			first, moved = "n", "j"
		case fLG:
			first, moved = "l", "g"
		case fLM:
			first, moved = "l", "m"
		case fLB:
			first, moved = "l", "b"
		case fLS:
			first, moved = "l", "s"
		case fLT:
			first, moved = "l", "t"
		case fLP:
			first, moved = "l", "p"
		case fBS:
			first, moved = "p", "s"
		case fG:
			moved = "g"
		case fKK:
			moved = "kk"
		case fN:
			moved = "n"
		case fD:
			moved = "d"
		case fL:
			moved = "r"
		case fM:
			moved = "m"
		case fB:
			moved = "b"
		case fS:
			moved = "s"
		case fSS:
			moved = "ss"
		case fJ:
			moved = "j"
		case fCH:
			moved = "ch"
		case fK:
			moved = "k"
		case fT:
			moved = "t"
		case fP:
			moved = "p"
		}
		if V == mI { // palatalization: 해돋이 haedoji, 같이 gachi
			switch moved {
			case "d":
				moved = "j"
			case "t":
				moved = "ch"
			}
		}
		*fo, *io = first, moved
		return
	case F == fH || F == fNH || F == fLH:
		// What is left of the final once ㅎ is gone: ㄶ → ㄴ, ㅀ → ㄹ.
		rest := ""
		switch F {
		case fNH:
			rest = "n"
		case fLH:
			rest = "l"
		}
		switch I {
		case iG: // 좋고 joko
			*fo, *io = rest, "k"
			return
		case iD: // 놓다 nota
			*fo, *io = rest, "t"
			return
		case iJ: // 낳지 nachi
			*fo, *io = rest, "ch"
			return
		case iS, iH:
			*fo = rest
			return
		case iN: // 놓는 [논는], 않네 [안네], 뚫는 [뚤른]
			*fo = "n"
			if F == fLH {
				*fo, *io = "l", "l"
			}
			return
		}
		if rest == "" {
			rest = "t"
		}
		*fo = rest
	case F == fLG && I == iG:
		*fo = "l"
	}
	switch I {
	case iR:
		switch *fo {
		case "l":
			*io = "l"
		case "n": // 신라 Silla, 대관령 Daegwallyeong
			*fo, *io = "l", "l"
		case "m", "ng": // 종로 Jongno
			*io = "n"
		case "k", "t", "p": // 백리 baengni, 왕십리 Wangsimni
			*fo, *io = nasal(*fo), "n"
		}
	case iN, iM:
		switch *fo {
		case "k", "t", "p": // 백마 Baengma
			*fo = nasal(*fo)
		case "l": // 별내 Byeollae
			if I == iN {
				*io = "l"
			}
		}
	}
}

// nasal returns the nasal a stop becomes before a nasal (Standard
// Pronunciation rule 18).
func nasal(stop string) string {
	switch stop {
	case "k":
		return "ng"
	case "t":
		return "n"
	}
	return "m"
}
