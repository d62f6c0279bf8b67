package mllp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/mllp"
)

// TestClientReconnect restarts the server on the same address: the Send
// made while it is down fails, and the next one reconnects.
func TestClientReconnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	first := &mllp.Server{Handler: echo}
	serveOn(t, first, l)

	c, err := mllp.Dial(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send(t.Context(), []byte("MSH|1")); err != nil {
		t.Fatal(err)
	}
	if err := first.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(t.Context(), []byte("MSH|2")); err == nil {
		t.Fatal("Send succeeded with the server down")
	}

	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, &mllp.Server{Handler: echo}, l)
	for i := 3; i < 6; i++ {
		msg := fmt.Sprintf("MSH|%d", i)
		reply, err := c.Send(t.Context(), []byte(msg))
		if err != nil || string(reply) != "ACK|"+msg {
			t.Fatalf("Send %d after the restart: %q, %v", i, reply, err)
		}
	}
}

// TestClientContext abandons a Send whose reply is late; the connection
// is dropped so that the late reply cannot answer the next message.
func TestClientContext(t *testing.T) {
	release := make(chan struct{})
	s := &mllp.Server{Handler: mllp.HandlerFunc(func(_ context.Context, _ mllp.Peer, msg []byte) []byte {
		if string(msg) == "slow" {
			<-release
		}
		return append([]byte("ACK|"), msg...)
	})}
	addr := startServer(t, s)
	t.Cleanup(func() { close(release) })
	c := &mllp.Client{Addr: addr}
	defer c.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Send(ctx, []byte("slow")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send returned %v, want context.DeadlineExceeded", err)
	}
	reply, err := c.Send(t.Context(), []byte("fast"))
	if err != nil || string(reply) != "ACK|fast" {
		t.Fatalf("next Send: %q, %v", reply, err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Send(canceled, []byte("fast")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context returned %v", err)
	}
}

// TestClientConcurrent shares one client between goroutines: each gets
// the reply to its own message.
func TestClientConcurrent(t *testing.T) {
	c := &mllp.Client{Addr: startServer(t, &mllp.Server{Handler: echo})}
	defer c.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				msg := fmt.Sprintf("MSH|%d|%d", g, i)
				reply, err := c.Send(t.Context(), []byte(msg))
				if err != nil || string(reply) != "ACK|"+msg {
					t.Errorf("%q: %q, %v", msg, reply, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestClientErrors(t *testing.T) {
	addr := startServer(t, &mllp.Server{Handler: mllp.HandlerFunc(func(_ context.Context, _ mllp.Peer, msg []byte) []byte {
		return []byte(strings.Repeat("R", 2000))
	})})
	t.Run("fail/invalid-payload", func(t *testing.T) {
		c := &mllp.Client{Addr: addr}
		defer c.Close()
		if _, err := c.Send(t.Context(), []byte("MSH\x1c")); !errors.Is(err, mllp.ErrInvalidPayload) {
			t.Fatalf("Send returned %v", err)
		}
	})
	t.Run("fail/closed", func(t *testing.T) {
		c, err := mllp.Dial(t.Context(), addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if _, err := c.Send(t.Context(), []byte("MSH")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Send returned %v, want net.ErrClosed", err)
		}
	})
	t.Run("fail/reply-too-large", func(t *testing.T) {
		c := &mllp.Client{Addr: addr, MaxMessageBytes: 1000}
		defer c.Close()
		if _, err := c.Send(t.Context(), []byte("MSH")); !errors.Is(err, mllp.ErrTooLarge) {
			t.Fatalf("Send returned %v, want ErrTooLarge", err)
		}
	})
	t.Run("fail/dial", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := l.Addr().String()
		l.Close()
		if _, err := mllp.Dial(t.Context(), closed, nil); err == nil {
			t.Fatal("Dial succeeded")
		}
	})
}

// TestClientUnsolicited talks to a server that sends a frame nobody asked
// for: the client must not take it for the reply to its next message.
func TestClientUnsolicited(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for n := 0; ; n++ {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				r := mllp.NewReader(nc, 0)
				for {
					msg, err := r.Next()
					if err != nil {
						return
					}
					reply := append(frame("ACK|"+string(msg)), frame("UNSOLICITED")...)
					if n > 0 {
						reply = frame("ACK|" + string(msg))
					}
					if _, err := nc.Write(reply); err != nil {
						return
					}
				}
			}()
		}
	}()
	c := &mllp.Client{Addr: l.Addr().String()}
	defer c.Close()
	for i := range 3 {
		msg := fmt.Sprintf("MSH|%d", i)
		reply, err := c.Send(t.Context(), []byte(msg))
		if err != nil || string(reply) != "ACK|"+msg {
			t.Fatalf("Send %d: %q, %v", i, reply, err)
		}
		time.Sleep(50 * time.Millisecond) // let the unsolicited frame arrive
	}
}
