package mllp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the Server fields left at zero.
const (
	DefaultReadTimeout  = time.Minute
	DefaultWriteTimeout = time.Minute
	DefaultIdleTimeout  = 5 * time.Minute
	DefaultMaxConns     = 256
	// DefaultAddr is the address ListenAndServe uses when given "": port
	// 2575, which IANA assigns to HL7 over MLLP.
	DefaultAddr = ":2575"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
var ErrServerClosed = errors.New("mllp: server closed")

// Handler answers one message with one reply, usually an ACK or an RSP.
//
// ServeMLLP is called for the messages of one connection one at a time, in
// the order they arrived; calls for different connections run
// concurrently. msg is only valid until ServeMLLP returns: it must not be
// kept, or changed. The reply is written back framed; it must not contain
// 0x0B or 0x1C. A nil or empty reply sends nothing and closes the
// connection, as does a panic (which the server recovers and logs). ctx is
// cancelled when Shutdown gives up waiting.
type Handler interface {
	ServeMLLP(ctx context.Context, peer Peer, msg []byte) []byte
}

// HandlerFunc adapts a function to the Handler interface.
type HandlerFunc func(ctx context.Context, peer Peer, msg []byte) []byte

// ServeMLLP calls f(ctx, peer, msg).
func (f HandlerFunc) ServeMLLP(ctx context.Context, peer Peer, msg []byte) []byte {
	return f(ctx, peer, msg)
}

// Peer describes the sending end of a connection.
type Peer struct {
	// Addr is the remote address, with IPv4-mapped IPv6 addresses
	// unmapped. It is the zero AddrPort if the listener's addresses are
	// not IP addresses.
	Addr netip.AddrPort
	// Certificates is the client certificate chain that crypto/tls
	// verified against the server's ClientCAs: the client's certificate
	// first, the trusted root last. It is nil over plain TCP and when the
	// client sent no certificate or one that was not verified (with
	// tls.RequestClientCert or tls.RequireAnyClientCert): an unverified
	// certificate is never shown here.
	Certificates []*x509.Certificate
}

// Server accepts MLLP connections and passes each message to Handler. Set
// its fields before calling Serve and do not change them afterwards.
//
// Each connection is served by one goroutine, which reads a frame, calls
// Handler, writes the reply, and only then reads the next frame: the HL7
// "original mode" of acknowledgement. A sender that sends several frames
// without waiting is answered in order.
type Server struct {
	Handler Handler

	// TLSConfig, if not nil, makes the server speak TLS, with this
	// configuration (see ServerTLS); nil serves plain TCP. A MinVersion
	// below TLS 1.2 is raised to TLS 1.2.
	TLSConfig *tls.Config

	// MaxMessageBytes limits the payload of one frame; zero means
	// DefaultMaxMessageBytes. A sender that exceeds it is disconnected
	// without a reply, since the frame it is in the middle of cannot be
	// answered, and the event is logged.
	MaxMessageBytes int

	// ReadTimeout limits the time to read one frame, from its start
	// block to its end block, and the TLS handshake. WriteTimeout limits
	// the time to write one reply. IdleTimeout limits the time a
	// connection may wait for the start of its next frame (bytes that are
	// not a start block do not count as activity). When one is exceeded
	// the connection is closed. Zero means DefaultReadTimeout,
	// DefaultWriteTimeout or DefaultIdleTimeout; a negative value means
	// no limit.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration

	// MaxConns limits the connections served at once; zero means
	// DefaultMaxConns and a negative value means no limit. A connection
	// beyond the limit is accepted and closed at once, before any TLS
	// handshake, so that its sender sees the refusal immediately and can
	// retry, rather than waiting in the listen backlog.
	MaxConns int

	// Logger receives the server's events; nil means slog.Default().
	// Nothing logged holds message content, which is personal data: only
	// peer addresses, client certificate subjects, sizes, durations and
	// errors. A handler's panic is logged with its stack and, unless it
	// is a runtime error, with the panic value's type instead of its value.
	Logger *slog.Logger

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]connState
	shutdown  bool
	ctx       context.Context // passed to Handler
	cancel    context.CancelFunc

	refused    atomic.Int64 // connections refused since the last log
	refusedLog atomic.Int64 // time of that log, in Unix nanoseconds
}

type connState int

const (
	stateNew connState = iota // handshake, or waiting for a frame
	stateActive
)

// conn is one accepted connection.
type conn struct {
	raw net.Conn // closed by Shutdown, which must not wait on TLS
	nc  net.Conn // raw, or a *tls.Conn over it
}

// init sets up the fields Serve and Shutdown share. It is called with mu
// held.
func (s *Server) init() {
	if s.conns == nil {
		s.listeners = make(map[*net.Listener]struct{})
		s.conns = make(map[*conn]connState)
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
}

// ListenAndServe listens on the TCP address addr (DefaultAddr if empty)
// and calls Serve.
func (s *Server) ListenAndServe(addr string) error {
	if addr == "" {
		addr = DefaultAddr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mllp: %w", err)
	}
	return s.Serve(l)
}

// Serve accepts connections on l and serves each in its own goroutine. It
// closes l when it returns. It returns ErrServerClosed after Shutdown, and
// otherwise the error that stopped it accepting.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errors.New("mllp: Server.Handler is nil")
	}
	var tlsConfig *tls.Config
	if s.TLSConfig != nil {
		c := s.TLSConfig
		if len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil {
			l.Close()
			return errors.New("mllp: Server.TLSConfig has no certificate")
		}
		if c.MinVersion < tls.VersionTLS12 {
			c = c.Clone()
			c.MinVersion = tls.VersionTLS12
		}
		tlsConfig = c
	}

	s.mu.Lock()
	s.init()
	if s.shutdown {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[&l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &l)
		s.mu.Unlock()
		l.Close()
	}()

	log := s.logger()
	log.Info("mllp: serving", "addr", l.Addr().String(), "tls", tlsConfig != nil)
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() && !errors.Is(err, net.ErrClosed) {
				// Out of file descriptors and the like: wait and retry.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				log.Warn("mllp: accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("mllp: accept: %w", err)
		}
		delay = 0
		c := &conn{raw: nc, nc: nc}
		if !s.track(c) {
			nc.Close()
			continue
		}
		if tlsConfig != nil {
			c.nc = tls.Server(nc, tlsConfig)
		}
		go s.serveConn(c)
	}
}

// track registers a new connection, or refuses it when the server is
// shutting down or full.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	if limit := s.maxConns(); limit > 0 && len(s.conns) >= limit {
		s.logRefused(c.raw.RemoteAddr(), limit)
		return false
	}
	s.conns[c] = stateNew
	return true
}

// logRefused logs a connection refused for MaxConns, at most once a second
// so that a flood of connections does not flood the log.
func (s *Server) logRefused(addr net.Addr, limit int) {
	n := s.refused.Add(1)
	now := time.Now().UnixNano()
	last := s.refusedLog.Load()
	if now-last < int64(time.Second) || !s.refusedLog.CompareAndSwap(last, now) {
		return
	}
	s.refused.Add(-n)
	s.logger().Warn("mllp: connection refused: too many connections",
		"peer", addr.String(), "max_conns", limit, "refused", n)
}

// setState moves a connection between waiting and handling a message. It
// reports false if the server is shutting down and the connection must
// close instead.
func (s *Server) setState(c *conn, st connState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	s.conns[c] = st
	return true
}

func (s *Server) serveConn(c *conn) {
	log := s.logger().With("peer", c.raw.RemoteAddr().String())
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()

	peer := Peer{Addr: addrPort(c.raw.RemoteAddr())}
	if tc, ok := c.nc.(*tls.Conn); ok {
		ctx := s.ctx
		if d := s.timeout(s.ReadTimeout, DefaultReadTimeout); d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			log.Warn("mllp: TLS handshake failed", "err", err)
			return
		}
		st := tc.ConnectionState()
		if len(st.VerifiedChains) > 0 {
			peer.Certificates = st.VerifiedChains[0]
			log = log.With("client", peer.Certificates[0].Subject.String())
		}
		log.Debug("mllp: connected", "tls_version", tls.VersionName(st.Version))
	} else {
		log.Debug("mllp: connected")
	}

	r := NewReader(c.nc, s.MaxMessageBytes)
	idle := s.timeout(s.IdleTimeout, DefaultIdleTimeout)
	read := s.timeout(s.ReadTimeout, DefaultReadTimeout)
	write := s.timeout(s.WriteTimeout, DefaultWriteTimeout)
	var n int
	for {
		if !s.setState(c, stateNew) {
			return
		}
		c.nc.SetReadDeadline(deadline(idle))
		if err := r.skipToStart(); err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				log.Debug("mllp: idle connection closed", "messages", n, "idle_timeout", idle)
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
				log.Debug("mllp: connection closed", "messages", n)
			default:
				log.Warn("mllp: read", "err", err, "messages", n)
			}
			return
		}
		if !s.setState(c, stateActive) {
			return
		}
		start := time.Now()
		c.nc.SetReadDeadline(deadline(read))
		msg, err := r.Next()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("frame not complete after %v", read)
			}
			log.Warn("mllp: read frame; closing connection", "err", err, "messages", n)
			return
		}
		n++
		reply, ok := s.handle(log, peer, msg)
		if !ok {
			return
		}
		if len(reply) == 0 {
			log.Info("mllp: handler returned no reply; closing connection", "bytes", len(msg))
			return
		}
		c.nc.SetWriteDeadline(deadline(write))
		if err := Frame(c.nc, reply); err != nil {
			log.Warn("mllp: write reply; closing connection", "err", err, "bytes", len(msg), "reply_bytes", len(reply))
			return
		}
		log.Debug("mllp: message", "bytes", len(msg), "reply_bytes", len(reply), "duration", time.Since(start))
	}
}

// handle calls the handler, and recovers and logs its panic, in which case
// it reports false.
func (s *Server) handle(log *slog.Logger, peer Peer, msg []byte) (reply []byte, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			// The panic value may quote the message: only a
			// runtime error, which does not, is logged as is.
			var v any = fmt.Sprintf("%T", p)
			if re, isRE := p.(runtime.Error); isRE {
				v = re.Error()
			}
			log.Error("mllp: handler panic; closing connection", "panic", v, "bytes", len(msg), "stack", string(debug.Stack()))
			reply, ok = nil, false
		}
	}()
	return s.Handler.ServeMLLP(s.ctx, peer, msg), true
}

// Shutdown stops the server gracefully: it closes the listeners and the
// connections waiting for a message, lets the messages being handled
// finish and their replies be written, then closes those connections too.
// It returns nil once every connection is closed. If ctx ends first, it
// closes every connection, cancels the context passed to handlers, and
// returns ctx.Err(); handlers still running are not waited for. Serve
// returns ErrServerClosed. A Server cannot be restarted.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	s.shutdown = true
	for l := range s.listeners {
		(*l).Close()
	}
	s.mu.Unlock()

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			s.cancel()
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				c.raw.Close()
			}
			s.mu.Unlock()
			s.cancel()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeIdle closes the connections that are not handling a message, and
// reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, st := range s.conns {
		if st == stateNew {
			c.raw.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) maxConns() int {
	switch {
	case s.MaxConns == 0:
		return DefaultMaxConns
	case s.MaxConns < 0:
		return 0
	}
	return s.MaxConns
}

// timeout returns d, def if d is zero, or 0 (no limit) if d is negative.
func (s *Server) timeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// deadline returns the deadline d from now, or none if d is 0.
func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// addrPort returns a as a netip.AddrPort, or the zero value.
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	if ta, ok := a.(*net.TCPAddr); ok {
		ap = ta.AddrPort()
	} else if a != nil {
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
