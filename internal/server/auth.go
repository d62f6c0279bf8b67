package server

import (
	"net/http"
	"strings"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/fhir"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// authorize admits a request to an API route with permission p: a public
// route gets an anonymous actor; any other needs a bearer token whose role p
// admits. Missing or unknown tokens get 401; a known token of another role
// gets 403; a route that does not work while sealed gets 503 sealed. The
// admitted actor is put in the request's context for the handler
// (httpx.ActorOf). The action checks all of this again from the same table:
// this only answers before the body is read.
func (s *Server) authorize(p clinic.Permission, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.NoteRoute(r, "")
		if !p.WhileSealed && s.svc.Sealed() {
			s.fail(w, r, registry.Errorf(registry.ESEALED, "Haven is sealed; an administrator must unlock it."))
			return
		}
		actor := clinic.Anonymous(httpx.ClientAddr(r))
		if !p.Public() {
			secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				s.fail(w, r, registry.FieldErrorf(registry.EUNAUTHORIZED, "Authorization", "A bearer token is required."))
				return
			}
			tok, err := s.svc.Authenticate(r.Context(), secret)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			httpx.NoteRoute(r, tok.ID)
			if !p.Admits(tok.Role) {
				s.fail(w, r, registry.Errorf(registry.EFORBIDDEN, "The %s role may not use this route.", tok.Role))
				return
			}
			actor = clinic.TokenActor(tok, httpx.ClientAddr(r))
		}
		next.ServeHTTP(w, r.WithContext(httpx.WithActor(r.Context(), actor)))
	})
}

// fail writes an error in the shape of the API the request is for: an
// OperationOutcome under the FHIR prefix, the JSON API's error elsewhere.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, fhir.Prefix) {
		s.fhir.Error(w, r, err)
		return
	}
	s.api.Error(w, r, err)
}
