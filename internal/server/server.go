// Package server is Haven's HTTP surface. routes.go lists every route in
// one place: the JSON API (package api), each with the clinic action it
// calls, whose permission gives its roles and whether it works while the
// vault is sealed; and the web pages (package web), each with its roles,
// whether it works while sealed and the page a form comes back to. Anything
// not listed is denied. The server also holds what every route shares: the
// request log, panic recovery, security headers, the bearer middleware of
// the API, and the health, readiness, metrics and OpenAPI endpoints.
//
// It decodes, calls and encodes; the clinic actions enforce roles, site
// scope, purpose, rate limits and audit again for every transport.
package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/iis"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/api"
	"github.com/haven-registry/haven/internal/server/fhir"
	"github.com/haven-registry/haven/internal/server/httpx"
	"github.com/haven-registry/haven/internal/server/web"
)

// Deps are what the server is built from. Service is required.
type Deps struct {
	Logger *slog.Logger
	// Service holds every action; the server only decodes, calls and
	// encodes.
	Service *clinic.Service
	// SecureCookies marks session cookies Secure even when the request
	// reached Haven without TLS: set it behind a proxy that terminates TLS.
	SecureCookies bool
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client (for rate limits and lockouts); a request from any other peer
	// is taken to come from that peer, whatever its headers say.
	TrustedProxies []netip.Prefix
	// FHIRBaseURL is the base URL of the FHIR API as clients see it (for
	// fullUrl and Location behind a proxy); empty means the request's own.
	FHIRBaseURL string
	// MaxInFlight bounds the requests served at once; beyond it a request
	// is refused at once with 503 and Retry-After (health, readiness and
	// metrics excepted). Zero or less means DefaultMaxInFlight.
	MaxInFlight int
	// HL7Facility names Haven in the MSH-4 of its HL7 replies (default
	// HAVEN).
	HL7Facility string
	// Sync configures the sync routes of offline clinic nodes.
	Sync api.SyncOptions
}

// Server serves Haven's HTTP API and web pages. Create it with New.
type Server struct {
	logger         *slog.Logger
	svc            *clinic.Service
	metrics        *metrics
	api            *api.API
	fhir           *fhir.Handler
	hl7            *iis.Handler
	web            *web.App
	handler        http.Handler
	secureCookies  bool
	trustedProxies []netip.Prefix
	inFlight       chan struct{} // a slot per request being served; see limitInFlight
	lastServed     atomic.Int64  // when the last bounded request ended (Unix ns); see TrimWhenIdle
}

// New returns a Server wired to deps.
func New(deps Deps) *Server {
	s := &Server{logger: deps.Logger, svc: deps.Service, metrics: newMetrics(), secureCookies: deps.SecureCookies,
		trustedProxies: deps.TrustedProxies}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.api = api.New(s.svc, s.logger)
	s.api.SetSync(deps.Sync)
	s.fhir = fhir.New(s.svc, fhir.Options{Logger: s.logger, Evaluator: s.svc, BaseURL: deps.FHIRBaseURL})
	s.hl7 = iis.NewHandler(s.svc, s.logger, deps.HL7Facility)
	s.web = web.New(web.Deps{Logger: s.logger, Service: s.svc, NotFound: s.notFound()})
	s.handler = s.requestLog(s.recoverPanics(securityHeaders(s.limitInFlight(deps.MaxInFlight, s.mux()))))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// notFound answers a request that no route matches, in the API's error
// shape.
func (s *Server) notFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.api.Error(w, r, registry.Errorf(registry.ENOTFOUND, "No such route."))
	})
}

// statusWriter records the status code for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestLog logs one line per request: route pattern (never the path, which
// holds card codes), status, duration, request ID and actor token ID. It
// never logs bodies, query strings or client addresses.
func (s *Server) requestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		ctx := httpx.WithRequestID(r.Context(), id)
		ctx = httpx.WithClientAddr(ctx, httpx.ClientOf(r, s.trustedProxies))
		// The route and the token are noted by the handler (authorize, or
		// the page wrapper) so that the log line can name them.
		note := &httpx.Note{}
		ctx = httpx.WithNote(ctx, note)
		if s.secureCookies {
			ctx = httpx.WithSecureCookies(ctx)
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		elapsed := time.Since(start)
		route := note.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.metrics.observe(route, sw.status, elapsed)
		s.logger.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", id), slog.String("route", route), slog.Int("status", sw.status),
			slog.Duration("duration", elapsed), slog.String("actor", note.Actor))
	})
}

// securityHeaders sets headers that every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "interest-cohort=()")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic in a handler into a 500 so that one bad request
// never takes the server down.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("panic in handler", slog.String("route", r.Pattern), slog.Any("panic", v))
				s.api.Error(w, r, registry.Errorf(registry.EINTERNAL, "Internal error."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
