package server

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// maxHL7Body bounds a body of HL7 messages (internal/hl7's own limit).
const maxHL7Body = 16 << 20

// handleHL7 is POST /api/v1/hl7: one or more HL7 v2 messages (or a batch)
// in the ER7 encoding, answered with one ACK or RSP each, framed as the
// request was. The HTTP status is 200 whenever the body was read, whatever
// the acknowledgment codes say: they are the answer (as with MLLP).
func (s *Server) handleHL7() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || (ct != "application/hl7-v2" && ct != "x-application/hl7-v2+er7" && ct != "application/edi-hl7") {
			s.fail(w, r, registry.FieldErrorf(registry.EMALFORMED, "Content-Type",
				"The body must be HL7 v2 messages: Content-Type application/hl7-v2 or x-application/hl7-v2+er7."))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHL7Body))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			s.fail(w, r, registry.FieldErrorf(registry.ETOOLARGE, "body", "The body is larger than 16 MiB; send fewer messages at a time."))
			return
		case err != nil:
			s.fail(w, r, registry.FieldErrorf(registry.EMALFORMED, "body", "The body could not be read."))
			return
		}
		reply := s.hl7.Handle(r.Context(), httpx.ActorOf(r.Context()), body)
		w.Header().Set("Content-Type", "application/hl7-v2; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(reply)
	})
}
