package server

import (
	"net/http"
	"slices"

	"github.com/haven-registry/haven/internal/registry"
)

// Purposes a vaccinator may give for looking up a record. The list is short
// and fixed so that it can be audited; there is no free text.
var lookupPurposes = []string{"care", "certificate", "correction", "forecast"}

// lookupPurpose reads the mandatory ?purpose= of a vaccinator's lookup.
func lookupPurpose(r *http.Request) (string, error) {
	p := r.URL.Query().Get("purpose")
	if !slices.Contains(lookupPurposes, p) {
		return "", registry.FieldErrorf(registry.EINVALID, "purpose",
			"Say why you are looking up this record: purpose must be one of care, certificate, correction, forecast.")
	}
	return p, nil
}

// auditFor builds the access-log record of a request made with a token.
// subject is a person's pseudonym or an object reference, never a card code.
func (s *Server) auditFor(r *http.Request, action, purpose, subject string) *registry.AuditRecord {
	rec := &registry.AuditRecord{Time: s.now(), Actor: "anonymous", Role: "none", Action: action, Purpose: purpose, Subject: subject}
	if tok := tokenFrom(r.Context()); tok != nil {
		rec.Actor, rec.Role = tok.ID, string(tok.Role)
	}
	return rec
}

// subjectOf returns the audit pseudonym of a person.
func (s *Server) subjectOf(id registry.ID) (string, error) {
	return s.vault.Pseudonym(id.String())
}
