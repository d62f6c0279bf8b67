package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

const forecastUsage = `usage: haven forecast [--schedule cdc|who|cn] [--as-of YYYY-MM-DD] [--json|--fhir] FILE|-
       haven forecast --cdsi-cases FILE.csv [--schedule NAME] [--json]

FILE holds {"birth_date","sex","assessment_date","doses":[{"date","cvx","mvx"}],"observations":[{"code","date"}]};
"-" reads standard input. --as-of overrides assessment_date; without either the current date is used.
birth_date may be partial (YYYY or YYYY-MM, read as its first possible day) and "birth_date_estimated":true
may mark it as a guess, as for a person in the API; doses may be empty (no history yet).
observations are CDSi codes (007 pregnant, with 170 onset of pregnancy and its date; 055 health care personnel…).
A vaccine group has one forecast per series group (for example a pregnancy's Tdap dose beside the routine
Td/Tdap path); the first of a group is the one to read when showing one per group.
--cdsi-cases runs a CSV in the CDC CDSi test-case layout and prints one JSON line per case and a summary line.`

// forecastCommand implements "haven forecast": CDSi evaluation and
// forecasting of one person's history, or a run of a CDC test-case file.
func forecastCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("forecast", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { fmt.Fprintln(env.Stderr, forecastUsage) }
	schedName := fs.String("schedule", "", "schedule: cdc, who or cn (default cdc)")
	asOfFlag := fs.String("as-of", "", "assessment date YYYY-MM-DD (overrides assessment_date)")
	asJSON := fs.Bool("json", false, "write JSON")
	asFHIR := fs.Bool("fhir", false, "write a FHIR R4 Bundle (ImmunizationEvaluation + ImmunizationRecommendation)")
	casesFile := fs.String("cdsi-cases", "", "run a CSV of CDC CDSi test cases")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *asJSON && *asFHIR {
		return errors.New("forecast: --json and --fhir are exclusive")
	}
	if *casesFile != "" {
		if fs.NArg() > 0 {
			return fmt.Errorf("forecast: unexpected argument %q with --cdsi-cases", fs.Arg(0))
		}
		name := *schedName
		if name == "" {
			name = schedule.ScheduleForCaseFile(*casesFile)
		}
		return runCDSiCases(ctx, env, name, *casesFile, *asJSON)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("forecast: need exactly one input FILE (or - for standard input)")
	}
	name := *schedName
	if name == "" {
		name = "cdc"
	}
	s, err := schedule.Load(name)
	if err != nil {
		return fmt.Errorf("forecast: schedule %s: %w", name, err)
	}
	in, src, closeIn, err := openInput(env, fs.Arg(0))
	if err != nil {
		return err
	}
	p, asOf, birth, err := parseForecastInput(in)
	closeIn()
	if err != nil {
		return fmt.Errorf("forecast: %s: %w", src, err)
	}
	if *asOfFlag != "" {
		d, err := schedule.ParseDate(*asOfFlag)
		if err != nil || len(*asOfFlag) != 10 {
			return fmt.Errorf("forecast: --as-of: %q is not a date YYYY-MM-DD", *asOfFlag)
		}
		asOf = d.Time()
	}
	if asOf.IsZero() {
		asOf = schedule.DateOf(env.Now()).Time()
	}
	res, err := s.Forecast(p, asOf)
	if err != nil {
		return fmt.Errorf("forecast: %s: %w", src, err)
	}
	switch {
	case *asFHIR:
		return writeJSON(env.Stdout, res.FHIR(asOf, schedule.FHIROptions{Authority: "CDSi schedule " + name}))
	case *asJSON:
		return writeJSON(env.Stdout, struct {
			forecastBirth
			schedule.Result
		}{birth, res})
	}
	return writeForecastText(env.Stdout, name, asOf, birth, res)
}

// forecastBirth says how a forecast read the birth date, as the API's
// forecast does: "exact", or "earliest" for a partial date (YYYY or
// YYYY-MM) read as its first possible day, which never makes a person
// younger than they are.
type forecastBirth struct {
	Used      string `json:"birth_date_used"`
	Reading   string `json:"birth_date_reading"`
	Estimated bool   `json:"birth_date_estimated"`
	given     string // the birth date as written
}

// parseForecastInput reads the forecast input of design.md as the API takes
// a person: birth_date may be partial, birth_date_estimated may mark it as
// a guess, and the history may be empty. Otherwise it validates as
// schedule.ParseInput does (unknown fields, trailing data and documents
// over schedule.MaxInputBytes are refused; errors name their field).
func parseForecastInput(r io.Reader) (schedule.Patient, time.Time, forecastBirth, error) {
	var birth forecastBirth
	b, err := io.ReadAll(io.LimitReader(r, schedule.MaxInputBytes+1))
	if err != nil {
		return schedule.Patient{}, time.Time{}, birth, registry.Errorf(registry.EINVALID, "read forecast input: %v", err)
	}
	if len(b) > schedule.MaxInputBytes {
		return schedule.Patient{}, time.Time{}, birth, registry.Errorf(registry.ETOOLARGE, "forecast input is larger than %d bytes", schedule.MaxInputBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return schedule.Patient{}, time.Time{}, birth, registry.Errorf(registry.EINVALID, "empty input: no patient")
	}
	var in struct {
		schedule.Input
		BirthDateEstimated bool `json:"birth_date_estimated"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return schedule.Patient{}, time.Time{}, birth, registry.Errorf(registry.EMALFORMED, "forecast input: %v", err)
	}
	if dec.More() {
		return schedule.Patient{}, time.Time{}, birth, registry.Errorf(registry.EMALFORMED, "forecast input: trailing data after the JSON object")
	}
	birth.given = strings.TrimSpace(in.BirthDate)
	if birth.given == "" {
		return schedule.Patient{}, time.Time{}, birth, registry.FieldErrorf(registry.EINVALID, "birth_date", "date is required")
	}
	pd, err := registry.ParsePartialDate(birth.given)
	if err != nil {
		return schedule.Patient{}, time.Time{}, birth, registry.FieldErrorf(registry.EINVALID, "birth_date", "%v", err)
	}
	birth.Used, birth.Reading, birth.Estimated = pd.Earliest().String(), "exact", in.BirthDateEstimated
	if pd.Day == 0 {
		birth.Reading = "earliest"
	}
	in.BirthDate = birth.Used
	empty := len(in.Doses) == 0
	if empty {
		// Input.Patient insists on a dose (ParseInput's rule); the
		// schedule forecasts a person with none, as the API does. A
		// stand-in dose on the birth date lets Patient check the rest.
		in.Doses = []schedule.InputDose{{Date: birth.Used, CVX: "none"}}
	}
	p, asOf, err := in.Patient()
	if empty {
		p.Doses = nil
	}
	return p, asOf, birth, err
}

func openInput(env *commandEnv, arg string) (io.Reader, string, func(), error) {
	if arg == "-" {
		return env.Stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, arg, nil, fmt.Errorf("forecast: %w", err)
	}
	return f, arg, func() { f.Close() }, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeForecastText(w io.Writer, name string, asOf time.Time, birth forecastBirth, res schedule.Result) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Schedule %s, assessed %s", name, schedule.DateOf(asOf))
	if birth.Reading != "exact" || birth.Estimated {
		fmt.Fprintf(tw, "; birth date %s", birth.given)
		if birth.Estimated {
			fmt.Fprint(tw, " (estimated)")
		}
		if birth.Reading == "earliest" {
			fmt.Fprintf(tw, " read as %s", birth.Used)
		}
	}
	fmt.Fprint(tw, "\n\nDOSE\tCVX\tANTIGEN\tSTATUS\tREASON\n")
	for _, e := range res.Evaluations {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Date, e.CVX, e.Antigen, e.Status, e.Reason)
	}
	fmt.Fprintf(tw, "\nVACCINE GROUP\tSERIES GROUP\tSTATUS\tEARLIEST\tRECOMMENDED\tPAST DUE\tLATEST\n")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, f := range res.Forecasts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.VaccineGroup, dash(seriesGroupLabel(f)), f.SeriesStatus,
			dash(f.Earliest), dash(f.Recommended), dash(f.PastDue), dash(f.Latest))
	}
	return tw.Flush()
}

// seriesGroupLabel names a forecast's series group for the text output,
// for example "2 Increased Risk (risk)".
func seriesGroupLabel(f schedule.Forecast) string {
	label := strings.TrimSpace(f.SeriesGroup + " " + f.SeriesGroupName)
	if f.SeriesType != "" {
		label += " (" + f.SeriesType + ")"
	}
	return strings.TrimSpace(label)
}

// caseSummary is the last line of a --cdsi-cases run.
type caseSummary struct {
	Summary struct {
		File     string   `json:"file"`
		Schedule string   `json:"schedule"`
		Total    int      `json:"total"`
		Pass     int      `json:"pass"`
		Fail     int      `json:"fail"`
		Failed   []string `json:"failed,omitempty"`
	} `json:"summary"`
}

// runCDSiCases runs every case of a CDC-layout CSV. A case that fails is
// reported, not an error: the command fails only when the file or schedule
// cannot be read.
func runCDSiCases(ctx context.Context, env *commandEnv, name, path string, asJSON bool) error {
	s, err := schedule.Load(name)
	if err != nil {
		return fmt.Errorf("forecast: schedule %s: %w", name, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("forecast: %w", err)
	}
	defer f.Close()
	cases, err := schedule.ParseCases(f, path)
	if err != nil {
		return fmt.Errorf("forecast: %w", err)
	}
	var sum caseSummary
	sum.Summary.File, sum.Summary.Schedule = path, name
	enc := json.NewEncoder(env.Stdout)
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := s.RunCase(c)
		sum.Summary.Total++
		if r.Pass {
			sum.Summary.Pass++
		} else {
			sum.Summary.Fail++
			sum.Summary.Failed = append(sum.Summary.Failed, r.ID)
		}
		if asJSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
		} else {
			mark := "PASS"
			if !r.Pass {
				mark = "FAIL"
			}
			fmt.Fprintf(env.Stdout, "%s %s %s %s\n", mark, r.ID, r.VaccineGroup, strings.Join(append(r.Mismatches, r.Error), "; "))
		}
	}
	if asJSON {
		return enc.Encode(sum)
	}
	_, err = fmt.Fprintf(env.Stdout, "%d / %d cases pass (%s, schedule %s)\n", sum.Summary.Pass, sum.Summary.Total, path, name)
	return err
}
