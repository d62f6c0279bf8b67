package hl7_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

func TestValueNavigation(t *testing.T) {
	m := mustParse(t, er7(`
MSH|^~\&|APP^1.2.3^ISO|FAC
PID|1||a1^^^AUTH&1.2&ISO^MR~a2^^^B^PI||fam&pre^giv|x||""
`))
	msh := &m.Segments()[0]
	if got := msh.Field(1).Text(); got != "|" {
		t.Errorf("MSH-1 = %q", got)
	}
	if got := msh.Field(2).Text(); got != `^~\&` {
		t.Errorf("MSH-2 = %q", got)
	}
	if got := msh.Field(3).Comp(2).Text(); got != "1.2.3" {
		t.Errorf("MSH-3.2 = %q", got)
	}
	pid := m.Find("PID", 1)
	if pid == nil || pid.Len() != 8 {
		t.Fatalf("PID = %v", pid)
	}
	f3 := pid.Field(3)
	tests := []struct{ got, want string }{
		{f3.Raw(), "a1^^^AUTH&1.2&ISO^MR~a2^^^B^PI"},
		{f3.Text(), "a1"},
		{f3.Rep(2).Text(), "a2"},
		{f3.Rep(2).Comp(5).Text(), "PI"},
		{f3.Comp(4).Sub(2).Text(), "1.2"},
		{f3.Rep(1).Comp(4).Sub(3).Text(), "ISO"},
		{f3.Rep(3).Text(), ""},
		{f3.Comp(4).Text(), "AUTH"},
		{f3.Comp(4).Sub(2).Sub(1).Text(), "1.2"},
		{f3.Comp(4).Sub(2).Sub(2).Text(), ""},
		{pid.Field(5).Comp(1).Sub(2).Text(), "pre"},
		{pid.Field(5).Comp(2).Comp(1).Text(), "giv"},
		{pid.Field(5).Comp(2).Comp(2).Text(), ""},
		{pid.Field(8).Text(), ""},
		{pid.Field(99).Text(), ""},
		{pid.Field(0).Text(), ""},
	}
	for i, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%d: %q, want %q", i, tc.got, tc.want)
		}
	}
	if f3.Reps() != 2 || pid.Field(4).Reps() != 0 || f3.Rep(2).Reps() != 1 {
		t.Errorf("Reps = %d %d %d", f3.Reps(), pid.Field(4).Reps(), f3.Rep(2).Reps())
	}
	if !pid.Field(8).IsNull() || pid.Field(8).IsEmpty() || !pid.Field(4).IsEmpty() {
		t.Error("IsNull/IsEmpty")
	}
	if m.Find("PID", 2) != nil || m.Find("OBX", 1) != nil {
		t.Error("Find found a segment that is not there")
	}
	if l := pid.Loc(3); l.String() != "PID^1^3" {
		t.Errorf("Loc = %s", l)
	}
}

func TestEscapes(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`plain`, "plain"},
		{`a\F\b`, "a|b"},
		{`a\S\b\T\c\R\d\E\e`, `a^b&c~d\e`},
		{`\X414243\`, "ABC"},
		{`\x41\`, "A"},
		{`\X\`, ""},
		{`\XC3A9\`, "é"},   // UTF-8 bytes
		{`\XE9\`, "é"},     // not UTF-8: read as ISO 8859-1
		{`\X4\`, `\X4\`},   // odd number of digits: kept
		{`\XZZ\`, `\XZZ\`}, // not hex: kept
		{`a\.br\b`, "a\nb"},
		{`a\.sp2\b`, "a\nb"},
		{`\.in+4\a\.ti-2\b\.sk3\c\.ce\d\.fi\\.nf\`, "abcd"},
		{`\H\bold\N\`, "bold"},
		{`\C2842\abc\M2442\`, "abc"},
		{`\Zlocal\x`, "x"},
		{`\Q\`, `\Q\`},
		{`trailing\`, `trailing\`},
		{`C:\path`, `C:\path`},
		{`\\F\`, `\|`},
		{`\P\`, `\P\`}, // no truncation character declared
		{`""`, ""},
	}
	for _, tc := range tests {
		m := mustParse(t, er7("MSH|^~\\&|A\nNTE|1||"+tc.raw))
		if got := m.Find("NTE", 1).Field(3).Text(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"2021", "2021", true},
		{"202109", "2021-09", true},
		{"20210917", "2021-09-17", true},
		{"2021091714", "2021-09-17", true},
		{"202109171430", "2021-09-17", true},
		{"20210917143059", "2021-09-17", true},
		{"20210917143059.1234", "2021-09-17", true},
		{"20210917143059-0500", "2021-09-17", true},
		{"20210917+0900", "2021-09-17", true},
		{"20240229", "2024-02-29", true},
		{"20230229", "", false},
		{"20211345", "", false},
		{"20211300", "", false},
		{"20210900", "", false},
		{"2021091724", "", false},
		{"202109171460", "", false},
		{"20210917143060", "", false},
		{"2021-09-17", "", false},
		{"21", "", false},
		{"0000", "", false},
		{"2021091", "", false},
		{"20210917.5", "", false},
		{"20210917143059.", "", false},
		{"20210917-05", "", false},
		{"20210917-1500", "", false},
		{"abcd", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		d, err := hl7.ParseDate(tc.in)
		if (err == nil) != tc.ok || d.String() != tc.want {
			t.Errorf("ParseDate(%q) = %v, %v; want %q", tc.in, d, err, tc.want)
		}
	}
	d := hl7.Date{Year: 2021, Month: 9}
	if d.HL7() != "202109" || d.Complete() || d.IsZero() || (hl7.Date{}).String() != "" {
		t.Error("Date methods")
	}
}

func TestLocation(t *testing.T) {
	tests := []struct {
		l         hl7.Location
		erl, path string
	}{
		{hl7.Location{}, "", ""},
		{hl7.Location{Segment: "PID", Seq: 1}, "PID^1", "PID[1]"},
		{hl7.Location{Segment: "PID", Seq: 1, Field: 3}, "PID^1^3", "PID[1]-3"},
		{hl7.Location{Segment: "RXA", Seq: 2, Field: 5, Rep: 1, Comp: 1}, "RXA^2^5^1^1", "RXA[2]-5.1"},
		{hl7.Location{Segment: "PID", Seq: 1, Field: 3, Rep: 2, Comp: 4, Sub: 1}, "PID^1^3^2^4^1", "PID[1]-3[2].4.1"},
		{hl7.Location{Segment: "RXA", Seq: 1, Field: 11, Comp: 4}, "RXA^1^11^^4", "RXA[1]-11.4"},
	}
	for _, tc := range tests {
		if got := tc.l.String(); got != tc.erl {
			t.Errorf("String() = %q, want %q", got, tc.erl)
		}
		if got := tc.l.Path(); got != tc.path {
			t.Errorf("Path() = %q, want %q", got, tc.path)
		}
		if tc.erl != "" {
			if got := hl7.ParseLocation(tc.erl); got != tc.l {
				t.Errorf("ParseLocation(%q) = %+v", tc.erl, got)
			}
		}
	}
}

func TestParseBodies(t *testing.T) {
	vxu := readFile(t, "vxu-historical.hl7")
	multi := append(append([]byte{}, vxu...), readFile(t, "vxu-multiple-orders.hl7")...)
	tests := []struct {
		name string
		body []byte
		msgs int
	}{
		{"one", vxu, 1},
		{"two-back-to-back", multi, 2},
		{"cr", withTerminator(multi, "\r"), 2},
		{"crlf", withTerminator(multi, "\r\n"), 2},
		{"mixed-and-blank-lines", []byte(strings.Replace(string(multi), "\n", "\r\n\r\n\n", 3)), 2},
		{"no-final-terminator", bytes.TrimSuffix(vxu, []byte("\n")), 1},
		{"mllp-framing", append(append([]byte{0x0b}, vxu...), 0x1c, '\r'), 1},
		{"utf-8-bom", append([]byte{0xef, 0xbb, 0xbf}, vxu...), 1},
		{"indented", []byte(strings.ReplaceAll(string(vxu), "\n", "\n  ")), 1},
		{"batch", readFile(t, "batch.hl7"), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hl7.Parse(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Messages) != tc.msgs {
				t.Fatalf("%d messages, want %d", len(b.Messages), tc.msgs)
			}
			for i, m := range b.Messages {
				if m.Err != nil || m.Index != i+1 {
					t.Errorf("message %d: %v", m.Index, m.Err)
				}
				if _, errs := hl7.ReadVXU(m); errs.Fatal() && tc.name != "batch" {
					t.Errorf("message %d: %v", m.Index, errs)
				}
			}
		})
	}
}

func TestBatch(t *testing.T) {
	in, err := hl7.Parse(readFile(t, "batch.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	if in.FHS == nil || in.BHS == nil || in.BTS == nil || in.FTS == nil {
		t.Fatalf("batch segments: %+v", in)
	}
	if in.FHS.Field(11).Text() != "FILE-1" || in.BHS.Field(11).Text() != "BATCH-1" || in.BTS.Field(1).Text() != "2" {
		t.Error("batch fields")
	}
	var replies [][]byte
	for _, m := range in.Messages {
		v, errs := hl7.ReadVXU(m)
		ack, err := hl7.NewACK(&v.Header, errs, env)
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, ack)
	}
	out := hl7.NewBatch(in, replies, env)
	back, err := hl7.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.FHS == nil || back.BHS == nil || back.BTS.Field(1).Text() != "2" || back.FTS == nil || len(back.Messages) != 2 {
		t.Fatalf("reply batch:\n%q", out)
	}
	if back.BHS.Field(3).Text() != "HAVEN" || back.BHS.Field(5).Text() != "MYEHR" || back.BHS.Field(12).Text() != "BATCH-1" {
		t.Errorf("BHS = %q", segments(out)[1])
	}
	for i, want := range []hl7.AckCode{hl7.AA, hl7.AR} {
		a, _ := hl7.ReadACK(back.Messages[i])
		if a.Code != want {
			t.Errorf("ACK %d = %s, want %s", i+1, a.Code, want)
		}
	}
	if got := hl7.NewBatch(&hl7.Batch{}, [][]byte{[]byte("A\r"), []byte("B\r")}, env); string(got) != "A\rB\r" {
		t.Errorf("NewBatch without FHS/BHS = %q", got)
	}
}

func TestParseBodyErrors(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		lim  hl7.Limits
		code string
	}{
		{"empty", nil, hl7.Limits{}, registry.EMALFORMED},
		{"blank", []byte("\r\n\r\n  \n"), hl7.Limits{}, registry.EMALFORMED},
		{"text-before-msh", []byte("hello\rMSH|^~\\&|A\r"), hl7.Limits{}, registry.EMALFORMED},
		{"pid-first", []byte("PID|1\rMSH|^~\\&|A\r"), hl7.Limits{}, registry.EMALFORMED},
		{"text-after-trailer", []byte("MSH|^~\\&|A\rBTS|1\rPID|1\r"), hl7.Limits{}, registry.EMALFORMED},
		{"bad-bhs", []byte("BHS|\rMSH|^~\\&|A\r"), hl7.Limits{}, registry.EMALFORMED},
		{"too-large", bytes.Repeat([]byte("MSH|^~\\&|A\r"), 100), hl7.Limits{MaxBytes: 500}, registry.ETOOLARGE},
		{"too-many-messages", bytes.Repeat([]byte("MSH|^~\\&|A\r"), 100), hl7.Limits{MaxMessages: 10}, registry.ETOOLARGE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.lim.Parse(tc.body)
			if registry.ErrorCode(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			var he *hl7.Error
			if !errors.As(err, &he) || he.Severity != hl7.SeverityError {
				t.Errorf("not an *hl7.Error: %v", err)
			}
		})
	}
}

func TestMessageLimits(t *testing.T) {
	long := "MSH|^~\\&|A|B|C|D|20210917||VXU^V04|C1|P|2.5.1\rPID|1" + strings.Repeat("|x", 300) + "\r"
	tests := []struct {
		name string
		body string
		lim  hl7.Limits
		code hl7.Code
	}{
		{"message-bytes", long, hl7.Limits{MaxMessageBytes: 100}, hl7.CodeInternal},
		{"segments", "MSH|^~\\&|A|B|C|D|20210917||VXU^V04|C1|P|2.5.1\r" + strings.Repeat("NTE|1\r", 20), hl7.Limits{MaxSegments: 10}, hl7.CodeSegmentSequence},
		{"fields", long, hl7.Limits{}, hl7.CodeSegmentSequence},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.lim.Parse([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			m := b.Messages[0]
			if m.Err == nil || m.Err.Code != tc.code {
				t.Fatalf("Err = %v", m.Err)
			}
			// The rejection can still be addressed.
			if h := m.Header(); h.ControlID != "C1" || h.SendingApplication.Namespace != "A" {
				t.Errorf("header = %+v", h)
			}
			v, errs := hl7.ReadVXU(m)
			if errs.Ack() != hl7.AR {
				t.Errorf("Ack = %s", errs.Ack())
			}
			if v.Header.ControlID != "C1" {
				t.Errorf("VXU header = %+v", v.Header)
			}
		})
	}
	// Repetitions beyond the limit are not read.
	m := mustParse(t, []byte("MSH|^~\\&|A|B|C|D|20210917||VXU^V04|C1|P|2.5.1\rPID|1||"+strings.Repeat("x^^^A~", 500)+"\r"))
	v, _ := hl7.ReadVXU(m)
	if len(v.Patient.Identifiers) != 100 { // the default MaxRepetitions
		t.Errorf("%d identifiers read", len(v.Patient.Identifiers))
	}
}

// legacy builds a one-message VXU in a legacy character set.
func legacy(t *testing.T, e encoding.Encoding, charset, family string) []byte {
	t.Helper()
	s := "MSH|^~\\&|A|B|HAVEN|H|20210917||VXU^V04^VXU_V04|C1|P|2.5.1|||ER|AL||" + charset + "\r" +
		"PID|1||X^^^A^MR||" + family + "^Given\r"
	if e == nil {
		return []byte(s)
	}
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCharsets(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		family  string
		warning bool
	}{
		{"8859/1", legacy(t, charmap.ISO8859_1, "8859/1", "Müller"), "Müller", false},
		{"8859/5", legacy(t, charmap.ISO8859_5, "8859/5", "Иванов"), "Иванов", false},
		{"8859/15", legacy(t, charmap.ISO8859_15, "8859/15", "Œuvre€"), "Œuvre€", false},
		// In ISO-2022-JP, 万 is ESC $ B "K|", 京 "5~" and 五 "8^": the text must be decoded before it is split.
		{"ISO IR87", legacy(t, japanese.ISO2022JP, "ISO IR87", "万京五"), "万京五", false},
		{"ASCII~ISO IR87", legacy(t, japanese.ISO2022JP, "ASCII~ISO IR87", "山田"), "山田", false},
		{"ISO IR14", legacy(t, japanese.ShiftJIS, "ISO IR14", "ｶﾀｶﾅ"), "ｶﾀｶﾅ", false},
		{"KS X 1001", legacy(t, korean.EUCKR, "KS X 1001", "김"), "김", false},
		{"ISO IR149", legacy(t, korean.EUCKR, "ISO IR149", "이"), "이", false},
		{"UNICODE UTF-8", legacy(t, nil, "UNICODE UTF-8", "Zoë 王"), "Zoë 王", false},
		{"UTF-8 undeclared", legacy(t, nil, "", "Zoë"), "Zoë", false},
		{"latin-1 undeclared", legacy(t, charmap.ISO8859_1, "", "José"), "José", true},
		{"utf-8 declared, invalid", legacy(t, nil, "UNICODE UTF-8", "Jos\xff"), "Jos\uFFFD", true},
		{"whatwg name", legacy(t, korean.EUCKR, "euc-kr", "김"), "김", true},
		{"unknown name, ASCII text", legacy(t, nil, "KLINGON", "Doe"), "Doe", true},
		{"utf-16le with bom", legacy(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), "UNICODE UTF-16", "王"), "王", false},
		{"utf-16be without bom", legacy(t, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "UNICODE UTF-16", "王"), "王", false},
		{"utf-16 declared, 8-bit", legacy(t, nil, "UNICODE UTF-16", "Doe"), "Doe", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.body)
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			v, errs := hl7.ReadVXU(m)
			if errs.Fatal() {
				t.Fatal(errs)
			}
			if got := v.Patient.Names[0].Family; got != tc.family {
				t.Errorf("family = %q, want %q", got, tc.family)
			}
			if warned := len(errs) > 0; warned != tc.warning {
				t.Errorf("warnings = %v", errs)
			}
			for _, e := range errs {
				if !strings.HasPrefix(e.Location.String(), "MSH^1^18") {
					t.Errorf("warning at %s: %v", e.Location, e)
				}
			}
		})
	}
}

func TestHexEscapeInCharset(t *testing.T) {
	// \XB1E8\ is 김 in EUC-KR.
	m := mustParse(t, legacy(t, korean.EUCKR, "KS X 1001", `\XB1E8\`))
	v, _ := hl7.ReadVXU(m)
	if got := v.Patient.Names[0].Family; got != "김" {
		t.Errorf("family = %q", got)
	}
}

func TestDelimiterDeclarations(t *testing.T) {
	tests := []struct {
		msh  string
		want hl7.Delimiters
		ok   bool
	}{
		{`MSH|^~\&|A`, hl7.StandardDelimiters, true},
		{`MSH|^~\&#|A`, hl7.Delimiters{'|', '^', '~', '\\', '&', '#'}, true},
		{`MSH|^~\&`, hl7.StandardDelimiters, true},
		{`MSH!^~\&!A`, hl7.Delimiters{'!', '^', '~', '\\', '&', 0}, true},
		{`MSH|^~|A`, hl7.Delimiters{Field: '|', Component: '^', Repetition: '~'}, true},
		{`MSH||A`, hl7.Delimiters{}, false},
		{`MSH|^^\&|A`, hl7.Delimiters{}, false},
		{`MSH|^~\&|#|A`, hl7.StandardDelimiters, true},
		{`MSH|^~\&x|A`, hl7.Delimiters{}, false},
		{`MSH|^|\&|A`, hl7.Delimiters{Field: '|', Component: '^'}, true},
		{`MSH|^~\&#$|A`, hl7.Delimiters{}, false},
		{`MSH ^~\&`, hl7.Delimiters{}, false},
	}
	for _, tc := range tests {
		b, err := hl7.Parse([]byte(tc.msh + "\r"))
		if err != nil {
			if tc.ok || !strings.HasPrefix(tc.msh, "MSH ") {
				t.Errorf("%s: %v", tc.msh, err)
			}
			continue
		}
		m := b.Messages[0]
		if (m.Err == nil) != tc.ok {
			t.Errorf("%s: Err = %v", tc.msh, m.Err)
			continue
		}
		if m.Err != nil {
			if got := m.Err.Location.Segment; got != "MSH" || m.Err.Code != hl7.CodeDataType {
				t.Errorf("%s: %v", tc.msh, m.Err)
			}
			continue
		}
		if diff := cmp.Diff(tc.want, m.Delimiters); diff != "" {
			t.Errorf("%s: %s", tc.msh, diff)
		}
	}
}

// TestGB18030TrailBytes: in GB 18030 the second byte of a character may be
// the field separator '|' or the escape character '\'. Such characters in
// MSH-4 and in the data must survive, and MSH-18 must still be found.
func TestGB18030TrailBytes(t *testing.T) {
	var pipe, backslash rune
	for r := rune(0x4e00); r < 0x9fff && (pipe == 0 || backslash == 0); r++ {
		b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(string(r)))
		if err != nil || len(b) != 2 {
			continue
		}
		switch {
		case b[1] == '|' && pipe == 0:
			pipe = r
		case b[1] == '\\' && backslash == 0:
			backslash = r
		}
	}
	if pipe == 0 || backslash == 0 {
		t.Fatal("no such characters")
	}
	name := string(pipe) + string(backslash)
	s := "MSH|^~\\&|A|" + name + "|HAVEN|H|20210917||VXU^V04^VXU_V04|C1|P|2.5.1|||ER|AL||GB 18030-2000\r" +
		"PID|1||X^^^A^MR||" + name + "^Given\r"
	body, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	v, errs := hl7.ReadVXU(mustParse(t, body))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if v.Header.SendingFacility.Namespace != name || v.Patient.Names[0].Family != name || v.Header.Charset != "GB 18030-2000" {
		t.Errorf("MSH-4 %q, family %q, charset %q", v.Header.SendingFacility.Namespace, v.Patient.Names[0].Family, v.Header.Charset)
	}
	ack, err := hl7.NewACK(&v.Header, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	a, errs := hl7.ReadACK(mustParse(t, ack))
	if len(errs) != 0 || a.Header.ReceivingFacility.Namespace != name || a.Code != hl7.AA {
		t.Errorf("ACK read back: %+v %v", a, errs)
	}
}
