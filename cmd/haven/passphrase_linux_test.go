package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: what is written to master is typed on
// tty, and what the terminal echoes can be read from master.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pty's terminal: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// echoed collects what the terminal writes back, until master is closed.
type echoed struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (e *echoed) read(master *os.File) {
	b := make([]byte, 256)
	for {
		n, err := master.Read(b)
		e.mu.Lock()
		e.buf.Write(b[:n])
		e.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (e *echoed) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.buf.String()
}

func echoOn(t *testing.T, tty *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// TestReadPassphraseNoEcho types on a pseudo-terminal: a line read with
// readLine is echoed (so the test can see echo), a passphrase read with
// readPassphrase is not, and the echo is back on afterwards, also when the
// command is interrupted while it waits.
func TestReadPassphraseNoEcho(t *testing.T) {
	master, tty := openPTY(t)
	var echo echoed
	go echo.read(master)

	if _, err := master.WriteString("visible\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := readLine(tty); err != nil || line != "visible" {
		t.Fatalf("readLine = %q, %v", line, err)
	}

	var w bytes.Buffer
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := readPassphrase(context.Background(), tty, &w)
		done <- result{line, err}
	}()
	for deadline := time.Now().Add(5 * time.Second); echoOn(t, tty); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("readPassphrase did not turn the echo off")
		}
	}
	if _, err := master.WriteString("s3cret passphrase\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.line != "s3cret passphrase" {
			t.Fatalf("readPassphrase = %q, %v", r.line, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("readPassphrase did not return")
	}
	if !echoOn(t, tty) {
		t.Error("the echo is still off after the passphrase was read")
	}
	if w.String() != "\n" {
		t.Errorf("readPassphrase wrote %q, want the newline the terminal did not echo", w.String())
	}
	time.Sleep(50 * time.Millisecond) // let an echo, if any, arrive
	if got := echo.String(); !strings.Contains(got, "visible") || strings.Contains(got, "s3cret") {
		t.Errorf("the terminal echoed %q: want the plain line, never the passphrase", got)
	}

	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := readPassphrase(ctx, tty, &bytes.Buffer{})
			done <- err
		}()
		for deadline := time.Now().Add(5 * time.Second); echoOn(t, tty); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("readPassphrase did not turn the echo off")
			}
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if !echoOn(t, tty) {
			t.Error("the echo is still off after an interrupted prompt")
		}
		master.WriteString("\n") // ends the read still waiting
	})

	t.Run("not-a-terminal", func(t *testing.T) {
		line, err := readPassphrase(context.Background(), strings.NewReader("from a pipe\n"), &bytes.Buffer{})
		if err != nil || line != "from a pipe" {
			t.Fatalf("readPassphrase = %q, %v", line, err)
		}
	})
}
