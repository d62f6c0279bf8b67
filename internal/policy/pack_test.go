package policy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/haven-registry/haven/internal/policy"
)

// repoRoot walks up from the test's working folder to the folder holding go.mod.
func repoRoot(tb testing.TB) string {
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
			tb.Fatal("go.mod not found above the test folder")
		}
		dir = parent
	}
}

func packDir(tb testing.TB, name string) string {
	return filepath.Join(repoRoot(tb), "policies", name)
}

func mustLoad(tb testing.TB, name string) *policy.Pack {
	tb.Helper()
	p, err := policy.LoadPackDir(packDir(tb, name))
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return p
}

func TestPackCases(t *testing.T) {
	for _, tc := range []struct {
		pack     string
		minCases int
	}{
		{"2021-09", 40},
		{"inclusive", 10},
		{"inclusive-paid", 10},
	} {
		t.Run(tc.pack, func(t *testing.T) {
			p := mustLoad(t, tc.pack)
			cases, err := policy.LoadCasesDir(packDir(t, tc.pack))
			if err != nil {
				t.Fatal(err)
			}
			if len(cases) < tc.minCases {
				t.Fatalf("%d cases, want at least %d", len(cases), tc.minCases)
			}
			for _, r := range policy.RunCases(p, cases) {
				if !r.Pass {
					t.Errorf("%s (%s:%d): %s", r.Case.Name, r.Case.File, r.Case.Line, r.Problem)
				}
			}
		})
	}
}
