package iis

import (
	"context"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/mllp"
	"github.com/haven-registry/haven/internal/registry"
)

// MLLP adapts a Handler to the MLLP listener. MLLP has no bearer header, so
// each message carries its token in MSH-8 (Security), the field HL7 sets
// aside for it, over TLS; the listener may also require a client
// certificate. A missing or unknown token is rejected (AR, 207) and counts
// against the client address like a failed sign-in.
type MLLP struct{ H *Handler }

// ServeMLLP implements mllp.Handler.
func (x MLLP) ServeMLLP(ctx context.Context, peer mllp.Peer, msg []byte) []byte {
	h := x.H
	m, err := hl7.ParseMessage(msg)
	if err != nil {
		return h.reply(nil, hl7.Errors{hl7.FromError(err, hl7.Location{})})
	}
	if m.Err != nil {
		return h.reply(m.Header(), hl7.Errors{*m.Err})
	}
	addr := peer.Addr.Addr().String()
	secret := ""
	if msh := m.Find("MSH", 1); msh != nil {
		secret = msh.Field(8).Text()
	}
	tok, err := h.svc.SignIn(ctx, addr, secret)
	if err != nil {
		e := hl7.Error{Location: hl7.Location{Segment: "MSH", Seq: 1, Field: 8}, Code: hl7.CodeInternal,
			Severity: hl7.SeverityError, Message: "MSH-8 must hold a valid Haven token."}
		if registry.ErrorCode(err) == registry.ERATELIMITED {
			e.Message = "Too many failed attempts from this address; wait a minute."
		}
		return h.reply(m.Header(), hl7.Errors{e})
	}
	return h.HandleMessage(ctx, clinic.TokenActor(tok, addr), m)
}
