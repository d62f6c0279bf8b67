package server

import (
	"crypto/sha256"
	"net/http"

	"github.com/haven-registry/haven/internal/registry"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// idempotencyFor returns the idempotency entry for a POST, or nil if the
// client sent no Idempotency-Key. The request hash covers method, path and
// body, so reusing a key for another request is detected.
func (s *Server) idempotencyFor(r *http.Request, kind string, body []byte) (*registry.Idempotency, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return nil, nil
	}
	if len(key) > maxIdempotencyKey {
		return nil, registry.FieldErrorf(registry.EINVALID, "Idempotency-Key", "The key is longer than %d bytes.", maxIdempotencyKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return nil, registry.FieldErrorf(registry.EINVALID, "Idempotency-Key", "The key must be printable ASCII without spaces.")
		}
	}
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	return &registry.Idempotency{Scope: tokenFrom(r.Context()).ID, Key: key, RequestHash: h.Sum(nil), Kind: kind,
		CreatedAt: s.stamp()}, nil
}

// replay answers a retried request with the resource its first attempt
// created, rendered as the first response was.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, prev *registry.Idempotency) {
	w.Header().Set("Idempotent-Replayed", "true")
	ctx := r.Context()
	switch prev.Kind {
	case "person":
		rec, err := s.openRecord(ctx, registry.CardCode(prev.ResourceID))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusCreated, s.personOut(rec, true))
	case "vaccination", "test", "correction":
		id, err := registry.ParseID(prev.ResourceID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.renderRecord(w, r, id)
	case "site":
		site, err := s.store.FindSite(ctx, prev.ResourceID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusCreated, siteOut(*site))
	default:
		s.writeError(w, r, registry.Errorf(registry.EINTERNAL, "Unknown idempotency kind %q.", prev.Kind))
	}
}

// renderRecord writes the vaccination or test with the given ID as a 201.
// A vaccination recorded through a person's card is answered with its
// evaluation, as when it was first recorded.
func (s *Server) renderRecord(w http.ResponseWriter, r *http.Request, id registry.ID) {
	ctx := r.Context()
	if v, err := s.store.FindVaccination(ctx, id); err == nil {
		code, cerr := cardFrom(r)
		person, perr := s.store.FindPerson(ctx, code)
		if cerr != nil || perr != nil || r.PathValue("id") != "" {
			encode(w, http.StatusCreated, s.vaccinationOut(*v))
			return
		}
		s.vaccinationCreated(w, r, person, *v)
		return
	}
	t, err := s.store.FindTest(ctx, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusCreated, testOut(*t))
}
