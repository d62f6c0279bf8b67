// Package translit writes people's names in the two Latin forms a
// certificate needs: the ICAO 9303 machine-readable form (upper-case A-Z,
// "<" for spaces and hyphens; the pattern ^[A-Z<]*$ and at most 80
// characters that the EU DCC fields fnt and gnt require) and a
// human-readable Latin form ("Gim", "Minjun", "Xiaoming").
//
// Transliterate takes one part of a name (the family name or the given
// name, never both at once: it does not split a full name) and returns the
// default transliteration plus suggestions the clinic may pick instead. The
// clinic always has the last word: whatever it enters replaces the result.
//
// # Scripts
//
//   - Latin and Cyrillic: ICAO Doc 9303 part 3 (diacritics stripped, with
//     its special cases such as Ä→AE, ß→SS and the Cyrillic table). The
//     Latin form of a Latin name is the name as written.
//   - Hangul: the Revised Romanization of Korean (Ministry of Culture and
//     Tourism proclamation 2000-8), as it applies to personal names.
//   - Han (simplified and traditional): Hanyu Pinyin without tones, read from
//     the pinyin-data dictionary of github.com/mozillazg/go-pinyin, with a
//     table of surname readings for the family name.
//
// Anything else (another script, a digit or symbol, a Han character the
// dictionary does not know, a lone jamo) and any field that mixes scripts
// (Hangul with Latin, Han with Hangul, even Latin with Cyrillic, which is
// how look-alike letters slip in) is refused with an *Error that names the
// part and the reason. Nothing is guessed silently.
//
// # Korean names
//
// The Revised Romanization writes the surname, a space, and the given name
// as one word (rule 3.4: 민용하 Min Yongha, 송나리 Song Nari), and does not
// reflect the sound changes that happen inside a name (한복남 Han Boknam, not
// Bongnam; 홍빛나 Hong Bitna, not Binna). Haven therefore romanizes each
// syllable on its own: the initial, the vowel, and the final consonant by
// its representative sound (ㅊ in 빛 → t). The one cross-syllable rule kept is
// the spelling rule of table 2.2, note 2, that ㄹㄹ is written ll (설리
// Seolli). The optional hyphen between syllables (Bok-nam) is not used,
// because ICAO turns it into "<", which splits the given name.
//
// Surnames: the default is strict Revised Romanization (김 Gim, 이 I, 박 Bak,
// 최 Choe, 정 Jeong), because it is the standard and is reproducible. Rule 3.4
// leaves surnames to separate rules that were never issued, and passports
// mostly carry conventional spellings (Kim, Lee, Park, Choi, Jung). Those are
// returned as Suggestions, most common first, for the clinic to pick when
// the person's passport uses one; Haven never picks one by itself.
//
// # Chinese names
//
// The family name is read with a table of surname readings first (单 Shan,
// 曾 Zeng, 区 Ou, 仇 Qiu, 解 Xie, 朴 Piao, 查 Zha, 盖 Ge, 乐 Yue, 覃 Qin) and
// compound surnames (尉迟 Yuchi, 万俟 Moqi, 长孙 Zhangsun), then with the
// dictionary's first reading. Every syllable of a family name, and every
// syllable of a given name, is written as one word, as the Chinese standard
// for names in Pinyin (GB/T 28039-2011) and Chinese passports do: 王小明 is
// family WANG, given XIAOMING. The Latin form keeps the Pinyin apostrophe
// before a syllable that starts with a, o or e (Xi'an), which ICAO drops.
//
// ü follows the convention of passports of the People's Republic of China
// (GB/T 28039-2011 allows YU for Ü where technical needs require it, and the
// Ministry of Public Security's 2012 printing rule for exit-entry documents
// applies it): lü and nü become LYU and NYU (吕 LYU, 女 NYU), while lüe and
// nüe, which cannot be confused, become LUE and NUE (略 LUE). The Latin
// form uses the same spelling (Lyu), so the two forms always agree.
//
// For a given name, the other dictionary readings of polyphonic characters
// (乐 Le or Yue, 长 Chang or Zhang) are returned as Suggestions. A Han name
// is always read as Mandarin: a Japanese or Korean name written in kanji or
// hanja needs the transliteration from the person's passport.
package translit
