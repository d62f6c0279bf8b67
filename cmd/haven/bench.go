package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
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
	if *mode != "doses" && *mode != "vxu" && *mode != "fhir-search" {
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
		stop, u, tok, st, err := startInProcess(ctx, env, *mode == "fhir-search")
		if err != nil {
			return err
		}
		defer stop()
		*url, *token, *site = u, tok, st
	} else if *token == "" || *site == "" {
		return errors.New("--url needs --token (a vaccinator token) and --site")
	}
	lg := &loadGen{base: *url, token: *token, site: *site, client: newLoadClient(*clients), evaluated: !*noBirthDate, mode: *mode, batch: *batch}
	cards, err := lg.registerPersons(ctx, *persons)
	if err != nil {
		return fmt.Errorf("setting up persons: %w", err)
	}
	if *mode == "fhir-search" {
		if err := lg.recordDoses(ctx, cards, *dosesEach); err != nil {
			return fmt.Errorf("setting up doses: %w", err)
		}
	}
	lg.cards = cards
	res := lg.run(ctx, cards, *clients, *duration)
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(res)
	}
	fmt.Fprintf(env.Stdout, "mode %s, clients %d, duration %s, persons %d, doses evaluated: %v\n", *mode, *clients, *duration, *persons, lg.evaluated)
	fmt.Fprintf(env.Stdout, "acknowledged requests: %d (%.0f/s)\n", res.OK, res.PerSecond)
	if lg.batch > 1 {
		fmt.Fprintf(env.Stdout, "acknowledged messages: %d (%.0f/s), %d a request\n", res.OK*lg.batch, res.PerSecond*float64(lg.batch), lg.batch)
	}
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

// loadGen records doses over HTTP.
type loadGen struct {
	base, token, site string
	client            *http.Client
	evaluated         bool   // persons have birth dates, so every dose is evaluated
	mode              string // doses, vxu or fhir-search
	batch             int    // vxu: messages per request
	cards             []string
}

func newLoadClient(conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = conns*2, conns*2, conns*2
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// post sends one JSON POST and returns the status and body.
func (lg *loadGen) post(ctx context.Context, path, key string, body []byte) (int, []byte, error) {
	return lg.do(ctx, "POST", path, "application/json", key, body)
}

// do sends one request and returns the status and body.
func (lg *loadGen) do(ctx context.Context, method, path, contentType, key string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, lg.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+lg.token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := lg.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

func (lg *loadGen) registerPersons(ctx context.Context, n int) ([]string, error) {
	cards := make([]string, n)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	stamp := time.Now().UnixNano()
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				person := []byte(`{}`)
				if lg.evaluated {
					person = fmt.Appendf(nil, `{"birth_date":"%d-%02d-%02d","sex":%q}`, 1950+i%60, 1+i%12, 1+i%28, [...]string{"female", "male"}[i%2])
				}
				status, body, err := lg.post(ctx, "/api/v1/persons", fmt.Sprintf("bench-person-%d-%d", stamp, i), person)
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("register: %d %s", status, body)
				}
				var p struct {
					CardCode string `json:"card_code"`
				}
				if err == nil {
					err = json.Unmarshal(body, &p)
				}
				if err != nil {
					errs <- err
					return
				}
				cards[i] = p.CardCode
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return cards, nil
}

// doseBody is the body of one benchmark dose.
func (lg *loadGen) doseBody(i int) []byte {
	products := [...]string{"coronavac", "bbibp-corv", "comirnaty", "zf2001"}
	return []byte(fmt.Sprintf(`{"product":%q,"date":"2021-09-%02d","site":%q,"lot":"B%d"}`,
		products[i%len(products)], 1+i%28, lg.site, i))
}

// request makes the run's request number i for card and reports whether
// it was acknowledged: a dose stored (201), a VXU answered AA, or a search
// answered 200.
func (lg *loadGen) request(ctx context.Context, card, key string, i int) (bool, error) {
	switch lg.mode {
	case "vxu":
		var msgs []byte
		for j := range max(lg.batch, 1) {
			msgs = append(msgs, lg.vxuBody(lg.cards[(i*lg.batch+j)%len(lg.cards)], fmt.Sprintf("%s-%d", key, j), i*lg.batch+j)...)
		}
		status, body, err := lg.do(ctx, "POST", "/api/v1/hl7", "application/hl7-v2", "", msgs)
		return status == http.StatusOK && bytes.Count(body, []byte("MSA|AA|")) == max(lg.batch, 1), err
	case "fhir-search":
		status, _, err := lg.do(ctx, "GET", "/fhir/r4/Immunization?patient.identifier="+card, "", "", nil)
		return status == http.StatusOK, err
	}
	status, _, err := lg.post(ctx, "/api/v1/persons/"+card+"/vaccinations", key, lg.doseBody(i))
	return status == http.StatusCreated, err
}

// vxuBody is a VXU^V04 with one administered dose for card, its control ID
// and order ID unique to the request.
func (lg *loadGen) vxuBody(card, key string, i int) []byte {
	cvx := [...]string{"511", "510", "208", "207"}[i%4]
	return fmt.Appendf(nil, "MSH|^~\\&|BENCH|BENCH-EHR|HAVEN|HAVEN|20210930||VXU^V04^VXU_V04|%s|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r"+
		"PID|1||%s^^^HAVEN^PI\r"+
		"ORC|RE||%s^BENCH\r"+
		"RXA|0|1|202109%02d||%s^vaccine^CVX|0.5|mL^mL^UCUM||00^New record^NIP001||^^^%s||||B%d\r",
		key, card, key, 1+i%28, cvx, lg.site, i)
}

// recordDoses records n doses for each card (the fixture of a search run).
func (lg *loadGen) recordDoses(ctx context.Context, cards []string, n int) error {
	for ci, card := range cards {
		for j := range n {
			i := ci*n + j
			status, body, err := lg.post(ctx, "/api/v1/persons/"+card+"/vaccinations", "", lg.doseBody(i))
			if err != nil {
				return err
			}
			if status != http.StatusCreated {
				return fmt.Errorf("dose: %d %s", status, body)
			}
		}
	}
	return nil
}

// loadResult is what a load run measured.
type loadResult struct {
	OK        int           `json:"ok"`
	Errors    int           `json:"errors"`
	PerSecond float64       `json:"per_second"`
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
}

// run records doses from clients goroutines until d has passed.
func (lg *loadGen) run(ctx context.Context, cards []string, clients int, d time.Duration) loadResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		wg        sync.WaitGroup
	)
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			localErrs := 0
			for i := c; ctx.Err() == nil; i += clients {
				card := cards[i%len(cards)]
				key := fmt.Sprintf("bench-%d-%d-%d", start.UnixNano(), c, i)
				t0 := time.Now()
				ok, err := lg.request(ctx, card, key, i)
				if ctx.Err() != nil {
					break // cut off by the end of the run, not a server error
				}
				if err != nil || !ok {
					localErrs++
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errs += localErrs
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	res := loadResult{OK: len(latencies), Errors: errs, PerSecond: float64(len(latencies)) / elapsed.Seconds()}
	if n := len(latencies); n > 0 {
		res.P50, res.P99, res.Max = latencies[n/2], latencies[min(n-1, n*99/100)], latencies[n-1]
	}
	return res
}
