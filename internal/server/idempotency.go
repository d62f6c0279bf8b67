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
// created, rendered as the first response was. A replay reads a record, so
// it is audited like any read before anything is returned.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, prev *registry.Idempotency) {
	w.Header().Set("Idempotent-Replayed", "true")
	ctx := r.Context()
	switch prev.Kind {
	case "person":
		rec, err := s.readRecord(r, registry.CardCode(prev.ResourceID), "person.replay", "care")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusCreated, s.personOut(rec, true))
	case "vaccination":
		id, err := registry.ParseID(prev.ResourceID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		v, err := s.store.FindVaccination(ctx, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		code, err := cardFrom(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		person, err := s.store.FindPerson(ctx, code)
		if err == nil {
			err = s.auditRead(r, person.ID, "vaccination.replay")
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.vaccinationCreated(w, r, person, *v)
	case "test", "correction":
		id, err := registry.ParseID(prev.ResourceID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.renderRecord(w, r, id, prev.Kind+".replay")
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

// auditRead appends a read of the person with the given ID to the access
// log.
func (s *Server) auditRead(r *http.Request, personID registry.ID, action string) error {
	subject, err := s.subjectOf(personID)
	if err != nil {
		return err
	}
	return s.store.AppendAudit(r.Context(), *s.auditFor(r, action, "care", subject))
}

// renderRecord writes the vaccination or test with the given ID as a 201.
// When action is set, the read is audited first.
func (s *Server) renderRecord(w http.ResponseWriter, r *http.Request, id registry.ID, action string) {
	ctx := r.Context()
	var (
		out      any
		personID registry.ID
	)
	if v, err := s.store.FindVaccination(ctx, id); err == nil {
		out, personID = s.vaccinationOut(*v), v.PersonID
	} else {
		t, err := s.store.FindTest(ctx, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out, personID = testOut(*t), t.PersonID
	}
	if action != "" {
		if err := s.auditRead(r, personID, action); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	encode(w, http.StatusCreated, out)
}
