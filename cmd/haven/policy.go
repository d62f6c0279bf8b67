package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/policies"
)

const policyUsage = `usage: haven policy <command> [flags]

commands:
  check     --jurisdiction CODE --facts JSON [--pack PACK] [--service S] [--as-of YYYY-MM-DD] [--explain] [--json]
  test      --pack PACK [--json]
  diff      --from PACK --to PACK [--as-of YYYY-MM-DD] [--service S] [--json]
  simulate  --population CSV [--pack PACK] [--as-of YYYY-MM-DD] [--service S] [--flag-above 0.2] [--svg FILE] [--png FILE] [--json]

PACK is a bundled pack by name (2021-09, inclusive, inclusive-paid) or a pack folder. Without --pack,
check and simulate use the default bundled pack. Facts are never written anywhere.
See haven help policy COMMAND.`

// policyCommand implements "haven policy check|test|diff|simulate".
func policyCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, policyUsage)
		return usageErrorf("policy: missing command (check, test, diff or simulate)")
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
	return usageErrorf("policy: unknown command %q", args[0])
}

func policyFlags(env *commandEnv, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("haven policy "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// loadPolicyPack loads the pack that ref names: a pack folder, or else a
// bundled pack (policies/, embedded in the binary) by its name, so that
// --pack 2021-09 works outside the source tree too. An empty ref is the
// default bundled pack. It also returns the file system and folder that
// hold the pack, where its cases are.
func loadPolicyPack(ref string) (*policy.Pack, fs.FS, string, error) {
	if ref != "" {
		if st, err := os.Stat(ref); err == nil && st.IsDir() {
			p, err := policy.LoadPackDir(ref)
			if err != nil {
				return nil, nil, "", fmt.Errorf("pack %s: %w", ref, err)
			}
			return p, os.DirFS(ref), ".", nil
		}
	}
	bundled := policies.FS()
	entries, err := fs.ReadDir(bundled, ".")
	if err != nil {
		return nil, nil, "", fmt.Errorf("bundled packs: %w", err)
	}
	var names []string
	for _, d := range entries {
		if _, err := fs.Stat(bundled, path.Join(d.Name(), "pack.yaml")); !d.IsDir() || err != nil {
			continue
		}
		p, err := policy.LoadPack(bundled, d.Name())
		if err != nil {
			return nil, nil, "", fmt.Errorf("bundled pack %s: %w", d.Name(), err)
		}
		if (ref == "" && p.Default) || (ref != "" && (ref == p.Name || ref == d.Name())) {
			return p, bundled, d.Name(), nil
		}
		names = append(names, p.Name)
	}
	if ref == "" {
		return nil, nil, "", errors.New("bundled packs: none is marked default")
	}
	return nil, nil, "", fmt.Errorf("pack %s: no such folder, and no bundled pack of that name (bundled: %s)", ref, strings.Join(names, ", "))
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
	packDir := fs.String("pack", "", "bundled pack name (2021-09, inclusive…) or pack folder (default: the default bundled pack)")
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
		return usageErrorf("policy check: --jurisdiction is required")
	}
	if *factsArg == "" {
		return usageErrorf("policy check: --facts is required (a JSON object, may be {})")
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
	p, _, _, err := loadPolicyPack(*packDir)
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
	packDir := fs.String("pack", "", "bundled pack name (2021-09, inclusive…) or pack folder (required)")
	asJSON := fs.Bool("json", false, "write the results as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *packDir == "" {
		return usageErrorf("policy test: --pack is required")
	}
	p, packFS, dir, err := loadPolicyPack(*packDir)
	if err != nil {
		return fmt.Errorf("policy test: %w", err)
	}
	cases, err := policy.LoadCases(packFS, dir)
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
	fromDir := fs.String("from", "", "pack to compare from: bundled pack name or folder (required)")
	toDir := fs.String("to", "", "pack to compare to: bundled pack name or folder (required)")
	asOf := fs.String("as-of", "", "compare on this date only (default: every date either pack changes)")
	service := fs.String("service", "", "vaccination or testing (default: both)")
	asJSON := fs.Bool("json", false, "write the changes as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fromDir == "" || *toDir == "" {
		return usageErrorf("policy diff: --from and --to are required")
	}
	from, _, _, err := loadPolicyPack(*fromDir)
	if err != nil {
		return fmt.Errorf("policy diff: %w", err)
	}
	to, _, _, err := loadPolicyPack(*toDir)
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
	packDir := fs.String("pack", "", "bundled pack name (2021-09, inclusive…) or pack folder (default: the default bundled pack)")
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
		return usageErrorf("policy simulate: --population is required")
	}
	if *flagAbove < 0 || *flagAbove > 1 {
		return fmt.Errorf("policy simulate: --flag-above must be between 0 and 1, got %v", *flagAbove)
	}
	p, _, _, err := loadPolicyPack(*packDir)
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
	shares := statusShares(sim)
	if *asJSON {
		return writePolicyJSON(env.Stdout, struct {
			*policy.Simulation
			ByStatus []statusShare `json:"left_out_by_status"`
		}{sim, shares})
	}
	if err := sim.WriteTable(env.Stdout); err != nil {
		return err
	}
	if err := writeStatusShares(env.Stdout, shares); err != nil {
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

// statusShare is how much of one residence status group of a jurisdiction a
// simulation leaves out (not eligible or referred). A share of the whole
// population hides a group that is left out entirely: 9,000 women refused
// in a province of a million read as 0.9 %, but as 100 % of their group.
type statusShare struct {
	Jurisdiction string        `json:"jurisdiction"` // or "total"
	Status       policy.Status `json:"status"`
	Population   float64       `json:"population"`
	LeftOut      float64       `json:"left_out"`
	Share        float64       `json:"share_left_out"`
}

// statusShares totals the simulation's rows by jurisdiction and status (in
// the simulation's order), then by status over every jurisdiction (as
// jurisdiction "total").
func statusShares(sim *policy.Simulation) []statusShare {
	var out []statusShare
	total := map[policy.Status]*statusShare{}
	var order []policy.Status
	for _, r := range sim.Rows {
		n := len(out)
		if n == 0 || out[n-1].Jurisdiction != r.Jurisdiction || out[n-1].Status != r.Status {
			out = append(out, statusShare{Jurisdiction: r.Jurisdiction, Status: r.Status})
			n++
		}
		t := total[r.Status]
		if t == nil {
			t = &statusShare{Jurisdiction: "total", Status: r.Status}
			total[r.Status] = t
			order = append(order, r.Status)
		}
		for _, s := range []*statusShare{&out[n-1], t} {
			s.Population += r.Count
			if r.Outcome.LeftOut() {
				s.LeftOut += r.Count
			}
		}
	}
	slices.SortFunc(order, func(a, b policy.Status) int {
		return slices.Index(policy.Statuses, a) - slices.Index(policy.Statuses, b)
	})
	for _, st := range order {
		out = append(out, *total[st])
	}
	for i := range out {
		if out[i].Population > 0 {
			out[i].Share = out[i].LeftOut / out[i].Population
		}
	}
	return out
}

// writeStatusShares writes the shares as a table: one line per jurisdiction
// (and the total), one column per residence status, then the share of the
// whole population.
func writeStatusShares(w io.Writer, shares []statusShare) error {
	var statuses []policy.Status
	var places []string
	cell := map[string]map[policy.Status]float64{}
	whole := map[string][2]float64{} // left out, population
	for _, s := range shares {
		if cell[s.Jurisdiction] == nil {
			cell[s.Jurisdiction] = map[policy.Status]float64{}
			places = append(places, s.Jurisdiction)
		}
		cell[s.Jurisdiction][s.Status] = s.Share
		if !slices.Contains(statuses, s.Status) {
			statuses = append(statuses, s.Status)
		}
		t := whole[s.Jurisdiction]
		whole[s.Jurisdiction] = [2]float64{t[0] + s.LeftOut, t[1] + s.Population}
	}
	slices.SortFunc(statuses, func(a, b policy.Status) int {
		return slices.Index(policy.Statuses, a) - slices.Index(policy.Statuses, b)
	})
	var b strings.Builder
	b.WriteString("\nshare left out of each residence status group, and of everyone (-: no one of that status):\n")
	fmt.Fprintf(&b, "%-12s", "jurisdiction")
	for _, st := range statuses {
		fmt.Fprintf(&b, " %*s", max(len(st), 7), st)
	}
	fmt.Fprintf(&b, " %7s\n", "all")
	for _, j := range places {
		fmt.Fprintf(&b, "%-12s", j)
		for _, st := range statuses {
			v, ok := cell[j][st]
			text := "-"
			if ok {
				text = fmt.Sprintf("%.1f%%", v*100)
			}
			fmt.Fprintf(&b, " %*s", max(len(st), 7), text)
		}
		all := 0.0
		if t := whole[j]; t[1] > 0 {
			all = t[0] / t[1]
		}
		fmt.Fprintf(&b, " %6.1f%%\n", all*100)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
