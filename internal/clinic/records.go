package clinic

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/currency"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

// VaccinationInput is a dose as a clinic records it.
type VaccinationInput struct {
	Product string            `json:"product"` // catalogue ID, CVX, EU DCC product or name
	Date    string            `json:"date"`    // YYYY-MM-DD
	Site    string            `json:"site"`
	Lot     string            `json:"lot"`
	Source  string            `json:"source"` // default administered
	Payment *registry.Payment `json:"payment"`
}

// TestInput is a test as a clinic records it.
type TestInput struct {
	Kind   string `json:"kind"`
	Result string `json:"result"`
	Date   string `json:"date"` // sample date
	Site   string `json:"site"`
}

// Warning tells the clinician about a dose that the schedule does not count,
// or that could not be evaluated. Haven records the dose anyway: the
// clinician decides.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// NotEvaluated, for the code "not_evaluated", says why: "no_birth_date",
	// "product_not_evaluated" or "unavailable" (a translation key suffix).
	NotEvaluated string `json:"-"`
}

// RecordedDose is a dose as recorded, with its evaluation against the
// person's history and the schedule, and any warning.
type RecordedDose struct {
	Vaccination registry.Vaccination
	Evaluation  []schedule.Evaluation
	Warnings    []Warning
	Replayed    bool
}

// RecordedTest is a test as recorded.
type RecordedTest struct {
	Test     registry.Test
	Replayed bool
}

var amountPattern = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,4})?$`)

// validPayment checks a payment; nil means free.
func validPayment(p *registry.Payment) (registry.Payment, error) {
	if p == nil {
		return registry.Payment{Kind: "free"}, nil
	}
	switch p.Kind {
	case "free":
		if p.Amount != "" || p.Currency != "" {
			return *p, fieldErr("payment.amount", "A free dose has no amount or currency.")
		}
	case "paid":
		if p.Amount == "" && p.Currency == "" {
			return *p, nil // paid, amount not known (an HL7 message says only who paid)
		}
		if !amountPattern.MatchString(p.Amount) {
			return *p, fieldErr("payment.amount", "The amount must be a decimal such as \"50.00\".")
		}
		if _, err := currency.ParseISO(p.Currency); err != nil || len(p.Currency) != 3 || p.Currency != strings.ToUpper(p.Currency) {
			return *p, fieldErr("payment.currency", "The currency must be an ISO 4217 code such as CNY or KRW.")
		}
	default:
		return *p, fieldErr("payment.kind", "Payment kind must be free or paid.")
	}
	return *p, nil
}

// eventDate parses the date of a dose or a test and refuses dates after
// today (widened for a node's clock; see todayBound).
func (s *Service) eventDate(ctx context.Context, field, in string) (registry.Date, error) {
	in = strings.TrimSpace(in)
	if in == "" {
		return registry.Date{}, fieldErr(field, "The date is required.")
	}
	d, err := registry.ParseDate(in)
	if err != nil {
		return d, fieldErr(field, "%v.", err)
	}
	if d.After(s.todayBound(ctx)) {
		return d, fieldErr(field, "The date is in the future.")
	}
	if d.Year < 1900 {
		return d, fieldErr(field, "The date is before 1900.")
	}
	return d, nil
}

// beforeBirth reports whether an event on d happened before the earliest
// day the birth date allows.
func beforeBirth(d registry.Date, birth registry.PartialDate) bool {
	return !birth.IsZero() && birth.Earliest().After(d)
}

// checkAfterBirth refuses an event dated before the person's birth date.
func checkAfterBirth(field string, d registry.Date, p registry.Person) error {
	if beforeBirth(d, p.Demographics.BirthDate) {
		return fieldErr(field, "The date %s is before the birth date on record (%s). Correct whichever is wrong.",
			d, p.Demographics.BirthDate)
	}
	return nil
}

// FindSite returns a site, from a cache when it was read within cacheTTL.
// Returns ENOTFOUND if there is none.
func (s *Service) FindSite(ctx context.Context, code string) (*registry.Site, error) {
	if site, ok := s.sites.get(code, s.now()); ok {
		return site, nil
	}
	site, err := s.store.FindSite(ctx, code)
	if err != nil {
		return nil, err
	}
	s.sites.put(code, site, s.now())
	return site, nil
}

// checkSite checks that the site exists, offers the service and that the
// actor may act there. An empty code is allowed only when optional is true.
func (s *Service) checkSite(ctx context.Context, a Actor, code, service string, optional bool) error {
	if code == "" {
		if optional {
			return nil
		}
		return fieldErr("site", "The site is required.")
	}
	site, err := s.FindSite(ctx, code)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return fieldErr("site", "Unknown site %q.", code)
	}
	if err != nil {
		return err
	}
	if !slices.Contains(site.Services, service) {
		return fieldErr("site", "Site %q does not offer %s.", code, service)
	}
	if !a.MaySite(code) {
		return registry.FieldErrorf(registry.EFORBIDDEN, "site", "This token may not record at site %q.", code)
	}
	return nil
}

// vaccination validates a dose's input (without the person).
func (s *Service) vaccination(ctx context.Context, a Actor, in VaccinationInput) (registry.Vaccination, error) {
	var v registry.Vaccination
	if in.Product == "" {
		return v, fieldErr("product", "The product is required.")
	}
	p, ok := s.catalog.Lookup(in.Product)
	if !ok {
		return v, fieldErr("product", "Unknown product %q; see GET /api/v1/products.", in.Product)
	}
	v.Product = p.ID
	var err error
	if v.Date, err = s.eventDate(ctx, "date", in.Date); err != nil {
		return v, err
	}
	v.Source = registry.Source(in.Source)
	if in.Source == "" {
		v.Source = registry.SourceAdministered
	}
	if !v.Source.Valid() {
		return v, fieldErr("source", "Source must be administered, historical-card, historical-record or self-report.")
	}
	if v.Lot, err = cleanText("lot", in.Lot, 64); err != nil {
		return v, err
	}
	if v.Payment, err = validPayment(in.Payment); err != nil {
		return v, err
	}
	// A dose given here must name the site it was given at; a dose copied
	// from a card or reported by the person may not know it.
	if err := s.checkSite(ctx, a, in.Site, registry.ServiceVaccination, v.Source != registry.SourceAdministered); err != nil {
		return v, err
	}
	v.Site = in.Site
	v.Status = registry.StatusCompleted
	return v, nil
}

// test validates a test's input (without the person).
func (s *Service) test(ctx context.Context, a Actor, in TestInput) (registry.Test, error) {
	t := registry.Test{Kind: registry.TestKind(in.Kind), Result: registry.TestResult(in.Result), Status: registry.StatusCompleted}
	if t.Kind != registry.TestPCR && t.Kind != registry.TestAntigen {
		return t, fieldErr("kind", "Kind must be pcr or antigen.")
	}
	switch t.Result {
	case registry.ResultPositive, registry.ResultNegative, registry.ResultInvalid:
	default:
		return t, fieldErr("result", "Result must be positive, negative or invalid.")
	}
	var err error
	if t.Date, err = s.eventDate(ctx, "date", in.Date); err != nil {
		return t, err
	}
	if err := s.checkSite(ctx, a, in.Site, registry.ServiceTesting, false); err != nil {
		return t, err
	}
	t.Site = in.Site
	return t, nil
}

// RecordVaccination records a dose for the person with the given card code
// and evaluates it against their history with the server's schedule. The
// history is read once, decrypted once, and evaluated in memory. A dose
// before the birth date or after today is refused. With an idempotency key,
// a retry returns the first dose (a read, limited and audited as one) and
// writes nothing.
func (s *Service) RecordVaccination(ctx context.Context, a Actor, card registry.CardCode, in VaccinationInput, idemKey string) (*RecordedDose, error) {
	if err := s.begin(a, ActVaccinationCreate); err != nil {
		return nil, err
	}
	v, err := s.vaccination(ctx, a, in)
	if err != nil {
		return nil, err
	}
	idem, err := s.idempotency(a, idemKey, ActVaccinationCreate, card, in)
	if err != nil {
		return nil, err
	}
	// The person is read and decrypted once; their doses are read only
	// when the dose can be evaluated (the person has a birth date).
	sp, err := s.findPerson(ctx, card)
	if err != nil {
		return nil, err
	}
	rec, err := s.open(&registry.SealedRecord{Person: *sp})
	if err != nil {
		return nil, err
	}
	if err := checkAfterBirth("date", v.Date, rec.Person); err != nil {
		return nil, err
	}
	if !rec.Person.Demographics.BirthDate.IsZero() {
		if rec.Vaccinations, err = s.store.FindVaccinations(ctx, rec.Person.ID); err != nil {
			return nil, err
		}
	}
	subject, err := s.subjectOf(rec.Person.ID)
	if err != nil {
		return nil, err
	}
	v.ID, v.PersonID, v.RecordedAt = registry.NewID(), rec.Person.ID, s.stamp()
	if idem != nil {
		idem.ResourceID = v.ID.String()
	}
	w := registry.Write{Idem: idem, Audit: s.entry(a, ActVaccinationCreate, "care", subject), Reports: s.reports(v, false)}
	s.queueSync(ctx, &w, s.syncEvent(registry.SyncDose, v.PersonID, v.ID))
	prev, err := s.store.RecordVaccination(ctx, v, w)
	if err != nil {
		return nil, err
	}
	s.synced(&w)
	if prev != nil {
		return s.replayDose(ctx, a, card, prev)
	}
	out := &RecordedDose{Vaccination: v}
	out.Evaluation, out.Warnings = s.evaluate(rec, v)
	return out, nil
}

// replayDose answers a retried dose with the dose its first request
// recorded, evaluated against the history as it stands.
func (s *Service) replayDose(ctx context.Context, a Actor, card registry.CardCode, prev *registry.Idempotency) (*RecordedDose, error) {
	id, err := registry.ParseID(prev.ResourceID)
	if err != nil {
		return nil, err
	}
	rec, err := s.read(ctx, a, card, ActVaccinationReplay, "care")
	if err != nil {
		return nil, err
	}
	for _, v := range rec.Vaccinations {
		if v.ID == id {
			out := &RecordedDose{Vaccination: v, Replayed: true}
			without := *rec
			without.Vaccinations = slices.DeleteFunc(slices.Clone(rec.Vaccinations), func(x registry.Vaccination) bool { return x.ID == id })
			out.Evaluation, out.Warnings = s.evaluate(&without, v)
			return out, nil
		}
	}
	return nil, registry.Errorf(registry.ENOTFOUND, "The dose this key recorded no longer exists.")
}

// DosePreview is what recording a dose would do, without recording it: the
// evaluation it would get, the warnings, and the forecast before and after.
type DosePreview struct {
	Vaccination registry.Vaccination
	Evaluation  []schedule.Evaluation
	Warnings    []Warning
	Before      *Forecast
	After       *Forecast
}

// PreviewVaccination validates a dose and evaluates it as if it were
// recorded, for a confirm step. It reads the record, so it is limited and
// audited as a read (purpose care); it writes nothing else.
func (s *Service) PreviewVaccination(ctx context.Context, a Actor, card registry.CardCode, in VaccinationInput) (*DosePreview, error) {
	if err := s.begin(a, ActVaccinationPreview); err != nil {
		return nil, err
	}
	v, err := s.vaccination(ctx, a, in)
	if err != nil {
		return nil, err
	}
	rec, err := s.read(ctx, a, card, ActVaccinationPreview, "care")
	if err != nil {
		return nil, err
	}
	if err := checkAfterBirth("date", v.Date, rec.Person); err != nil {
		return nil, err
	}
	v.ID, v.PersonID = registry.NewID(), rec.Person.ID
	out := &DosePreview{Vaccination: v}
	asOf := s.now()
	out.Before = s.forecast(rec, "", asOf, nil)
	with := withDose(rec, v)
	out.Evaluation, out.Warnings = s.evaluate(rec, v)
	out.After = s.forecast(with, "", asOf, nil)
	return out, nil
}

// PreviewTest validates a test for a confirm step without recording it. It
// reads the person (to check the date against the birth date), so it is
// limited and audited as a read.
func (s *Service) PreviewTest(ctx context.Context, a Actor, card registry.CardCode, in TestInput) (*registry.Test, error) {
	if err := s.begin(a, ActTestPreview); err != nil {
		return nil, err
	}
	t, err := s.test(ctx, a, in)
	if err != nil {
		return nil, err
	}
	rec, err := s.read(ctx, a, card, ActTestPreview, "care")
	if err != nil {
		return nil, err
	}
	if err := checkAfterBirth("date", t.Date, rec.Person); err != nil {
		return nil, err
	}
	t.PersonID = rec.Person.ID
	return &t, nil
}

// RecordTest records a test for the person with the given card code. A test
// sampled before the birth date or after today is refused.
func (s *Service) RecordTest(ctx context.Context, a Actor, card registry.CardCode, in TestInput, idemKey string) (*RecordedTest, error) {
	if err := s.begin(a, ActTestCreate); err != nil {
		return nil, err
	}
	t, err := s.test(ctx, a, in)
	if err != nil {
		return nil, err
	}
	idem, err := s.idempotency(a, idemKey, ActTestCreate, card, in)
	if err != nil {
		return nil, err
	}
	sealed, err := s.findRecord(ctx, card)
	if err != nil {
		return nil, err
	}
	rec, err := s.open(sealed)
	if err != nil {
		return nil, err
	}
	if err := checkAfterBirth("date", t.Date, rec.Person); err != nil {
		return nil, err
	}
	subject, err := s.subjectOf(rec.Person.ID)
	if err != nil {
		return nil, err
	}
	t.ID, t.PersonID, t.RecordedAt = registry.NewID(), rec.Person.ID, s.stamp()
	if idem != nil {
		idem.ResourceID = t.ID.String()
	}
	w := registry.Write{Idem: idem, Audit: s.entry(a, ActTestCreate, "care", subject)}
	s.queueSync(ctx, &w, s.syncEvent(registry.SyncTest, t.PersonID, t.ID))
	prev, err := s.store.RecordTest(ctx, t, w)
	if err != nil {
		return nil, err
	}
	s.synced(&w)
	if prev == nil {
		return &RecordedTest{Test: t}, nil
	}
	id, err := registry.ParseID(prev.ResourceID)
	if err != nil {
		return nil, err
	}
	replayed, err := s.read(ctx, a, card, ActTestReplay, "care")
	if err != nil {
		return nil, err
	}
	for _, x := range replayed.Tests {
		if x.ID == id {
			return &RecordedTest{Test: x, Replayed: true}, nil
		}
	}
	return nil, registry.Errorf(registry.ENOTFOUND, "The test this key recorded no longer exists.")
}

// Correction marks a record entered in error. ReplacedBy optionally names
// the corrected record, which must already be recorded for the same person.
type Correction struct {
	ReplacedBy string `json:"replaced_by"`
}

// Corrected is a record after it was marked entered in error: exactly one of
// Vaccination and Test is set.
type Corrected struct {
	Vaccination *registry.Vaccination
	Test        *registry.Test
	Replayed    bool
}

// MarkEnteredInError marks the person's vaccination or test with the given ID
// as entered in error. The actor must be allowed at the site the record was
// made at (a record with no site, such as a dose copied from a card, may be
// corrected by any vaccinator). The correction is audited with the purpose
// "correction".
func (s *Service) MarkEnteredInError(ctx context.Context, a Actor, card registry.CardCode, recordID registry.ID, c Correction, idemKey string) (*Corrected, error) {
	if err := s.begin(a, ActCorrectionCreate); err != nil {
		return nil, err
	}
	var replacement registry.ID
	if c.ReplacedBy != "" {
		var err error
		if replacement, err = registry.ParseID(c.ReplacedBy); err != nil {
			return nil, fieldErr("replaced_by", "Malformed record ID.")
		}
	}
	idem, err := s.idempotency(a, idemKey, ActCorrectionCreate, card, struct {
		ID string
		Correction
	}{recordID.String(), c})
	if err != nil {
		return nil, err
	}
	sealed, err := s.findRecord(ctx, card)
	if err != nil {
		return nil, err
	}
	out := &Corrected{}
	site := ""
	for i := range sealed.Vaccinations {
		if v := &sealed.Vaccinations[i]; v.ID == recordID {
			out.Vaccination, site = v, v.Site
		}
	}
	for i := range sealed.Tests {
		if t := &sealed.Tests[i]; t.ID == recordID {
			out.Test, site = t, t.Site
		}
	}
	if out.Vaccination == nil && out.Test == nil {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "id", "This person has no such record.")
	}
	if site != "" && !a.MaySite(site) {
		return nil, registry.FieldErrorf(registry.EFORBIDDEN, "site", "This token may not correct records made at site %q.", site)
	}
	subject, err := s.subjectOf(sealed.Person.ID)
	if err != nil {
		return nil, err
	}
	if idem != nil {
		idem.ResourceID = recordID.String()
	}
	var reports []registry.Report
	if out.Vaccination != nil {
		reports = s.reports(*out.Vaccination, true)
	}
	w := registry.Write{Idem: idem, Audit: s.entry(a, ActCorrectionCreate, "correction", subject), Reports: reports}
	s.queueSync(ctx, &w, s.syncEvent(registry.SyncCorrect, sealed.Person.ID, recordID))
	prev, err := s.store.MarkEnteredInError(ctx, sealed.Person.ID, recordID, replacement, w)
	if err != nil {
		return nil, err
	}
	s.synced(&w)
	if prev != nil {
		out.Replayed = true
		if err := s.limitRead(a, card); err != nil {
			return nil, err
		}
		if err := s.trace(ctx, a, ActCorrectionReplay, "correction", subject); err != nil {
			return nil, err
		}
	}
	// The stored record now reads as marked; reflect that without a second
	// read.
	if out.Vaccination != nil {
		out.Vaccination.Status = registry.StatusEnteredInError
		out.Vaccination.ReplacedBy = replacement
	} else {
		out.Test.Status = registry.StatusEnteredInError
		out.Test.ReplacedBy = replacement
	}
	return out, nil
}
