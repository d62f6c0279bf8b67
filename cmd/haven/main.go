// Command haven is Haven's server and operator tool.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "haven:", err)
		os.Exit(1)
	}
}

// commands maps each subcommand name to its implementation.
func commands() map[string]command {
	return map[string]command{
		"serve":    serveCommand,
		"migrate":  migrateCommand,
		"token":    tokenCommand,
		"bench":    benchCommand,
		"erase":    eraseCommand,
		"audit":    auditCommand,
		"stats":    statsCommand,
		"backup":   backupCommand,
		"seal":     sealCommand,
		"unlock":   unlockCommand,
		"vault":    vaultCommand,
		"policy":   policyCommand,
		"forecast": forecastCommand,
		"cert":     certCommand,
		"keys":     keysCommand,
	}
}

// run parses the global flags, then runs the subcommand named by args[1:].
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("haven", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := &commandEnv{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr, Now: time.Now}
	fs.StringVar(&env.DataDir, "data", envOr(getenv, "HAVEN_DATA", "./haven-data"), "data folder (env HAVEN_DATA)")
	fs.StringVar(&env.DB, "db", getenv("HAVEN_DB"), "database: sqlite:PATH or postgres://… (env HAVEN_DB; default sqlite in the data folder)")
	fs.StringVar(&env.Addr, "addr", envOr(getenv, "HAVEN_ADDR", "127.0.0.1:8080"), "listen address (env HAVEN_ADDR)")
	if len(args) == 0 {
		args = []string{"haven"}
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("missing subcommand")
	}
	cmd, ok := commands()[rest[0]]
	if !ok {
		return fmt.Errorf("unknown subcommand %q", rest[0])
	}
	return cmd(ctx, env, rest[1:])
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
