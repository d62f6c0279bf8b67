package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/policies"
)

const policyUsage = `usage: haven policy <command> [flags]

commands:
  check     --pack DIR --jurisdiction CODE --service vaccination|testing --as-of YYYY-MM-DD --facts JSON [--explain] [--json]
  test      --pack DIR [--json]
  diff      --from DIR --to DIR [--as-of YYYY-MM-DD] [--service S] [--json]
  simulate  --pack DIR --population CSV --as-of YYYY-MM-DD [--service S] [--flag-above 0.2] [--svg FILE] [--png FILE] [--json]

Without --pack, check and simulate use the default bundled pack. Facts are never written anywhere.`

// policyCommand implements "haven policy check|test|diff|simulate".
func policyCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, policyUsage)
		return errors.New("policy: missing command (check, test, diff or simulate)")
	}
	switch args[0] {
	case "check":
		return policyCheck(env, args[1:])
	case "test":
		return policyTest(env, args[1:])
	case "diff":
		return policyDiff(env, args[1:])
	case "simulate":
		return policySimulate(env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, policyUsage)
		return nil
	}
	fmt.Fprintln(env.Stderr, policyUsage)
	return fmt.Errorf("policy: unknown command %q", args[0])
}

func policyFlags(env *commandEnv, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("haven policy "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// loadPolicyPack loads the pack in dir, or the default bundled pack when dir
// is empty.
func loadPolicyPack(dir string) (*policy.Pack, error) {
	if dir == "" {
		e, err := policy.NewEngine(policies.FS())
		if err != nil {
			return nil, fmt.Errorf("bundled packs: %w", err)
		}
		return e.Default(), nil
	}
	p, err := policy.LoadPackDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	return p, nil
}

// policyAsOf parses --as-of, defaulting to today's date from the command's clock.
func policyAsOf(env *commandEnv, s string) (time.Time, error) {
	if s == "" {
		y, m, d := env.Now().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--as-of: want YYYY-MM-DD, got %q", s)
	}
	return t, nil
}

func writePolicyJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func policyCheck(env *commandEnv, args []string) error {
	fs := policyFlags(env, "check")
	packDir := fs.String("pack", "", "pack folder (default: the bundled default pack)")
	jur := fs.String("jurisdiction", "", "jurisdiction code, e.g. CN-JL")
	service := fs.String("service", policy.ServiceVaccination, "vaccination or testing")
	asOf := fs.String("as-of", "", "date YYYY-MM-DD (default: today)")
	factsArg := fs.String("facts", "", `facts as a JSON object, e.g. {"residence_status":"temporary_hukou"}; "-" reads standard input, "@FILE" a file`)
	explain := fs.Bool("explain", false, "list every rule evaluated")
	lang := fs.String("lang", "", "language of reason messages (en, ko, zh-Hans)")
	asJSON := fs.Bool("json", false, "write the decision as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *jur == "" {
		return errors.New("policy check: --jurisdiction is required")
	}
	if *factsArg == "" {
		return errors.New("policy check: --facts is required (a JSON object, may be {})")
	}
	raw := []byte(*factsArg)
	switch {
	case *factsArg == "-":
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 64<<10))
		if err != nil {
			return fmt.Errorf("policy check: reading facts: %w", err)
		}
		raw = b
	case strings.HasPrefix(*factsArg, "@"):
		b, err := os.ReadFile(strings.TrimPrefix(*factsArg, "@"))
		if err != nil {
			return fmt.Errorf("policy check: reading facts: %w", err)
		}
		raw = b
	}
	p, err := loadPolicyPack(*packDir)
	if err != nil {
		return fmt.Errorf("policy check: %w", err)
	}
	t, err := policyAsOf(env, *asOf)
	if err != nil {
		return fmt.Errorf("policy check: %w", err)
	}
	facts, err := p.ParseFacts(raw)
	if err != nil {
		return fmt.Errorf("policy check: %w", err)
	}
	opts := []policy.Option{policy.Explain(*explain)}
	if *lang != "" {
		opts = append(opts, policy.Language(*lang))
	}
	d, err := p.Decide(facts, *jur, *service, t, opts...)
	if err != nil {
		return fmt.Errorf("policy check: %w", err)
	}
	if *asJSON {
		return writePolicyJSON(env.Stdout, d)
	}
	return writePolicyDecision(env.Stdout, d)
}

func writePolicyDecision(w io.Writer, d policy.Decision) error {
	var b strings.Builder
	fmt.Fprintf(&b, "outcome:       %s\n", d.Outcome)
	if d.Fee != nil {
		fmt.Fprintf(&b, "fee:           %s %s\n", d.Fee.Amount, d.Fee.Currency)
	}
	fmt.Fprintf(&b, "rule:          %s (decided by %s", d.Rule, d.DecidedBy)
	if d.Fallback {
		b.WriteString(", fallback")
	}
	b.WriteString(")\n")
	if d.Assumption {
		fmt.Fprintf(&b, "assumption:    %s\n", strings.TrimSpace(d.Note))
	}
	fmt.Fprintf(&b, "chain:         %s\n", strings.Join(d.JurisdictionChain, " → "))
	fmt.Fprintf(&b, "policy:        %s %s\n", d.Pack, d.PolicyVersion)
	for _, r := range d.Reasons {
		fmt.Fprintf(&b, "reason:        %s: %s\n", r.Key, r.Message)
	}
	for _, a := range d.Alternatives {
		switch a.Kind {
		case "status":
			met := "unknown (facts missing)"
			if a.CriteriaMet != nil {
				met = fmt.Sprint(*a.CriteriaMet)
			}
			fmt.Fprintf(&b, "alternative:   obtain %s (criteria %s: %s) → %s by %s\n", a.Status, a.Criteria, met, a.Outcome, a.Rule)
		default:
			fmt.Fprintf(&b, "alternative:   %s (%s) → %s by %s\n", a.Jurisdiction, a.Name, a.Outcome, a.Rule)
		}
	}
	for _, e := range d.Evaluated {
		switch e.Step {
		case "rule", "fallback_rule":
			fmt.Fprintf(&b, "evaluated:     %s %s %s [%s] → %s %s\n", e.Jurisdiction, e.Step, e.Rule, e.When, e.Result, e.Detail)
		default:
			fmt.Fprintf(&b, "evaluated:     %s %s %s\n", e.Jurisdiction, e.Step, e.Detail)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func policyTest(env *commandEnv, args []string) error {
	fs := policyFlags(env, "test")
	packDir := fs.String("pack", "", "pack folder (required)")
	asJSON := fs.Bool("json", false, "write the results as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *packDir == "" {
		return errors.New("policy test: --pack is required")
	}
	p, err := policy.LoadPackDir(*packDir)
	if err != nil {
		return fmt.Errorf("policy test: %w", err)
	}
	cases, err := policy.LoadCasesDir(*packDir)
	if err != nil {
		return fmt.Errorf("policy test: %w", err)
	}
	if len(cases) == 0 {
		return fmt.Errorf("policy test: pack %s has no cases (cases/*.yaml)", *packDir)
	}
	results := policy.RunCases(p, cases)
	var failed []string
	type jsonResult struct {
		Name    string `json:"name"`
		File    string `json:"file"`
		Line    int    `json:"line"`
		Pass    bool   `json:"pass"`
		Problem string `json:"problem,omitempty"`
	}
	out := make([]jsonResult, 0, len(results))
	for _, r := range results {
		out = append(out, jsonResult{r.Case.Name, r.Case.File, r.Case.Line, r.Pass, r.Problem})
		if !r.Pass {
			failed = append(failed, r.Case.Name)
			if !*asJSON {
				fmt.Fprintf(env.Stdout, "FAIL %s (%s:%d): %s\n", r.Case.Name, r.Case.File, r.Case.Line, r.Problem)
			}
		}
	}
	if *asJSON {
		if err := writePolicyJSON(env.Stdout, map[string]any{"pack": p.Name, "policy_version": p.Version,
			"passed": len(results) - len(failed), "failed": len(failed), "cases": out}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.Stdout, "pack %s (%s): %d cases: %d passed, %d failed\n", p.Name, p.Version, len(results), len(results)-len(failed), len(failed))
	}
	if len(failed) > 0 {
		return fmt.Errorf("policy test: %d of %d cases failed: %s", len(failed), len(results), strings.Join(failed, ", "))
	}
	return nil
}

func policyDiff(env *commandEnv, args []string) error {
	fs := policyFlags(env, "diff")
	fromDir := fs.String("from", "", "pack folder to compare from (required)")
	toDir := fs.String("to", "", "pack folder to compare to (required)")
	asOf := fs.String("as-of", "", "compare on this date only (default: every date either pack changes)")
	service := fs.String("service", "", "vaccination or testing (default: both)")
	asJSON := fs.Bool("json", false, "write the changes as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fromDir == "" || *toDir == "" {
		return errors.New("policy diff: --from and --to are required")
	}
	from, err := policy.LoadPackDir(*fromDir)
	if err != nil {
		return fmt.Errorf("policy diff: %w", err)
	}
	to, err := policy.LoadPackDir(*toDir)
	if err != nil {
		return fmt.Errorf("policy diff: %w", err)
	}
	dates := policy.ChangeDates(from, to)
	if *asOf != "" {
		t, err := policyAsOf(env, *asOf)
		if err != nil {
			return fmt.Errorf("policy diff: %w", err)
		}
		dates = []policy.Date{policy.DateOf(t)}
	}
	services := policy.Services
	if *service != "" {
		if *service != policy.ServiceVaccination && *service != policy.ServiceTesting {
			return fmt.Errorf("policy diff: --service: want vaccination or testing, got %q", *service)
		}
		services = []string{*service}
	}
	changes := policy.Diff(from, to, dates, services)
	if *asJSON {
		if changes == nil {
			changes = []policy.Change{}
		}
		return writePolicyJSON(env.Stdout, map[string]any{"from": from.Name, "from_version": from.Version,
			"to": to.Name, "to_version": to.Version, "dates": dates, "changes": changes})
	}
	fmt.Fprintf(env.Stdout, "from %s (%s)\nto   %s (%s)\ncompared on: %s\n\n", from.Name, from.Version, to.Name, to.Version, policyJoinDates(dates))
	if len(changes) == 0 {
		fmt.Fprintln(env.Stdout, "no status and place combination changes outcome")
		return nil
	}
	fmt.Fprintf(env.Stdout, "%-10s  %-10s  %-11s  %-20s  %-40s  %s\n", "date", "place", "service", "status", "from", "to")
	for _, c := range changes {
		fmt.Fprintf(env.Stdout, "%-10s  %-10s  %-11s  %-20s  %-40s  %s\n", c.Date, c.Jurisdiction, c.Service, c.Status,
			policySide(c.From, c.FromRule, c.FromError), policySide(c.To, c.ToRule, c.ToError))
	}
	fmt.Fprintf(env.Stdout, "\n%d combinations change\n", len(changes))
	return nil
}

func policySide(o policy.Outcome, rule, errMsg string) string {
	if errMsg != "" {
		if len(errMsg) > 60 {
			errMsg = errMsg[:57] + "..."
		}
		return "error: " + errMsg
	}
	return fmt.Sprintf("%s (%s)", o, rule)
}

func policyJoinDates(ds []policy.Date) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}

func policySimulate(env *commandEnv, args []string) error {
	fs := policyFlags(env, "simulate")
	packDir := fs.String("pack", "", "pack folder (default: the bundled default pack)")
	popPath := fs.String("population", "", "population CSV: jurisdiction,residence_status,count (required)")
	asOf := fs.String("as-of", "", "date YYYY-MM-DD (default: today)")
	service := fs.String("service", policy.ServiceVaccination, "vaccination or testing")
	flagAbove := fs.Float64("flag-above", 0.2, "flag jurisdictions leaving out more than this share (0–1)")
	svgPath := fs.String("svg", "simulation.svg", `write the chart to this SVG file ("" for none)`)
	pngPath := fs.String("png", "", "also write the chart to this PNG file")
	asJSON := fs.Bool("json", false, "write the simulation as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *popPath == "" {
		return errors.New("policy simulate: --population is required")
	}
	if *flagAbove < 0 || *flagAbove > 1 {
		return fmt.Errorf("policy simulate: --flag-above must be between 0 and 1, got %v", *flagAbove)
	}
	p, err := loadPolicyPack(*packDir)
	if err != nil {
		return fmt.Errorf("policy simulate: %w", err)
	}
	t, err := policyAsOf(env, *asOf)
	if err != nil {
		return fmt.Errorf("policy simulate: %w", err)
	}
	f, err := os.Open(*popPath)
	if err != nil {
		return fmt.Errorf("policy simulate: %w", err)
	}
	rows, err := policy.ReadPopulation(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("policy simulate: %s: %w", *popPath, err)
	}
	sim, err := p.Simulate(rows, *service, t, *flagAbove)
	if err != nil {
		return fmt.Errorf("policy simulate: %s: %w", *popPath, err)
	}
	charts := []struct {
		path  string
		write func(io.Writer) error
	}{{*svgPath, sim.WriteSVG}, {*pngPath, sim.WritePNG}}
	for _, c := range charts {
		if c.path == "" {
			continue
		}
		out, err := os.Create(c.path)
		if err != nil {
			return fmt.Errorf("policy simulate: %w", err)
		}
		werr := c.write(out)
		if cerr := out.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("policy simulate: writing %s: %w", c.path, werr)
		}
	}
	if *asJSON {
		return writePolicyJSON(env.Stdout, sim)
	}
	if err := sim.WriteTable(env.Stdout); err != nil {
		return err
	}
	if fl := sim.Flagged(); len(fl) > 0 {
		fmt.Fprintf(env.Stdout, "\nflagged (more than %.0f%% left out): %s\n", *flagAbove*100, strings.Join(fl, ", "))
	}
	for _, path := range []string{*svgPath, *pngPath} {
		if path != "" {
			fmt.Fprintf(env.Stdout, "chart: %s\n", path)
		}
	}
	return nil
}
