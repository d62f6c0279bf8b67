package fhir

import (
	"net/http"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

// patientFields names Patient read's fields.
var patientFields = fields{"card_code": "Patient.id", "purpose": "http.purpose"}

// patientOf is the pseudonymous Patient of a record: card code, gender and
// birth date, never a name or a phone number (see the package comment).
func patientOf(p registry.Person) Patient {
	d := p.Demographics
	out := Patient{ResourceType: "Patient", ID: string(p.CardCode),
		Identifier: []Identifier{{System: CardSystem, Value: string(p.CardCode)}},
		Gender:     string(d.Sex), BirthDate: d.BirthDate.String()}
	if d.BirthDateEstimated && !d.BirthDate.IsZero() {
		out.Extension = []Extension{{URL: BirthDateEstimatedExtension, ValueBoolean: ptr(true)}}
	}
	return out
}

// PatientRead reads the Patient with the card code {card} (clinic
// ReadRecord, purpose care).
func (h *Handler) PatientRead() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		card, err := registry.ParseCardCode(r.PathValue("card"))
		if err != nil {
			return patientFields.fhirError(err)
		}
		rec, err := h.svc.ReadRecord(r.Context(), a, card, "care")
		if err != nil {
			return patientFields.fhirError(err)
		}
		write(w, r, http.StatusOK, patientOf(rec.Person))
		return nil
	})
}

// PatientSearch answers a Patient search by identifier (the card code) with
// a searchset of that one Patient, or an empty one when no person has the
// card (clinic ReadRecord, purpose care). Every other parameter (name,
// birthdate, phone…) is refused before anything is read.
func (h *Handler) PatientSearch() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		q, err := searchQuery(r, "identifier")
		if err != nil {
			return err
		}
		if q.Get("identifier") == "" {
			return registry.FieldErrorf(registry.EINVALID, "http.identifier", "Search by the person's card code: identifier=%s|CARD.", CardSystem)
		}
		card, err := cardToken("identifier", q.Get("identifier"))
		if err != nil {
			return err
		}
		var entries []BundleEntry
		rec, err := h.svc.ReadRecord(r.Context(), a, card, "care")
		switch {
		case registry.ErrorCode(err) == registry.ENOTFOUND:
		case err != nil:
			return fields{"card_code": "http.identifier"}.fhirError(err)
		default:
			entries = append(entries, match(h.baseURL(r)+"/Patient/"+string(card), patientOf(rec.Person)))
		}
		write(w, r, http.StatusOK, h.searchset(r, entries))
		return nil
	})
}
