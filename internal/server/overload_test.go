package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holdHandler answers 200 at once, except that a request with the query
// parameter hold waits until release is closed, after saying so on
// entered. It stands for a slow handler.
type holdHandler struct {
	entered chan struct{}
	release chan struct{}
	keep    int // bytes each held request allocates and keeps until released
}

func newHoldHandler(keep int) *holdHandler {
	return &holdHandler{entered: make(chan struct{}, 4096), release: make(chan struct{}), keep: keep}
}

func (h *holdHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("hold") {
		buf := make([]byte, h.keep)
		for i := range buf {
			buf[i] = byte(i)
		}
		h.entered <- struct{}{}
		<-h.release
		runtime.KeepAlive(buf)
	}
	io.WriteString(w, "ok")
}

// waitEntered waits until n held requests are in the handler.
func (h *holdHandler) waitEntered(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("fewer than %d held requests reached the handler", n)
		}
	}
}

// overloadProbes are requests made while the bound is full, and what each
// must get: 503 in the shape of its API, or, for the endpoints exempt from
// the bound, the handler's own answer.
var overloadProbes = []struct {
	name, path string
	refused    bool
	ctype      string // the Content-Type's media type when refused
	check      func(t *testing.T, body []byte)
}{
	{"fail/api", "/api/v1/persons", true, "application/json", func(t *testing.T, body []byte) {
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "unavailable" || e.Error.Message == "" {
			t.Errorf("API error = %s (%v), want code unavailable with a message", body, err)
		}
	}},
	{"fail/fhir", "/fhir/r4/Patient?identifier=x", true, "application/fhir+json", func(t *testing.T, body []byte) {
		var oo struct {
			ResourceType string
			Issue        []struct{ Severity, Code, Diagnostics string }
		}
		if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 ||
			oo.Issue[0].Severity != "error" || oo.Issue[0].Code != "transient" || oo.Issue[0].Diagnostics == "" {
			t.Errorf("FHIR error = %s (%v), want an OperationOutcome with one transient error", body, err)
		}
	}},
	{"fail/web-home", "/", true, "text/plain", checkBusyText},
	{"fail/web-page", "/clinic/persons/ABCD-EFGH", true, "text/plain", checkBusyText},
	{"fail/web-post", "/clinic/register", true, "text/plain", checkBusyText},
	{"ok/healthz", "/healthz", false, "", nil},
	{"ok/readyz", "/readyz", false, "", nil},
	{"ok/metrics", "/metrics", false, "", nil},
}

func checkBusyText(t *testing.T, body []byte) {
	t.Helper()
	for _, want := range []string{"Haven is busy", "잠시 후 다시 시도하세요", "系统繁忙"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("web answer %q does not say %q", body, want)
		}
	}
}

// With the bound at N and N requests held, every further request is
// refused at once with 503 and Retry-After in its API's shape, except the
// health, readiness and metrics endpoints; once the held requests finish,
// requests are served again.
func TestOverloadRefusesBeyondBound(t *testing.T) {
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprintf("bound-%d", n), func(t *testing.T) {
			s := New(Deps{})
			hold := newHoldHandler(0)
			srv := httptest.NewServer(s.limitInFlight(n, hold))
			defer srv.Close()
			client := srv.Client()

			var held sync.WaitGroup
			for i := range n {
				held.Go(func() {
					resp, err := client.Get(fmt.Sprintf("%s/api/v1/persons/%d?hold", srv.URL, i))
					if err != nil {
						t.Errorf("held request: %v", err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("held request: status %d, want 200", resp.StatusCode)
					}
				})
			}
			hold.waitEntered(t, n)

			var refused uint64
			for _, p := range overloadProbes {
				t.Run(p.name, func(t *testing.T) {
					method := http.MethodGet
					if strings.HasSuffix(p.path, "/register") {
						method = http.MethodPost
					}
					req, err := http.NewRequest(method, srv.URL+p.path, strings.NewReader("a=b"))
					if err != nil {
						t.Fatal(err)
					}
					start := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					elapsed := time.Since(start)
					if !p.refused {
						if resp.StatusCode != http.StatusOK || string(body) != "ok" {
							t.Errorf("status %d %q, want the handler's 200 while the bound is full", resp.StatusCode, body)
						}
						return
					}
					refused++
					if resp.StatusCode != http.StatusServiceUnavailable {
						t.Fatalf("status %d, want 503", resp.StatusCode)
					}
					if elapsed > 100*time.Millisecond {
						t.Errorf("refused after %v, want at once (well under 100ms)", elapsed)
					}
					if got := resp.Header.Get("Retry-After"); got != "1" {
						t.Errorf("Retry-After = %q, want 1", got)
					}
					if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, p.ctype) {
						t.Errorf("Content-Type = %q, want %s", got, p.ctype)
					}
					p.check(t, body)
				})
			}
			if got := s.metrics.rejectedOverload.Load(); got != refused {
				t.Errorf("rejected counter = %d, want %d", got, refused)
			}

			close(hold.release)
			held.Wait()
			for _, p := range overloadProbes {
				resp, err := client.Get(srv.URL + p.path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("after release, GET %s: status %d, want 200", p.path, resp.StatusCode)
				}
			}
			if got := s.metrics.rejectedOverload.Load(); got != refused {
				t.Errorf("rejected counter after release = %d, want %d", got, refused)
			}
		})
	}
}

// A handler that panics gives its slot back: recovery answers 500, and the
// next request is served rather than refused.
func TestOverloadPanicFreesSlot(t *testing.T) {
	s := New(Deps{})
	h := s.recoverPanics(s.limitInFlight(1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	})))
	for i := range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/products", nil))
		if w.Code != http.StatusInternalServerError {
			t.Fatalf("request %d: status %d, want 500 (a refusal means the slot leaked)", i, w.Code)
		}
	}
	if got := s.metrics.rejectedOverload.Load(); got != 0 {
		t.Errorf("rejected counter = %d, want 0", got)
	}
}

// Through the whole server: a refused request is logged and counted, carries
// the security headers and a request ID, and the health endpoint still
// answers while the bound is full.
func TestOverloadThroughServer(t *testing.T) {
	if got := cap(New(Deps{}).inFlight); got != DefaultMaxInFlight {
		t.Errorf("default bound = %d, want %d", got, DefaultMaxInFlight)
	}
	var logs bytes.Buffer
	s := New(Deps{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), MaxInFlight: 2})
	if got := cap(s.inFlight); got != 2 {
		t.Fatalf("bound = %d, want 2", got)
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	// Two requests in flight, as far as the bound can tell.
	s.inFlight <- struct{}{}
	s.inFlight <- struct{}{}

	start := time.Now()
	w := get("/api/v1/openapi.json")
	if elapsed := time.Since(start); elapsed > 100*time.Millisecond {
		t.Errorf("refused after %v, want at once", elapsed)
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("full: status %d Retry-After %q, want 503 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	if w.Header().Get("X-Request-Id") == "" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("refused answer lacks the request ID or security headers: %v", w.Header())
	}
	if !strings.Contains(w.Body.String(), `"unavailable"`) {
		t.Errorf("refused body = %s, want the API error unavailable", w.Body)
	}
	if w := get("/healthz"); w.Code != http.StatusOK {
		t.Errorf("/healthz while full: status %d, want 200", w.Code)
	}
	m := get("/metrics")
	for _, want := range []string{
		"haven_http_rejected_overload_total 1\n",
		`haven_http_request_duration_seconds_count{route="overloaded",status="503"} 1`,
	} {
		if !strings.Contains(m.Body.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, m.Body)
		}
	}
	if !strings.Contains(logs.String(), `"route":"overloaded","status":503`) {
		t.Errorf("the request log does not show the refused request:\n%s", logs.String())
	}

	<-s.inFlight
	<-s.inFlight
	if w := get("/api/v1/openapi.json"); w.Code != http.StatusOK {
		t.Errorf("after release: status %d, want 200", w.Code)
	}
}

// Under a burst of 2,000 concurrent requests against a bound of 16 and a
// slow handler that holds 128 KiB per request, every answer is 200 or 503,
// exactly the bound's worth are served, and the live heap while the burst
// is held grows by the held requests' memory, not the burst's (which would
// be some 250 MiB).
func TestOverloadLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("fires 2,000 concurrent requests; skipped with -short")
	}
	const (
		bound    = 16
		requests = 2000
		keep     = 128 << 10
		maxGrow  = 32 << 20
	)
	s := New(Deps{})
	hold := newHoldHandler(keep)
	h := s.requestLog(s.recoverPanics(securityHeaders(s.limitInFlight(bound, hold))))

	var before, during, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	statuses := make([]int, requests)
	var done atomic.Int64
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/v1/persons/%d?hold", i), nil))
			statuses[i] = w.Code
			done.Add(1)
		})
	}
	hold.waitEntered(t, bound)
	deadline := time.Now().Add(5 * time.Second)
	for done.Load() < requests-bound {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests were refused at once while the bound was full (queued rather than refused?)", done.Load(), requests-bound)
		}
		time.Sleep(time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&during)
	close(hold.release)
	wg.Wait()
	runtime.GC()
	runtime.ReadMemStats(&after)

	counts := map[int]int{}
	for _, st := range statuses {
		counts[st]++
	}
	if counts[http.StatusOK] != bound || counts[http.StatusServiceUnavailable] != requests-bound || len(counts) != 2 {
		t.Errorf("statuses = %v, want %d × 200 and %d × 503", counts, bound, requests-bound)
	}
	if got := s.metrics.rejectedOverload.Load(); got != requests-bound {
		t.Errorf("rejected counter = %d, want %d", got, requests-bound)
	}
	grow := func(m runtime.MemStats) int64 { return int64(m.HeapAlloc) - int64(before.HeapAlloc) }
	t.Logf("live heap growth: %d KiB held, %d KiB after", grow(during)>>10, grow(after)>>10)
	if grow(during) > maxGrow || grow(after) > maxGrow {
		t.Errorf("live heap grew by %d bytes while held and %d after, want under %d", grow(during), grow(after), maxGrow)
	}
}
