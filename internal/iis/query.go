package iis

import (
	"context"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

// query answers a QBP^Q11 by card code: Z34 with the person's doses (a read
// for care), Z44 with their evaluation and forecast too (a read for a
// forecast). Both are audited by the actions like any read. A query that
// names no card code Haven knows gets the guide's "no match" (Z33, NF):
// Haven never looks anyone up by name or birth date.
func (h *Handler) query(ctx context.Context, a clinic.Actor, m *hl7.Message) ([]byte, string) {
	q, errs := h.rules.ReadQBP(m)
	env := h.envelope()
	fail := func(errs hl7.Errors) ([]byte, string) {
		b, err := hl7.NewRSPError(q, errs, env)
		if err != nil {
			h.logger.Error("hl7: writing an RSP failed", "error", err.Error())
		}
		return b, string(errs.Ack())
	}
	if errs.Fatal() {
		return fail(errs)
	}
	notFound := func() ([]byte, string) {
		b, err := hl7.NewRSPNotFound(q, errs, env)
		if err != nil {
			h.logger.Error("hl7: writing an RSP failed", "error", err.Error())
		}
		return b, "NF"
	}
	id, ok := q.Identifier(hl7.HavenAuthority)
	if !ok {
		return notFound()
	}
	card, err := registry.ParseCardCode(id.ID)
	if err != nil {
		return notFound()
	}
	qpd3 := hl7.Location{Segment: "QPD", Seq: 1, Field: 3}
	var hist *hl7.History
	switch q.Profile {
	case hl7.ProfileQueryEval:
		ov, err := h.svc.Overview(ctx, a, card, "forecast", nil)
		if err != nil {
			if registry.ErrorCode(err) == registry.ENOTFOUND {
				return notFound()
			}
			return fail(append(errs, hl7.FromError(err, qpd3)))
		}
		hist = historyOfRecord(h.svc.Catalog(), ov.Record, ov.Forecast)
	default:
		rec, err := h.svc.ReadRecord(ctx, a, card, "care")
		if err != nil {
			if registry.ErrorCode(err) == registry.ENOTFOUND {
				return notFound()
			}
			return fail(append(errs, hl7.FromError(err, qpd3)))
		}
		hist = historyOfRecord(h.svc.Catalog(), rec, nil)
	}
	b, err := hl7.NewRSP(q, hist, env)
	if err != nil {
		return fail(append(errs, hl7.FromError(err, qpd3)))
	}
	return b, "AA"
}
