package mllp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/mllp"
)

// secret stands for patient data in messages; it must never be logged.
const secret = "DOE^JANE^Q"

func TestServerRoundTrip(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name      string
		server    func() (*tls.Config, error) // nil: plain TCP
		client    func() (*tls.Config, error) // nil: plain TCP
		wantCN    string                      // client certificate seen by the handler
		wantError bool
	}{
		{name: "ok/plain"},
		{
			name:   "ok/tls",
			server: func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, "") },
			client: func() (*tls.Config, error) { return mllp.ClientTLS(p.caFile, "", "", "") },
		},
		{
			name:   "ok/tls-client-cert-not-asked",
			server: func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, "") },
			client: func() (*tls.Config, error) { return mllp.ClientTLS(p.caFile, "", p.clientCert, p.clientKey) },
		},
		{
			name:   "ok/mutual-tls",
			server: func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, p.caFile) },
			client: func() (*tls.Config, error) { return mllp.ClientTLS(p.caFile, "", p.clientCert, p.clientKey) },
			wantCN: p.clientSubjectCN,
		},
		{
			name:   "ok/pin-hex",
			server: func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, "") },
			client: func() (*tls.Config, error) { return mllp.ClientTLS("", p.serverPin, "", "") },
		},
		{
			name:   "ok/pin-and-ca",
			server: func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, p.caFile) },
			client: func() (*tls.Config, error) {
				return mllp.ClientTLS(p.caFile, strings.Repeat("ab", 32)+","+p.serverPin, p.clientCert, p.clientKey)
			},
			wantCN: p.clientSubjectCN,
		},
		{
			name:      "fail/pin-mismatch",
			server:    func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, "") },
			client:    func() (*tls.Config, error) { return mllp.ClientTLS("", strings.Repeat("ab", 32), "", "") },
			wantError: true,
		},
		{
			name:      "fail/pin-matches-but-ca-does-not",
			server:    func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, "") },
			client:    func() (*tls.Config, error) { return mllp.ClientTLS(p.otherCAFile, p.serverPin, "", "") },
			wantError: true,
		},
		{
			name:      "fail/unknown-server-ca",
			server:    func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, "") },
			client:    func() (*tls.Config, error) { return mllp.ClientTLS(p.otherCAFile, "", "", "") },
			wantError: true,
		},
		{
			name:      "fail/client-without-cert",
			server:    func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, p.caFile) },
			client:    func() (*tls.Config, error) { return mllp.ClientTLS(p.caFile, "", "", "") },
			wantError: true,
		},
		{
			name:      "fail/client-cert-from-other-ca",
			server:    func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, p.caFile) },
			client:    func() (*tls.Config, error) { return mllp.ClientTLS(p.caFile, "", p.otherCert, p.otherKey) },
			wantError: true,
		},
		{
			name:      "fail/plain-client-tls-server",
			server:    func() (*tls.Config, error) { return mllp.ServerTLS(p.serverCert, p.serverKey, "") },
			wantError: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := logger()
			var handled atomic.Int32
			s := &mllp.Server{Logger: log, ReadTimeout: 2 * time.Second}
			s.Handler = mllp.HandlerFunc(func(_ context.Context, peer mllp.Peer, msg []byte) []byte {
				handled.Add(1)
				cn := ""
				if len(peer.Certificates) > 0 {
					cn = peer.Certificates[0].Subject.CommonName
				}
				if !peer.Addr.Addr().IsLoopback() {
					return []byte("bad peer address " + peer.Addr.String())
				}
				return []byte("ACK|" + cn + "|" + string(msg))
			})
			var clientTLS *tls.Config
			var err error
			if tt.server != nil {
				if s.TLSConfig, err = tt.server(); err != nil {
					t.Fatal(err)
				}
			}
			if tt.client != nil {
				if clientTLS, err = tt.client(); err != nil {
					t.Fatal(err)
				}
			}
			addr := startServer(t, s)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c := &mllp.Client{Addr: addr, TLSConfig: clientTLS}
			defer c.Close()
			for i := range 3 {
				msg := fmt.Sprintf("MSH|%d|%s", i, secret)
				reply, err := c.Send(ctx, []byte(msg))
				if tt.wantError {
					if err == nil {
						t.Fatalf("Send succeeded: %q", reply)
					}
					if n := handled.Load(); n != 0 {
						t.Fatalf("handler called %d times", n)
					}
					return
				}
				if err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
				if want := "ACK|" + tt.wantCN + "|" + msg; string(reply) != want {
					t.Fatalf("reply %q, want %q", reply, want)
				}
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds message content:\n%s", logs)
			}
		})
	}
}

// TestServerOrder sends frames back to back, with junk between them, and
// checks that they are handled one at a time and answered in order.
func TestServerOrder(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	s := &mllp.Server{Handler: mllp.HandlerFunc(func(_ context.Context, _ mllp.Peer, msg []byte) []byte {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		if n > maxInFlight.Load() {
			maxInFlight.Store(n)
		}
		time.Sleep(time.Millisecond)
		return append([]byte("ACK|"), msg...)
	})}
	addr := startServer(t, s)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var burst []byte
	for i := range 20 {
		burst = append(burst, "\r\n junk "...)
		burst = append(burst, frame(fmt.Sprintf("MSH|%d", i))...)
	}
	burst = append(burst, "\x0bMSH|20\x1c"...) // no trailing CR: still answered
	if _, err := nc.Write(burst); err != nil {
		t.Fatal(err)
	}
	r := mllp.NewReader(nc, 0)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 21 {
		if got, want := readFrame(t, r), fmt.Sprintf("ACK|MSH|%d", i); got != want {
			t.Fatalf("reply %d = %q, want %q", i, got, want)
		}
	}
	if n := maxInFlight.Load(); n != 1 {
		t.Errorf("%d messages of one connection handled at once", n)
	}
}

func TestServerMaxMessageBytes(t *testing.T) {
	log, logs := logger()
	s := &mllp.Server{Handler: echo, MaxMessageBytes: 1000, Logger: log}
	addr := startServer(t, s)
	tests := []struct {
		name string
		size int
		ok   bool
	}{
		{"ok/at-limit", 1000, true},
		{"fail/over-limit", 1001, false},
		{"fail/far-over-limit", 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := secret + strings.Repeat("x", tt.size-len(secret))
			c := &mllp.Client{Addr: addr}
			defer c.Close()
			reply, err := c.Send(t.Context(), []byte(msg))
			if tt.ok != (err == nil) {
				t.Fatalf("Send: %v", err)
			}
			if tt.ok && string(reply) != "ACK|"+msg {
				t.Fatalf("reply of %d bytes", len(reply))
			}
		})
	}
	waitFor(t, "the log", func() bool { return strings.Contains(logs.String(), "too large") })
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log holds message content:\n%s", logs)
	}
}

// TestServerShutdown shuts the server down while a message is handled: the
// listener closes at once, idle connections close, and the message is
// answered before Shutdown returns.
func TestServerShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	handlerCtxErr := make(chan error, 1)
	s := &mllp.Server{Logger: quiet, Handler: mllp.HandlerFunc(func(ctx context.Context, _ mllp.Peer, msg []byte) []byte {
		if string(msg) == "slow" {
			close(started)
			<-release
			handlerCtxErr <- ctx.Err()
		}
		return append([]byte("ACK|"), msg...)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()

	idle, err := mllp.Dial(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := idle.Send(t.Context(), []byte("first")); err != nil {
		t.Fatal(err)
	}
	busy, err := mllp.Dial(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	type result struct {
		reply []byte
		err   error
	}
	sent := make(chan result, 1)
	go func() {
		reply, err := busy.Send(context.Background(), []byte("slow"))
		sent <- result{reply, err}
	}()
	<-started

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if err := <-served; !errors.Is(err, mllp.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a message in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted during Shutdown")
	}
	// The idle connection was closed: a Send on it cannot be answered.
	if _, err := idle.Send(t.Context(), []byte("too late")); err == nil {
		t.Fatal("a message was answered during Shutdown")
	}

	close(release)
	r := <-sent
	if r.err != nil || string(r.reply) != "ACK|slow" {
		t.Fatalf("in-flight message: %q, %v", r.reply, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-handlerCtxErr; err != nil {
		t.Errorf("handler context ended during a graceful shutdown: %v", err)
	}
	if err := s.Serve(l); !errors.Is(err, mllp.ErrServerClosed) {
		t.Errorf("Serve after Shutdown returned %v", err)
	}
}

// TestServerShutdownTimeout gives up on a handler that does not finish:
// Shutdown returns the context's error and the handler's context ends.
func TestServerShutdownTimeout(t *testing.T) {
	started := make(chan struct{})
	s := &mllp.Server{Logger: quiet, Handler: mllp.HandlerFunc(func(ctx context.Context, _ mllp.Peer, msg []byte) []byte {
		close(started)
		<-ctx.Done()
		return []byte("ACK")
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := &mllp.Client{Addr: l.Addr().String()}
	defer c.Close()
	sent := make(chan error, 1)
	go func() { _, err := c.Send(context.Background(), []byte("stuck")); sent <- err }()
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown returned %v", err)
	}
	if err := <-sent; err == nil {
		t.Fatal("the stuck message was answered")
	}
	if err := <-served; !errors.Is(err, mllp.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}

func TestServerTimeouts(t *testing.T) {
	tests := []struct {
		name  string
		srv   *mllp.Server
		send  string // written, then the connection waits
		after time.Duration
	}{
		{"fail/idle", &mllp.Server{IdleTimeout: 50 * time.Millisecond}, "", 50 * time.Millisecond},
		{"fail/idle-junk-is-not-activity", &mllp.Server{IdleTimeout: 50 * time.Millisecond}, "\r\n\r\n", 50 * time.Millisecond},
		{"fail/read-partial-frame", &mllp.Server{ReadTimeout: 50 * time.Millisecond}, "\x0bMSH|partial", 50 * time.Millisecond},
		{"fail/tls-handshake-never-starts", &mllp.Server{ReadTimeout: 50 * time.Millisecond, IdleTimeout: time.Hour}, "", 50 * time.Millisecond},
	}
	p := newPKI(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.srv
			s.Handler = echo
			if strings.Contains(tt.name, "tls") {
				var err error
				if s.TLSConfig, err = mllp.ServerTLS(p.serverCert, p.serverKey, ""); err != nil {
					t.Fatal(err)
				}
			}
			addr := startServer(t, s)
			start := time.Now() // before the server can set its deadline
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write([]byte(tt.send)); err != nil {
				t.Fatal(err)
			}
			if !closedByServer(nc, 5*time.Second) {
				t.Fatal("the connection was not closed")
			}
			if d := time.Since(start); d < tt.after {
				t.Errorf("closed after %v, before the timeout of %v", d, tt.after)
			}
		})
	}
	t.Run("ok/active-connection-stays", func(t *testing.T) {
		s := &mllp.Server{Handler: echo, IdleTimeout: 250 * time.Millisecond}
		c := &mllp.Client{Addr: startServer(t, s)}
		defer c.Close()
		for range 6 {
			if _, err := c.Send(t.Context(), []byte("MSH")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // 6 × 50ms outlasts the idle timeout
		}
	})
}

func TestServerHandlerFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler func(msg []byte) []byte
		logged  string
	}{
		{"fail/panic-string", func(msg []byte) []byte { panic("bad field " + string(msg)) }, "panic=string"},
		{"fail/panic-error", func(msg []byte) []byte { panic(fmt.Errorf("bad %s", msg)) }, "panic=*errors.errorString"},
		{"fail/panic-runtime", func(msg []byte) []byte { var m map[string]int; m[string(msg)]++; return nil }, "assignment to entry in nil map"},
		{"fail/empty-reply", func([]byte) []byte { return nil }, "no reply"},
		{"fail/reply-with-framing-byte", func([]byte) []byte { return []byte("ACK\x1c") }, "payload contains a framing byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := logger()
			s := &mllp.Server{Logger: log, Handler: mllp.HandlerFunc(func(_ context.Context, _ mllp.Peer, msg []byte) []byte {
				if string(msg) == "ok" {
					return []byte("ACK")
				}
				return tt.handler(msg)
			})}
			addr := startServer(t, s)
			c := &mllp.Client{Addr: addr}
			defer c.Close()
			if _, err := c.Send(t.Context(), []byte(secret)); err == nil {
				t.Fatal("Send succeeded")
			}
			// The server still serves, on a new connection.
			if reply, err := c.Send(t.Context(), []byte("ok")); err != nil || string(reply) != "ACK" {
				t.Fatalf("after the failure: %q, %v", reply, err)
			}
			if !strings.Contains(logs.String(), tt.logged) {
				t.Errorf("the log lacks %q:\n%s", tt.logged, logs)
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds message content:\n%s", logs)
			}
		})
	}
}

// TestServerMaxConns refuses connections beyond the limit, and accepts
// them again once one closes.
func TestServerMaxConns(t *testing.T) {
	log, logs := logger()
	s := &mllp.Server{Handler: echo, MaxConns: 2, Logger: log}
	addr := startServer(t, s)
	var clients []*mllp.Client
	for range 2 {
		c := &mllp.Client{Addr: addr}
		defer c.Close()
		if _, err := c.Send(t.Context(), []byte("MSH")); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	extra := &mllp.Client{Addr: addr}
	defer extra.Close()
	if _, err := extra.Send(t.Context(), []byte("MSH")); err == nil {
		t.Fatal("a third connection was served")
	}
	if !strings.Contains(logs.String(), "too many connections") {
		t.Errorf("the refusal was not logged:\n%s", logs)
	}
	clients[0].Close()
	waitFor(t, "a free connection", func() bool {
		_, err := extra.Send(t.Context(), []byte("MSH"))
		return err == nil
	})
}

func TestServeErrors(t *testing.T) {
	tests := []struct {
		name string
		srv  *mllp.Server
		want string
	}{
		{"fail/no-handler", &mllp.Server{}, "Handler is nil"},
		{"fail/tls-without-certificate", &mllp.Server{Handler: echo, TLSConfig: &tls.Config{}}, "no certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			err = tt.srv.Serve(l)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Serve returned %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("ok/listen-and-serve", func(t *testing.T) {
		s := &mllp.Server{Handler: echo, Logger: quiet}
		done := make(chan error, 1)
		go func() { done <- s.ListenAndServe("127.0.0.1:0") }()
		if err := s.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, mllp.ErrServerClosed) {
			t.Fatalf("ListenAndServe returned %v", err)
		}
	})
}
