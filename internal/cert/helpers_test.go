package cert_test

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedTestdata returns ../shared/testdata/<sub> relative to the repository
// root. It skips the test when the folder is absent, unless CI is set.
func sharedTestdata(t testing.TB, sub string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "testdata", sub)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared test data %s is missing", p)
		}
		t.Skipf("shared test data %s is absent; skipping", p)
	}
	return p
}
