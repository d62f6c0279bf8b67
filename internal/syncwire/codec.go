package syncwire

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/haven-registry/haven/internal/registry"
)

// The codec frames push bodies and pull pages alike: gzip around NDJSON,
// a header object on line 1 and one Event per line after it, each line
// ending in "\n". Line numbers in errors count from 1, the header's line.
//
// Decoding is strict, as the JSON API's: unknown or repeated field names,
// names in another case, invalid UTF-8, trailing data and wrong types are
// refused. It checks the framing (limits, header, kinds, Seq order, HLC
// syntax), not what the events say: the actions that apply them do that.

// DefaultLevel is the gzip level a node pushes with (level 0 asks for it).
const DefaultLevel = 5

// pushKinds are the kinds of events a push may carry; pull pages may also
// carry SyncUnfollow.
var pushKinds = map[string]bool{
	registry.SyncPerson: true, registry.SyncEdit: true, registry.SyncDose: true,
	registry.SyncTest: true, registry.SyncCorrect: true, registry.SyncErase: true, registry.SyncCert: true,
}

// EncodePush encodes b as a push body at gzip level (1 to 9; 0 means
// DefaultLevel). Header.Format is written as Format when it is empty. The
// result is what DecodePush accepts: it fails with an *registry.Error that
// DecodePush would return for the same batch (EINVALID, EUNSUPPORTED), or
// with ETOOLARGE when the batch holds more than MaxEvents events or its
// body would exceed MaxDecompressed bytes raw or MaxCompressed gzipped (the
// caller then sends fewer events). b is not modified.
func EncodePush(b *Batch, level int) ([]byte, error) {
	if b == nil {
		return nil, registry.Errorf(registry.EINVALID, "No batch to encode.")
	}
	h := b.Header
	if h.Format == "" {
		h.Format = Format
	}
	if err := checkPushHeader(&h, b.Events); err != nil {
		return nil, err
	}
	return encode(level, &h, b.Events, pushKinds, 0)
}

// DecodePush reads a push body from r: at most MaxCompressed bytes of gzip
// and MaxDecompressed bytes of NDJSON, else ETOOLARGE. Line 1 is the
// PushHeader, whose Format must be Format (else EUNSUPPORTED, field
// "format"); then at most MaxEvents events (else ETOOLARGE), each with a
// positive Seq above the previous one and a K among person, edit, dose,
// test, correct and erase; the header's Last is the last event's Seq.
// Errors are *registry.Error: EMALFORMED for what cannot be parsed (field
// "gzip", or the line: "line 3"), EINVALID for what parses but is not
// acceptable, with the line and field ("line 3.seq"). It never panics, and
// reads at most MaxCompressed+1 bytes from r.
func DecodePush(r io.Reader) (*Batch, error) {
	var b Batch
	events, err := decode(r, &b.Header, pushKinds, func() error { return checkPushHeader(&b.Header, nil) }, 0)
	if err != nil {
		return nil, err
	}
	b.Events = events
	if n := len(events); n > 0 && b.Header.Last != events[n-1].Seq {
		return nil, registry.FieldErrorf(registry.EINVALID, "line 1.last", "The header's last (%d) is not the last event's seq (%d).", b.Header.Last, events[n-1].Seq)
	}
	return &b, nil
}

// EncodePull encodes p as a pull page, gzipped at DefaultLevel, with the
// same framing and limits as EncodePush. It fails with the *registry.Error
// DecodePull would return for the page (an unknown kind, a Seq out of
// order or not above Header.After, a Header.Last that is not the last
// event's Seq, or Header.After when there are none), or ETOOLARGE. p is not
// modified.
func EncodePull(p *PullPage) ([]byte, error) {
	if p == nil {
		return nil, registry.Errorf(registry.EINVALID, "No page to encode.")
	}
	if err := checkPullHeader(&p.Header); err != nil {
		return nil, err
	}
	if err := checkPullLast(p); err != nil {
		return nil, err
	}
	return encode(DefaultLevel, &p.Header, p.Events, pullKinds, p.Header.After)
}

// DecodePull reads a pull page from r, as DecodePush reads a push body:
// line 1 is the PullHeader (its HLC, when set, well formed; Last not below
// After); each event's Seq is above Header.After and the previous one, its
// K one of the push kinds or unfollow; Header.Last is the last event's Seq,
// or Header.After on an empty page. Errors and limits are DecodePush's.
func DecodePull(r io.Reader) (*PullPage, error) {
	var p PullPage
	events, err := decode(r, &p.Header, pullKinds, func() error { return checkPullHeader(&p.Header) }, -1)
	if err != nil {
		return nil, err
	}
	p.Events = events
	if err := checkPullLast(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// pullKinds are the kinds a pull page may carry.
var pullKinds = func() map[string]bool {
	m := map[string]bool{registry.SyncUnfollow: true}
	for k := range pushKinds {
		m[k] = true
	}
	return m
}()

// checkPushHeader checks a push header, and events when given (encoding).
func checkPushHeader(h *PushHeader, events []Event) error {
	if h.Format != Format {
		return registry.FieldErrorf(registry.EUNSUPPORTED, "format", "Unsupported sync format %q; this Haven speaks %s.", clip(h.Format), Format)
	}
	if h.HLC != "" {
		if _, err := ParseHLC(h.HLC); err != nil {
			return registry.FieldErrorf(registry.EINVALID, "line 1.hlc", "Not a hybrid logical clock value (millis:counter).")
		}
	}
	if n := len(events); n > 0 && h.Last != events[n-1].Seq {
		return registry.FieldErrorf(registry.EINVALID, "line 1.last", "The header's last (%d) is not the last event's seq (%d).", h.Last, events[n-1].Seq)
	}
	return nil
}

// checkPullHeader checks a pull header.
func checkPullHeader(h *PullHeader) error {
	if h.HLC != "" {
		if _, err := ParseHLC(h.HLC); err != nil {
			return registry.FieldErrorf(registry.EINVALID, "line 1.hlc", "Not a hybrid logical clock value (millis:counter).")
		}
	}
	if h.After < 0 {
		return registry.FieldErrorf(registry.EINVALID, "line 1.after", "The cursor cannot be negative.")
	}
	if h.Last < h.After {
		return registry.FieldErrorf(registry.EINVALID, "line 1.last", "The page's last seq (%d) is below its after (%d).", h.Last, h.After)
	}
	return nil
}

// checkPullLast checks that a page's Last is its last event's Seq, or
// After when it is empty.
func checkPullLast(p *PullPage) error {
	want := p.Header.After
	if n := len(p.Events); n > 0 {
		want = p.Events[n-1].Seq
	}
	if p.Header.Last != want {
		return registry.FieldErrorf(registry.EINVALID, "line 1.last", "The page's last (%d) is not its last event's seq (%d).", p.Header.Last, want)
	}
	return nil
}

// checkEvent checks one event, on line line, after the Seq prev.
func checkEvent(ev *Event, line int, prev int64, kinds map[string]bool) error {
	switch {
	case ev.Seq <= 0:
		return lineErrorf(registry.EINVALID, line, "seq", "The seq must be positive.")
	case ev.Seq <= prev:
		return lineErrorf(registry.EINVALID, line, "seq", "The seq %d does not follow %d: events go in ascending seq.", ev.Seq, prev)
	case !kinds[ev.K]:
		return lineErrorf(registry.EINVALID, line, "k", "Unknown event kind %q.", clip(ev.K))
	}
	if ev.HLC != "" {
		if _, err := ParseHLC(ev.HLC); err != nil {
			return lineErrorf(registry.EINVALID, line, "hlc", "Not a hybrid logical clock value (millis:counter).")
		}
	}
	return nil
}

// encode writes header and events as gzipped NDJSON. Events must be
// above floor (0: positive) and in ascending Seq, of kinds.
func encode(level int, header any, events []Event, kinds map[string]bool, floor int64) ([]byte, error) {
	if len(events) > MaxEvents {
		return nil, registry.Errorf(registry.ETOOLARGE, "A batch holds at most %d events, not %d.", MaxEvents, len(events))
	}
	if level == 0 {
		level = DefaultLevel
	}
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, level)
	if err != nil {
		return nil, registry.Errorf(registry.EINVALID, "Gzip level %d is not one of 1 to 9.", level)
	}
	var line bytes.Buffer
	raw := 0
	write := func(n int, v any) error {
		line.Reset()
		if err := jsonv2.MarshalWrite(&line, v); err != nil {
			return &registry.Error{Code: registry.EINVALID, Field: "line " + strconv.Itoa(n), Message: "The line cannot be written as JSON (invalid UTF-8?).", Err: err}
		}
		line.WriteByte('\n')
		raw += line.Len()
		if raw > MaxDecompressed {
			return registry.Errorf(registry.ETOOLARGE, "The batch is larger than %d bytes before compression.", MaxDecompressed)
		}
		if out.Len() > MaxCompressed {
			return registry.Errorf(registry.ETOOLARGE, "The batch is larger than %d bytes compressed.", MaxCompressed)
		}
		_, err := zw.Write(line.Bytes())
		return err // a bytes.Buffer does not fail
	}
	if err := write(1, header); err != nil {
		return nil, err
	}
	prev := floor
	for i := range events {
		ev := &events[i]
		if err := checkEvent(ev, i+2, prev, kinds); err != nil {
			return nil, err
		}
		prev = ev.Seq
		if err := write(i+2, ev); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if out.Len() > MaxCompressed {
		return nil, registry.Errorf(registry.ETOOLARGE, "The batch is larger than %d bytes compressed.", MaxCompressed)
	}
	return out.Bytes(), nil
}

// decode reads a gzipped NDJSON body: the header into header, checked by
// checkHeader, then events above floor (-1: the header's After, for pull
// pages; 0: positive) of kinds.
func decode(r io.Reader, header any, kinds map[string]bool, checkHeader func() error, floor int64) ([]Event, error) {
	compressed := &capReader{r: r, left: MaxCompressed,
		err: registry.Errorf(registry.ETOOLARGE, "The body is larger than %d bytes compressed.", MaxCompressed)}
	zr, err := gzip.NewReader(compressed)
	if err != nil {
		return nil, readError(err)
	}
	raw := &capReader{r: zr, left: MaxDecompressed,
		err: registry.Errorf(registry.ETOOLARGE, "The body is larger than %d bytes decompressed.", MaxDecompressed)}
	lr := &lineReader{br: bufio.NewReaderSize(raw, 64<<10)}

	first, err := lr.next()
	switch {
	case err == io.EOF:
		return nil, registry.FieldErrorf(registry.EMALFORMED, "line 1", "The body is empty: it must start with a header line.")
	case err != nil:
		return nil, readError(err)
	}
	if err := unmarshalLine(first, 1, header); err != nil {
		return nil, err
	}
	if err := checkHeader(); err != nil {
		return nil, err
	}
	if floor < 0 {
		floor = header.(*PullHeader).After
	}
	var events []Event
	prev := floor
	for line := 2; ; line++ {
		b, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, readError(err)
		}
		if len(events) == MaxEvents {
			return nil, lineErrorf(registry.ETOOLARGE, line, "", "A body holds at most %d events.", MaxEvents)
		}
		events = append(events, Event{})
		ev := &events[len(events)-1]
		if err := unmarshalLine(b, line, ev); err != nil {
			return nil, err
		}
		if err := checkEvent(ev, line, prev, kinds); err != nil {
			return nil, err
		}
		prev = ev.Seq
	}
	return events, nil
}

// lineReader reads lines, each ended by "\n" or, for the last, by the end
// of the body. Unlike a bufio.Scanner, it never hands out a line cut short
// by a read error: the error comes instead.
type lineReader struct {
	br  *bufio.Reader
	buf []byte
}

// next returns the next line without its "\n", valid until the next call;
// io.EOF after the last.
func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		frag, err := l.br.ReadSlice('\n')
		l.buf = append(l.buf, frag...)
		switch {
		case err == nil:
			return l.buf[:len(l.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(l.buf) > 0:
			return l.buf, nil
		}
		return nil, err
	}
}

// readError is the application error of a failure to read the body.
func readError(err error) error {
	var appErr *registry.Error
	switch {
	case errors.As(err, &appErr):
		return appErr
	}
	return &registry.Error{Code: registry.EMALFORMED, Field: "gzip", Message: "The body is not valid gzip.", Err: err}
}

// unmarshalLine decodes one line into v strictly.
func unmarshalLine(b []byte, line int, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return lineErrorf(registry.EMALFORMED, line, "", "The line is empty: each line holds one JSON object.")
	}
	err := jsonv2.Unmarshal(b, v, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var (
		synErr *jsontext.SyntacticError
		semErr *jsonv2.SemanticError
	)
	switch {
	case errors.As(err, &synErr):
		field := fieldOf(synErr.JSONPointer)
		switch {
		case errors.Is(err, jsontext.ErrDuplicateName):
			return lineErrorf(registry.EINVALID, line, field, "The field is given twice.")
		case strings.Contains(synErr.Err.Error(), "UTF-8"), strings.Contains(synErr.Err.Error(), "surrogate"):
			return lineErrorf(registry.EINVALID, line, field, "The text is not valid UTF-8.")
		}
		return lineErrorf(registry.EMALFORMED, line, "", "Malformed JSON at byte %d of the line.", synErr.ByteOffset)
	case errors.As(err, &semErr):
		field := fieldOf(semErr.JSONPointer)
		switch {
		case errors.Is(err, jsonv2.ErrUnknownName):
			return lineErrorf(registry.EINVALID, line, field, "Unknown field.")
		case semErr.JSONKind != 0:
			return lineErrorf(registry.EINVALID, line, field, "Unexpected JSON %s.", semErr.JSONKind)
		}
		return lineErrorf(registry.EINVALID, line, field, "Invalid value.")
	}
	return lineErrorf(registry.EMALFORMED, line, "", "The line is not valid JSON.")
}

// lineErrorf is an error on line, naming field within it ("line 3.seq"),
// or the line alone when field is empty.
func lineErrorf(code string, line int, field, format string, args ...any) error {
	f := "line " + strconv.Itoa(line)
	if field != "" {
		f += "." + field
	}
	return registry.FieldErrorf(code, f, format, args...)
}

// fieldOf turns a JSON pointer such as /payment/kind into payment.kind.
func fieldOf(p jsontext.Pointer) string {
	var b strings.Builder
	for _, tok := range strings.Split(string(p), "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(clip(tok))
	}
	return b.String()
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// capReader reads at most left bytes from r; reading more fails with err.
type capReader struct {
	r    io.Reader
	left int64
	err  error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, c.err
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1] // one byte more than allowed tells "too large" from "exactly at the limit"
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return 0, c.err
	}
	return n, err
}
