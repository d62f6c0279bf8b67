package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBuildLine is the walk-through's first command. The test does not
// run go build inside the block: a shell function named go links the
// binary built from this tree (havenBinary) where that line puts it.
const readmeBuildLine = "go build -o haven ./cmd/haven"

// readmeWalkThrough returns the shell block of the README's section "A
// quick walk through the API".
func readmeWalkThrough(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## A quick walk through the API\n")
	if !ok {
		t.Fatal(`README.md has no section "A quick walk through the API"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "\n```sh\n")
	if !ok {
		t.Fatal("the walk-through section has no ```sh block")
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	if !ok {
		t.Fatal("the walk-through's ```sh block is not closed")
	}
	return block + "\n"
}

// TestREADMEWalkThrough runs the README's walk-through with bash, as
// written, in an empty folder (so against a fresh ./haven-data) and with
// HAVEN_ADDR on a free port, under set -euo pipefail: every step must
// succeed, and every curl must fail on an error answer (-f). It needs bash,
// curl, sed and grep; outside CI it skips without them.
func TestREADMEWalkThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	for _, tool := range []string{"bash", "curl", "sed", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README walk-through needs %s: %v", tool, err)
			}
			t.Skipf("the README walk-through needs %s, which is not installed", tool)
		}
	}
	block := readmeWalkThrough(t)

	// The block as a reader sees it: built first, every curl with -f, no
	// placeholder left to fill in.
	if first, _, _ := strings.Cut(block, "\n"); !strings.HasPrefix(first, readmeBuildLine) {
		t.Fatalf("the walk-through must start by building the binary (%q), not %q", readmeBuildLine, first)
	}
	for i, line := range strings.Split(block, "\n") {
		if regexp.MustCompile(`\bcurl\b`).MatchString(line) && !regexp.MustCompile(`\bcurl -[a-zA-Z]*f`).MatchString(line) {
			t.Errorf("README walk-through line %d: curl without -f hides failed requests: %s", i+1, line)
		}
		if strings.Contains(line, "=...") || strings.Contains(line, "<dose id>") || strings.Contains(line, "HC1:…\"") {
			t.Errorf("README walk-through line %d holds a placeholder: %s", i+1, line)
		}
	}

	bin := havenBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	script := "set -euo pipefail\n" +
		// go build -o haven ./cmd/haven, without building again.
		`go() { if [ "$*" != "` + strings.TrimPrefix(readmeBuildLine, "go ") + `" ]; then echo "readme_test: unexpected: go $*" >&2; return 1; fi; ln -s "$HAVEN_TEST_BINARY" haven; }` + "\n" +
		"set -x\n" + block
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HAVEN_") {
			env = append(env, kv)
		}
	}
	env = append(env, "HAVEN_ADDR="+addr, "HAVEN_TEST_BINARY="+bin)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that the server the block starts in the
	// background is stopped even when a step fails before kill %1.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err := cmd.Wait(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = ctx.Err()
		}
		t.Fatalf("the README walk-through failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{`"card_code":"`, `"outcome":"not_eligible"`, `"vaccine_group":"COVID-19"`, `"valid":true`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the walk-through's output lacks %s:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "haven-data", "haven.db")); err != nil {
		t.Errorf("the walk-through did not use ./haven-data: %v", err)
	}
}
