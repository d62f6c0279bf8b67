package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// commandEnv is everything a subcommand receives from run(). Subcommands read
// configuration only from here, never from os.* directly, so that tests can
// call run() with their own environment.
type commandEnv struct {
	Getenv  func(string) string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	DataDir string // --data, HAVEN_DATA, default ./haven-data
	DB      string // --db, HAVEN_DB: sqlite:PATH or postgres://…; empty means sqlite in DataDir
	Addr    string // --addr, HAVEN_ADDR, default 127.0.0.1:8080
	Now     func() time.Time
}

// command runs one subcommand with its own arguments (after the subcommand
// name). It returns an error whose message is the one-line reason printed on
// stderr; a nil error means exit code 0.
type command func(ctx context.Context, env *commandEnv, args []string) error

// usageError reports a command line that is wrong in form rather than in
// substance: an unknown subcommand or flag, a missing or extra argument.
// main exits 2 for it (1 for every other error), as Unix tools do.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a *usageError with the formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// isUsageError reports whether err says the command line was wrong in form:
// a *usageError, an application error naming a flag as its field (a flag
// value refused: --role, --from…), or one of the messages by which
// subcommands still report wrong usage themselves (the flag package's
// errors, "usage: …", "missing command", "unknown command", "unexpected
// argument", "--FLAG is required").
// run() wraps those in a *usageError, so that main can exit 2.
func isUsageError(err error) bool {
	var ue *usageError
	if errors.As(err, &ue) {
		return true
	}
	if err == nil {
		return false
	}
	if strings.HasPrefix(registry.ErrorField(err), "--") {
		return true // a flag's value refused, as the flag package refuses "--k many"
	}
	msg := err.Error()
	for _, p := range flagErrorPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return usageMessageRE.MatchString(msg)
}

// flagErrorPrefixes begin the errors of flag.FlagSet.Parse (which has no
// sentinel for them).
var flagErrorPrefixes = []string{
	"flag provided but not defined: ",
	"flag needs an argument: ",
	"bad flag syntax: ",
	"invalid value ",
	"invalid boolean value ",
	"invalid boolean flag ",
}

// usageMessageRE matches the usage errors of subcommands that do not yet
// return a *usageError.
var usageMessageRE = regexp.MustCompile(`^usage: |^[a-z -]*: (missing|unknown) command\b|^[a-z -]*: unexpected argument |^[a-z -]*takes no arguments|--[a-z-]+ (is|are) required|^forecast: need exactly one input`)

// exitCode is the process exit code for the error run() returned: 0 for
// none (success, or help asked for), 2 for wrong usage, 1 for any other
// failure.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case isUsageError(err):
		return 2
	}
	return 1
}
