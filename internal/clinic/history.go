package clinic

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/registry"
)

// HistoryInput is a batch of records about one person from another system:
// an HL7 VXU message, or the lines of an import that share a person. It is
// written all or nothing.
//
// The person is found by card code only, never by name or birth date: with
// Card set the records attach to that person (Person is ignored, and
// nothing about them is changed); with Card empty a new pseudonymous person
// is registered with Person (every field optional).
type HistoryInput struct {
	Card   registry.CardCode
	Person PersonInput
	// PersonKey, with Card empty, is the source's own ID for the person (an
	// import's person key): the first batch with it registers the person,
	// later ones attach to them. Only a keyed hash of it is stored.
	PersonKey string
	// Source names the sending system (an HL7 sending facility, an import's
	// source). With each record's Key it identifies the record there, so
	// that a resent record adds nothing twice and a later deletion finds
	// it. Only a keyed hash of the two is stored.
	Source       string
	Vaccinations []HistoryVaccination
	Tests        []HistoryTest
}

// HistoryVaccination is a vaccination in a HistoryInput: a dose, a dose not
// given (a refusal), or the deletion or update of a record sent before.
type HistoryVaccination struct {
	// Key is the sender's ID for the record (HL7 ORC-3); optional, but
	// without it the record cannot be deduplicated, deleted or updated.
	Key string
	// Product is a catalogue ID or name; CVX and MVX, when CVX is set,
	// identify it instead (an unknown code is refused, naming it).
	Product  string
	CVX, MVX string
	Date     string // YYYY-MM-DD
	// Site is the Haven site code of an administered dose; empty means the
	// actor's only site, if it has exactly one.
	Site    string
	Lot     string
	Source  string // administered (default), historical-card, historical-record or self-report
	Payment *registry.Payment
	// NotGiven records that the dose was not given (HL7 RXA-20 RE or NA),
	// with Reason (a registry.Reason constant, or empty): never a dose.
	NotGiven bool
	Reason   string
	// Delete marks the record sent before under Key entered in error
	// (HL7 RXA-21 D); the other fields are ignored. Update replaces it
	// with this one (RXA-21 U); without an earlier record it is an add.
	Delete, Update bool
}

// HistoryTest is a test in a HistoryInput.
type HistoryTest struct {
	Key string
	TestInput
}

// ImportedHistory is the outcome of RecordHistory.
type ImportedHistory struct {
	Card registry.CardCode
	// Registered is set when the batch registered a new person.
	Registered   bool
	Vaccinations []registry.Vaccination // stored by this batch
	Tests        []registry.Test
	// Deleted counts records marked entered in error; Unchanged counts
	// records already stored under the same key, which were left alone.
	Deleted, Unchanged int
	// Warnings name records that were ignored, by field path
	// ("vaccinations[2]"): a deletion of a record never received.
	Warnings []HistoryWarning
	Replayed bool
}

// HistoryWarning is a record of a batch that was ignored, and why.
type HistoryWarning struct {
	Field   string
	Message string
}

// withField returns err with its field put under prefix, so that an error
// names the record it concerns ("vaccinations[2].date").
func withField(prefix string, err error) error {
	var e *registry.Error
	if !errors.As(err, &e) {
		return err
	}
	out := *e
	if out.Field == "" {
		out.Field = prefix
	} else {
		out.Field = prefix + "." + out.Field
	}
	return &out
}

// sourceRef is the stored form of a sender's record ID: a keyed hash, so
// that the ID itself (an order number in another system) is not kept.
func (s *Service) sourceRef(source, key string) (string, error) {
	if key == "" {
		return "", nil
	}
	if s.vault == nil {
		return "", errNoVault
	}
	return s.vault.Pseudonym("source-record\x00" + source + "\x00" + key)
}

// CVX 998 (no vaccine administered) and 999 (unknown) name no vaccine: a
// dose not given may carry them.
const (
	cvxNoVaccine = "998"
	cvxUnknown   = "999"
)

// personKeyOf is the key under which a person's source ID is hashed, apart
// from the records' keys.
func personKeyOf(key string) string {
	if key = strings.TrimSpace(key); key == "" {
		return ""
	}
	return "person\x00" + key
}

// personBySource finds the person a source registered under key, or nil.
func (s *Service) personBySource(ctx context.Context, source, key string) (*registry.SealedPerson, error) {
	ref, err := s.sourceRef(source, personKeyOf(key))
	if err != nil || ref == "" {
		return nil, err
	}
	sp, err := s.store.FindPersonBySourceRef(ctx, ref)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return nil, nil
	}
	return sp, err
}

// productOf finds the catalogue product of a history vaccination.
func (s *Service) productOf(in *HistoryVaccination) (*catalog.Product, error) {
	if in.CVX != "" {
		return s.catalog.LookupCodes(in.CVX, in.MVX)
	}
	if in.Product == "" {
		return nil, fieldErr("product", "The product is required.")
	}
	p, ok := s.catalog.Lookup(in.Product)
	if !ok {
		return nil, fieldErr("product", "Unknown product %q.", in.Product)
	}
	return p, nil
}

// historyVaccination validates one vaccination of a batch.
func (s *Service) historyVaccination(ctx context.Context, a Actor, in *HistoryVaccination) (registry.Vaccination, error) {
	if in.Site == "" && (in.Source == "" || in.Source == string(registry.SourceAdministered)) && !in.NotGiven && len(a.Sites) == 1 {
		in.Site = a.Sites[0]
	}
	if !in.NotGiven {
		p, err := s.productOf(in)
		if err != nil {
			return registry.Vaccination{}, err
		}
		return s.vaccination(ctx, a, VaccinationInput{Product: p.ID, Date: in.Date, Site: in.Site, Lot: in.Lot,
			Source: in.Source, Payment: in.Payment})
	}
	// A dose not given names the vaccine refused when it is known (CVX 998
	// names none), and a site only if it was to be given there.
	v := registry.Vaccination{Status: registry.StatusNotDone, Source: registry.SourceAdministered, Payment: registry.Payment{Kind: "free"}}
	if (in.CVX != "" && in.CVX != cvxNoVaccine && in.CVX != cvxUnknown) || (in.CVX == "" && in.Product != "") {
		p, err := s.productOf(in)
		if err != nil {
			return v, err
		}
		v.Product = p.ID
	}
	var err error
	if v.Date, err = s.eventDate(ctx, "date", in.Date); err != nil {
		return v, err
	}
	switch in.Reason {
	case "", registry.ReasonPatientObjection, registry.ReasonImmune, registry.ReasonMedicalPrecaution, registry.ReasonOutOfStock:
		v.StatusReason = in.Reason
	default:
		return v, fieldErr("reason", "Unknown reason %q.", in.Reason)
	}
	if err := s.checkSite(ctx, a, in.Site, registry.ServiceVaccination, true); err != nil {
		return v, err
	}
	v.Site = in.Site
	return v, nil
}

// RecordHistory records a batch of records about one person from another
// system, all or nothing: see HistoryInput. Records whose key was stored
// before are left unchanged (a resent message adds nothing twice); a
// deletion of a record never received is a warning, not an error. Every
// error names its record ("vaccinations[2].date", "person.birth_date").
// Records received this way are not reported upstream again. With an
// idempotency key (an HL7 message control ID), a retry returns the first
// outcome and writes nothing. One audit entry covers the batch.
func (s *Service) RecordHistory(ctx context.Context, a Actor, in HistoryInput, idemKey string) (*ImportedHistory, error) {
	// Most batches add new records to a known person: they are written
	// without reading the person's records first, and the store's unique
	// source references catch a record sent before, in which case the
	// batch is read and written again the careful way.
	optimistic := in.Card != "" && len(in.Tests) == 0
	for i := range in.Vaccinations {
		optimistic = optimistic && !in.Vaccinations[i].Delete && !in.Vaccinations[i].Update
	}
	if optimistic {
		out, err := s.recordHistory(ctx, a, in, idemKey, true)
		if registry.ErrorCode(err) != registry.ECONFLICT || registry.ErrorField(err) != "source_ref" {
			return out, err
		}
	}
	return s.recordHistory(ctx, a, in, idemKey, false)
}

// recordHistory is RecordHistory; optimistic skips reading the person's
// records (see RecordHistory).
func (s *Service) recordHistory(ctx context.Context, a Actor, in HistoryInput, idemKey string, optimistic bool) (*ImportedHistory, error) {
	if err := s.begin(a, ActHistoryImport); err != nil {
		return nil, err
	}
	if s.vault == nil {
		return nil, errNoVault
	}
	src, err := cleanText("source", in.Source, 200)
	if err != nil {
		return nil, err
	}
	type vacc struct {
		v   registry.Vaccination
		in  *HistoryVaccination
		ref string
	}
	vaccs := make([]vacc, 0, len(in.Vaccinations))
	for i := range in.Vaccinations {
		hv := &in.Vaccinations[i]
		field := "vaccinations[" + strconv.Itoa(i) + "]"
		ref, err := s.sourceRef(src, strings.TrimSpace(hv.Key))
		if err != nil {
			return nil, err
		}
		if (hv.Delete || hv.Update) && ref == "" {
			return nil, withField(field, fieldErr("key", "A deletion or an update needs the key of the record it changes."))
		}
		var v registry.Vaccination
		if !hv.Delete {
			if v, err = s.historyVaccination(ctx, a, hv); err != nil {
				return nil, withField(field, err)
			}
		}
		v.SourceRef = ref
		vaccs = append(vaccs, vacc{v: v, in: hv, ref: ref})
	}
	tests := make([]registry.Test, 0, len(in.Tests))
	for i := range in.Tests {
		field := "tests[" + strconv.Itoa(i) + "]"
		t, err := s.test(ctx, a, in.Tests[i].TestInput)
		if err != nil {
			return nil, withField(field, err)
		}
		if t.SourceRef, err = s.sourceRef(src, strings.TrimSpace(in.Tests[i].Key)); err != nil {
			return nil, err
		}
		tests = append(tests, t)
	}
	idem, err := s.idempotency(a, idemKey, ActHistoryImport, in.Card, in)
	if err != nil {
		return nil, err
	}

	// The person: found by card code, or registered.
	var (
		h    registry.History
		rec  *registry.Record
		out  = &ImportedHistory{Card: in.Card}
		when = s.stamp()
	)
	keyed := len(in.Tests) > 0
	for i := range in.Vaccinations {
		keyed = keyed || strings.TrimSpace(in.Vaccinations[i].Key) != ""
	}
	if in.Card != "" && (!keyed || optimistic) {
		// Nothing to find again by key: the person alone, read and
		// opened once.
		sp, err := s.findPerson(ctx, in.Card)
		if err != nil {
			return nil, err
		}
		if rec, err = s.open(&registry.SealedRecord{Person: *sp}); err != nil {
			return nil, err
		}
	} else if in.Card != "" && len(in.Tests) == 0 {
		sp, err := s.findPerson(ctx, in.Card)
		if err != nil {
			return nil, err
		}
		if rec, err = s.open(&registry.SealedRecord{Person: *sp}); err != nil {
			return nil, err
		}
		if rec.Vaccinations, err = s.store.FindVaccinations(ctx, sp.ID); err != nil {
			return nil, err
		}
	} else if in.Card != "" {
		sealed, err := s.findRecord(ctx, in.Card)
		if err != nil {
			return nil, err
		}
		if rec, err = s.open(sealed); err != nil {
			return nil, err
		}
	} else if sp, err := s.personBySource(ctx, src, in.PersonKey); err != nil {
		return nil, err
	} else if sp != nil {
		sealed, err := s.findRecord(ctx, sp.CardCode)
		if err != nil {
			return nil, err
		}
		if rec, err = s.open(sealed); err != nil {
			return nil, err
		}
		out.Card = sp.CardCode
	} else {
		demo, err := in.Person.demographicsAfter(s.Today(), registry.Demographics{})
		if err != nil {
			return nil, withField("person", err)
		}
		p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: when,
			Demographics: demo, HolderSecret: newHolderSecret()}
		sealed, err := registry.SealPerson(s.vault, p)
		if err != nil {
			return nil, err
		}
		if sealed.SourceRef, err = s.sourceRef(src, personKeyOf(in.PersonKey)); err != nil {
			return nil, err
		}
		h.NewPerson = &sealed
		rec = &registry.Record{Person: p}
		out.Card, out.Registered = p.CardCode, true
	}
	h.PersonID = rec.Person.ID

	// Records already stored under a key: the current one for each key.
	current := map[string]*registry.Vaccination{}
	for i := range rec.Vaccinations {
		if v := &rec.Vaccinations[i]; v.SourceRef != "" && v.Status != registry.StatusEnteredInError {
			current[v.SourceRef] = v
		}
	}
	seenTests := map[string]bool{}
	for _, t := range rec.Tests {
		if t.SourceRef != "" && t.Status != registry.StatusEnteredInError {
			seenTests[t.SourceRef] = true
		}
	}
	for i, x := range vaccs {
		field := "vaccinations[" + strconv.Itoa(i) + "]"
		prev := current[x.ref]
		switch {
		case x.in.Delete:
			if prev == nil {
				out.Warnings = append(out.Warnings, HistoryWarning{Field: field, Message: "No record with this key was received; nothing was deleted."})
				continue
			}
			if !a.MaySite(prev.Site) && prev.Site != "" {
				return nil, withField(field, registry.FieldErrorf(registry.EFORBIDDEN, "site", "This token may not correct records made at site %q.", prev.Site))
			}
			h.Corrections = append(h.Corrections, registry.Correction{RecordID: prev.ID})
			delete(current, x.ref)
			out.Deleted++
			continue
		case prev != nil && !x.in.Update:
			out.Unchanged++
			continue
		}
		v := x.v
		if err := checkAfterBirth("date", v.Date, rec.Person); err != nil {
			return nil, withField(field, err)
		}
		v.ID, v.PersonID, v.RecordedAt = registry.NewID(), rec.Person.ID, when
		if prev != nil {
			if !a.MaySite(prev.Site) && prev.Site != "" {
				return nil, withField(field, registry.FieldErrorf(registry.EFORBIDDEN, "site", "This token may not correct records made at site %q.", prev.Site))
			}
			v.Replaces = prev.ID
			h.Corrections = append(h.Corrections, registry.Correction{RecordID: prev.ID, Replacement: v.ID})
		}
		if x.ref != "" {
			current[x.ref] = &v
		}
		h.Vaccinations = append(h.Vaccinations, v)
	}
	for i, t := range tests {
		if t.SourceRef != "" && seenTests[t.SourceRef] {
			out.Unchanged++
			continue
		}
		if err := checkAfterBirth("date", t.Date, rec.Person); err != nil {
			return nil, withField("tests["+strconv.Itoa(i)+"]", err)
		}
		t.ID, t.PersonID, t.RecordedAt = registry.NewID(), rec.Person.ID, when
		seenTests[t.SourceRef] = t.SourceRef != ""
		h.Tests = append(h.Tests, t)
	}
	subject, err := s.subjectOf(rec.Person.ID)
	if err != nil {
		return nil, err
	}
	if idem != nil {
		idem.ResourceID = string(out.Card)
	}
	w := registry.Write{Idem: idem, Audit: s.entry(a, ActHistoryImport, "care", subject)}
	s.queueSync(ctx, &w, s.historyEvents(h)...)
	prev, err := s.store.RecordHistory(ctx, h, w)
	if err != nil {
		return nil, err
	}
	s.synced(&w)
	if prev != nil {
		// A retry: the first request's outcome is the person it named,
		// which is a read of that person.
		card := registry.CardCode(prev.ResourceID)
		if err := s.limitRead(a, card); err != nil {
			return nil, err
		}
		sp, err := s.findPerson(ctx, card)
		if err != nil {
			return nil, err
		}
		subject, err := s.subjectOf(sp.ID)
		if err != nil {
			return nil, err
		}
		if err := s.trace(ctx, a, ActHistoryReplay, "care", subject); err != nil {
			return nil, err
		}
		return &ImportedHistory{Card: card, Replayed: true}, nil
	}
	out.Vaccinations, out.Tests = h.Vaccinations, h.Tests
	return out, nil
}
