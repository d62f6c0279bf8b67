package mllp_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/haven-registry/haven/internal/mllp"
)

// chunks is a reader that returns its chunks one per Read.
type chunks []string

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	if n < len((*c)[0]) {
		(*c)[0] = (*c)[0][n:]
	} else {
		*c = (*c)[1:]
	}
	return n, nil
}

// readAll reads frames until an error other than ErrTooLarge, and returns
// the payloads, "<too large>" for each ErrTooLarge, and the final error.
func readAll(r *mllp.Reader) ([]string, error) {
	var got []string
	for {
		msg, err := r.Next()
		switch {
		case errors.Is(err, mllp.ErrTooLarge):
			got = append(got, "<too large>")
		case err != nil:
			return got, err
		default:
			got = append(got, string(msg))
		}
	}
}

func TestReader(t *testing.T) {
	big := strings.Repeat("x", 10000)
	tests := []struct {
		name   string
		chunks []string
		max    int
		want   []string
		err    error
	}{
		{"ok/one", []string{"\x0bMSH|1\x1c\r"}, 0, []string{"MSH|1"}, io.EOF},
		{"ok/empty-stream", nil, 0, nil, io.EOF},
		{"ok/empty-frame", []string{"\x0b\x1c\r"}, 0, []string{""}, io.EOF},
		{"ok/many-in-one-read", []string{"\x0ba\x1c\r\x0bb\x1c\r\x0bc\x1c\r"}, 0, []string{"a", "b", "c"}, io.EOF},
		{"ok/split-everywhere", []string{"\x0b", "M", "SH|", "1\rPID|", "\x1c", "\r", "\x0b", "b\x1c", "\r"}, 0, []string{"MSH|1\rPID|", "b"}, io.EOF},
		{"ok/junk-before-and-between", []string{"junk\r\n\x0ba\x1c\r\n\n  garbage\x1c\r\x0bb\x1c\rtrailing"}, 0, []string{"a", "b"}, io.EOF},
		{"ok/stray-cr-lf", []string{"\r\n\x0ba\x1c\r\r\n\r\n\x0bb\x1c\r\n"}, 0, []string{"a", "b"}, io.EOF},
		{"ok/end-without-cr", []string{"\x0ba\x1c\x0bb\x1cX\x0bc\x1c"}, 0, []string{"a", "b", "c"}, io.EOF},
		{"ok/segment-crs-kept", []string{"\x0bMSH|1\rPID|2\r\x1c\r"}, 0, []string{"MSH|1\rPID|2\r"}, io.EOF},
		{"ok/start-inside-frame-restarts", []string{"\x0bhalf a mes", "sage\x0bwhole\x1c\r"}, 0, []string{"whole"}, io.EOF},
		{"ok/binary-payload", []string{"\x0b\x00\xff\r\n\x1c\r"}, 0, []string{"\x00\xff\r\n"}, io.EOF},
		{"ok/large-across-reads", []string{"\x0b" + big + "\x1c\r"}, 0, []string{big}, io.EOF},
		{"ok/exactly-max", []string{"\x0b12345\x1c\r"}, 5, []string{"12345"}, io.EOF},
		{"fail/over-max-then-next", []string{"\x0b123456\x1c\r\x0bok\x1c\r"}, 5, []string{"<too large>", "ok"}, io.EOF},
		{"fail/over-max-across-reads", []string{"\x0b" + big, big + "\x1c\r", "\x0bok\x1c\r"}, 100, []string{"<too large>", "ok"}, io.EOF},
		{"fail/over-max-then-restart", []string{"\x0b123456\x0bok\x1c\r"}, 5, []string{"<too large>", "ok"}, io.EOF},
		{"fail/eof-inside-frame", []string{"\x0bMSH|1\rPID|"}, 0, nil, io.ErrUnexpectedEOF},
		{"fail/eof-after-start", []string{"\x0ba\x1c\r\x0b"}, 0, []string{"a"}, io.ErrUnexpectedEOF},
		{"fail/eof-inside-big-frame", []string{"\x0b" + big}, 0, nil, io.ErrUnexpectedEOF},
		{"ok/only-junk", []string{"\r\n\x1c\rjunk"}, 0, nil, io.EOF},
	}
	for _, tt := range tests {
		for _, mode := range []string{"chunks", "one-byte"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				c := chunks(append([]string(nil), tt.chunks...))
				var rd io.Reader = &c
				if mode == "one-byte" {
					rd = iotest.OneByteReader(rd)
				}
				got, err := readAll(mllp.NewReader(rd, tt.max))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("payloads (-want +got):\n%s", diff)
				}
				if err != tt.err {
					t.Errorf("error = %v, want %v", err, tt.err)
				}
			})
		}
	}
}

func TestReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	t.Run("fail/read-error-is-sticky", func(t *testing.T) {
		r := mllp.NewReader(iotest.ErrReader(boom), 0)
		for range 2 {
			if _, err := r.Next(); err != boom {
				t.Fatalf("error = %v, want %v", err, boom)
			}
		}
	})
	t.Run("ok/data-with-error", func(t *testing.T) {
		// The frame read along with the error is returned first.
		r := mllp.NewReader(iotest.DataErrReader(strings.NewReader("\x0ba\x1c\r")), 0)
		got, err := readAll(r)
		if len(got) != 1 || got[0] != "a" || err != io.EOF {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("fail/timeout-inside-frame", func(t *testing.T) {
		r := mllp.NewReader(io.MultiReader(strings.NewReader("\x0bpart"), iotest.ErrReader(boom)), 0)
		if _, err := r.Next(); err != boom {
			t.Fatalf("error = %v, want %v", err, boom)
		}
		if _, err := r.Next(); err != boom {
			t.Fatalf("second error = %v, want %v", err, boom)
		}
	})
	t.Run("fail/no-progress", func(t *testing.T) {
		r := mllp.NewReader(zeroReader{}, 0)
		if _, err := r.Next(); err != io.ErrNoProgress {
			t.Fatalf("error = %v, want io.ErrNoProgress", err)
		}
	})
	t.Run("ok/payload-not-aliased-by-append", func(t *testing.T) {
		r := mllp.NewReader(strings.NewReader("\x0ba\x1c\r\x0bb\x1c\r"), 0)
		msg, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		_ = append(msg, "XXXX"...) // must not overwrite the next frame
		if msg, err := r.Next(); err != nil || string(msg) != "b" {
			t.Fatalf("second frame %q, %v", msg, err)
		}
	})
}

// zeroReader returns 0, nil forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestFrame(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want string
		err  error
	}{
		{"ok/message", "MSH|^~\\&|A\rPID|1\r", "\x0bMSH|^~\\&|A\rPID|1\r\x1c\r", nil},
		{"ok/empty", "", "\x0b\x1c\r", nil},
		{"fail/start-block", "MSH\x0b", "", mllp.ErrInvalidPayload},
		{"fail/end-block", "MSH\x1c\r", "", mllp.ErrInvalidPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w countingWriter
			err := mllp.Frame(&w, []byte(tt.msg))
			if err != tt.err {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if got := w.b.String(); got != tt.want {
				t.Errorf("wrote %q, want %q", got, tt.want)
			}
			if tt.err == nil && w.writes != 1 {
				t.Errorf("%d writes, want 1", w.writes)
			}
			if tt.err == nil {
				back, err := mllp.NewReader(&w.b, 0).Next()
				if err != nil || string(back) != tt.msg {
					t.Errorf("read back %q, %v", back, err)
				}
			}
		})
	}
	t.Run("fail/write-error", func(t *testing.T) {
		if err := mllp.Frame(errWriter{}, []byte("x")); err != io.ErrShortWrite {
			t.Fatalf("error = %v", err)
		}
	})
}

type countingWriter struct {
	b      bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) { w.writes++; return w.b.Write(p) }

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }
