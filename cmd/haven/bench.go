package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/loadgen"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server"
)

// benchCommand implements "haven bench": N concurrent clients record doses
// for T seconds against a running server (--url, --token, --site) or one it
// starts in-process on the configured database, then print throughput and
// latency.
func benchCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	url := fs.String("url", "", "base URL of a running server; empty starts one in-process")
	token := fs.String("token", "", "vaccinator token (with --url)")
	site := fs.String("site", "", "site code the token may record at (with --url)")
	clients := fs.Int("clients", 32, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "how long to run")
	persons := fs.Int("persons", 5000, "size of the pool of persons that doses are recorded for (in real use a person has a handful of doses: 5,000 persons keep a 10 s run near ten each)")
	noBirthDate := fs.Bool("no-birth-date", false, "register the persons without a birth date, so that their doses are not evaluated (by default they have one, as in real use, and every dose is evaluated)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	mode := fs.String("mode", "doses", "what each request is: doses (POST a dose as JSON), vxu (POST an HL7 VXU^V04 with one dose to /api/v1/hl7), fhir-search (GET /fhir/r4/Immunization by card for persons holding --doses doses)")
	dosesEach := fs.Int("doses", 10, "doses recorded for each person before a fhir-search run")
	batch := fs.Int("batch", 1, "with --mode vxu: messages per request (one dose each, for different persons), as an EHR's batch upload sends them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mode != loadgen.Doses && *mode != loadgen.VXU && *mode != loadgen.FHIR {
		return fmt.Errorf("--mode %q: want doses, vxu or fhir-search", *mode)
	}
	if *batch < 1 || *batch > 1000 {
		return fmt.Errorf("--batch %d: want 1 to 1000", *batch)
	}
	if *clients < 1 || *persons < 1 || *duration <= 0 {
		return errors.New("--clients, --persons and --duration must be positive")
	}
	if *url == "" {
		// A search run reads one token's cards many times a second: the
		// in-process server lifts the per-token read limit for it.
		stop, u, tok, st, err := startInProcess(ctx, env, *mode == loadgen.FHIR)
		if err != nil {
			return err
		}
		defer stop()
		*url, *token, *site = u, tok, st
	} else if *token == "" || *site == "" {
		return errors.New("--url needs --token (a vaccinator token) and --site")
	}
	lg := loadgen.New(*url, *token, *site, *mode, *clients)
	defer lg.Close()
	cards, err := lg.RegisterPersons(ctx, *persons, min(*clients, 16), !*noBirthDate)
	if err != nil {
		return fmt.Errorf("setting up persons: %w", err)
	}
	if *mode == loadgen.FHIR {
		if err := lg.RecordDoses(ctx, cards, *dosesEach, min(*clients, 16)); err != nil {
			return fmt.Errorf("setting up doses: %w", err)
		}
	}
	lg.Batch, lg.Cards = *batch, cards
	res, err := lg.Run(ctx, cards, *clients, *duration)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(res)
	}
	fmt.Fprintf(env.Stdout, "mode %s, clients %d, duration %s, persons %d, doses evaluated: %v\n", *mode, *clients, *duration, *persons, !*noBirthDate)
	unit := "requests"
	if *mode == loadgen.VXU && *batch > 1 {
		unit = fmt.Sprintf("messages (%d a request)", *batch)
	}
	fmt.Fprintf(env.Stdout, "acknowledged %s: %d (%.0f/s)\n", unit, res.OK, res.PerSecond)
	fmt.Fprintf(env.Stdout, "latency p50 %s, p99 %s, max %s\n", res.P50, res.P99, res.Max)
	fmt.Fprintf(env.Stdout, "errors: %d\n", res.Errors)
	return nil
}

// startInProcess runs a server on a loopback port over the configured store
// (by default a fresh SQLite database in a temporary folder) and returns its
// URL with a vaccinator token and site.
func startInProcess(ctx context.Context, env *commandEnv, unlimitedReads bool) (stop func(), url, token, site string, err error) {
	benchEnv := *env
	if env.DB == "" {
		dir, err := os.MkdirTemp("", "haven-bench-")
		if err != nil {
			return nil, "", "", "", err
		}
		benchEnv.DataDir = dir
		defer func() {
			if err != nil {
				os.RemoveAll(dir)
			}
		}()
	}
	db, err := openReadyDatabase(ctx, &benchEnv)
	if err != nil {
		return nil, "", "", "", err
	}
	v, err := openVault(&benchEnv)
	if err != nil {
		db.Close()
		return nil, "", "", "", err
	}
	site = "BENCH-" + string(registry.NewCardCode())[:4]
	if _, err := db.CreateSite(ctx, registry.Site{Code: site, Name: "Benchmark site", Jurisdiction: "KR",
		Services: []string{registry.ServiceVaccination}, CreatedAt: env.Now()}, registry.Write{}); err != nil {
		db.Close()
		return nil, "", "", "", err
	}
	secret, tok, err := clinic.NewToken(registry.RoleVaccinator, []string{site}, env.Now())
	if err == nil {
		err = db.CreateToken(ctx, tok, registry.Write{})
	}
	if err != nil {
		db.Close()
		return nil, "", "", "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		return nil, "", "", "", err
	}
	deps := clinic.Deps{Store: db, Vault: v, Catalog: catalog.Default(), Now: env.Now}
	if unlimitedReads {
		lim := clinic.ReadLimits(1 << 30)
		deps.Limits = &lim
	}
	hs := &http.Server{Handler: server.New(server.Deps{Service: clinic.New(deps)})}
	go hs.Serve(ln)
	stop = func() {
		hs.Close()
		db.Close()
		if env.DB == "" {
			os.RemoveAll(benchEnv.DataDir)
		}
	}
	return stop, "http://" + ln.Addr().String(), secret, site, nil
}
