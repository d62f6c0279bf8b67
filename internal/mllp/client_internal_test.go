package mllp

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestClientNoticesIdleClose lets the server close an idle connection; the
// next Send reconnects before writing, and so succeeds.
func TestClientNoticesIdleClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Handler: HandlerFunc(func(_ context.Context, _ Peer, msg []byte) []byte {
			return append([]byte("ACK|"), msg...)
		}),
		IdleTimeout: 20 * time.Millisecond,
		Logger:      slog.New(slog.DiscardHandler),
	}
	go s.Serve(l)
	defer s.Shutdown(context.Background())

	c, err := Dial(t.Context(), l.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		if reply, err := c.Send(t.Context(), []byte("MSH")); err != nil || string(reply) != "ACK|MSH" {
			t.Fatalf("Send %d: %q, %v", i, reply, err)
		}
		c.mu.Lock()
		cc := c.cc
		c.mu.Unlock()
		select {
		case <-cc.done:
		case <-time.After(5 * time.Second):
			t.Fatal("the client did not notice the server closing the connection")
		}
	}
}
