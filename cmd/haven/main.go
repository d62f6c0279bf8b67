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
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "haven:", err)
	}
	os.Exit(exitCode(err))
}

// commands maps each subcommand name to its implementation. Each has a
// usage text in help.go.
func commands() map[string]command {
	return map[string]command{
		"serve":    serveCommand,
		"migrate":  migrateCommand,
		"token":    tokenCommand,
		"bench":    benchCommand,
		"erase":    eraseCommand,
		"import":   importCommand,
		"audit":    auditCommand,
		"stats":    statsCommand,
		"backup":   backupCommand,
		"seal":     sealCommand,
		"unlock":   unlockCommand,
		"vault":    vaultCommand,
		"shred":    shredCommand,
		"policy":   policyCommand,
		"forecast": forecastCommand,
		"cert":     certCommand,
		"keys":     keysCommand,
		"iis":      iisCommand,
		"sync":     syncCommand,
	}
}

// globalFlagNames are the flags of run() itself, accepted before or after
// the subcommand.
var globalFlagNames = []string{"data", "db", "addr"}

// run parses the global flags, then runs the subcommand named by args[1:].
//
// Help is answered here, before any subcommand runs, so that asking for it
// never acts: "haven", "haven help" and "haven --help" list the commands;
// "haven help CMD [SUB]", "haven CMD [SUB] --help" (or -h, anywhere before
// "--") and "haven CMD help" print the usage of that command. The global
// flags are taken out of the subcommand's arguments too, in both the
// "--flag value" and the "--flag=value" forms. A nil error means exit code
// 0; a *usageError (or an error isUsageError recognises) means 2.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &commandEnv{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr, Now: clockFor()}
	fs := globalFlags(env, getenv)
	version := fs.Bool("version", false, "print the version and exit")
	if len(args) == 0 {
		args = []string{"haven"}
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpCommand(stdout, nil)
		}
		return usageErrorf("%v (haven help lists the flags and commands)", err)
	}
	if *version {
		return writeVersion(stdout)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return helpCommand(stdout, nil)
	}
	name, cmdArgs := rest[0], rest[1:]
	cmdArgs, err := pullGlobalFlags(fs, cmdArgs)
	if err != nil {
		return err
	}
	switch name {
	case "help":
		return helpCommand(stdout, cmdArgs)
	case "version":
		if helpRequest(name, cmdArgs) {
			return helpCommand(stdout, []string{"version"})
		}
		if len(cmdArgs) > 0 {
			return usageErrorf("version takes no arguments")
		}
		return writeVersion(stdout)
	}
	cmd, ok := commands()[name]
	if !ok {
		return usageErrorf("unknown command %q (haven help lists them)", name)
	}
	if helpRequest(name, cmdArgs) {
		t, _ := topicFor(name, cmdArgs)
		_, err := fmt.Fprintln(stdout, t.usage)
		return err
	}
	err = cmd(ctx, env, cmdArgs)
	var ue *usageError
	if err != nil && !errors.As(err, &ue) && isUsageError(err) {
		err = &usageError{err: err}
	}
	return err
}

// globalFlags returns the flag set of the global flags (see
// globalFlagNames), which set env's fields, with their defaults from the
// environment. It prints nothing: run() reports its errors and help.
func globalFlags(env *commandEnv, getenv func(string) string) *flag.FlagSet {
	fs := flag.NewFlagSet("haven", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&env.DataDir, "data", envOr(getenv, "HAVEN_DATA", "./haven-data"), "data folder (env HAVEN_DATA)")
	fs.StringVar(&env.DB, "db", getenv("HAVEN_DB"), "database: sqlite:PATH or postgres://… (env HAVEN_DB; default sqlite in the data folder)")
	fs.StringVar(&env.Addr, "addr", envOr(getenv, "HAVEN_ADDR", "127.0.0.1:8080"), "listen address (env HAVEN_ADDR)")
	return fs
}

// pullGlobalFlags sets the global flags found in a subcommand's arguments
// (--data D, --db=URL, -addr X…, up to a "--") on fs and returns the other
// arguments, in order.
func pullGlobalFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i:]...), nil
		}
		name, value, hasValue := globalFlag(a)
		if name == "" {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, usageErrorf("flag needs an argument: --%s", name)
			}
			i++
			value = args[i]
		}
		if err := fs.Set(name, value); err != nil {
			return nil, usageErrorf("--%s: %v", name, err)
		}
	}
	return rest, nil
}

// globalFlag reports whether arg is a global flag (-name or --name, with or
// without =value), and splits it.
func globalFlag(arg string) (name, value string, hasValue bool) {
	if !strings.HasPrefix(arg, "-") {
		return "", "", false
	}
	s := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	s, value, hasValue = strings.Cut(s, "=")
	for _, g := range globalFlagNames {
		if s == g {
			return g, value, hasValue
		}
	}
	return "", "", false
}

// writeVersion prints the version line of haven --version.
func writeVersion(w io.Writer) error {
	info, _ := debug.ReadBuildInfo()
	_, err := fmt.Fprintln(w, versionLine(info))
	return err
}

// versionLine describes a build: the module version, the VCS revision, its
// time and whether the working tree was modified (as recorded by go build,
// unless -buildvcs=false), and the Go version and platform. For example:
//
//	haven (devel) revision 448df91c0d3e… 2025-11-30T10:00:00Z (modified) go1.26.0 linux/amd64
func versionLine(info *debug.BuildInfo) string {
	version, revision, at, modified := "(unknown)", "", "", false
	if info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	b.WriteString("haven " + version)
	if revision == "" {
		b.WriteString(" revision unknown (built without VCS information)")
	} else {
		b.WriteString(" revision " + revision)
		if at != "" {
			b.WriteString(" " + at)
		}
		if modified {
			b.WriteString(" (modified)")
		}
	}
	fmt.Fprintf(&b, " %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
