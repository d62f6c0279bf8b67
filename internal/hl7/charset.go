package hl7

import (
	"bytes"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// charset is how a message's text is decoded.
type charset struct {
	enc  encoding.Encoding // nil: UTF-8 (ASCII is a subset)
	utf8 bool              // UTF-8 was declared explicitly
	warn string            // a warning to report, for a name outside table 0211
}

// charsets maps MSH-18 values (HL7 table 0211, plus a few names that real
// feeds send) to decoders.
var charsets = map[string]charset{
	"":               {},
	"ASCII":          {},
	"ISO IR6":        {},
	"UNICODE":        {utf8: true},
	"UNICODE UTF-8":  {utf8: true},
	"UTF-8":          {utf8: true},
	"UTF8":           {utf8: true},
	"8859/1":         {enc: charmap.ISO8859_1},
	"8859/2":         {enc: charmap.ISO8859_2},
	"8859/3":         {enc: charmap.ISO8859_3},
	"8859/4":         {enc: charmap.ISO8859_4},
	"8859/5":         {enc: charmap.ISO8859_5},
	"8859/6":         {enc: charmap.ISO8859_6},
	"8859/7":         {enc: charmap.ISO8859_7},
	"8859/8":         {enc: charmap.ISO8859_8},
	"8859/9":         {enc: charmap.ISO8859_9},
	"8859/15":        {enc: charmap.ISO8859_15},
	"ISO IR100":      {enc: charmap.ISO8859_1},
	"ISO IR144":      {enc: charmap.ISO8859_5},
	"ISO IR14":       {enc: japanese.ShiftJIS}, // JIS X 0201: ASCII and single-byte katakana, as in Shift JIS
	"ISO IR87":       {enc: japanese.ISO2022JP},
	"ISO IR159":      {enc: japanese.ISO2022JP},
	"GB 18030-2000":  {enc: simplifiedchinese.GB18030},
	"GB18030":        {enc: simplifiedchinese.GB18030},
	"KS X 1001":      {enc: korean.EUCKR},
	"ISO IR149":      {enc: korean.EUCKR},
	"BIG-5":          {enc: traditionalchinese.Big5},
	"UNICODE UTF-16": {utf8: true, warn: "MSH-18 declares UTF-16 but the message is 8-bit text; it was read as UTF-8"},
	"UNICODE UTF-32": {utf8: true, warn: "MSH-18 declares UTF-32 but the message is 8-bit text; it was read as UTF-8"},
}

// lookupCharset returns the decoder for one MSH-18 value. Names outside table
// 0211 that the WHATWG encoding standard knows ("euc-kr", "iso-8859-1") are
// accepted with a warning.
func lookupCharset(name string) (charset, bool) {
	if c, ok := charsets[strings.ToUpper(strings.TrimSpace(name))]; ok {
		return c, true
	}
	e, err := htmlindex.Get(strings.TrimSpace(name))
	if err != nil {
		return charset{}, false
	}
	w := "character set " + quote(name) + " is not an HL7 table 0211 value; it was read as " + quote(mustName(e))
	if e == unicode.UTF8 {
		return charset{utf8: true, warn: w}, true
	}
	return charset{enc: e, warn: w}, true
}

func mustName(e encoding.Encoding) string {
	n, err := htmlindex.Name(e)
	if err != nil {
		return "?"
	}
	return n
}

// charsetOf picks the decoder for a raw MSH-18. The first repetition is the
// message's default character set; when it is ASCII and a later repetition
// names a legacy set (as in "ASCII~ISO IR87", where ISO 2022 escapes switch
// to JIS X 0208), that set's decoder is used, since it reads ASCII too.
func charsetOf(raw string, d Delimiters) (charset, bool) {
	c, ok := lookupCharset(firstRep(raw, d))
	if !ok || c.enc != nil || c.utf8 || d.Repetition == 0 {
		return c, ok
	}
	for i := 2; i <= 5; i++ {
		r := piece(raw, d.Repetition, i)
		if r == "" {
			break
		}
		if rc, ok := lookupCharset(strings.TrimSpace(piece(r, d.Component, 1))); ok && rc.enc != nil {
			return rc, true
		}
	}
	return c, true
}

// decodeBOM removes a UTF-8 byte order mark, and decodes a body in UTF-16
// (with a byte order mark, or without one when the first character is
// ASCII). The bool reports that the body was UTF-16 and is now UTF-8, so that
// MSH-18 must not be applied again.
func decodeBOM(b []byte) ([]byte, bool) {
	if bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}) {
		return b[3:], false
	}
	if len(b) < 2 {
		return b, false
	}
	var e encoding.Encoding
	switch {
	case b[0] == 0xff && b[1] == 0xfe, b[0] != 0 && b[1] == 0:
		e = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	case b[0] == 0xfe && b[1] == 0xff, b[0] == 0 && b[1] != 0:
		e = unicode.UTF16(unicode.BigEndian, unicode.UseBOM)
	default:
		return b, false
	}
	out, err := e.NewDecoder().Bytes(b)
	if err != nil {
		return b, false
	}
	return out, true
}

// encodeText writes UTF-8 text s in the character set named by an MSH-18
// value. It reports false when the set is unknown or cannot represent s.
func encodeText(s, name string) ([]byte, bool) {
	c, ok := lookupCharset(name)
	if !ok {
		return nil, false
	}
	if c.enc == nil {
		return []byte(s), true
	}
	out, err := c.enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		return nil, false
	}
	return out, true
}
