package server

import (
	"context"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/fhir"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// DefaultMaxInFlight is the number of requests served at once when Deps
// sets none. Haven's handlers wait on the store far more than they compute
// (a SQLite store has 8 reader and 2 writer connections, PostgreSQL 32), so
// the bound is fixed rather than derived from GOMAXPROCS: 256 keeps a few
// hundred milliseconds of work queued behind the store's connections at
// most, and in the worst case of bodies at their limits (64 KiB of JSON or
// form, 512 KiB of FHIR Parameters, 2 MiB of upload) a bounded amount of
// memory.
const DefaultMaxInFlight = 256

// overloadRetryAfter is the Retry-After, in seconds, of a request refused
// because too many were in flight: the slots free up as fast as requests
// finish, so a client may try again soon.
const overloadRetryAfter = "1"

// overloadRoute is the route that the request log and the metrics name for
// a refused request, which never reached the mux (as "unmatched" names one
// the mux had no route for).
const overloadRoute = "overloaded"

// busyText is the answer to a web page refused under overload, in Haven's
// three languages: the page's own language is not known before the request
// is served, and this answer must cost nothing.
const busyText = "Haven is busy; try again in a moment.\n잠시 후 다시 시도하세요.\n系统繁忙，请稍后再试。\n"

// boundExempt reports whether a request to path is served whatever the
// number in flight: the liveness, readiness and metrics endpoints, which
// must answer fast while Haven is overloaded so that a load balancer or an
// operator can tell that it is busy rather than dead. They are cheap and
// read no body; /readyz asks the store with its own short timeout.
func boundExempt(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// limitInFlight bounds the number of requests that next serves at once to
// limit (DefaultMaxInFlight when limit is not positive), keeping the slots in
// s.inFlight. A request beyond it is refused at once, before its body is
// read, with 503 and Retry-After (see refuseOverload): it never waits for a
// slot, so that under overload neither goroutines nor memory pile up
// without limit and a client learns at once to come back later. Requests
// that boundExempt names are never refused.
func (s *Server) limitInFlight(limit int, next http.Handler) http.Handler {
	if limit <= 0 {
		limit = DefaultMaxInFlight
	}
	s.inFlight = make(chan struct{}, limit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if boundExempt(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case s.inFlight <- struct{}{}:
		default:
			s.refuseOverload(w, r)
			return
		}
		// Released even when next panics, so a panicking handler cannot
		// leak its slot.
		defer func() {
			<-s.inFlight
			if !strings.HasPrefix(r.URL.Path, "/api/v1/sync/") {
				// Clinic work, not a node's sync: see ServedWithin.
				s.lastServed.Store(time.Now().UnixNano())
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// refuseOverload answers a request refused because too many are in flight:
// 503 with Retry-After, as an OperationOutcome under the FHIR prefix, in
// the JSON API's error shape (code unavailable) under /api/, and as a short
// plain text otherwise. It counts the refusal for the metrics and names the
// route overloadRoute for the request log.
func (s *Server) refuseOverload(w http.ResponseWriter, r *http.Request) {
	s.metrics.rejectedOverload.Add(1)
	noted := r.WithContext(r.Context())
	noted.Pattern = overloadRoute
	httpx.NoteRoute(noted, "")
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, fhir.Prefix) {
		s.fail(retryAfterWriter{w}, r, registry.Errorf(registry.EUNAVAILABLE, "Haven is busy; try again in a moment."))
		return
	}
	h := w.Header()
	h.Set("Retry-After", overloadRetryAfter)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, busyText)
}

// retryAfterWriter sets the overload's Retry-After when the header is
// written, over the longer one that the API and FHIR error writers give
// every unavailable error (a dependency that is not ready).
type retryAfterWriter struct{ http.ResponseWriter }

func (w retryAfterWriter) WriteHeader(code int) {
	w.Header().Set("Retry-After", overloadRetryAfter)
	w.ResponseWriter.WriteHeader(code)
}

func (w retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServedWithin reports whether a request other than health checks,
// metrics and nodes' sync ended within d: people are being served.
func (s *Server) ServedWithin(d time.Duration) bool {
	return time.Since(time.Unix(0, s.lastServed.Load())) < d
}

// TrimWhenIdle gives memory back to the operating system once requests have
// stopped for idle after a burst: Go's runtime returns freed heap only
// gradually, so a clinic laptop would otherwise carry a burst's peak for
// minutes. It forces one collection per idle period, never while requests
// are in flight, and returns when ctx ends.
func (s *Server) TrimWhenIdle(ctx context.Context, idle time.Duration) {
	t := time.NewTicker(idle / 2)
	defer t.Stop()
	var trimmed int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		last := s.lastServed.Load()
		if last == trimmed || len(s.inFlight) > 0 || time.Since(time.Unix(0, last)) < idle {
			continue
		}
		debug.FreeOSMemory()
		trimmed = last
	}
}
