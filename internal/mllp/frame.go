package mllp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The framing bytes of MLLP release 1.
const (
	startBlock  = 0x0b // <VT>, starts a frame
	endBlock    = 0x1c // <FS>, ends a frame
	carriageRet = 0x0d // <CR>, follows endBlock
)

// DefaultMaxMessageBytes is the payload limit when none is given: 4 MiB.
// It is above the 1 MiB that internal/hl7 allows one message, so that a
// message slightly over that limit still reaches the HL7 layer and is
// answered with an error ACK instead of a closed connection.
const DefaultMaxMessageBytes = 4 << 20

var (
	// ErrTooLarge is returned (wrapped) by Reader.Next for a frame whose
	// payload exceeds the limit. The Reader stays usable: the next call
	// skips the rest of that frame and reads the one after it.
	ErrTooLarge = errors.New("mllp: message too large")

	// ErrInvalidPayload is returned by Frame for a payload holding a start
	// (0x0B) or end (0x1C) block byte, which would break the framing.
	ErrInvalidPayload = errors.New("mllp: payload contains a framing byte (0x0B or 0x1C)")
)

// framePool holds write buffers for Frame, so that framing a reply does not
// allocate. Buffers that grew beyond 64 KiB are not kept.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Frame writes msg to w as one MLLP frame, 0x0B msg 0x1C 0x0D, in a single
// Write call (one TCP segment or TLS record where it fits). It returns
// ErrInvalidPayload, and writes nothing, if msg contains 0x0B or 0x1C.
func Frame(w io.Writer, msg []byte) error {
	if bytes.IndexByte(msg, startBlock) >= 0 || bytes.IndexByte(msg, endBlock) >= 0 {
		return ErrInvalidPayload
	}
	bp := framePool.Get().(*[]byte)
	b := append((*bp)[:0], startBlock)
	b = append(b, msg...)
	b = append(b, endBlock, carriageRet)
	_, err := w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		framePool.Put(bp)
	}
	return err
}

// Reader reads MLLP frames from a stream. It is lenient about what a sender
// puts around frames and strict about what it hands on:
//
//   - Bytes before a start block (0x0B) are skipped: junk, stray CR or LF,
//     and the CR that ends the previous frame.
//   - A frame ends at its first end block (0x1C). The CR that the standard
//     requires after it is not waited for: it is skipped as a byte between
//     frames, so a sender that omits it, or sends something else, is still
//     answered instead of left waiting.
//   - A start block inside a frame means the sender abandoned the frame
//     (it never sent the end) and began again: the partial payload is
//     dropped and the new frame read.
//   - An end of stream inside a frame is io.ErrUnexpectedEOF; the partial
//     payload is never returned.
//
// A payload returned by Next therefore never contains 0x0B or 0x1C. A
// Reader is not safe for concurrent use.
type Reader struct {
	rd    io.Reader
	limit int
	buf   []byte
	pos   int    // next unread byte in buf
	end   int    // end of the valid bytes in buf
	msg   []byte // payload of a frame spanning several reads
	rerr  error  // read error to return once buf is drained
	err   error  // sticky error
}

// NewReader returns a Reader that reads frames from r and rejects payloads
// longer than maxBytes. Zero or less means DefaultMaxMessageBytes.
func NewReader(r io.Reader, maxBytes int) *Reader {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessageBytes
	}
	return &Reader{rd: r, limit: maxBytes, buf: make([]byte, 4096)}
}

// Next returns the payload of the next frame, without the framing bytes.
// The payload is valid only until the next call to Next.
//
// Next returns io.EOF when the stream ends between frames,
// io.ErrUnexpectedEOF when it ends inside one, an error wrapping
// ErrTooLarge for a payload over the limit (the Reader stays usable), and
// otherwise the error of the underlying reader. After any error other than
// ErrTooLarge, Next returns that same error again.
func (r *Reader) Next() ([]byte, error) {
	if err := r.skipToStart(); err != nil {
		return nil, err
	}
	r.pos++ // the start block
	r.msg = r.msg[:0]
	for {
		data := r.buf[r.pos:r.end]
		i := indexDelim(data)
		part := data
		if i >= 0 {
			part = data[:i]
		}
		if len(r.msg)+len(part) > r.limit {
			// The rest of the frame is skipped by the next call,
			// as bytes between frames: it holds no start block
			// before part ends.
			r.pos += len(part)
			r.msg = r.msg[:0]
			return nil, fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, r.limit)
		}
		switch {
		case i < 0:
			r.msg = append(r.msg, part...)
			r.pos = r.end
			if err := r.fill(); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				r.msg = r.msg[:0]
				r.err = err
				return nil, err
			}
		case data[i] == startBlock:
			r.msg = r.msg[:0]
			r.pos += i + 1
		default: // endBlock
			r.pos += i + 1
			if len(r.msg) == 0 {
				// The whole frame was in buf: no copy.
				return part[:len(part):len(part)], nil
			}
			r.msg = append(r.msg, part...)
			return r.msg, nil
		}
	}
}

// skipToStart discards bytes up to the next start block, which it leaves
// unread. It returns io.EOF if the stream ends first. The server calls it
// alone to wait for a frame under the idle timeout, then Next under the
// read timeout.
func (r *Reader) skipToStart() error {
	if r.err != nil {
		return r.err
	}
	for {
		if i := bytes.IndexByte(r.buf[r.pos:r.end], startBlock); i >= 0 {
			r.pos += i
			return nil
		}
		r.pos = r.end
		if err := r.fill(); err != nil {
			r.err = err
			return err
		}
	}
}

// fill reads more bytes into the drained buffer. It returns an error only
// when no byte was read: a read that returns bytes and an error keeps the
// error for the next fill.
func (r *Reader) fill() error {
	r.pos, r.end = 0, 0
	if r.rerr != nil {
		return r.rerr
	}
	for range 100 {
		n, err := r.rd.Read(r.buf)
		if n < 0 || n > len(r.buf) {
			return errors.New("mllp: reader returned an invalid count")
		}
		r.end = n
		if n > 0 {
			r.rerr = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// indexDelim returns the index of the first start or end block in b, or -1.
// It looks for the start block first: in a frame, the next start block is
// the end of what Next may scan (the next frame, or a restart), so a run of
// restarts costs no more than reading them.
func indexDelim(b []byte) int {
	i := bytes.IndexByte(b, startBlock)
	if i < 0 {
		return bytes.IndexByte(b, endBlock)
	}
	if j := bytes.IndexByte(b[:i], endBlock); j >= 0 {
		return j
	}
	return i
}
