package policy_test

import (
	"github.com/haven-registry/haven/internal/testenv"
	"path/filepath"
	"testing"

	"github.com/haven-registry/haven/internal/policy"
)

// repoRoot is the folder holding go.mod.
func repoRoot(tb testing.TB) string { return testenv.RepoRoot(tb) }

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
