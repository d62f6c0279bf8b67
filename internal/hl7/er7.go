package hl7

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"

	"github.com/haven-registry/haven/internal/registry"
)

// Delimiters are the encoding characters a message declares in MSH-1 and
// MSH-2 (or FHS-1/2, BHS-1/2). A zero byte means the character was not
// declared; the truncation character exists from v2.7 on and is only
// tolerated.
type Delimiters struct {
	Field, Component, Repetition, Escape, Subcomponent, Truncation byte
}

// StandardDelimiters are |^~\& , which Haven always writes.
var StandardDelimiters = Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&'}

// EncodingCharacters returns MSH-2 as d declares it ("^~\&").
func (d Delimiters) EncodingCharacters() string {
	b := make([]byte, 0, 5)
	for _, c := range [...]byte{d.Component, d.Repetition, d.Escape, d.Subcomponent, d.Truncation} {
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// Limits bound what Parse accepts. A zero field takes its default.
type Limits struct {
	MaxBytes        int // whole body; default 16 MiB
	MaxMessageBytes int // one message; default 1 MiB
	MaxMessages     int // messages in one body; default 10,000
	MaxSegments     int // segments in one message; default 2,000
	MaxFields       int // fields in one segment; default 256
	MaxRepetitions  int // repetitions of one field that the readers look at; default 100
}

// defaultLimits are the limits a zero Limits field takes.
var defaultLimits = Limits{
	MaxBytes:        16 << 20,
	MaxMessageBytes: 1 << 20,
	MaxMessages:     10_000,
	MaxSegments:     2_000,
	MaxFields:       256,
	MaxRepetitions:  100,
}

func (l Limits) withDefaults() Limits {
	d := defaultLimits
	if l.MaxBytes > 0 {
		d.MaxBytes = min(l.MaxBytes, math.MaxInt32) // fields are indexed with uint32
	}
	if l.MaxMessageBytes > 0 {
		d.MaxMessageBytes = min(l.MaxMessageBytes, 1<<30) // decoded text stays below 4 GiB: fields are indexed with uint32
	}
	if l.MaxMessages > 0 {
		d.MaxMessages = l.MaxMessages
	}
	if l.MaxSegments > 0 {
		d.MaxSegments = l.MaxSegments
	}
	if l.MaxFields > 0 {
		d.MaxFields = l.MaxFields
	}
	if l.MaxRepetitions > 0 {
		d.MaxRepetitions = l.MaxRepetitions
	}
	return d
}

// Batch is everything in one body: the messages in order, and the batch
// envelope segments when the body had them (nil otherwise). When a body holds
// several batches, FHS and BHS are the first ones and BTS and FTS the last.
type Batch struct {
	FHS, BHS, BTS, FTS *Segment
	Messages           []*Message
}

// Message is one parsed message. It holds the text of the message (and of
// the rest of its body), personal data included: never log a Message or its
// values, and drop it once read; read what Haven keeps with ReadVXU or
// ReadQBP, which copy nothing else.
type Message struct {
	Index      int        // position in the body, from 1
	Delimiters Delimiters // as declared in MSH-1 and MSH-2
	Charset    string     // MSH-18 (first repetition) as declared; "" when absent
	// Err is set when the message could not be parsed at all (bad MSH-1/2,
	// an unknown character set, a limit exceeded). The readers return it.
	Err *Error
	// Warnings are problems that did not stop parsing, such as 8-bit text
	// without a declared character set.
	Warnings Errors

	segs    []Segment
	ctx     msgCtx
	maxReps int
}

// Segments returns the message's segments in order; segment 0 is MSH.
// The slice must not be modified.
func (m *Message) Segments() []Segment { return m.segs }

// Find returns the seq-th (from 1) segment with the given ID, or nil.
func (m *Message) Find(id string, seq int) *Segment {
	for i := range m.segs {
		if m.segs[i].id == id && int(m.segs[i].seq) == seq {
			return &m.segs[i]
		}
	}
	return nil
}

// msgCtx is what reading a value needs: the delimiters and, for \Xhh\
// escapes, the message's character set.
type msgCtx struct {
	d     Delimiters
	enc   encoding.Encoding // nil: UTF-8
	text  string            // the decoded message (or the whole body), which ends index
	ends  []uint32          // where each field of each segment ends in text, in order
	noEsc bool              // the message holds no escape character: nothing to unescape
}

// Segment is one segment: its ID and fields, split lazily into repetitions,
// components and subcomponents through Value.
type Segment struct {
	id       string
	c        *msgCtx
	seq      int32
	start    int32 // where the segment begins in c.text
	first, n int32 // c.ends[first:first+n] end fields 0 (the ID) to n-1
	hdr      bool  // MSH, FHS or BHS: fields 1 and 2 are the literal delimiters
}

// ID returns the segment ID ("PID").
func (s *Segment) ID() string { return s.id }

// Seq returns the segment's occurrence among segments with the same ID in
// its message, from 1.
func (s *Segment) Seq() int { return int(s.seq) }

// Len returns the number of the last field present.
func (s *Segment) Len() int { return int(s.n) - 1 }

// Field returns field n (from 1, as HL7 numbers them). In MSH, Field(1) is
// the field separator and Field(2) the encoding characters, both literal.
// A field that is not present is the empty Value.
func (s *Segment) Field(n int) Value {
	if n <= 0 || n >= int(s.n) {
		return Value{}
	}
	ends := s.c.ends[s.first:]
	a, b := ends[n-1]+1, ends[n]
	if s.hdr && n <= 2 {
		if n == 1 { // the field separator itself
			a, b = uint32(s.start)+3, uint32(s.start)+4
		}
		return Value{s: s.c.text[a:b]}
	}
	return Value{s: s.c.text[a:b], c: s.c}
}

// Loc returns the location of field n of s (the whole segment when n is 0).
func (s *Segment) Loc(n int) Location {
	return Location{Segment: s.id, Seq: int(s.seq), Field: n}
}

// Value is a field, repetition, component or subcomponent of a segment,
// still in its escaped ER7 form. Navigating down from a field takes its first
// repetition, from a repetition its first component, and so on, so
// seg.Field(5).Comp(3) is component 3 of the first repetition of field 5.
type Value struct {
	s   string
	c   *msgCtx // nil: a literal value with no delimiters
	lvl uint8
}

const (
	lvlField uint8 = iota
	lvlRep
	lvlComp
	lvlSub
)

// Raw returns the value as written, escapes and delimiters included.
func (v Value) Raw() string { return v.s }

// IsEmpty reports whether nothing was sent. HL7's explicit null ("") is not
// empty; see IsNull.
func (v Value) IsEmpty() bool { return v.s == "" }

// IsNull reports whether the value is HL7's explicit null, "" (two quote
// marks), which asks the receiver to delete what it holds.
func (v Value) IsNull() bool { return v.s == `""` }

// Reps returns the number of repetitions of a field (0 when empty).
func (v Value) Reps() int {
	if v.s == "" {
		return 0
	}
	if v.c == nil || v.lvl > lvlField || v.c.d.Repetition == 0 {
		return 1
	}
	return strings.Count(v.s, string(v.c.d.Repetition)) + 1
}

// repIter walks the repetitions of a field in one pass.
type repIter struct {
	v            Value
	rest         string
	done, single bool
}

// reps returns an iterator over the repetitions of a field (none when it is
// empty).
func (v Value) reps() repIter {
	single := v.c == nil || v.lvl > lvlField || v.c.d.Repetition == 0
	return repIter{v: v, rest: v.s, done: v.s == "", single: single}
}

func (it *repIter) next() (Value, bool) {
	if it.done {
		return Value{}, false
	}
	if it.single {
		it.done = true
		return it.v, true
	}
	s, sep := it.rest, it.v.c.d.Repetition
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			it.rest = s[i+1:]
			return Value{s: s[:i], c: it.v.c, lvl: lvlRep}, true
		}
	}
	it.done = true
	return Value{s: s, c: it.v.c, lvl: lvlRep}, true
}

// Rep returns repetition i (from 1) of a field.
func (v Value) Rep(i int) Value {
	if v.c == nil || v.lvl > lvlField {
		if i == 1 {
			return v
		}
		return Value{}
	}
	return Value{s: piece(v.s, v.c.d.Repetition, i), c: v.c, lvl: lvlRep}
}

// Comp returns component i (from 1).
func (v Value) Comp(i int) Value {
	if v.c == nil || v.lvl >= lvlComp {
		if i == 1 {
			return v
		}
		return Value{}
	}
	s := v.s
	if v.lvl < lvlRep {
		s = piece(s, v.c.d.Repetition, 1)
	}
	return Value{s: piece(s, v.c.d.Component, i), c: v.c, lvl: lvlComp}
}

// Sub returns subcomponent i (from 1).
func (v Value) Sub(i int) Value {
	if v.c == nil || v.lvl >= lvlSub {
		if i == 1 {
			return v
		}
		return Value{}
	}
	s := v.s
	if v.lvl < lvlRep {
		s = piece(s, v.c.d.Repetition, 1)
	}
	if v.lvl < lvlComp {
		s = piece(s, v.c.d.Component, 1)
	}
	return Value{s: piece(s, v.c.d.Subcomponent, i), c: v.c, lvl: lvlSub}
}

// Text returns the unescaped text of the value's first leaf (first
// repetition, component and subcomponent). HL7's explicit null reads as "".
func (v Value) Text() string {
	if v.c == nil {
		return v.s
	}
	return v.c.leaf(v.s, v.lvl)
}

// leaf returns the unescaped first leaf of raw s at level lvl: the text up
// to the first delimiter of a lower level.
func (c *msgCtx) leaf(s string, lvl uint8) string {
	d := &c.d
	// The field separator never occurs inside a field, so it stands in for
	// the delimiters that do not end a leaf at this level, and for those
	// that were not declared.
	a, b, e := d.Repetition, d.Component, d.Subcomponent
	switch lvl {
	case lvlRep:
		a = d.Field
	case lvlComp:
		a, b = d.Field, d.Field
	case lvlSub:
		a, b, e = d.Field, d.Field, d.Field
	}
	if a == 0 {
		a = d.Field
	}
	if b == 0 {
		b = d.Field
	}
	if e == 0 {
		e = d.Field
	}
	for i := 0; i < len(s); i++ {
		if x := s[i]; x == a || x == b || x == e {
			s = s[:i]
			break
		}
	}
	if s == `""` {
		return ""
	}
	return c.unescape(s)
}

// texts fills dst with the texts of the first len(dst) components of v, in
// one pass.
func (v Value) texts(dst []string) {
	clear(dst)
	c := v.c
	if len(dst) == 0 {
		return
	}
	if c == nil {
		dst[0] = v.s
		return
	}
	if v.lvl >= lvlComp {
		dst[0] = c.leaf(v.s, v.lvl)
		return
	}
	// One pass: a component ends at a component or repetition separator,
	// and its first subcomponent at a subcomponent separator. The field
	// separator, which never occurs inside a field, stands in for the
	// separators that do not apply.
	d := &c.d
	rep, comp, sub := d.Repetition, d.Component, d.Subcomponent
	if rep == 0 || v.lvl >= lvlRep {
		rep = d.Field
	}
	if comp == 0 {
		comp = d.Field
	}
	if sub == 0 {
		sub = d.Field
	}
	s := v.s
	n, start, cut := 0, 0, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case comp, rep:
			end := i
			if cut >= 0 {
				end = cut
			}
			dst[n] = c.finish(s[start:end])
			n++
			if n == len(dst) || s[i] == rep {
				return
			}
			start, cut = i+1, -1
		case sub:
			if cut < 0 {
				cut = i
			}
		}
	}
	end := len(s)
	if cut >= 0 {
		end = cut
	}
	dst[n] = c.finish(s[start:end])
}

// finish returns the text of a raw leaf.
func (c *msgCtx) finish(s string) string {
	if s == `""` {
		return ""
	}
	return c.unescape(s)
}

// piece returns the i-th (from 1) piece of s split at sep.
func piece(s string, sep byte, i int) string {
	if sep == 0 {
		if i == 1 {
			return s
		}
		return ""
	}
	start := 0
	for j := 0; j < len(s); j++ {
		if s[j] != sep {
			continue
		}
		if i == 1 {
			return s[start:j]
		}
		i--
		start = j + 1
	}
	if i == 1 {
		return s[start:]
	}
	return ""
}

// unescape replaces the escape sequences of s. Unknown or unterminated
// sequences are kept as written.
func (c *msgCtx) unescape(s string) string {
	e := c.d.Escape
	if e == 0 || c.noEsc {
		return s
	}
	i := strings.IndexByte(s, e)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i+1:]
		j := strings.IndexByte(s, e)
		if j < 0 {
			b.WriteByte(e)
			break
		}
		if out, ok := c.escapeSequence(s[:j]); ok {
			b.WriteString(out)
			s = s[j+1:]
		} else {
			// Not an escape: keep the character, and look again from the
			// next one (it may open a real sequence).
			b.WriteByte(e)
		}
		i = strings.IndexByte(s, e)
	}
	b.WriteString(s)
	return b.String()
}

// escapeSequence returns the text an escape sequence stands for.
func (c *msgCtx) escapeSequence(seq string) (string, bool) {
	if seq == "" {
		return "", false
	}
	d := &c.d
	if len(seq) == 1 {
		var r byte
		switch seq[0] {
		case 'F':
			r = d.Field
		case 'S':
			r = d.Component
		case 'T':
			r = d.Subcomponent
		case 'R':
			r = d.Repetition
		case 'E':
			r = d.Escape
		case 'P':
			r = d.Truncation
		case 'H', 'N': // highlighting on and off
			return "", true
		case 'X', 'x': // no hex data
			return "", true
		}
		if r == 0 {
			return "", false
		}
		return string(rune(r)), true
	}
	switch seq[0] {
	case 'X', 'x':
		return c.hex(seq[1:])
	case '.':
		switch {
		case seq == ".br", strings.HasPrefix(seq, ".sp"):
			return "\n", true
		case seq == ".fi", seq == ".nf", seq == ".ce",
			strings.HasPrefix(seq, ".in"), strings.HasPrefix(seq, ".ti"), strings.HasPrefix(seq, ".sk"):
			return "", true
		}
	case 'C', 'M': // ISO 2022 character set switches: the text is already decoded
		if isHex(seq[1:]) && (len(seq) == 5 || len(seq) == 7) {
			return "", true
		}
	case 'Z': // locally defined
		return "", true
	}
	return "", false
}

// hex decodes \Xhh..\ data in the message's character set.
func (c *msgCtx) hex(h string) (string, bool) {
	if len(h)%2 != 0 || !isHex(h) {
		return "", false
	}
	b := make([]byte, len(h)/2)
	for i := range b {
		b[i] = unhex(h[2*i])<<4 | unhex(h[2*i+1])
	}
	if c.enc != nil {
		if out, err := c.enc.NewDecoder().Bytes(b); err == nil {
			return string(out), true
		}
	}
	if utf8.Valid(b) {
		return string(b), true
	}
	return latin1(b), true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if unhex(s[i]) == 0xff {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0xff
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// Parse reads a body holding one or more messages, with the default limits
// (the zero Limits).
// See Limits.Parse.
func Parse(body []byte) (*Batch, error) { return Limits{}.Parse(body) }

// ParseMessage reads a body that must hold exactly one message. A message
// that could not be parsed is returned together with its Err.
func ParseMessage(body []byte) (*Message, error) {
	b, err := Parse(body)
	if err != nil {
		return nil, err
	}
	if len(b.Messages) != 1 {
		return nil, &Error{Code: CodeSegmentSequence, Severity: SeverityError,
			Message: "expected one message, found " + strconv.Itoa(len(b.Messages)),
			Err:     registry.Errorf(registry.EMALFORMED, "expected one HL7 message")}
	}
	m := b.Messages[0]
	if m.Err != nil {
		return m, m.Err
	}
	return m, nil
}

// Parse reads a body holding one or more messages: a single message, several
// messages one after the other, or a batch with FHS/BHS/BTS/FTS. The error is
// set only when the body as a whole cannot be read (too large, or text that
// is not in any message); it is an *Error wrapping a *registry.Error
// (ETOOLARGE or EMALFORMED). A message that cannot be parsed does not stop
// the others: it comes back with its Err set, so that it can be answered.
func (l Limits) Parse(body []byte) (*Batch, error) {
	l = l.withDefaults()
	if len(body) > l.MaxBytes {
		return nil, bodyError(registry.ETOOLARGE, "the body exceeds "+strconv.Itoa(l.MaxBytes)+" bytes")
	}
	body, utf16 := decodeBOM(body)
	batch := &Batch{}
	lines := make([]span, 0, bytes.Count(body, []byte{'\r'})+bytes.Count(body, []byte{'\n'})+1)
	collect(body, &lines)
	var (
		first    = -1 // index in lines of the MSH of the message being gathered
		header   = &StandardDelimiters
		bodyText string // the body as a string, made once and shared by the messages that need no decoding
	)
	flush := func(end int) *Error {
		if first < 0 {
			return nil
		}
		if len(batch.Messages) == l.MaxMessages {
			return bodyError(registry.ETOOLARGE, "the body holds more than "+strconv.Itoa(l.MaxMessages)+" messages")
		}
		m := parseMessage(body, &bodyText, lines[first:end], len(batch.Messages)+1, l, utf16)
		batch.Messages = append(batch.Messages, m)
		first = -1
		return nil
	}
	for i, ln := range lines {
		line := body[ln.start:ln.end]
		switch kind := lineKind(line); kind {
		case "MSH":
			if err := flush(i); err != nil {
				return nil, err
			}
			first = i
		case "FHS", "BHS", "BTS", "FTS":
			if err := flush(i); err != nil {
				return nil, err
			}
			seg, d, err := batchSegment(line, kind, header)
			if err != nil {
				return nil, err
			}
			switch kind {
			case "FHS":
				header = d
				if batch.FHS == nil {
					batch.FHS = seg
				}
			case "BHS":
				header = d
				if batch.BHS == nil {
					batch.BHS = seg
				}
			case "BTS":
				batch.BTS = seg
			case "FTS":
				batch.FTS = seg
			}
		default:
			if first < 0 {
				return nil, bodyError(registry.EMALFORMED, "text outside a message: a message must begin with MSH")
			}
		}
	}
	if err := flush(len(lines)); err != nil {
		return nil, err
	}
	if len(batch.Messages) == 0 {
		return nil, bodyError(registry.EMALFORMED, "no message: the body must hold at least one MSH segment")
	}
	return batch, nil
}

func bodyError(code, msg string) *Error {
	c := CodeSegmentSequence
	if code == registry.ETOOLARGE {
		c = CodeInternal
	}
	return &Error{Location: Location{Segment: "MSH", Seq: 1}, Code: c, Severity: SeverityError, Message: msg,
		Err: registry.Errorf(code, "HL7: %s.", msg)}
}

type span struct{ start, end int }

// collect appends the non-blank lines of b to out. Segments end at \r, \n or
// \r\n; leading spaces, tabs and MLLP framing bytes (0x0B, 0x1C) are dropped.
func collect(b []byte, out *[]span) {
	nextCR := -2 // -2: not searched yet; -1: none left
	for i := 0; i < len(b); {
		if nextCR != -1 && nextCR < i {
			if c := bytes.IndexByte(b[i:], '\r'); c >= 0 {
				nextCR = i + c
			} else {
				nextCR = -1
			}
		}
		limit := len(b)
		if nextCR >= 0 {
			limit = nextCR
		}
		end, next := limit, limit
		if lf := bytes.IndexByte(b[i:limit], '\n'); lf >= 0 {
			end, next = i+lf, i+lf+1
		} else if nextCR >= 0 {
			next = end + 1
			if next < len(b) && b[next] == '\n' {
				next++
			}
		}
		s := i
		for s < end && (b[s] == ' ' || b[s] == '\t' || b[s] == 0x0b || b[s] == 0x1c) {
			s++
		}
		e := end
		for e > s && (b[e-1] == 0x1c || b[e-1] == 0x0b) {
			e--
		}
		if e > s {
			*out = append(*out, span{s, e})
		}
		i = next
	}
}

// lineKind returns "MSH", "FHS", "BHS", "BTS" or "FTS" when the line is such
// a segment, and "" otherwise.
func lineKind(line []byte) string {
	if len(line) < 3 {
		return ""
	}
	if len(line) > 3 && isAlnum(line[3]) {
		return ""
	}
	switch string(line[:3]) {
	case "MSH", "FHS", "BHS":
		if len(line) > 3 {
			return string(line[:3])
		}
	case "BTS":
		return "BTS"
	case "FTS":
		return "FTS"
	}
	return ""
}

func isAlnum(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// validID reports whether id looks like a segment ID: an upper-case letter and
// two upper-case letters or digits.
func validID(id string) bool {
	return len(id) == 3 && 'A' <= id[0] && id[0] <= 'Z' &&
		('A' <= id[1] && id[1] <= 'Z' || '0' <= id[1] && id[1] <= '9') &&
		('A' <= id[2] && id[2] <= 'Z' || '0' <= id[2] && id[2] <= '9')
}

// readDelimiters reads the delimiters a header segment (MSH, FHS, BHS)
// declares.
func readDelimiters(line string, id string) (Delimiters, *Error) {
	loc := Location{Segment: id, Seq: 1}
	if len(line) < 4 || !isDelim(line[3]) {
		e := errorf(SeverityError, CodeDataType, loc.at(1, 0, 0, 0), AppInvalidValue,
			id+"-1 must be the field separator, a printable character that is not a letter or digit")
		return Delimiters{}, &e
	}
	d := Delimiters{Field: line[3]}
	enc := line[4:]
	if i := strings.IndexByte(enc, d.Field); i >= 0 {
		enc = enc[:i]
	}
	bad := func(msg string) (Delimiters, *Error) {
		e := errorf(SeverityError, CodeDataType, loc.at(2, 0, 0, 0), AppInvalidValue, msg)
		return Delimiters{}, &e
	}
	if len(enc) == 0 || len(enc) > 5 {
		return bad(id + "-2 must hold the encoding characters (component, repetition, escape, subcomponent)")
	}
	var used [256]bool
	used[d.Field] = true
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if !isDelim(c) || used[c] {
			return bad(id + "-2 encoding characters must be distinct printable characters that are not letters or digits")
		}
		used[c] = true
		switch i {
		case 0:
			d.Component = c
		case 1:
			d.Repetition = c
		case 2:
			d.Escape = c
		case 3:
			d.Subcomponent = c
		case 4:
			d.Truncation = c
		}
	}
	return d, nil
}

func isDelim(c byte) bool { return c > ' ' && c < 0x7f && !isAlnum(c) }

// batchSegment parses FHS, BHS, BTS or FTS. Headers declare their own
// delimiters; trailers use those of the header before them.
func batchSegment(line []byte, id string, header *Delimiters) (*Segment, *Delimiters, *Error) {
	text := string(line)
	if !utf8.ValidString(text) {
		text = latin1(line)
	}
	d := *header
	hdr := id == "FHS" || id == "BHS"
	if hdr {
		var err *Error
		if d, err = readDelimiters(text, id); err != nil {
			err.Err = registry.Errorf(registry.EMALFORMED, "HL7: bad %s delimiters.", id)
			return nil, nil, err
		}
	}
	c := &msgCtx{d: d, text: text, ends: splitAll(text, d.Field, hdr)}
	seg := &Segment{id: id, seq: 1, hdr: hdr, c: c, n: int32(len(c.ends))}
	return seg, &c.d, nil
}

// splitAll returns the field ends of a text that is one segment.
func splitAll(text string, fs byte, hdr bool) []uint32 {
	dst := make([]uint32, strings.Count(text, string(fs))+2)
	n := splitInto(dst, text, 0, len(text), fs, hdr)
	return dst[:max(n, 0)]
}

// splitInto writes where each field of the segment at text[start:end] ends
// into dst and returns the number of fields, or -1 if dst is too short. A
// field begins one byte after the end of the one before it (the first at
// start). In header segments field 1 is the field separator itself: field 0
// ("MSH") and field 1 both end at start+3, so that field 2 begins at start+4.
func splitInto(dst []uint32, text string, start, end int, fs byte, hdr bool) int {
	n := 0
	if hdr {
		if len(dst) < 2 || end-start < 4 {
			return -1
		}
		dst[0], dst[1] = uint32(start+3), uint32(start+3)
		n, start = 2, start+4
	}
	for i := start; i < end; i++ {
		if text[i] == fs {
			if n == len(dst) {
				return -1
			}
			dst[n] = uint32(i)
			n++
		}
	}
	if n == len(dst) {
		return -1
	}
	dst[n] = uint32(end)
	return n + 1
}

// parseMessage reads the message made of the given lines of body.
func parseMessage(body []byte, bodyText *string, lines []span, index int, l Limits, predecoded bool) *Message {
	m := &Message{Index: index, maxReps: l.MaxRepetitions}
	region := body[lines[0].start:lines[len(lines)-1].end]
	base := lines[0].start
	msh := body[lines[0].start:lines[0].end]
	d, derr := readDelimiters(string(msh[:min(len(msh), 16)]), "MSH")
	fail := func(e Error) *Message {
		m.Err = &e
		m.segs = nil
		// Keep a short MSH, so that the rejection can still be addressed
		// and name the control ID.
		if derr == nil && len(msh) <= 4096 {
			text := string(msh)
			if !utf8.ValidString(text) {
				text = latin1(msh)
			}
			m.ctx.text, m.ctx.ends = text, splitAll(text, d.Field, true)
			m.segs = []Segment{{id: "MSH", seq: 1, hdr: true, c: &m.ctx, n: int32(len(m.ctx.ends))}}
		}
		return m
	}
	if derr != nil {
		return fail(*derr)
	}
	m.Delimiters = d
	m.ctx.d = d
	if len(region) > l.MaxMessageBytes {
		e := errorf(SeverityError, CodeInternal, Location{}, "",
			"the message exceeds "+strconv.Itoa(l.MaxMessageBytes)+" bytes")
		e.Err = registry.Errorf(registry.ETOOLARGE, "HL7 message too large.")
		return fail(e)
	}
	if len(lines) > l.MaxSegments {
		e := errorf(SeverityError, CodeSegmentSequence, Location{}, "",
			"the message has more than "+strconv.Itoa(l.MaxSegments)+" segments")
		e.Err = registry.Errorf(registry.ETOOLARGE, "HL7 message has too many segments.")
		return fail(e)
	}
	raw18 := declaredCharset(msh, d)
	m.Charset = firstRep(raw18, d)

	// text is the decoded message; local holds its lines, at offsets from
	// base (the body's lines are reused when the text is the body's bytes).
	var text string
	local := lines
	whole := func() {
		if *bodyText == "" {
			*bodyText = string(body)
		}
		text, base = *bodyText, 0
	}
	decoded := func(out []byte) {
		local, base = nil, 0
		collect(out, &local)
	}
	cs, known := charsetOf(raw18, d)
	if known && cs.warn != "" && !predecoded {
		m.Warnings = append(m.Warnings, errorf(SeverityWarning, CodeTableValue,
			Location{Segment: "MSH", Seq: 1, Field: 18, Rep: 1, Comp: 1}, AppTableValue, cs.warn))
	}
	switch {
	case predecoded:
		whole()
	case !known:
		if !isASCII(region) {
			return fail(errorf(SeverityError, CodeTableValue, Location{Segment: "MSH", Seq: 1, Field: 18, Rep: 1, Comp: 1},
				AppTableValue, "character set "+quote(m.Charset)+" is not supported"))
		}
		m.Warnings = append(m.Warnings, errorf(SeverityWarning, CodeTableValue,
			Location{Segment: "MSH", Seq: 1, Field: 18, Rep: 1, Comp: 1}, AppTableValue,
			"character set "+quote(m.Charset)+" is not known; the message is plain ASCII and was read as such"))
		whole()
	case cs.enc == nil: // UTF-8 or ASCII
		if utf8.Valid(region) {
			whole()
			break
		}
		loc := Location{Segment: "MSH", Seq: 1, Field: 18}
		if cs.utf8 {
			m.Warnings = append(m.Warnings, errorf(SeverityWarning, CodeDataType, loc, AppInvalidValue,
				"the message is not valid UTF-8; invalid bytes were replaced"))
			text = strings.ToValidUTF8(string(region), "\uFFFD")
		} else {
			m.Warnings = append(m.Warnings, errorf(SeverityWarning, CodeDataType, loc, AppInvalidValue,
				"8-bit characters without a declared character set (MSH-18) were read as ISO 8859-1"))
			text = latin1(region)
		}
		decoded([]byte(text))
	default:
		m.ctx.enc = cs.enc
		out, err := cs.enc.NewDecoder().Bytes(region)
		if err != nil {
			return fail(errorf(SeverityError, CodeDataType, Location{Segment: "MSH", Seq: 1, Field: 18, Rep: 1, Comp: 1},
				AppInvalidValue, "the message is not valid text in character set "+quote(m.Charset)))
		}
		text = string(out)
		decoded(out)
	}

	if len(local) == 0 {
		return fail(errorf(SeverityError, CodeDataType, Location{Segment: "MSH", Seq: 1, Field: 18, Rep: 1, Comp: 1},
			AppInvalidValue, "the message is not valid text in character set "+quote(m.Charset)))
	}
	if len(local) > l.MaxSegments {
		return fail(errorf(SeverityError, CodeSegmentSequence, Location{}, "",
			"the message has more than "+strconv.Itoa(l.MaxSegments)+" segments"))
	}
	fs := d.Field
	// Every line gives its count of field separators plus one fields, and
	// MSH one more: fields is allocated once, at its final size.
	nf := strings.Count(text[local[0].start-base:local[len(local)-1].end-base], string(fs)) + len(local) + 1
	if nf > len(local)*(l.MaxFields+1)+1 {
		return fail(errorf(SeverityError, CodeSegmentSequence, Location{}, "",
			"a segment has more than "+strconv.Itoa(l.MaxFields)+" fields"))
	}
	ends := make([]uint32, nf)
	m.ctx.text, m.ctx.ends = text, ends
	// Look for the escape character after MSH-2, which declares it.
	afterMSH2 := min(local[0].start-base+5+len(d.EncodingCharacters()), local[len(local)-1].end-base)
	m.ctx.noEsc = strings.IndexByte(text[afterMSH2:local[len(local)-1].end-base], d.Escape) < 0
	n := 0
	m.segs = make([]Segment, len(local))
	var seq seqCounter
	for i, ln := range local {
		start, end := ln.start-base, ln.end-base
		line := text[start:end]
		hdr := i == 0
		if hdr && (len(line) < 4 || line[:3] != "MSH") {
			return fail(errorf(SeverityError, CodeDataType, Location{Segment: "MSH", Seq: 1, Field: 1}, AppInvalidValue,
				"MSH could not be read in the declared character set"))
		}
		k := splitInto(ends[n:], text, start, end, fs, hdr)
		if k < 0 || k-1 > l.MaxFields {
			return fail(errorf(SeverityError, CodeSegmentSequence, Location{}, "",
				"segment "+strconv.Itoa(i+1)+" has more than "+strconv.Itoa(l.MaxFields)+" fields"))
		}
		id := text[start:ends[n]]
		m.segs[i] = Segment{id: id, seq: int32(seq.bump(id)), start: int32(start), hdr: hdr, c: &m.ctx, first: int32(n), n: int32(k)}
		n += k
	}
	return m
}

type idCount struct {
	id string
	n  int
}

// seqCounter numbers the segments of each ID. It lives on the stack for
// messages with up to 16 segment IDs.
type seqCounter struct {
	small [16]idCount
	n     int
	more  []idCount
}

func (c *seqCounter) bump(id string) int {
	for i := range c.n {
		if c.small[i].id == id {
			c.small[i].n++
			return c.small[i].n
		}
	}
	for i := range c.more {
		if c.more[i].id == id {
			c.more[i].n++
			return c.more[i].n
		}
	}
	if c.n < len(c.small) {
		c.small[c.n] = idCount{id, 1}
		c.n++
	} else {
		c.more = append(c.more, idCount{id, 1})
	}
	return 1
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// declaredCharset returns MSH-18 as written, read from the raw bytes of MSH
// before the rest of the message is decoded. In GB 18030 and Big5 the second
// byte of a character may be the field separator, so a character in MSH-3 to
// MSH-17 can push MSH-18 to the right by one field: when the 18th field is
// not a known character set, the next fields are tried, one for each byte
// above 0x7F before them.
func declaredCharset(msh []byte, d Delimiters) string {
	var fields [24][]byte
	n, from := 0, 4 // msh[4] starts MSH-2, fields[0]
	for n < len(fields) {
		j := bytes.IndexByte(msh[from:], d.Field)
		if j < 0 {
			fields[n] = msh[from:]
			n++
			break
		}
		fields[n] = msh[from : from+j]
		n++
		from += j + 1
	}
	const at = 18 - 2 // MSH-18 in fields
	if n <= at {
		return ""
	}
	high := 0
	for i := range at {
		high += highBytes(fields[i])
	}
	if high == 0 {
		return string(fields[at])
	}
	if _, ok := charsetOf(string(fields[at]), d); ok && len(fields[at]) > 0 {
		return string(fields[at])
	}
	for k := at + 1; k < n && k <= at+high; k++ {
		if cs, ok := charsetOf(string(fields[k]), d); ok && cs.enc != nil {
			return string(fields[k])
		}
	}
	return string(fields[at])
}

func highBytes(b []byte) int {
	n := 0
	for _, c := range b {
		if c >= 0x80 {
			n++
		}
	}
	return n
}

// firstRep returns the first component of the first repetition of a raw
// MSH-18.
func firstRep(raw string, d Delimiters) string {
	raw = piece(raw, d.Repetition, 1)
	return strings.TrimSpace(piece(raw, d.Component, 1))
}
