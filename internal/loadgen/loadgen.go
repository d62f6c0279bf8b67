// Package loadgen drives a Haven server (or a floor server standing in for
// it) the way a clinic's clients would: N clients on keep-alive
// connections, each sending its next request as soon as the last one is
// answered, recording doses (as JSON or as HL7 VXUs) or searching them
// (FHIR). haven bench and bench/run both use it, so their figures are of
// the same requests.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request kinds of a load run (haven bench's --mode).
const (
	Doses = "doses"       // POST a dose as JSON to /api/v1/persons/{card}/vaccinations
	VXU   = "vxu"         // POST an HL7 VXU^V04 with one dose to /api/v1/hl7
	FHIR  = "fhir-search" // GET /fhir/r4/Immunization?patient.identifier={card}
)

// Gen drives one server. Base is its URL, Token a vaccinator token and Site
// a site the token may record at.
type Gen struct {
	Base, Token, Site string
	Mode              string // Doses, VXU or FHIR
	// Batch is the number of VXUs a VXU request carries, each for the next
	// card of Cards (1: one message, for the request's card).
	Batch int
	Cards []string

	client *http.Client
}

// New returns a Gen for up to conns concurrent connections.
func New(base, token, site, mode string, conns int) *Gen {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = conns*2, conns*2, conns*2
	return &Gen{Base: base, Token: token, Site: site, Mode: mode, Batch: 1,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Close drops the idle connections, so that a server stopped next does
// not wait for them.
func (lg *Gen) Close() { lg.client.CloseIdleConnections() }

// Do sends one request and returns the status and body.
func (lg *Gen) Do(ctx context.Context, method, path, contentType, key string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, lg.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+lg.Token)
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

// RegisterPersons registers n persons, from clients goroutines, and
// returns their card codes. With birth dates every dose recorded for them
// is evaluated; without, none is.
func (lg *Gen) RegisterPersons(ctx context.Context, n, clients int, birthDates bool) ([]string, error) {
	cards := make([]string, n)
	err := parallel(ctx, n, clients, func(ctx context.Context, i int) error {
		person := []byte(`{}`)
		if birthDates {
			person = fmt.Appendf(nil, `{"birth_date":"%d-%02d-%02d","sex":%q}`, 1950+i%60, 1+i%12, 1+i%28, [...]string{"female", "male"}[i%2])
		}
		status, body, err := lg.Do(ctx, "POST", "/api/v1/persons", "application/json", fmt.Sprintf("run-person-%d-%d", time.Now().UnixNano(), i), person)
		if err != nil {
			return err
		}
		if status != http.StatusCreated {
			return fmt.Errorf("register a person: %d %s", status, body)
		}
		var p struct {
			CardCode string `json:"card_code"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("register a person: %w", err)
		}
		cards[i] = p.CardCode
		return nil
	})
	return cards, err
}

// RecordDoses records n doses for each card, from clients goroutines (the
// fixture of a search run).
func (lg *Gen) RecordDoses(ctx context.Context, cards []string, n, clients int) error {
	return parallel(ctx, len(cards)*n, clients, func(ctx context.Context, i int) error {
		status, body, err := lg.Do(ctx, "POST", "/api/v1/persons/"+cards[i/n]+"/vaccinations", "application/json", "", lg.doseBody(i))
		if err != nil {
			return err
		}
		if status != http.StatusCreated {
			return fmt.Errorf("record a dose: %d %s", status, body)
		}
		return nil
	})
}

// parallel calls fn for 0 ≤ i < n from up to workers goroutines and
// returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// doseBody is the body of dose number i, as haven bench sends it.
func (lg *Gen) doseBody(i int) []byte {
	products := [...]string{"coronavac", "bbibp-corv", "comirnaty", "zf2001"}
	return fmt.Appendf(nil, `{"product":%q,"date":"2021-09-%02d","site":%q,"lot":"B%d"}`,
		products[i%len(products)], 1+i%28, lg.Site, i)
}

// vxuBody is a VXU^V04 with one administered dose for card, its control ID
// (MSH-10) and order ID (ORC-3) the request's unique key, as haven bench
// sends it.
func (lg *Gen) vxuBody(card, key string, i int) []byte {
	cvx := [...]string{"511", "510", "208", "207"}[i%4]
	return fmt.Appendf(nil, "MSH|^~\\&|BENCH|BENCH-EHR|HAVEN|HAVEN|20210930||VXU^V04^VXU_V04|%s|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r"+
		"PID|1||%s^^^HAVEN^PI\r"+
		"ORC|RE||%s^BENCH\r"+
		"RXA|0|1|202109%02d||%s^vaccine^CVX|0.5|mL^mL^UCUM||00^New record^NIP001||^^^%s||||B%d\r",
		key, card, key, 1+i%28, cvx, lg.Site, i)
}

// request makes request number i for card and reports whether it was
// acknowledged (a dose stored (201), a VXU answered AA, or a search
// answered 200), and the HTTP status (0 when there was no answer).
func (lg *Gen) request(ctx context.Context, card, key string, i int) (bool, int, error) {
	switch lg.Mode {
	case VXU:
		if lg.Batch <= 1 || len(lg.Cards) == 0 {
			status, body, err := lg.Do(ctx, "POST", "/api/v1/hl7", "application/hl7-v2", "", lg.vxuBody(card, key, i))
			return status == http.StatusOK && bytes.Contains(body, []byte("MSA|AA|")), status, err
		}
		var msgs []byte
		for j := range lg.Batch {
			n := i*lg.Batch + j
			msgs = append(msgs, lg.vxuBody(lg.Cards[n%len(lg.Cards)], fmt.Sprintf("%s-%d", key, j), n)...)
		}
		status, body, err := lg.Do(ctx, "POST", "/api/v1/hl7", "application/hl7-v2", "", msgs)
		return status == http.StatusOK && bytes.Count(body, []byte("MSA|AA|")) == lg.Batch, status, err
	case FHIR:
		status, _, err := lg.Do(ctx, "GET", "/fhir/r4/Immunization?patient.identifier="+card, "", "", nil)
		return status == http.StatusOK, status, err
	}
	status, _, err := lg.Do(ctx, "POST", "/api/v1/persons/"+card+"/vaccinations", "application/json", key, lg.doseBody(i))
	return status == http.StatusCreated, status, err
}

// Result is what one load run measured. Errors counts requests
// answered with anything but success (or not answered) before the end of
// the run; the latencies are those of the acknowledged requests.
type Result struct {
	OK        int           `json:"ok"`
	Errors    int           `json:"errors"`
	PerSecond float64       `json:"per_second"`
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
	// Unavailable counts the errors that were 503 answers (an overloaded
	// server refusing at once), with their latencies: they are among
	// Errors too.
	Unavailable    int           `json:"unavailable,omitempty"`
	UnavailableP50 time.Duration `json:"unavailable_p50_ns,omitempty"`
	UnavailableP99 time.Duration `json:"unavailable_p99_ns,omitempty"`
	UnavailableMax time.Duration `json:"unavailable_max_ns,omitempty"`
}

// Run sends requests from clients goroutines for d, cycling through cards.
// It fails only when ctx ends first.
func (lg *Gen) Run(ctx context.Context, cards []string, clients int, d time.Duration) (Result, error) {
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		refused   []time.Duration // of the 503 answers
		errs      int
		wg        sync.WaitGroup
	)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			var local, localRefused []time.Duration
			localErrs := 0
			for i := c; runCtx.Err() == nil; i += clients {
				card := cards[i%len(cards)]
				key := fmt.Sprintf("run-%d-%d-%d", start.UnixNano(), c, i)
				t0 := time.Now()
				ok, status, err := lg.request(runCtx, card, key, i)
				if runCtx.Err() != nil {
					break // cut off by the end of the run, not a server error
				}
				if err != nil || !ok {
					localErrs++
					if err == nil && status == http.StatusServiceUnavailable {
						localRefused = append(localRefused, time.Since(t0))
					}
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			refused = append(refused, localRefused...)
			errs += localErrs
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	res := Summarize(latencies, errs, time.Since(start))
	if n := len(refused); n > 0 {
		slices.Sort(refused)
		res.Unavailable = n
		res.UnavailableP50, res.UnavailableP99, res.UnavailableMax = refused[n/2], refused[min(n-1, n*99/100)], refused[n-1]
	}
	if lg.Mode == VXU && lg.Batch > 1 { // counted in messages
		res.OK *= lg.Batch
		res.PerSecond *= float64(lg.Batch)
	}
	return res, nil
}

// Summarize turns the latencies of the acknowledged requests of a run that
// took elapsed into a Result.
func Summarize(latencies []time.Duration, errs int, elapsed time.Duration) Result {
	slices.Sort(latencies)
	res := Result{OK: len(latencies), Errors: errs, PerSecond: float64(len(latencies)) / elapsed.Seconds()}
	if n := len(latencies); n > 0 {
		res.P50, res.P99, res.Max = latencies[n/2], latencies[min(n-1, n*99/100)], latencies[n-1]
	}
	return res
}
