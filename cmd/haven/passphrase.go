package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

// readPassphrase reads one line from r, as readLine does, but when r is a
// terminal it turns the terminal's echo off while the line is typed, so that
// the passphrase is neither shown nor left in the scrollback, and w gets the
// newline the terminal did not echo. The echo is turned back on when the
// line is read, on error, and when ctx ends (Ctrl-C), which returns
// ctx.Err(). Where echo cannot be turned off (not a terminal, or a system
// other than Linux) it reads the line as it is.
func readPassphrase(ctx context.Context, r io.Reader, w io.Writer) (string, error) {
	f, ok := r.(*os.File)
	if !ok {
		return readLine(r)
	}
	restore, err := echoOff(int(f.Fd()))
	if err != nil {
		return readLine(r) // not a terminal
	}
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := readLine(r)
		done <- result{line, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		// The read stays blocked until a line comes; the command is
		// ending, and the terminal must not stay silent.
		res.err = ctx.Err()
	}
	if rerr := restore(); rerr != nil && res.err == nil {
		res.err = fmt.Errorf("turning the terminal's echo back on: %w", rerr)
	}
	fmt.Fprintln(w)
	return res.line, res.err
}
