// Package testenv finds what tests need outside their own package: the
// repository root and the shared reference test data beside it; and it
// makes the throw-away TLS certificates that several packages' tests use.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the folder holding go.mod, walking up from the test's
// working directory. It fails the test if there is none.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// SharedTestdata returns ../shared/testdata/<elem…> relative to the
// repository root. When it is absent the test is skipped with a message,
// except in CI (CI set), where the test fails: CI must run every test.
func SharedTestdata(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{RepoRoot(tb), "..", "shared", "testdata"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("shared test data %s is missing, but CI must run every test", p)
		}
		tb.Skipf("shared test data %s is absent; skipping", p)
	}
	return p
}
