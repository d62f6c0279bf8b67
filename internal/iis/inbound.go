// Package iis connects Haven to immunization information systems over HL7
// v2.5.1 (the CDC implementation guide for immunization messaging, release
// 1.5). Inbound, Handler answers VXU^V04 with an ACK and QBP^Q11 (Z34, Z44)
// with an RSP^K11, for both transports that carry HL7: POST /api/v1/hl7 and
// the MLLP listener. Outbound, Feed sends each recorded dose to an upstream
// IIS as a VXU, from the durable outbox, in order.
//
// It decodes with internal/hl7, calls the clinic actions, and encodes: the
// actions enforce roles, site scope, validation, idempotency and the audit,
// as for every other transport. A VXU becomes one RecordHistory call, so a
// message is written all or nothing; a query becomes one ReadRecord or
// Overview call, audited like any read. People are found by card code only
// (PID-3 or QPD-3 with assigning authority HAVEN), never by name or birth
// date: a VXU without one registers a new pseudonymous person, whose card
// code the ACK returns.
//
// Nothing of a message is logged but its type, control ID, size and
// outcome.
package iis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

// Handler answers inbound HL7 v2 messages. Create it with NewHandler.
type Handler struct {
	svc    *clinic.Service
	logger *slog.Logger
	env    hl7.Envelope
	rules  hl7.Rules
}

// NewHandler returns a Handler calling svc. Facility names Haven in the
// replies' MSH-3/MSH-4 (empty: "HAVEN").
func NewHandler(svc *clinic.Service, logger *slog.Logger, facility string) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if facility == "" {
		facility = "HAVEN"
	}
	return &Handler{svc: svc, logger: logger,
		env: hl7.Envelope{SendingApplication: hl7.HD{Namespace: "HAVEN"}, SendingFacility: hl7.HD{Namespace: facility}}}
}

// Handle answers a body of one or more messages (or a batch) sent by actor,
// with one reply for each, framed as the request was. It never fails: an
// error in a message is an ACK (or RSP) with AE or AR naming the field.
//
// Messages about the same card code are handled one after another, in the
// order sent; the others (different cards, or new persons) are handled a
// few at a time, so that a batch's writes share the store's group commits.
// The replies keep the order of the messages.
func (h *Handler) Handle(ctx context.Context, a clinic.Actor, body []byte) []byte {
	batch, err := hl7.Parse(body)
	if err != nil {
		// The body as a whole is unreadable: one reject with no header.
		return h.reply(nil, hl7.Errors{hl7.FromError(err, hl7.Location{})})
	}
	replies := make([][]byte, len(batch.Messages))
	if len(batch.Messages) == 1 {
		replies[0] = h.message(ctx, a, batch.Messages[0])
		return hl7.NewBatch(batch, replies, h.envelope())
	}
	var (
		order []string
		runs  = map[string][]int{}
	)
	for i, m := range batch.Messages {
		key := cardOf(m)
		if key == "" {
			key = "#" + strconv.Itoa(i) // no card: a new person, or no person at all
		}
		if _, ok := runs[key]; !ok {
			order = append(order, key)
		}
		runs[key] = append(runs[key], i)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, batchConcurrency)
	for _, key := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(run []int) {
			defer func() { <-sem; wg.Done() }()
			for _, i := range run {
				replies[i] = h.message(ctx, a, batch.Messages[i])
			}
		}(runs[key])
	}
	wg.Wait()
	return hl7.NewBatch(batch, replies, h.envelope())
}

// batchConcurrency bounds the messages of one body handled at once.
const batchConcurrency = 8

// cardOf returns the Haven card code a message names (PID-3 or QPD-3 with
// assigning authority HAVEN), or "".
func cardOf(m *hl7.Message) string {
	for _, at := range []struct {
		seg   string
		field int
	}{{"PID", 3}, {"QPD", 3}} {
		s := m.Find(at.seg, 1)
		if s == nil {
			continue
		}
		f := s.Field(at.field)
		for r := 1; r <= min(f.Reps(), 100); r++ {
			cx := f.Rep(r)
			if strings.EqualFold(cx.Comp(4).Sub(1).Text(), hl7.HavenAuthority) || strings.EqualFold(cx.Comp(4).Text(), hl7.HavenAuthority) {
				return strings.ToUpper(cx.Comp(1).Text())
			}
		}
	}
	return ""
}

// HandleMessage answers one message (MLLP carries one per frame).
func (h *Handler) HandleMessage(ctx context.Context, a clinic.Actor, m *hl7.Message) []byte {
	return h.message(ctx, a, m)
}

func (h *Handler) envelope() hl7.Envelope {
	env := h.env
	env.Time = h.svc.Now()
	env.ControlID = registry.NewID().String()
	return env
}

func (h *Handler) reply(req *hl7.Header, errs hl7.Errors) []byte {
	b, err := hl7.NewACK(req, errs, h.envelope())
	if err != nil {
		h.logger.Error("hl7: writing an ACK failed", "error", err.Error())
	}
	return b
}

// message answers one message by its type.
func (h *Handler) message(ctx context.Context, a clinic.Actor, m *hl7.Message) []byte {
	start := time.Now()
	hdr := m.Header()
	var out []byte
	outcome := ""
	switch {
	case m.Err != nil:
		out, outcome = h.reply(hdr, hl7.Errors{*m.Err}), "AR"
	case hdr.Type.Code == "QBP":
		out, outcome = h.query(ctx, a, m)
	default:
		out, outcome = h.vxu(ctx, a, m)
	}
	// An accepted message is routine (the request log has it); a refused
	// one is what an operator looks for.
	level := slog.LevelInfo
	if outcome == "AA" || outcome == "NF" {
		level = slog.LevelDebug
	}
	h.logger.Log(ctx, level, "hl7 message", "type", hdr.Type.Code+"^"+hdr.Type.Event, "control_id", logSafe(hdr.ControlID),
		"ack", outcome, "took", time.Since(start))
	return out
}

// logSafe keeps a control ID printable and short for the log (it is the
// sender's message ID, not personal data).
func logSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// vxu records the doses of a VXU^V04, all or nothing, and acknowledges.
func (h *Handler) vxu(ctx context.Context, a clinic.Actor, m *hl7.Message) ([]byte, string) {
	v, errs := h.rules.ReadVXU(m)
	if errs.Fatal() {
		return h.reply(&v.Header, errs), string(errs.Ack())
	}
	in, cerrs := historyOf(v)
	errs = append(errs, cerrs...)
	if errs.Fatal() {
		return h.reply(&v.Header, errs), string(errs.Ack())
	}
	key := idempotencyKey(v.Header.ControlID)
	res, err := h.svc.RecordHistory(ctx, a, in, key)
	if err != nil {
		errs = append(errs, errorAt(err, v))
		return h.reply(&v.Header, errs), string(errs.Ack())
	}
	for _, w := range res.Warnings {
		loc := locationOf(w.Field, v)
		errs = append(errs, hl7.Error{Location: loc, Code: hl7.CodeAccepted, Severity: hl7.SeverityWarning, Message: w.Message})
	}
	if res.Registered || (res.Replayed && in.Card == "") {
		errs = append(errs, hl7.CardCodeAssigned(string(res.Card)))
	}
	return h.reply(&v.Header, errs), string(errs.Ack())
}

// idempotencyKey is the Idempotency-Key of a message: its control ID
// (MSH-10), as it is when it is short printable ASCII, else hashed (HL7
// allows spaces and any character there; keys may not hold them).
func idempotencyKey(controlID string) string {
	if controlID == "" {
		return ""
	}
	plain := len(controlID) <= 200
	for i := 0; plain && i < len(controlID); i++ {
		plain = controlID[i] > 0x20 && controlID[i] < 0x7f
	}
	if plain {
		return "hl7:" + controlID
	}
	sum := sha256.Sum256([]byte(controlID))
	return "hl7#" + hex.EncodeToString(sum[:])
}

// errorAt turns an actions-layer error into an ERR at the field it names.
func errorAt(err error, v *hl7.VXU) hl7.Error {
	return hl7.FromError(err, locationOf(registry.ErrorField(err), v))
}

// locationOf maps a field path of clinic.HistoryInput
// ("vaccinations[2].date", "person.birth_date", "card_code") to the HL7
// location it came from.
func locationOf(field string, v *hl7.VXU) hl7.Location {
	switch {
	case field == "card_code":
		return hl7.PatientFieldLocation("card_code")
	case strings.HasPrefix(field, "person."):
		return hl7.PatientFieldLocation(strings.TrimPrefix(field, "person."))
	case strings.HasPrefix(field, "vaccinations["):
		rest := strings.TrimPrefix(field, "vaccinations[")
		n, sub, _ := strings.Cut(rest, "]")
		i := atoi(n)
		if i < 0 || i >= len(v.Administrations) {
			return hl7.Location{}
		}
		return v.Administrations[i].FieldLocation(strings.TrimPrefix(sub, "."))
	}
	return hl7.Location{}
}

func atoi(s string) int {
	n := 0
	if s == "" || len(s) > 6 {
		return -1
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// historyOf maps a VXU to a history batch. It reads only what Haven's person
// model keeps; the errors it returns are those of identifiers.
func historyOf(v *hl7.VXU) (clinic.HistoryInput, hl7.Errors) {
	var (
		in   clinic.HistoryInput
		errs hl7.Errors
	)
	p := &v.Patient
	if id, ok := p.Identifier(hl7.HavenAuthority); ok {
		card, err := registry.ParseCardCode(id.ID)
		if err != nil {
			errs = append(errs, hl7.Error{Location: hl7.PatientFieldLocation("card_code"), Code: hl7.CodeUnknownKey,
				Severity: hl7.SeverityError, Message: "PID-3 names an assigning authority HAVEN with an ID that is not a card code."})
			return in, errs
		}
		in.Card = card
	} else {
		in.Person = personOf(p)
	}
	in.Source = sourceOf(&v.Header)
	for i := range v.Administrations {
		in.Vaccinations = append(in.Vaccinations, vaccinationOf(&v.Administrations[i]))
	}
	return in, errs
}

// sourceOf names the sending system: MSH-4 (sending facility), else MSH-3.
func sourceOf(hdr *hl7.Header) string {
	for _, hd := range []hl7.HD{hdr.SendingFacility, hdr.SendingApplication} {
		if hd.Namespace != "" || hd.UniversalID != "" {
			return hd.Namespace + "^" + hd.UniversalID
		}
	}
	return ""
}

// personOf maps PID to a new person's fields: the first name (legal first
// when typed), the birth date, sex and the first phone number.
func personOf(p *hl7.Patient) clinic.PersonInput {
	var in clinic.PersonInput
	if len(p.Names) > 0 {
		n := p.Names[0]
		for _, x := range p.Names {
			if x.Type == "L" {
				n = x
				break
			}
		}
		in.FamilyName = n.Family
		in.GivenName = strings.TrimSpace(n.Given + " " + n.Middle)
	}
	in.BirthDate = p.BirthDate.String()
	switch p.Sex {
	case "F":
		in.Sex = string(registry.SexFemale)
	case "M":
		in.Sex = string(registry.SexMale)
	case "O", "A":
		in.Sex = string(registry.SexOther)
	case "U", "N":
		in.Sex = string(registry.SexUnknown)
	}
	if len(p.Phones) > 0 {
		in.Phone = p.Phones[0].String()
	}
	return in
}

// LOINC codes of the observations that say why a dose was not given.
const (
	loincContraindication = "30945-0" // vaccination contraindication and/or precaution
	loincImmunity         = "59784-9" // disease with presumed immunity
)

// vaccinationOf maps one ORC/RXA group.
func vaccinationOf(a *hl7.Administration) clinic.HistoryVaccination {
	hv := clinic.HistoryVaccination{CVX: a.CVX, MVX: a.MVX, Date: a.Date.String(), Lot: a.Lot}
	if a.FillerOrder.ID != "" {
		hv.Key = a.FillerOrder.ID + "^" + a.FillerOrder.Namespace
	}
	switch a.InfoSource {
	case "", "00":
		hv.Source = string(registry.SourceAdministered)
		hv.Site = a.Facility
	case "03": // from the parent's written record
		hv.Source = string(registry.SourceHistoricalCard)
	case "04": // from the parent's recall
		hv.Source = string(registry.SourceSelfReport)
	default: // another provider, registry, birth certificate, school or agency
		hv.Source = string(registry.SourceHistoricalRecord)
	}
	switch a.Action {
	case hl7.ActionDelete:
		hv.Delete = true
	case hl7.ActionUpdate:
		hv.Update = true
	}
	if a.Completion == hl7.Refused || a.Completion == hl7.NotAdministered || a.CVX == hl7.CVXNotAdministered {
		hv.NotGiven = true
		switch {
		case a.Completion == hl7.Refused:
			hv.Reason = registry.ReasonPatientObjection
		case hasObservation(a, loincImmunity):
			hv.Reason = registry.ReasonImmune
		case hasObservation(a, loincContraindication):
			hv.Reason = registry.ReasonMedicalPrecaution
		}
	}
	hv.Payment = paymentOf(a)
	return hv
}

func hasObservation(a *hl7.Administration, loinc string) bool {
	for _, o := range a.Observations {
		if o.Code.In("LN") == loinc || o.Code.Code == loinc {
			return true
		}
	}
	return false
}

// paymentOf maps the funding observations: public funding (VFC eligibility
// V02-V07, or a public funding source) is free; private funds are paid, the
// amount unknown. Anything else leaves the default (free).
func paymentOf(a *hl7.Administration) *registry.Payment {
	switch a.FundingSource.Code {
	case "VXC1", "VXC2", "VXC3", "VXC50", "VXC51", "VXC52":
		return &registry.Payment{Kind: "free"}
	case "PHC70":
		return &registry.Payment{Kind: "paid"}
	}
	switch a.FundingEligibility.Code {
	case "V02", "V03", "V04", "V05", "V06", "V07":
		return &registry.Payment{Kind: "free"}
	}
	return nil
}
