package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The policy commands run on the bundled packs, from the repository's
// policies/ folder.
func TestPolicyCLI(t *testing.T) {
	dir := t.TempDir()
	seed, inclusive := filepath.Join("..", "..", "policies", "2021-09"), filepath.Join("..", "..", "policies", "inclusive")

	t.Run("ok/test-seed-pack", func(t *testing.T) {
		out, err := runHaven(t, dir, "", "policy", "test", "--pack", seed)
		if err != nil {
			t.Fatalf("policy test: %v\n%s", err, out)
		}
	})
	t.Run("ok/check-jilin-refuses-registered-irregular", func(t *testing.T) {
		out, err := runHaven(t, dir, "", "policy", "check", "--pack", seed, "--jurisdiction", "CN-JL", "--service", "vaccination",
			"--as-of", "2021-09-17", "--facts", `{"residence_status":"registered_irregular","years_resident":22,"has_child_with_citizen":true}`, "--json")
		if err != nil {
			t.Fatalf("policy check: %v", err)
		}
		var dec struct {
			Outcome      string
			Alternatives []any
		}
		if err := json.Unmarshal([]byte(out), &dec); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if dec.Outcome != "not_eligible" || len(dec.Alternatives) == 0 {
			t.Fatalf("decision = %s", out)
		}
	})
	t.Run("fail/check-unknown-status", func(t *testing.T) {
		_, err := runHaven(t, dir, "", "policy", "check", "--pack", seed, "--jurisdiction", "CN-JL", "--service", "vaccination",
			"--as-of", "2021-09-17", "--facts", `{"residence_status":"tourist"}`)
		if err == nil || !strings.Contains(err.Error(), "residence_status") {
			t.Fatalf("unknown status: %v", err)
		}
	})
	t.Run("ok/diff-seed-to-inclusive", func(t *testing.T) {
		out, err := runHaven(t, dir, "", "policy", "diff", "--from", seed, "--to", inclusive, "--as-of", "2021-09-17", "--json")
		if err != nil {
			t.Fatalf("policy diff: %v", err)
		}
		if !strings.Contains(out, "CN-JL") || !strings.Contains(out, "registered_irregular") {
			t.Fatalf("diff does not show the Jilin change: %s", out)
		}
	})
	t.Run("ok/simulate", func(t *testing.T) {
		svg := filepath.Join(dir, "chart.svg")
		out, err := runHaven(t, dir, "", "policy", "simulate", "--pack", seed, "--population",
			filepath.Join("..", "..", "internal", "policy", "testdata", "population.csv"), "--as-of", "2021-09-17", "--svg", svg)
		if err != nil {
			t.Fatalf("policy simulate: %v\n%s", err, out)
		}
		chart, err := os.ReadFile(svg)
		if err != nil || !strings.Contains(string(chart), "<svg") {
			t.Fatalf("chart: %v", err)
		}
		if !strings.Contains(out, "CN-JL") {
			t.Fatalf("table: %s", out)
		}
	})
}
