// Package httpx holds what Haven's two HTTP transports, the JSON API
// (package api) and the web pages (package web), both need: the values the
// server's middleware puts in a request's context, the client address, the
// HTTP status of each application error code, and the readers of the path
// and query values both use.
//
// It keeps no state. The context carries only request-scoped values: the
// request ID, the note the request log reads, the actor admitted by the
// server's bearer middleware, and whether cookies must be Secure. Each is
// set by package server before a handler runs; a getter returns the zero
// value when it is absent, so a handler called without the middleware (in
// a test) sees an anonymous request with no ID.
package httpx

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyNote
	keyActor
	keySecure
	keyClient
)

// WithRequestID returns ctx carrying the request's ID, which the answer's
// X-Request-Id header and every log line about the request show.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, keyRequestID, id)
}

// RequestID is the ID of the request that ctx belongs to, or "".
func RequestID(ctx context.Context) string { id, _ := ctx.Value(keyRequestID).(string); return id }

// Note is what the request log learns from the handler that served a
// request: the route pattern (never the path, which may hold a card code)
// and the ID of the token that asked. The request log puts an empty Note in
// the context and reads it when the handler returns.
type Note struct{ Pattern, Actor string }

// WithNote returns ctx carrying n, to be filled in by NoteRoute.
func WithNote(ctx context.Context, n *Note) context.Context {
	return context.WithValue(ctx, keyNote, n)
}

// NoteRoute records in the request's Note the pattern that matched r and,
// when actor is not empty, the ID of the token that asked. It does nothing
// for a request without a Note.
func NoteRoute(r *http.Request, actor string) {
	n, _ := r.Context().Value(keyNote).(*Note)
	if n == nil {
		return
	}
	n.Pattern = r.Pattern
	if actor != "" {
		n.Actor = actor
	}
}

// WithActor returns ctx carrying the actor the server's bearer middleware
// admitted to an API route.
func WithActor(ctx context.Context, a clinic.Actor) context.Context {
	return context.WithValue(ctx, keyActor, a)
}

// ActorOf is the actor admitted to the request, or the zero Actor (which
// the clinic actions treat as anonymous) when there is none.
func ActorOf(ctx context.Context) clinic.Actor { a, _ := ctx.Value(keyActor).(clinic.Actor); return a }

// WithSecureCookies returns ctx marking every cookie set in answer to the
// request Secure, as configured behind a proxy that terminates TLS.
func WithSecureCookies(ctx context.Context) context.Context {
	return context.WithValue(ctx, keySecure, true)
}

// CookieSecure reports whether cookies set in answer to r must be Secure:
// when r came over TLS, or the server is configured as behind a TLS proxy.
func CookieSecure(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(keySecure) != nil
}

// ClientAddr is the request's client address, used only in memory for rate
// limits; it is never logged or stored. It is the one the server's
// middleware found (see ClientOf), or else the TCP peer.
func ClientAddr(r *http.Request) string {
	if a, ok := r.Context().Value(keyClient).(string); ok {
		return a
	}
	return peerOf(r)
}

// WithClientAddr notes the request's client address for ClientAddr.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, keyClient, addr)
}

func peerOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ClientOf returns the address of the client that sent r. When the TCP
// peer is one of the trusted proxies, the client is the nearest address in
// X-Forwarded-For that is not itself a trusted proxy (read from the right,
// so that a client cannot forge its way past the proxy); otherwise the peer
// itself, whatever the headers say.
func ClientOf(r *http.Request, trusted []netip.Prefix) string {
	peer := peerOf(r)
	if len(trusted) == 0 || !inAny(peer, trusted) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	var addrs []string
	for _, h := range hops {
		for _, a := range strings.Split(h, ",") {
			addrs = append(addrs, strings.TrimSpace(a))
		}
	}
	for i := len(addrs) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(addrs[i])
		if err != nil {
			return peer // a malformed hop: trust nothing beyond the proxy
		}
		if !inAny(ip.String(), trusted) {
			return ip.Unmap().String()
		}
	}
	return peer
}

func inAny(addr string, prefixes []netip.Prefix) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// StatusOf maps an application error code to an HTTP status. A code it does
// not know, EINTERNAL included, is 500.
func StatusOf(code string) int {
	switch code {
	case registry.EINVALID, registry.EIDEMPOTENCY:
		return http.StatusUnprocessableEntity
	case registry.EMALFORMED:
		return http.StatusBadRequest
	case registry.ENOTFOUND:
		return http.StatusNotFound
	case registry.ECONFLICT, "sync_behind":
		return http.StatusConflict
	case registry.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case registry.EFORBIDDEN:
		return http.StatusForbidden
	case registry.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case registry.ERATELIMITED:
		return http.StatusTooManyRequests
	case registry.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case registry.ESEALED, registry.EUNAVAILABLE, registry.ESTALESCHEMA:
		return http.StatusServiceUnavailable
	case registry.EDISKFULL:
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

// CardFrom reads the {card} path value. Returns EINVALID if it is not a
// well-formed card code.
func CardFrom(r *http.Request) (registry.CardCode, error) {
	return registry.ParseCardCode(r.PathValue("card"))
}

// DateParam reads the optional YYYY-MM-DD query parameter name, or def when
// it is absent. Returns EINVALID naming the parameter if it is malformed.
func DateParam(r *http.Request, name string, def registry.Date) (registry.Date, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	d, err := registry.ParseDate(v)
	if err != nil {
		return d, registry.FieldErrorf(registry.EINVALID, name, "%v.", err)
	}
	return d, nil
}
