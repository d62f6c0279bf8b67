package clinic

import (
	"context"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// PersonInput is what a clinic may record about a person. Every field is
// optional: Haven registers people who have no documents.
type PersonInput struct {
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	// GivenNameICAO and FamilyNameICAO are the machine-readable forms of the
	// names that certificates carry; when absent they are suggested from the
	// names as written (see SuggestNames).
	GivenNameICAO      *string `json:"given_name_icao"`
	FamilyNameICAO     *string `json:"family_name_icao"`
	BirthDate          string  `json:"birth_date"` // YYYY, YYYY-MM or YYYY-MM-DD
	BirthDateEstimated bool    `json:"birth_date_estimated"`
	Sex                string  `json:"sex"`
	Phone              string  `json:"phone"`
}

// demographics validates in against today and returns the demographics, or
// an error naming the first bad field.
func (in PersonInput) demographics(today registry.Date) (registry.Demographics, error) {
	d := registry.Demographics{BirthDateEstimated: in.BirthDateEstimated, Sex: registry.Sex(in.Sex)}
	var err error
	if d.GivenName, err = cleanText("given_name", in.GivenName, 100); err != nil {
		return d, err
	}
	if d.FamilyName, err = cleanText("family_name", in.FamilyName, 100); err != nil {
		return d, err
	}
	if b := strings.TrimSpace(in.BirthDate); b != "" {
		if d.BirthDate, err = registry.ParsePartialDate(b); err != nil {
			return d, fieldErr("birth_date", "%v.", err)
		}
		if d.BirthDate.Earliest().After(today) {
			return d, fieldErr("birth_date", "The birth date is in the future.")
		}
		if d.BirthDate.Year < 1900 {
			return d, fieldErr("birth_date", "The birth date is before 1900.")
		}
	} else if in.BirthDateEstimated {
		return d, fieldErr("birth_date_estimated", "An estimated birth date needs a birth_date.")
	}
	if !d.Sex.Valid() {
		return d, fieldErr("sex", "Sex must be female, male, other or unknown.")
	}
	if d.Phone, err = cleanText("phone", in.Phone, 32); err != nil {
		return d, err
	}
	for _, c := range d.Phone {
		if !(c >= '0' && c <= '9') && !strings.ContainsRune("+-() ", c) {
			return d, fieldErr("phone", "A phone number may hold only digits, spaces and + - ( ).")
		}
	}
	return d, nil
}

// demographicsAfter is demographics, with the machine-readable names filled
// in: as given, kept from prev while the name is unchanged, or suggested.
func (in PersonInput) demographicsAfter(today registry.Date, prev registry.Demographics) (registry.Demographics, error) {
	d, err := in.demographics(today)
	if err != nil {
		return d, err
	}
	return withICAO(d, prev, in.FamilyNameICAO, in.GivenNameICAO)
}

// Registered is the result of registering a person. HolderSecret is set only
// in the answer to the request that created the person, never in a replay:
// it is printed on the card once and not shown again.
type Registered struct {
	Record       registry.Record
	HolderSecret string
	Replayed     bool
}

// newHolderSecret returns ten card symbols (about 50 bits), printed on the
// card so the person can read their own record.
func newHolderSecret() string {
	code := string(registry.NewCardCode()) // 12 random-and-check symbols in groups
	return strings.ReplaceAll(code, "-", "")[:10]
}

// RegisterPerson registers a new pseudonymous person with the demographics
// given (all optional) and returns their card code and holder secret. With
// an idempotency key, a retry returns the person the first request created,
// without the holder secret, and writes nothing.
func (s *Service) RegisterPerson(ctx context.Context, a Actor, in PersonInput, idemKey string) (*Registered, error) {
	if err := s.begin(a, ActPersonCreate); err != nil {
		return nil, err
	}
	demo, err := in.demographicsAfter(s.Today(), registry.Demographics{})
	if err != nil {
		return nil, err
	}
	if s.vault == nil {
		return nil, errNoVault
	}
	idem, err := s.idempotency(a, idemKey, ActPersonCreate, "", in)
	if err != nil {
		return nil, err
	}
	p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: s.stamp(),
		Demographics: demo, HolderSecret: newHolderSecret()}
	sealed, err := registry.SealPerson(s.vault, p)
	if err != nil {
		return nil, err
	}
	if idem != nil {
		idem.ResourceID = string(p.CardCode)
	}
	subject, err := s.subjectOf(p.ID)
	if err != nil {
		return nil, err
	}
	w := registry.Write{Idem: idem, Audit: s.entry(a, ActPersonCreate, "care", subject)}
	s.queueSync(ctx, &w, s.syncEvent(registry.SyncPerson, p.ID, registry.ID{}))
	prev, err := s.store.CreatePerson(ctx, sealed, w)
	if err != nil {
		return nil, err
	}
	s.synced(&w)
	if prev != nil {
		rec, err := s.read(ctx, a, registry.CardCode(prev.ResourceID), ActPersonReplay, "care")
		if err != nil {
			return nil, err
		}
		return &Registered{Record: *rec, Replayed: true}, nil
	}
	return &Registered{Record: registry.Record{Person: p}, HolderSecret: p.HolderSecret}, nil
}

// Purposes a vaccinator may give for looking up a record. The list is short
// and fixed so that it can be audited; there is no free text.
var Purposes = []string{"care", "certificate", "correction", "forecast"}

// checkPurpose returns EINVALID naming purpose unless p is one of Purposes.
func checkPurpose(p string) error {
	for _, q := range Purposes {
		if p == q {
			return nil
		}
	}
	return registry.FieldErrorf(registry.EINVALID, "purpose",
		"Say why you are looking up this record: purpose must be one of care, certificate, correction, forecast.")
}

// ReadRecord returns the whole record of the person with the given card code
// for the stated purpose. The read is rate-limited and written to the access
// log before anything is returned. The holder secret is not part of the
// answer.
func (s *Service) ReadRecord(ctx context.Context, a Actor, card registry.CardCode, purpose string) (*registry.Record, error) {
	if err := s.begin(a, ActPersonRead); err != nil {
		return nil, err
	}
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	return s.read(ctx, a, card, ActPersonRead, purpose)
}

// read is every person-level read: it applies the read limits, finds the
// record, appends action to the access log, and only then opens the
// demographics. The holder secret is cleared from what it returns.
func (s *Service) read(ctx context.Context, a Actor, card registry.CardCode, action Action, purpose string) (*registry.Record, error) {
	if err := s.limitRead(a, card); err != nil {
		return nil, err
	}
	sealed, err := s.findRecord(ctx, card)
	if registry.ErrorCode(err) == registry.ENOTFOUND && action == ActPersonRead && s.sync.cfg.Node {
		// A card registered at another clinic: the central is asked
		// (and audits it), and the node keeps what it answers.
		if err = s.lookupUpstream(ctx, card, purpose); err == nil {
			sealed, err = s.findRecord(ctx, card)
		}
	}
	if err != nil {
		return nil, err
	}
	subject, err := s.subjectOf(sealed.Person.ID)
	if err != nil {
		return nil, err
	}
	if err := s.trace(ctx, a, action, purpose, subject); err != nil {
		return nil, err
	}
	rec, err := s.open(sealed)
	if err != nil {
		return nil, err
	}
	rec.Person.HolderSecret = ""
	return rec, nil
}

// findPerson finds a sealed person, naming card_code when there is none.
func (s *Service) findPerson(ctx context.Context, card registry.CardCode) (*registry.SealedPerson, error) {
	p, err := s.store.FindPerson(ctx, card)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "card_code", "No person has this card code.")
	}
	return p, err
}

// findRecord finds a sealed record, naming card_code when there is none.
func (s *Service) findRecord(ctx context.Context, card registry.CardCode) (*registry.SealedRecord, error) {
	rec, err := s.store.FindRecord(ctx, card)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "card_code", "No person has this card code.")
	}
	return rec, err
}

// open decrypts a sealed record's person.
func (s *Service) open(rec *registry.SealedRecord) (*registry.Record, error) {
	if s.vault == nil {
		return nil, errNoVault
	}
	op, err := vault.OpenPerson(s.vault, rec.Person)
	if err != nil {
		return nil, err
	}
	p := op.Person
	p.DemographicsDestroyed = op.DemographicsDestroyed
	return &registry.Record{Person: p, Vaccinations: rec.Vaccinations, Tests: rec.Tests}, nil
}

// PersonEdit is a correction of a person's demographics. A nil field is left
// as it is; a non-nil one replaces the stored value (an empty string clears
// it).
type PersonEdit struct {
	GivenName          *string `json:"given_name"`
	FamilyName         *string `json:"family_name"`
	GivenNameICAO      *string `json:"given_name_icao"`
	FamilyNameICAO     *string `json:"family_name_icao"`
	BirthDate          *string `json:"birth_date"`
	BirthDateEstimated *bool   `json:"birth_date_estimated"`
	Sex                *string `json:"sex"`
	Phone              *string `json:"phone"`
}

// EditPerson corrects the demographics of the person with the given card
// code and returns the record as it now stands. It is audited with the
// purpose "correction". The edit is refused if it would leave a recorded
// dose or test before the birth date.
func (s *Service) EditPerson(ctx context.Context, a Actor, card registry.CardCode, edit PersonEdit, idemKey string) (*registry.Record, error) {
	if err := s.begin(a, ActPersonEdit); err != nil {
		return nil, err
	}
	if err := s.limitRead(a, card); err != nil {
		return nil, err
	}
	sealed, err := s.findRecord(ctx, card)
	if err != nil {
		return nil, err
	}
	if sealed.Person.Origin != "" {
		return nil, registry.FieldErrorf(registry.EFORBIDDEN, "card_code", "Correct this at the clinic that registered the person.")
	}
	rec, err := s.open(sealed)
	if err != nil {
		return nil, err
	}
	d := rec.Person.Demographics
	in := PersonInput{GivenName: d.GivenName, FamilyName: d.FamilyName, BirthDate: d.BirthDate.String(),
		BirthDateEstimated: d.BirthDateEstimated, Sex: string(d.Sex), Phone: d.Phone,
		FamilyNameICAO: edit.FamilyNameICAO, GivenNameICAO: edit.GivenNameICAO}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&in.GivenName, edit.GivenName)
	set(&in.FamilyName, edit.FamilyName)
	set(&in.BirthDate, edit.BirthDate)
	set(&in.Sex, edit.Sex)
	set(&in.Phone, edit.Phone)
	if edit.BirthDateEstimated != nil {
		in.BirthDateEstimated = *edit.BirthDateEstimated
	}
	if edit.BirthDate != nil && *edit.BirthDate == "" && edit.BirthDateEstimated == nil {
		in.BirthDateEstimated = false
	}
	demo, err := in.demographicsAfter(s.Today(), d)
	if err != nil {
		return nil, err
	}
	if !demo.BirthDate.IsZero() {
		for _, v := range rec.Vaccinations {
			if v.Status == registry.StatusCompleted && beforeBirth(v.Date, demo.BirthDate) {
				return nil, fieldErr("birth_date", "A dose on %s was recorded before this birth date; mark it entered in error first.", v.Date)
			}
		}
		for _, t := range rec.Tests {
			if t.Status == registry.StatusCompleted && beforeBirth(t.Date, demo.BirthDate) {
				return nil, fieldErr("birth_date", "A test on %s was recorded before this birth date; mark it entered in error first.", t.Date)
			}
		}
	}
	idem, err := s.idempotency(a, idemKey, ActPersonEdit, card, edit)
	if err != nil {
		return nil, err
	}
	if idem != nil {
		idem.ResourceID = string(card)
	}
	rec.Person.Demographics = demo
	resealed, err := registry.ResealPerson(s.vault, sealed.Person, rec.Person)
	if err != nil {
		return nil, err
	}
	subject, err := s.subjectOf(sealed.Person.ID)
	if err != nil {
		return nil, err
	}
	w := registry.Write{Idem: idem, Audit: s.entry(a, ActPersonEdit, "correction", subject)}
	s.queueSync(ctx, &w, s.syncEvent(registry.SyncEdit, sealed.Person.ID, registry.ID{}))
	if _, err := s.store.UpdatePerson(ctx, resealed, w); err != nil {
		return nil, err
	}
	s.synced(&w)
	// A replayed edit applied the same change; either way the record now
	// reads as this one.
	rec.Person.HolderSecret = ""
	return rec, nil
}

// ErasePerson destroys the person with the given card code: their data key,
// the card-code link and their idempotency entries. Their doses and tests
// remain only as anonymous weekly counts.
func (s *Service) ErasePerson(ctx context.Context, a Actor, card registry.CardCode) error {
	if err := s.begin(a, ActPersonErase); err != nil {
		return err
	}
	p, err := s.findPerson(ctx, card)
	if err != nil {
		return err
	}
	subject, err := s.subjectOf(p.ID)
	if err != nil {
		return err
	}
	w := registry.Write{Audit: s.entry(a, ActPersonErase, "", subject)}
	s.queueSync(ctx, &w, s.syncEvent(registry.SyncErase, p.ID, registry.ID{}))
	if err := s.store.ErasePerson(ctx, card, w); err != nil {
		return err
	}
	s.synced(&w)
	// The person is erased; destroying the key that could open old copies
	// of their row follows. If it fails here, the key rotator retries within
	// its bound (docs/adr/0004-epoch-keys.md), so the erasure stands.
	if s.afterErase != nil {
		if err := s.afterErase(ctx); err != nil {
			s.logger.Warn("retiring the erased person's key epoch failed; the rotator will retry", "error", err.Error())
		}
	}
	return nil
}

// PrintCard confirms that a card exists, so that its card can be printed
// again. Nothing is decrypted, but the answer confirms the card code, so it
// is limited and traced like a read.
func (s *Service) PrintCard(ctx context.Context, a Actor, card registry.CardCode) error {
	if err := s.begin(a, ActCardPrint); err != nil {
		return err
	}
	if err := s.limitRead(a, card); err != nil {
		return err
	}
	p, err := s.findPerson(ctx, card)
	if err != nil {
		return err
	}
	subject, err := s.subjectOf(p.ID)
	if err != nil {
		return err
	}
	return s.trace(ctx, a, ActCardPrint, "care", subject)
}
