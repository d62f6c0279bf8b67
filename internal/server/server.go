// Package server is Haven's HTTP surface: the JSON API under /api/v1, the
// health and metrics endpoints, and (later) the HTML pages. routes.go lists
// every route with the roles it admits; everything not listed is denied.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
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
}

// Server serves Haven's HTTP API and web pages. Create it with New.
type Server struct {
	logger        *slog.Logger
	svc           *clinic.Service
	metrics       *metrics
	handler       http.Handler
	secureCookies bool
}

// New returns a Server wired to deps.
func New(deps Deps) *Server {
	s := &Server{logger: deps.Logger, svc: deps.Service, metrics: newMetrics(), secureCookies: deps.SecureCookies}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.authorize(permissionOf(rt.Action), rt.Handler))
	}
	// The HTML pages authenticate with a session cookie and check roles
	// themselves (see web.go).
	for _, rt := range s.webRoutes() {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	mux.Handle("/", s.notFound())
	s.handler = s.requestLog(s.recoverPanics(securityHeaders(mux)))
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
	ctxClinicActor
)

func requestID(ctx context.Context) string { id, _ := ctx.Value(ctxRequestID).(string); return id }

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
		elapsed := time.Since(start)
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
