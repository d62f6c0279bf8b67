package main

import (
	"context"
	"io"
	"time"
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
