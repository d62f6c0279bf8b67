package server

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

type registryRole = registry.Role

// authorize admits a request to a route with permission p: a public route
// gets an anonymous actor; any other needs a bearer token whose role p
// admits. Missing or unknown tokens get 401; a known token of another role
// gets 403; a route that does not work while sealed gets 503 sealed. The
// action checks all of this again from the same table: this only answers
// before the body is read.
func (s *Server) authorize(p clinic.Permission, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		holder, _ := r.Context().Value(ctxActor).(*actorHolder)
		if holder != nil {
			holder.pattern = r.Pattern
		}
		if !p.WhileSealed && s.svc.Sealed() {
			s.writeError(w, r, registry.Errorf(registry.ESEALED, "Haven is sealed; an administrator must unlock it."))
			return
		}
		actor := clinic.Anonymous(clientAddr(r))
		if !p.Public() {
			secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				s.writeError(w, r, registry.FieldErrorf(registry.EUNAUTHORIZED, "Authorization", "A bearer token is required."))
				return
			}
			tok, err := s.svc.Authenticate(r.Context(), secret)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if holder != nil {
				holder.actor = tok.ID
			}
			if !p.Admits(tok.Role) {
				s.writeError(w, r, registry.Errorf(registry.EFORBIDDEN, "The %s role may not use this route.", tok.Role))
				return
			}
			actor = clinic.TokenActor(tok, clientAddr(r))
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxClinicActor, actor)))
	})
}

// api adapts an API handler that returns an error: the handler gets the
// request's actor, and an error is written in the API's error shape.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := r.Context().Value(ctxClinicActor).(clinic.Actor)
		if err := h(w, r, a); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// clientAddr is the request's peer address, used only in memory for rate
// limits; it is never logged or stored.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
