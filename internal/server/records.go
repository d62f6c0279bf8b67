package server

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/currency"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

// vaccinationRequest is the body of POST /api/v1/persons/{card}/vaccinations.
type vaccinationRequest struct {
	Product string            `json:"product"` // catalogue ID, CVX, EU DCC product or name
	Date    string            `json:"date"`    // YYYY-MM-DD
	Site    string            `json:"site"`
	Lot     string            `json:"lot"`
	Source  string            `json:"source"` // default administered
	Payment *registry.Payment `json:"payment"`
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

// eventDate parses an event date and refuses dates after today.
func (s *Server) eventDate(field, in string) (registry.Date, error) {
	if in == "" {
		return registry.Date{}, fieldErr(field, "The date is required.")
	}
	d, err := registry.ParseDate(in)
	if err != nil {
		return d, fieldErr(field, "%v.", err)
	}
	if d.After(s.today()) {
		return d, fieldErr(field, "The date is in the future.")
	}
	if d.Year < 1900 {
		return d, fieldErr(field, "The date is before 1900.")
	}
	return d, nil
}

// siteFor checks that the token may act at the site and that the site offers
// the service. An empty code is allowed only when optional is true.
func (s *Server) siteFor(ctx context.Context, code, service string, optional bool) error {
	if code == "" {
		if optional {
			return nil
		}
		return fieldErr("site", "The site is required.")
	}
	site, err := s.findSite(ctx, code)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return fieldErr("site", "Unknown site %q.", code)
	}
	if err != nil {
		return err
	}
	if !slices.Contains(site.Services, service) {
		return fieldErr("site", "Site %q does not offer %s.", code, service)
	}
	if !tokenFrom(ctx).MaySite(code) {
		return registry.FieldErrorf(registry.EFORBIDDEN, "site", "This token may not record at site %q.", code)
	}
	return nil
}

func (s *Server) validVaccination(ctx context.Context, req vaccinationRequest) (registry.Vaccination, error) {
	var v registry.Vaccination
	if req.Product == "" {
		return v, fieldErr("product", "The product is required.")
	}
	p, ok := s.catalog.Lookup(req.Product)
	if !ok {
		return v, fieldErr("product", "Unknown product %q; see GET /api/v1/products.", req.Product)
	}
	v.Product = p.ID
	var err error
	if v.Date, err = s.eventDate("date", req.Date); err != nil {
		return v, err
	}
	v.Source = registry.Source(req.Source)
	if req.Source == "" {
		v.Source = registry.SourceAdministered
	}
	if !v.Source.Valid() {
		return v, fieldErr("source", "Source must be administered, historical-card or self-report.")
	}
	if v.Lot, err = cleanText("lot", req.Lot, 64); err != nil {
		return v, err
	}
	if v.Payment, err = validPayment(req.Payment); err != nil {
		return v, err
	}
	// A dose given here must name the site it was given at; a dose copied
	// from a card or reported by the person may not know it.
	if err := s.siteFor(ctx, req.Site, registry.ServiceVaccination, v.Source != registry.SourceAdministered); err != nil {
		return v, err
	}
	v.Site = req.Site
	return v, nil
}

// vaccinationResponse is a dose as the API shows it.
type vaccinationResponse struct {
	ID          string           `json:"id"`
	Product     string           `json:"product"`
	ProductName string           `json:"product_name"`
	CVX         string           `json:"cvx,omitempty"`
	Date        registry.Date    `json:"date"`
	Site        string           `json:"site,omitempty"`
	Lot         string           `json:"lot,omitempty"`
	Source      registry.Source  `json:"source"`
	Payment     registry.Payment `json:"payment"`
	RecordedAt  time.Time        `json:"recorded_at"`
	Status      string           `json:"status"`
	Replaces    string           `json:"replaces,omitempty"`
	ReplacedBy  string           `json:"replaced_by,omitempty"`
	// Evaluation and Warnings appear in the answer to recording a dose.
	Evaluation []schedule.Evaluation `json:"evaluation,omitempty"`
	Warnings   []doseWarning         `json:"warnings,omitempty"`
}

func idOrEmpty(id registry.ID) string {
	if id == (registry.ID{}) {
		return ""
	}
	return id.String()
}

func (s *Server) vaccinationOut(v registry.Vaccination) vaccinationResponse {
	out := vaccinationResponse{ID: v.ID.String(), Product: v.Product, Date: v.Date, Site: v.Site, Lot: v.Lot,
		Source: v.Source, Payment: v.Payment, RecordedAt: v.RecordedAt, Status: v.Status,
		Replaces: idOrEmpty(v.Replaces), ReplacedBy: idOrEmpty(v.ReplacedBy)}
	if p, ok := s.catalog.ByID(v.Product); ok {
		out.ProductName, out.CVX = p.Name("en"), p.CVXCode()
	}
	return out
}

// createFor runs the common part of a POST that adds to a person's record:
// it reads the idempotency key, finds the person, and then
// calls store with the person's ID and the write's idempotency claim and
// audit record. store returns the replayed entry, if any,
// and render writes the fresh result.
func (s *Server) createFor(w http.ResponseWriter, r *http.Request, code registry.CardCode, kind string, raw []byte,
	store func(personID registry.ID, write registry.Write) (*registry.Idempotency, error), render func(*registry.SealedPerson)) {
	idem, err := s.idempotencyFor(r, kind, raw)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	person, err := s.store.FindPerson(r.Context(), code)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		err = registry.FieldErrorf(registry.ENOTFOUND, "card_code", "No person has this card code.")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	subject, err := s.subjectOf(person.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	prev, err := store(person.ID, registry.Write{Idem: idem, Audit: s.auditFor(r, kind+".create", "care", subject)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if prev != nil {
		s.replay(w, r, prev)
		return
	}
	render(person)
}

func (s *Server) handleVaccinationCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := cardFrom(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req, raw, err := decodeBody[vaccinationRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		v, err := s.validVaccination(r.Context(), req)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		v.ID, v.RecordedAt, v.Status = registry.NewID(), s.stamp(), registry.StatusCompleted
		s.createFor(w, r, code, "vaccination", raw, func(personID registry.ID, write registry.Write) (*registry.Idempotency, error) {
			v.PersonID = personID
			if write.Idem != nil {
				write.Idem.ResourceID = v.ID.String()
			}
			return s.store.RecordVaccination(r.Context(), v, write)
		}, func(person *registry.SealedPerson) { s.vaccinationCreated(w, r, person, v) })
	})
}

// testRequest is the body of POST /api/v1/persons/{card}/tests.
type testRequest struct {
	Kind   string `json:"kind"`
	Result string `json:"result"`
	Date   string `json:"date"` // sample date
	Site   string `json:"site"`
}

type testResponse struct {
	ID         string              `json:"id"`
	Kind       registry.TestKind   `json:"kind"`
	Result     registry.TestResult `json:"result"`
	Date       registry.Date       `json:"date"`
	Site       string              `json:"site"`
	RecordedAt time.Time           `json:"recorded_at"`
	Status     string              `json:"status"`
	Replaces   string              `json:"replaces,omitempty"`
	ReplacedBy string              `json:"replaced_by,omitempty"`
}

func testOut(t registry.Test) testResponse {
	return testResponse{ID: t.ID.String(), Kind: t.Kind, Result: t.Result, Date: t.Date, Site: t.Site,
		RecordedAt: t.RecordedAt, Status: t.Status, Replaces: idOrEmpty(t.Replaces), ReplacedBy: idOrEmpty(t.ReplacedBy)}
}

func (s *Server) validTest(ctx context.Context, req testRequest) (registry.Test, error) {
	t := registry.Test{Kind: registry.TestKind(req.Kind), Result: registry.TestResult(req.Result)}
	if t.Kind != registry.TestPCR && t.Kind != registry.TestAntigen {
		return t, fieldErr("kind", "Kind must be pcr or antigen.")
	}
	switch t.Result {
	case registry.ResultPositive, registry.ResultNegative, registry.ResultInvalid:
	default:
		return t, fieldErr("result", "Result must be positive, negative or invalid.")
	}
	var err error
	if t.Date, err = s.eventDate("date", req.Date); err != nil {
		return t, err
	}
	if err := s.siteFor(ctx, req.Site, registry.ServiceTesting, false); err != nil {
		return t, err
	}
	t.Site = req.Site
	return t, nil
}

func (s *Server) handleTestCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := cardFrom(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req, raw, err := decodeBody[testRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		t, err := s.validTest(r.Context(), req)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		t.ID, t.RecordedAt, t.Status = registry.NewID(), s.stamp(), registry.StatusCompleted
		s.createFor(w, r, code, "test", raw, func(personID registry.ID, write registry.Write) (*registry.Idempotency, error) {
			t.PersonID = personID
			if write.Idem != nil {
				write.Idem.ResourceID = t.ID.String()
			}
			return s.store.RecordTest(r.Context(), t, write)
		}, func(*registry.SealedPerson) { encode(w, http.StatusCreated, testOut(t)) })
	})
}

// correctionRequest is the body of POST …/records/{id}/entered-in-error. The
// corrected record, if any, is recorded first and named in replaced_by.
type correctionRequest struct {
	ReplacedBy string `json:"replaced_by"`
}

func (s *Server) handleEnteredInError() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := cardFrom(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req, raw, err := decodeBody[correctionRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		recordID, err := registry.ParseID(r.PathValue("id"))
		if err != nil {
			s.writeError(w, r, registry.FieldErrorf(registry.EINVALID, "id", "Malformed record ID."))
			return
		}
		var replacement registry.ID
		if req.ReplacedBy != "" {
			if replacement, err = registry.ParseID(req.ReplacedBy); err != nil {
				s.writeError(w, r, fieldErr("replaced_by", "Malformed record ID."))
				return
			}
		}
		s.createFor(w, r, code, "correction", raw, func(personID registry.ID, write registry.Write) (*registry.Idempotency, error) {
			if write.Idem != nil {
				write.Idem.ResourceID = recordID.String()
			}
			return s.store.MarkEnteredInError(r.Context(), personID, recordID, replacement, write)
		}, func(*registry.SealedPerson) { s.renderRecord(w, r, recordID, "") })
	})
}
