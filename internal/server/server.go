// Package server is Haven's HTTP surface: the JSON API under /api/v1, the
// health and metrics endpoints, and (later) the HTML pages. routes.go lists
// every route with the roles it admits; everything not listed is denied.
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
)

// Deps are the services the server is built from. All are required unless
// marked optional.
type Deps struct {
	Logger  *slog.Logger
	Store   registry.Store
	Vault   registry.Vault
	Catalog *catalog.Catalog
	// Now is the clock; it defaults to time.Now.
	Now func() time.Time
	// Keys seals and unlocks the vault at run time (optional).
	Keys KeyControl
	// AuditLog is read by the auditor routes; it defaults to the store if
	// the store implements it.
	AuditLog AuditLog
	// AuditKey verifies the log's signed checkpoints (optional).
	AuditKey ed25519.PublicKey
	// Policy decides eligibility (optional: without it the route answers
	// 503).
	Policy *policy.Engine
	// Certs issues and verifies certificates (optional).
	Certs Certs
	// SecureCookies marks session cookies Secure even when the request
	// reached Haven without TLS: set it behind a proxy that terminates TLS.
	SecureCookies bool
	// StatsNoise adds noise to the coverage tables (optional).
	StatsNoise StatsNoise
	// Schedule names the schedule used to evaluate recorded doses and by
	// default for forecasts: cdc, who or cn. Empty means who.
	Schedule string
}

// cacheTTL bounds how long a token or site read from the store is reused.
const cacheTTL = 15 * time.Second

// Server serves Haven's HTTP API. Create it with New.
type Server struct {
	logger  *slog.Logger
	store   registry.Store
	vault   registry.Vault
	catalog *catalog.Catalog
	now     func() time.Time
	metrics *metrics
	handler http.Handler
	tokens  *ttlCache[*registry.Token] // by secret hash
	sites   *ttlCache[*registry.Site]  // by code

	statsNoise      StatsNoise
	secureCookies   bool
	certs           Certs
	policy          *policy.Engine
	defaultSchedule string

	keys     KeyControl
	auditLog AuditLog
	auditKey ed25519.PublicKey

	// Rate limits, in memory only: lookups per token and per client
	// address, and holder sign-ins per address.
	lookupByToken, lookupByAddr, holderLimit *limiter
}

// New returns a Server wired to deps.
func New(deps Deps) *Server {
	s := &Server{logger: deps.Logger, store: deps.Store, vault: deps.Vault, catalog: deps.Catalog, now: deps.Now, metrics: newMetrics(),
		tokens: newTTLCache[*registry.Token](cacheTTL, 10000), sites: newTTLCache[*registry.Site](cacheTTL, 10000)}
	if s.now == nil {
		s.now = time.Now
	}
	s.keys, s.auditLog, s.auditKey = deps.Keys, deps.AuditLog, deps.AuditKey
	s.policy, s.defaultSchedule, s.statsNoise, s.certs = deps.Policy, deps.Schedule, deps.StatsNoise, deps.Certs
	s.secureCookies = deps.SecureCookies
	if s.defaultSchedule == "" {
		s.defaultSchedule = "who"
	}
	if s.auditLog == nil {
		s.auditLog, _ = deps.Store.(AuditLog)
	}
	s.lookupByToken, s.lookupByAddr, s.holderLimit = newLimiter(120, 60), newLimiter(240, 120), newLimiter(10, 5)
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.authorize(rt.Roles, rt.Handler))
	}
	// The HTML pages authenticate with a session cookie and check roles
	// themselves (see web.go).
	for _, rt := range s.webRoutes() {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	mux.Handle("/", s.notFound())
	s.handler = s.requestLog(s.recoverPanics(securityHeaders(s.sealedGate(mux))))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) notFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, registry.Errorf(registry.ENOTFOUND, "No such route."))
	})
}

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxToken
)

func requestID(ctx context.Context) string { id, _ := ctx.Value(ctxRequestID).(string); return id }

// tokenFrom returns the authenticated token of the request, or nil on public
// routes.
func tokenFrom(ctx context.Context) *registry.Token {
	t, _ := ctx.Value(ctxToken).(*registry.Token)
	return t
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
		start := s.now()
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), ctxRequestID, id)
		// The token is filled in by authorize through this holder so that
		// the log line can name the actor.
		holder := &actorHolder{}
		ctx = context.WithValue(ctx, ctxActor, holder)
		if s.secureCookies {
			ctx = context.WithValue(ctx, ctxSecure, true)
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		elapsed := s.now().Sub(start)
		route := holder.pattern
		if route == "" {
			route = "unmatched"
		}
		s.metrics.observe(route, sw.status, elapsed)
		s.logger.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", id), slog.String("route", route), slog.Int("status", sw.status),
			slog.Duration("duration", elapsed), slog.String("actor", holder.actor))
	})
}

const (
	ctxActor ctxKey = 100 + iota
	ctxSecure
)

// cookieSecure reports whether cookies set in answer to r must be Secure:
// when r came over TLS, or the server is configured as behind a TLS proxy.
func cookieSecure(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(ctxSecure) != nil
}

type actorHolder struct{ actor, pattern string }

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
				s.writeError(w, r, registry.Errorf(registry.EINTERNAL, "Internal error."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
