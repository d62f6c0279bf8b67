package mllp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DialTimeout bounds the time a Client takes to connect, TLS handshake
// included, when the context passed to Dial or Send allows longer.
const DialTimeout = 30 * time.Second

// Client sends messages over one MLLP connection and waits for each reply.
// It is safe for concurrent use; its Sends are made one at a time, in the
// order they obtain the connection. Set its fields before the first Send
// and do not change them afterwards.
//
// The connection is made by the first Send (or by Dial) and kept open. A
// Send that fails closes it, and the next Send connects again. A
// connection the server closed while it was idle is noticed before the
// next message is written, and that Send reconnects at once.
//
// Send does not resend a message whose reply it did not get: the server
// may have handled it. Resending (HL7 original mode expects the sender to)
// is the caller's decision; receivers recognise a resent message by its
// control ID (MSH-10).
type Client struct {
	// Addr is the server's TCP address, host:port.
	Addr string
	// TLSConfig, if not nil, makes the client speak TLS with this
	// configuration (see ClientTLS). If its ServerName is empty, the host
	// of Addr is used.
	TLSConfig *tls.Config
	// MaxMessageBytes limits the payload of a reply; zero means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int

	once   sync.Once
	sem    chan struct{} // held by the Send in progress
	mu     sync.Mutex    // guards cc and closed
	cc     *clientConn
	closed bool
}

// clientConn is one connection, with a goroutine reading its frames, so
// that the client learns at once when the server closes it.
type clientConn struct {
	nc      net.Conn
	replies chan []byte   // frames read, each a copy; holds at most one
	done    chan struct{} // closed when the reading goroutine ends
	err     error         // why it ended, set before done is closed
}

// Dial returns a Client for addr, connected. It is the same as setting
// Addr and TLSConfig on a new Client, except that a failure to connect is
// reported now rather than by the first Send.
func Dial(ctx context.Context, addr string, tlsConfig *tls.Config) (*Client, error) {
	c := &Client{Addr: addr, TLSConfig: tlsConfig}
	c.init()
	cc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.cc = cc
	return c, nil
}

func (c *Client) init() {
	c.once.Do(func() { c.sem = make(chan struct{}, 1) })
}

// Send writes msg as one frame and returns the payload of the reply frame.
// It returns ErrInvalidPayload if msg contains 0x0B or 0x1C, and ctx.Err()
// if ctx ends first (the connection is then closed, since the reply may
// still come). Send waits for the reply as long as ctx allows: give it a
// deadline. The reply is the caller's to keep.
func (c *Client) Send(ctx context.Context, msg []byte) ([]byte, error) {
	if bytes.IndexByte(msg, startBlock) >= 0 || bytes.IndexByte(msg, endBlock) >= 0 {
		return nil, ErrInvalidPayload
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.init()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.sem }()

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, net.ErrClosed
	}
	cc := c.cc
	c.mu.Unlock()
	if cc != nil && !cc.ready() {
		c.drop(cc)
		cc = nil
	}
	if cc == nil {
		var err error
		if cc, err = c.dial(ctx); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			cc.nc.Close()
			return nil, net.ErrClosed
		}
		c.cc = cc
		c.mu.Unlock()
	}

	d, _ := ctx.Deadline() // zero, no deadline, if none
	cc.nc.SetWriteDeadline(d)
	// Unblock the write, and the reading goroutine, if ctx ends.
	stop := context.AfterFunc(ctx, func() { cc.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := Frame(cc.nc, msg); err != nil {
		c.drop(cc)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("mllp: send: %w", err)
	}
	select {
	case reply := <-cc.replies:
		c.keepIf(cc, stop())
		return reply, nil
	case <-cc.done:
		// A reply read just before the connection ended still counts.
		select {
		case reply := <-cc.replies:
			c.drop(cc)
			return reply, nil
		default:
		}
		c.drop(cc)
		err := cc.err
		if errors.Is(err, io.EOF) {
			err = errors.New("connection closed by the server before its reply")
		}
		return nil, fmt.Errorf("mllp: receive: %w", err)
	case <-ctx.Done():
		c.drop(cc)
		return nil, ctx.Err()
	}
}

// Close closes the connection. A Send in progress fails, and later ones
// return net.ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.cc == nil {
		return nil
	}
	err := c.cc.nc.Close()
	c.cc = nil
	return err
}

// dial connects to Addr and starts the reading goroutine.
func (c *Client) dial(ctx context.Context) (*clientConn, error) {
	var nc net.Conn
	var err error
	nd := &net.Dialer{Timeout: DialTimeout}
	if c.TLSConfig != nil {
		d := tls.Dialer{NetDialer: nd, Config: c.TLSConfig}
		nc, err = d.DialContext(ctx, "tcp", c.Addr)
	} else {
		nc, err = nd.DialContext(ctx, "tcp", c.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("mllp: %w", err)
	}
	cc := &clientConn{nc: nc, replies: make(chan []byte, 1), done: make(chan struct{})}
	go cc.read(NewReader(nc, c.MaxMessageBytes))
	return cc, nil
}

// read passes the frames of the connection to Send. A frame that arrives
// while another waits unclaimed breaks the one-reply-per-message rule: the
// connection is closed.
func (cc *clientConn) read(r *Reader) {
	defer close(cc.done)
	for {
		msg, err := r.Next()
		if err != nil {
			cc.err = err
			cc.nc.Close()
			return
		}
		select {
		case cc.replies <- bytes.Clone(msg):
		default:
			cc.err = errors.New("mllp: unsolicited frame from the server")
			cc.nc.Close()
			return
		}
	}
}

// ready reports whether a message may be sent: the connection is open and
// no frame arrived that no message asked for.
func (cc *clientConn) ready() bool {
	select {
	case <-cc.done:
		return false
	default:
	}
	return len(cc.replies) == 0
}

// keepIf drops cc unless ok: when ctx ended just as the reply came, the
// deadline set to interrupt the connection has made it unusable.
func (c *Client) keepIf(cc *clientConn, ok bool) {
	if !ok {
		c.drop(cc)
	}
}

// drop closes cc and forgets it, if it is still the client's connection.
func (c *Client) drop(cc *clientConn) {
	cc.nc.Close()
	c.mu.Lock()
	if c.cc == cc {
		c.cc = nil
	}
	c.mu.Unlock()
}
