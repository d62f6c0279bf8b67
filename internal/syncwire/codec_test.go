package syncwire_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// sampleBatch is a push batch with one event of every push kind.
func sampleBatch() *syncwire.Batch {
	return &syncwire.Batch{
		Header: syncwire.PushHeader{Format: syncwire.Format, Node: "0123456789abcdef0123456789abcdef", After: 1000, Last: 1007,
			HLC: "1767225600123:0", Pending: 48211},
		Events: []syncwire.Event{
			{Seq: 1001, HLC: "1767225600123:1", K: "person", ID: "aa11", Card: "K7QM-2XHD-9PWA", Birth: "1990", Sex: "female", Site: "YB-1"},
			{Seq: 1002, HLC: "1767225600123:2", K: "dose", ID: "bb22", Person: "aa11", Product: "comirnaty", Date: "2026-12-05",
				Site: "YB-1", Lot: "EX0042", Source: "administered", Payment: &syncwire.Payment{Kind: "free"}, Status: "completed",
				Recorded: "2026-12-05T10:00:00Z"},
			{Seq: 1003, HLC: "1767225600124:0", K: "test", ID: "cc33", Person: "aa11", Kind: "antigen", Result: "negative", Date: "2026-12-05", Site: "YB-1"},
			{Seq: 1004, HLC: "1767225600125:0", K: "correct", Person: "aa11", Record: "bb22", ReplacedBy: "dd44"},
			{Seq: 1005, HLC: "1767225600126:0", K: "edit", Person: "aa11", Birth: "1991", Sex: "female"},
			{Seq: 1007, HLC: "1767225600127:0", K: "erase", Person: "aa11"}, // a gap, left by an erasure
		},
	}
}

func samplePage() *syncwire.PullPage {
	return &syncwire.PullPage{
		Header: syncwire.PullHeader{After: 10, Last: 13, More: true, HLC: "1767225600999:3",
			Now:   time.Date(2026, 12, 5, 10, 0, 0, 123000000, time.UTC),
			Sites: []syncwire.Site{{Code: "YB-1", Name: "Yellow Bay", Jurisdiction: "XX", Services: []string{"vaccination"}}}},
		Events: []syncwire.Event{
			{Seq: 11, K: "person", ID: "aa11", Card: "K7QM-2XHD-9PWA", Birth: "1990", Sex: "female"},
			{Seq: 12, K: "dose", ID: "bb22", Person: "aa11", Product: "comirnaty", Date: "2026-12-05", Site: "YB-2",
				Payment: &syncwire.Payment{Kind: "paid", Amount: "12.50"}},
			{Seq: 13, K: "unfollow", Person: "ee55"},
		},
	}
}

func TestPushRoundTrip(t *testing.T) {
	want := sampleBatch()
	for _, level := range []int{0, 1, 5, 9} {
		body, err := syncwire.EncodePush(want, level)
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		got, err := syncwire.DecodePush(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("level %d: round trip (-want +got):\n%s", level, d)
		}
	}
	// An empty Format is written as Format; the batch itself is untouched.
	b := sampleBatch()
	b.Header.Format = ""
	body, err := syncwire.EncodePush(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Header.Format != "" {
		t.Error("EncodePush modified its batch")
	}
	got, err := syncwire.DecodePush(bytes.NewReader(body))
	if err != nil || got.Header.Format != syncwire.Format {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	// The body is NDJSON: the header line, then one line per event.
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 1+len(b.Events) || !strings.HasPrefix(lines[0], `{"format":"haven-sync/1",`) ||
		!strings.HasPrefix(lines[1], `{"seq":1001,"hlc":"1767225600123:1","k":"person",`) {
		t.Errorf("body lines:\n%s", raw)
	}
	// An empty batch is a header alone.
	empty := &syncwire.Batch{Header: syncwire.PushHeader{Format: syncwire.Format, Node: "n", After: 5, Last: 5}}
	body, err = syncwire.EncodePush(empty, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := syncwire.DecodePush(bytes.NewReader(body)); err != nil || len(got.Events) != 0 {
		t.Errorf("empty batch: %+v, %v", got, err)
	}
}

func TestPullRoundTrip(t *testing.T) {
	want := samplePage()
	body, err := syncwire.EncodePull(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := syncwire.DecodePull(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	empty := &syncwire.PullPage{Header: syncwire.PullHeader{After: 42, Last: 42, Now: time.Unix(0, 0).UTC()}}
	body, err = syncwire.EncodePull(empty)
	if err != nil {
		t.Fatal(err)
	}
	got, err = syncwire.DecodePull(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(empty, got); d != "" {
		t.Errorf("empty page (-want +got):\n%s", d)
	}
}

// TestPushSize checks a full default batch of doses against the ADR's
// budget of 300 bytes a dose on the wire.
func TestPushSize(t *testing.T) {
	b := &syncwire.Batch{Header: syncwire.PushHeader{Format: syncwire.Format, Node: strings.Repeat("ab", 16), Last: syncwire.DefaultBatch}}
	for i := 1; i <= syncwire.DefaultBatch; i++ {
		b.Events = append(b.Events, syncwire.Event{Seq: int64(i), HLC: syncwire.FormatHLC(int64(i) << 16), K: "dose",
			ID: fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15), Person: fmt.Sprintf("%032x", uint64(i/10)*0xc2b2ae3d27d4eb4f),
			Product: "comirnaty", Date: "2026-12-05", Site: "YB-1", Lot: "EX0042", Source: "administered",
			Payment: &syncwire.Payment{Kind: "free"}, Status: "completed"})
	}
	body, err := syncwire.EncodePush(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if per := len(body) / syncwire.DefaultBatch; per > 300 {
		t.Errorf("%d bytes a dose, want at most 300", per)
	}
	if _, err := syncwire.DecodePush(bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}

// gz gzips s.
func gz(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = io.WriteString(zw, s)
	_ = zw.Close()
	return buf.Bytes()
}

// wantErr checks that err is an *registry.Error with code and field.
func wantErr(t *testing.T, err error, code, field string) {
	t.Helper()
	var e *registry.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *registry.Error %s %s", err, err, code, field)
	}
	if e.Code != code || e.Field != field {
		t.Errorf("error %q: code %s field %q, want %s %q", err, e.Code, e.Field, code, field)
	}
	if e.Message == "" || strings.ContainsAny(e.Message, "\r\n") {
		t.Errorf("message %q: want one non-empty line", e.Message)
	}
}

const (
	hdr = `{"format":"haven-sync/1","node":"n","after":0,"last":2,"hlc":"1:0","pending":0}` + "\n"
	ev1 = `{"seq":1,"k":"dose","id":"a","person":"p"}` + "\n"
	ev2 = `{"seq":2,"k":"erase","person":"p"}` + "\n"
)

func TestDecodePushErrors(t *testing.T) {
	truncated := gz(hdr + ev1 + ev2)
	truncated = truncated[:len(truncated)-6]
	corrupt := gz(hdr + ev1 + ev2)
	corrupt[len(corrupt)-5] ^= 0xff // the CRC
	for _, tc := range []struct {
		name        string
		body        []byte
		code, field string
	}{
		{"not gzip", []byte(hdr + ev1), registry.EMALFORMED, "gzip"},
		{"nothing", nil, registry.EMALFORMED, "gzip"},
		{"truncated gzip", truncated, registry.EMALFORMED, "gzip"},
		{"bad checksum", corrupt, registry.EMALFORMED, "gzip"},
		{"no header", gz(""), registry.EMALFORMED, "line 1"},
		{"header not JSON", gz("format=haven-sync/1\n" + ev1), registry.EMALFORMED, "line 1"},
		{"header is an array", gz("[]\n"), registry.EINVALID, "line 1"},
		{"other format", gz(`{"format":"haven-sync/2","node":"n"}` + "\n"), registry.EUNSUPPORTED, "format"},
		{"no format", gz(`{"node":"n"}` + "\n"), registry.EUNSUPPORTED, "format"},
		{"header unknown field", gz(`{"format":"haven-sync/1","checkpoint":{}}` + "\n"), registry.EINVALID, "line 1.checkpoint"},
		{"header field in other case", gz(`{"Format":"haven-sync/1"}` + "\n"), registry.EINVALID, "line 1.Format"},
		{"header bad hlc", gz(`{"format":"haven-sync/1","hlc":"12"}` + "\n"), registry.EINVALID, "line 1.hlc"},
		{"header after as string", gz(`{"format":"haven-sync/1","after":"5"}` + "\n"), registry.EINVALID, "line 1.after"},
		{"last is not the last seq", gz(`{"format":"haven-sync/1","last":9}` + "\n" + ev1 + ev2), registry.EINVALID, "line 1.last"},
		{"event syntax", gz(hdr + ev1 + `{"seq":2,"k":"erase"` + "\n"), registry.EMALFORMED, "line 3"},
		{"event trailing data", gz(hdr + `{"seq":1,"k":"dose"} {}` + "\n"), registry.EMALFORMED, "line 2"},
		{"blank line", gz(hdr + ev1 + "\n" + ev2), registry.EMALFORMED, "line 3"},
		{"event unknown field", gz(hdr + `{"seq":1,"k":"person","name":"Ada"}` + "\n"), registry.EINVALID, "line 2.name"},
		{"event field twice", gz(hdr + `{"seq":1,"seq":1,"k":"person"}` + "\n"), registry.EINVALID, "line 2.seq"},
		{"seq as string", gz(hdr + `{"seq":"1","k":"person"}` + "\n"), registry.EINVALID, "line 2.seq"},
		{"seq fraction", gz(hdr + `{"seq":1.5,"k":"person"}` + "\n"), registry.EINVALID, "line 2.seq"},
		{"nested field", gz(hdr + `{"seq":1,"k":"dose","payment":{"kind":"paid","amount":12}}` + "\n"), registry.EINVALID, "line 2.payment.amount"},
		{"nested unknown", gz(hdr + `{"seq":1,"k":"dose","payment":{"kind":"paid","iban":"x"}}` + "\n"), registry.EINVALID, "line 2.payment.iban"},
		{"invalid UTF-8", gz(hdr + "{\"seq\":1,\"k\":\"dose\",\"lot\":\"\xff\"}\n"), registry.EINVALID, "line 2.lot"},
		{"seq zero", gz(hdr + `{"seq":0,"k":"person"}` + "\n"), registry.EINVALID, "line 2.seq"},
		{"seq missing", gz(hdr + `{"k":"person"}` + "\n"), registry.EINVALID, "line 2.seq"},
		{"seq repeated", gz(hdr + ev1 + ev1), registry.EINVALID, "line 3.seq"},
		{"seq descending", gz(hdr + ev2 + ev1), registry.EINVALID, "line 3.seq"},
		{"unknown kind", gz(hdr + `{"seq":1,"k":"vaccine"}` + "\n"), registry.EINVALID, "line 2.k"},
		{"no kind", gz(hdr + `{"seq":1}` + "\n"), registry.EINVALID, "line 2.k"},
		{"unfollow in a push", gz(hdr + `{"seq":1,"k":"unfollow","person":"p"}` + "\n"), registry.EINVALID, "line 2.k"},
		{"bad event hlc", gz(hdr + `{"seq":1,"hlc":"1:65536","k":"person"}` + "\n"), registry.EINVALID, "line 2.hlc"},
		{"event is null", gz(hdr + "null\n"), registry.EINVALID, "line 2.seq"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := syncwire.DecodePush(bytes.NewReader(tc.body))
			if b != nil {
				t.Errorf("batch %+v with error", b)
			}
			wantErr(t, err, tc.code, tc.field)
		})
	}
}

func TestDecodePullErrors(t *testing.T) {
	ph := `{"after":10,"last":12,"more":false,"hlc":"5:0","now":"2026-12-05T10:00:00Z"}` + "\n"
	for _, tc := range []struct {
		name        string
		body        string
		code, field string
	}{
		{"push header", hdr, registry.EINVALID, "line 1.format"},
		{"negative after", `{"after":-1,"last":0}` + "\n", registry.EINVALID, "line 1.after"},
		{"last below after", `{"after":10,"last":9}` + "\n", registry.EINVALID, "line 1.last"},
		{"empty page, last above after", `{"after":10,"last":12}` + "\n", registry.EINVALID, "line 1.last"},
		{"bad now", `{"after":0,"last":0,"now":"yesterday"}` + "\n", registry.EINVALID, "line 1.now"},
		{"seq at after", ph + `{"seq":10,"k":"dose"}` + "\n", registry.EINVALID, "line 2.seq"},
		{"seq out of order", ph + `{"seq":12,"k":"dose"}` + "\n" + `{"seq":11,"k":"dose"}` + "\n", registry.EINVALID, "line 3.seq"},
		{"unknown kind", ph + `{"seq":11,"k":"delete"}` + "\n", registry.EINVALID, "line 2.k"},
		{"last mismatch", ph + `{"seq":11,"k":"unfollow","person":"p"}` + "\n", registry.EINVALID, "line 1.last"},
		{"unknown event field", ph + `{"seq":11,"k":"person","phone":"555"}` + "\n", registry.EINVALID, "line 2.phone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := syncwire.DecodePull(bytes.NewReader(gz(tc.body)))
			if p != nil {
				t.Errorf("page %+v with error", p)
			}
			wantErr(t, err, tc.code, tc.field)
		})
	}
	p, err := syncwire.DecodePull(bytes.NewReader(gz(ph + `{"seq":11,"k":"dose"}` + "\n" + `{"seq":12,"k":"unfollow","person":"p"}` + "\n")))
	if err != nil || len(p.Events) != 2 {
		t.Fatalf("valid page: %+v, %v", p, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	_, err := syncwire.EncodePush(nil, 0)
	wantErr(t, err, registry.EINVALID, "")
	_, err = syncwire.EncodePull(nil)
	wantErr(t, err, registry.EINVALID, "")

	b := sampleBatch()
	b.Header.Format = "haven-sync/0"
	_, err = syncwire.EncodePush(b, 0)
	wantErr(t, err, registry.EUNSUPPORTED, "format")

	b = sampleBatch()
	b.Events[2].Seq = b.Events[1].Seq
	_, err = syncwire.EncodePush(b, 0)
	wantErr(t, err, registry.EINVALID, "line 4.seq")

	b = sampleBatch()
	b.Events[0].K = "unfollow"
	_, err = syncwire.EncodePush(b, 0)
	wantErr(t, err, registry.EINVALID, "line 2.k")

	b = sampleBatch()
	b.Header.Last = 1
	_, err = syncwire.EncodePush(b, 0)
	wantErr(t, err, registry.EINVALID, "line 1.last")

	b = sampleBatch()
	b.Events[1].Lot = "\xff"
	_, err = syncwire.EncodePush(b, 0)
	wantErr(t, err, registry.EINVALID, "line 3")

	_, err = syncwire.EncodePush(sampleBatch(), 12)
	wantErr(t, err, registry.EINVALID, "")

	p := samplePage()
	p.Events[0].Seq = p.Header.After
	_, err = syncwire.EncodePull(p)
	wantErr(t, err, registry.EINVALID, "line 2.seq")
}

// events returns n minimal events, seq 1 to n.
func events(n int, lot string) []syncwire.Event {
	evs := make([]syncwire.Event, n)
	for i := range evs {
		evs[i] = syncwire.Event{Seq: int64(i + 1), K: "dose", Lot: lot}
	}
	return evs
}

// ndjson writes a push body's lines without the encoder's checks.
func ndjson(h string, evs []syncwire.Event) string {
	var sb strings.Builder
	sb.WriteString(h)
	for _, ev := range evs {
		fmt.Fprintf(&sb, `{"seq":%d,"k":%q,"lot":%q}`+"\n", ev.Seq, ev.K, ev.Lot)
	}
	return sb.String()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestLimits(t *testing.T) {
	hdrN := func(n int) string { return fmt.Sprintf(`{"format":"haven-sync/1","last":%d}`+"\n", n) }

	t.Run("MaxEvents", func(t *testing.T) {
		full := &syncwire.Batch{Header: syncwire.PushHeader{Format: syncwire.Format, Last: syncwire.MaxEvents}, Events: events(syncwire.MaxEvents, "")}
		body, err := syncwire.EncodePush(full, 0)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := syncwire.DecodePush(bytes.NewReader(body)); err != nil || len(b.Events) != syncwire.MaxEvents {
			t.Fatalf("a full batch: %v", err)
		}
		over := &syncwire.Batch{Header: syncwire.PushHeader{Format: syncwire.Format, Last: syncwire.MaxEvents + 1}, Events: events(syncwire.MaxEvents+1, "")}
		_, err = syncwire.EncodePush(over, 0)
		wantErr(t, err, registry.ETOOLARGE, "")
		_, err = syncwire.DecodePush(bytes.NewReader(gz(ndjson(hdrN(syncwire.MaxEvents+1), over.Events))))
		wantErr(t, err, registry.ETOOLARGE, fmt.Sprintf("line %d", syncwire.MaxEvents+2))
		_, err = syncwire.DecodePull(bytes.NewReader(gz(ndjson(`{"after":0,"last":5001}`+"\n", over.Events))))
		wantErr(t, err, registry.ETOOLARGE, fmt.Sprintf("line %d", syncwire.MaxEvents+2))
	})

	t.Run("MaxCompressed", func(t *testing.T) {
		// Stored without compression, 1.2 MiB of NDJSON is over the
		// compressed limit and well within the decompressed one.
		evs := events(1200, strings.Repeat("x", 1000))
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
		_, _ = io.WriteString(zw, ndjson(hdrN(1200), evs))
		_ = zw.Close()
		if buf.Len() <= syncwire.MaxCompressed {
			t.Fatalf("test body is %d bytes", buf.Len())
		}
		cr := &countingReader{r: bytes.NewReader(buf.Bytes())}
		_, err := syncwire.DecodePush(cr)
		wantErr(t, err, registry.ETOOLARGE, "")
		if cr.n > syncwire.MaxCompressed+1 {
			t.Errorf("read %d bytes, more than the limit and one", cr.n)
		}
		buf.Reset()
		zw.Reset(&buf)
		_, _ = io.WriteString(zw, ndjson(`{"after":0,"last":1200}`+"\n", evs))
		_ = zw.Close()
		_, err = syncwire.DecodePull(bytes.NewReader(buf.Bytes()))
		wantErr(t, err, registry.ETOOLARGE, "")

		// Encoding refuses to make such a body, whatever the level.
		_, err = syncwire.EncodePush(&syncwire.Batch{Header: syncwire.PushHeader{Format: syncwire.Format, Last: 2000}, Events: randomLots(2000, 1000)}, 1)
		wantErr(t, err, registry.ETOOLARGE, "")
	})

	t.Run("MaxDecompressed", func(t *testing.T) {
		// A 9 MiB line of one letter gzips to a few KiB: a gzip bomb.
		body := gz(hdrN(1) + `{"seq":1,"k":"dose","lot":"` + strings.Repeat("a", 9<<20) + `"}` + "\n")
		if len(body) > syncwire.MaxCompressed {
			t.Fatalf("test body is %d bytes", len(body))
		}
		_, err := syncwire.DecodePush(bytes.NewReader(body))
		wantErr(t, err, registry.ETOOLARGE, "")
		// Many lines in all, each small.
		body = gz(ndjson(hdrN(5000), events(5000, strings.Repeat("b", 1800))))
		_, err = syncwire.DecodePush(bytes.NewReader(body))
		wantErr(t, err, registry.ETOOLARGE, "")
		_, err = syncwire.EncodePush(&syncwire.Batch{Header: syncwire.PushHeader{Format: syncwire.Format, Last: 5000}, Events: events(5000, strings.Repeat("b", 1800))}, 0)
		wantErr(t, err, registry.ETOOLARGE, "")
	})
}

// randomLots returns n events whose lots are size pseudo-random letters,
// which gzip cannot shrink much.
func randomLots(n, size int) []syncwire.Event {
	evs := events(n, "")
	x := uint64(88172645463325252)
	for i := range evs {
		b := make([]byte, size)
		for j := range b {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b[j] = 'a' + byte(x%26)
		}
		evs[i].Lot = string(b)
	}
	return evs
}
