package mllp_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/haven-registry/haven/internal/mllp"
)

// FuzzReader reads any stream, cut into reads of varying sizes, and checks
// the Reader against a byte-at-a-time model of its documented behaviour:
// same payloads, same ErrTooLarge, same final error, no payload over the
// limit or holding a framing byte. It also checks that any payload,
// framed by Frame between junk, reads back unchanged.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"",
		"\x0bMSH|^~\\&|A|B\rPID|1\r\x1c\r",
		"\x0ba\x1c\r\x0bb\x1c\r\x0bc\x1c\r",
		"junk\r\n\x0ba\x1c\r\n\x0bb\x1c\rtrailing",
		"\x0ba\x1c\x0bb\x1cX\x0bc\x1c",
		"\x0bhalf\x0bwhole\x1c\r",
		"\x0b123456\x1c\r\x0bok\x1c\r",
		"\x0bpartial",
		"\x0b",
		"\x1c\r\x1c\x0b\x0b\x1c",
		"\x0b\x1c\r",
	} {
		f.Add([]byte(s), uint16(5), uint8(0))
		f.Add([]byte(s), uint16(0), uint8(1))
		f.Add([]byte(s), uint16(3), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, max uint16, seed uint8) {
		limit := int(max)
		if limit == 0 {
			limit = mllp.DefaultMaxMessageBytes
		}
		want, wantErr := model(data, limit)
		got, err := readAll(mllp.NewReader(&splitReader{data: data, seed: seed}, int(max)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("payloads (-model +reader):\n%s", diff)
		}
		if err != wantErr {
			t.Fatalf("error %v, model %v", err, wantErr)
		}
		for _, p := range got {
			if p != "<too large>" && (len(p) > limit || bytes.ContainsAny([]byte(p), "\x0b\x1c")) {
				t.Fatalf("payload %q over the limit or with a framing byte", p)
			}
		}

		// Round trip.
		payload := bytes.Map(func(r rune) rune {
			if r == 0x0b || r == 0x1c {
				return -1
			}
			return r
		}, data)
		if len(payload) > limit || !bytes.Equal(payload, bytes.ToValidUTF8(payload, nil)) {
			return // bytes.Map works on UTF-8; skip what it would change
		}
		var stream bytes.Buffer
		for range 2 {
			stream.WriteString("\r\njunk")
			if err := mllp.Frame(&stream, payload); err != nil {
				t.Fatal(err)
			}
		}
		got, err = readAll(mllp.NewReader(&splitReader{data: stream.Bytes(), seed: seed}, int(max)))
		if err != io.EOF || len(got) != 2 || got[0] != string(payload) || got[1] != string(payload) {
			t.Fatalf("round trip of %q: %q, %v", payload, got, err)
		}
	})
}

// model reads frames one byte at a time, as the Reader's documentation
// describes, and returns what readAll would.
func model(data []byte, limit int) ([]string, error) {
	var out []string
	var cur []byte
	in := false
	for _, b := range data {
		switch {
		case !in:
			if b == 0x0b {
				in, cur = true, cur[:0]
			}
		case b == 0x0b:
			cur = cur[:0]
		case b == 0x1c:
			out = append(out, string(cur))
			in = false
		default:
			cur = append(cur, b)
			if len(cur) > limit {
				out = append(out, "<too large>")
				in = false
			}
		}
	}
	if in {
		return out, io.ErrUnexpectedEOF
	}
	return out, io.EOF
}

// splitReader returns data in reads of pseudo-random sizes from 1 to 64
// bytes, or all at once if seed is 0.
type splitReader struct {
	data []byte
	seed uint8
	n    uint32
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	size := len(p)
	if r.seed != 0 {
		r.n = r.n*1103515245 + 12345 + uint32(r.seed)
		size = min(size, int(r.n>>16)%64+1)
	}
	n := copy(p[:size], r.data)
	r.data = r.data[n:]
	return n, nil
}
