package policy_test

import (
	"bytes"
	"encoding/json"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/policies"
)

// TestDecisionsLogNothing runs a batch of decisions, good and bad, through
// the engine with the standard loggers captured, and finds nothing written:
// not the status words, not anything.
func TestDecisionsLogNothing(t *testing.T) {
	var buf bytes.Buffer
	oldLog, oldFlags := log.Writer(), log.Flags()
	oldSlog := slog.Default()
	log.SetOutput(&buf)
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() {
		log.SetOutput(oldLog)
		log.SetFlags(oldFlags)
		slog.SetDefault(oldSlog)
	})
	e, err := policy.NewEngine(policies.FS())
	if err != nil {
		t.Fatal(err)
	}
	bodies := []string{
		`{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{"residence_status":"registered_irregular","years_resident":22,"has_child_with_citizen":true},"explain":true}`,
		`{"jurisdiction":"CN-HL","service":"testing","as_of":"2021-04-01","facts":{"residence_status":"unregistered"}}`,
		`{"pack":"inclusive-paid","jurisdiction":"CN-LN","service":"vaccination","as_of":"2021-09-17","facts":{"residence_status":"temporary_hukou","pregnant":true}}`,
		`{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{"residence_status":"undocumented"}}`,
		`{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17","facts":{}}`,
	}
	for i := 0; i < 50; i++ {
		for _, b := range bodies {
			var req policy.EligibilityRequest
			if err := json.Unmarshal([]byte(b), &req); err != nil {
				t.Fatal(err)
			}
			q, err := e.Validate(req)
			if err != nil {
				continue
			}
			_, _ = q.Decide()
		}
	}
	if buf.Len() != 0 {
		t.Errorf("decisions wrote to the logs: %q", buf.String())
	}
	// The test binary's own folder gains no files either.
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), ".log") || strings.HasSuffix(en.Name(), ".db") || strings.HasSuffix(en.Name(), "-wal") {
			t.Errorf("unexpected file %s", en.Name())
		}
	}
}

// TestConcurrentDecisions: a pack is safe for concurrent use (run with -race).
func TestConcurrentDecisions(t *testing.T) {
	p := mustLoad(t, "2021-09")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				s := policy.Statuses[(g+i)%len(policy.Statuses)]
				f, err := p.NewFacts(map[string]any{"residence_status": string(s)})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := p.Decide(f, "CN-JL", "vaccination", sept, policy.Explain(i%2 == 0)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
