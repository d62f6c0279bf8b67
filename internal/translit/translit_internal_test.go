package translit

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRRExamples checks the Hangul tables and the sound-change rules against
// the examples of places and words in the Revised Romanization of Korean:
// Ministry of Culture and Tourism proclamation 2000-8 of 7 July 2000,
// "국어의 로마자 표기법", published by the National Institute of Korean Language
// (https://www.korean.go.kr/front_eng/roman/roman_01.do) and restated in the
// Republic of Korea's paper E/CONF.94/INF.68 to the Eighth UN Conference on
// the Standardization of Geographical Names (2002). Rule numbers are the
// proclamation's (chapter.article).
//
// Left out, because the spelling alone does not decide them: 신문로
// Sinmunno (3.1.1: ㄴㄹ read ㄴㄴ in this word only), 학여울 Hangnyeoul and 알약
// allyak (3.1.2: ㄴ inserted at a morpheme boundary), 굳히다 guchida and 잡혀
// japyeo (3.1.3 and 3.1.4: verbs; romanizeWord follows the rule for nouns,
// which keeps ㅎ after ㄱ, ㄷ, ㅂ), the optional hyphens of 3.2 (중앙 Jung-ang,
// 반구대 Ban-gudae, 세운 Se-un, 해운대 Hae-undae; romanizeWord gives the
// unhyphenated Jungang, Bangudae, Seun, Haeundae, checked below), and the
// numbers of 3.5 (봉천1동 Bongcheon 1(il)-dong).
func TestRRExamples(t *testing.T) {
	examples := []struct{ rule, hangul, want string }{
		// 2.1 vowels, note 1: ㅢ is ui even when pronounced ㅣ.
		{"2.1", "광희문", "Gwanghuimun"},
		// 2.2 consonants, note 1: ㄱ ㄷ ㅂ are g d b before a vowel, k t p
		// before a consonant or at the end.
		{"2.2", "구미", "Gumi"},
		{"2.2", "영동", "Yeongdong"},
		{"2.2", "백암", "Baegam"},
		{"2.2", "옥천", "Okcheon"},
		{"2.2", "합덕", "Hapdeok"},
		{"2.2", "호법", "Hobeop"},
		{"2.2", "월곶", "Wolgot"},
		{"2.2", "벚꽃", "beotkkot"},
		{"2.2", "한밭", "Hanbat"},
		// 2.2 note 2: ㄹ is r before a vowel, l before a consonant or at
		// the end; ㄹㄹ is ll.
		{"2.2", "구리", "Guri"},
		{"2.2", "설악", "Seorak"},
		{"2.2", "칠곡", "Chilgok"},
		{"2.2", "임실", "Imsil"},
		{"2.2", "울릉", "Ulleung"},
		{"2.2", "대관령", "Daegwallyeong"},
		// 3.1.1 assimilation between consonants.
		{"3.1.1", "백마", "Baengma"},
		{"3.1.1", "종로", "Jongno"},
		{"3.1.1", "왕십리", "Wangsimni"},
		{"3.1.1", "별내", "Byeollae"},
		{"3.1.1", "신라", "Silla"},
		// 3.1.3 palatalization.
		{"3.1.3", "해돋이", "haedoji"},
		{"3.1.3", "같이", "gachi"},
		// 3.1.4 aspiration with ㅎ; in nouns ㅎ after ㄱ ㄷ ㅂ is written.
		{"3.1.4", "좋고", "joko"},
		{"3.1.4", "놓다", "nota"},
		{"3.1.4", "낳지", "nachi"},
		{"3.1.4", "묵호", "Mukho"},
		{"3.1.4", "집현전", "Jiphyeonjeon"},
		// 3.1 note: tensification is not written.
		{"3.1", "압구정", "Apgujeong"},
		{"3.1", "낙동강", "Nakdonggang"},
		{"3.1", "죽변", "Jukbyeon"},
		{"3.1", "낙성대", "Nakseongdae"},
		{"3.1", "합정", "Hapjeong"},
		{"3.1", "팔당", "Paldang"},
		{"3.1", "샛별", "saetbyeol"},
		{"3.1", "울산", "Ulsan"},
		// 3.2 without the optional hyphen.
		{"3.2", "중앙", "Jungang"},
		{"3.2", "반구대", "Bangudae"},
		{"3.2", "세운", "Seun"},
		{"3.2", "해운대", "Haeundae"},
		// 3.3 proper nouns.
		{"3.3", "부산", "Busan"},
		{"3.3", "세종", "Sejong"},
		// 3.5 administrative units, with the hyphen marked in the input:
		// no sound change across it.
		{"3.5", "충청북-도", "Chungcheongbuk-do"},
		{"3.5", "제주-도", "Jeju-do"},
		{"3.5", "의정부-시", "Uijeongbu-si"},
		{"3.5", "양주-군", "Yangju-gun"},
		{"3.5", "도봉-구", "Dobong-gu"},
		{"3.5", "신창-읍", "Sinchang-eup"},
		{"3.5", "삼죽-면", "Samjuk-myeon"},
		{"3.5", "인왕-리", "Inwang-ri"},
		{"3.5", "당산-동", "Dangsan-dong"},
		// 3.6 natural features, cultural properties and structures.
		{"3.6", "남산", "Namsan"},
		{"3.6", "속리산", "Songnisan"},
		{"3.6", "금강", "Geumgang"},
		{"3.6", "독도", "Dokdo"},
		{"3.6", "경복궁", "Gyeongbokgung"},
		{"3.6", "무량수전", "Muryangsujeon"},
		{"3.6", "연화교", "Yeonhwagyo"},
		{"3.6", "극락전", "Geungnakjeon"},
		{"3.6", "안압지", "Anapji"},
		{"3.6", "남한산성", "Namhansanseong"},
		{"3.6", "화랑대", "Hwarangdae"},
		{"3.6", "불국사", "Bulguksa"},
		{"3.6", "현충사", "Hyeonchungsa"},
		{"3.6", "독립문", "Dongnimmun"},
		{"3.6", "오죽헌", "Ojukheon"},
		{"3.6", "촉석루", "Chokseongnu"},
		{"3.6", "종묘", "Jongmyo"},
		{"3.6", "다보탑", "Dabotap"},
	}
	for _, ex := range examples {
		got, ok := romanizeWord(ex.hangul)
		if !ok || !strings.EqualFold(got, ex.want) {
			t.Errorf("rule %s: %s = %q, want %q", ex.rule, ex.hangul, got, ex.want)
		}
	}
}

// TestRRSoundChanges checks the sound changes of the Standard
// Pronunciation rules (표준 발음법, articles 10-14 and 18-20) that romanizeWord
// takes from the spelling, on words the rules themselves use.
func TestRRSoundChanges(t *testing.T) {
	for in, want := range map[string]string{
		"닭": "dak", "값": "gap", "여덟": "yeodeol", "삶": "sam", "읊다": "eupda", // 10, 11: finals of two consonants
		"맑게": "malge",                                                                            // 11: ㄺ before ㄱ is ㄹ
		"좋아": "joa", "않아": "ana", "싫어": "sireo", "놓는": "nonneun", "않네": "anne", "뚫는": "ttulleun", // 12: ㅎ
		"읽어": "ilgeo", "없어": "eopseo", "넋이": "neoksi", // 14: the second consonant moves over
		"밭이": "bachi", "굳이": "guji", // 17: palatalization
		"국민": "gungmin", "있는": "inneun", "앞마당": "ammadang", // 18: nasalization
		"침략": "chimnyak", "막론": "mangnon", "협력": "hyeomnyeok", // 19: ㄹ after other consonants
		"난로": "nallo", "칼날": "kallal", // 20: lateralization
	} {
		if got, ok := romanizeWord(in); !ok || got != want {
			t.Errorf("%s = %q, want %q", in, got, want)
		}
	}
}

// TestWordAndNameDiffer shows what rule 3.4 changes for names: the sound
// changes romanizeWord makes are not made in a name.
func TestWordAndNameDiffer(t *testing.T) {
	for _, tt := range []struct{ hangul, word, name string }{
		{"복남", "bongnam", "boknam"},
		{"빛나", "binna", "bitna"},
		{"백암", "baegam", "baekam"},
		{"신라", "silla", "sinra"},
	} {
		w, _ := romanizeWord(tt.hangul)
		syls, _, _ := decompose(tt.hangul)
		if n := romanizeNameWord(syls); w != tt.word || n != tt.name {
			t.Errorf("%s: word %q name %q, want %q %q", tt.hangul, w, n, tt.word, tt.name)
		}
	}
}

// TestSurnameTablesMatchTheDictionary checks every reading of the Han
// surname tables against the readings go-pinyin's dictionary gives the
// character, so that a typo in the table cannot invent a reading.
func TestSurnameTablesMatchTheDictionary(t *testing.T) {
	check := func(r rune, want string) {
		rd, ok := readings(r)
		if !ok || !slices.Contains(rd, want) {
			t.Errorf("%c: table says %q, dictionary %q", r, want, rd)
		}
	}
	for r, want := range hanSurnames {
		check(r, want)
	}
	for s, syl := range compoundSurnames {
		if utf8.RuneCountInString(s) != 2 {
			t.Errorf("compound %q is not two characters", s)
		}
		rs := []rune(s)
		check(rs[0], syl[0])
		check(rs[1], syl[1])
	}
}

// TestKoreanSurnameTable checks that the suggestion table holds only
// surnames written in Hangul syllables, with valid ICAO forms.
func TestKoreanSurnameTable(t *testing.T) {
	for h, spellings := range koreanSurnames {
		if _, _, ok := decompose(h); !ok || len(spellings) == 0 {
			t.Errorf("%q: %v", h, spellings)
		}
		for _, sp := range spellings {
			if !ValidICAO(latinToICAO(sp)) || latinToICAO(sp) != strings.ToUpper(sp) {
				t.Errorf("%s: %q", h, sp)
			}
		}
	}
}

func TestToneless(t *testing.T) {
	for in, want := range map[string]string{
		"zhōng": "zhong", "lǚ": "lyu", "nǚ": "nyu", "lüè": "lue", "nüè": "nue", "lǜ": "lyu",
		"ê̄": "e", "ḿ": "m", "ńg": "ng", "jū": "ju", "xǔ": "xu", "lü": "lyu", "x1": "",
	} {
		if got := toneless(in); got != want {
			t.Errorf("toneless(%q) = %q, want %q", in, got, want)
		}
	}
}
