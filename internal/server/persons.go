package server

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/haven-registry/haven/internal/registry"
)

// personRequest is the body of POST /api/v1/persons. Every field is optional:
// Haven registers people who have no documents.
type personRequest struct {
	GivenName          string `json:"given_name"`
	FamilyName         string `json:"family_name"`
	BirthDate          string `json:"birth_date"` // YYYY, YYYY-MM or YYYY-MM-DD
	BirthDateEstimated bool   `json:"birth_date_estimated"`
	Sex                string `json:"sex"`
	Phone              string `json:"phone"`
}

// validate returns the demographics, or an error naming the first bad field.
func (req personRequest) validate(today registry.Date) (registry.Demographics, error) {
	d := registry.Demographics{BirthDateEstimated: req.BirthDateEstimated, Sex: registry.Sex(req.Sex)}
	var err error
	if d.GivenName, err = cleanText("given_name", req.GivenName, 100); err != nil {
		return d, err
	}
	if d.FamilyName, err = cleanText("family_name", req.FamilyName, 100); err != nil {
		return d, err
	}
	if req.BirthDate != "" {
		if d.BirthDate, err = registry.ParsePartialDate(req.BirthDate); err != nil {
			return d, fieldErr("birth_date", "%v.", err)
		}
		if d.BirthDate.Earliest().After(today) {
			return d, fieldErr("birth_date", "The birth date is in the future.")
		}
	} else if req.BirthDateEstimated {
		return d, fieldErr("birth_date_estimated", "An estimated birth date needs a birth_date.")
	}
	if !d.Sex.Valid() {
		return d, fieldErr("sex", "Sex must be female, male, other or unknown.")
	}
	if d.Phone, err = cleanText("phone", req.Phone, 32); err != nil {
		return d, err
	}
	for _, c := range d.Phone {
		if !(c >= '0' && c <= '9') && !strings.ContainsRune("+-() ", c) {
			return d, fieldErr("phone", "A phone number may hold only digits, spaces and + - ( ).")
		}
	}
	return d, nil
}

// cleanText trims s and rejects control characters, invalid UTF-8 and
// strings longer than max runes.
func cleanText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", fieldErr(field, "Not valid UTF-8.")
	}
	if utf8.RuneCountInString(s) > max {
		return "", fieldErr(field, "Longer than %d characters.", max)
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return "", fieldErr(field, "Control characters are not allowed.")
		}
	}
	return s, nil
}

// personResponse is a person's record as the API shows it. HolderSecret
// appears only in the response that created the person.
type personResponse struct {
	CardCode           string                `json:"card_code"`
	HolderSecret       string                `json:"holder_secret,omitempty"`
	GivenName          string                `json:"given_name,omitempty"`
	FamilyName         string                `json:"family_name,omitempty"`
	BirthDate          string                `json:"birth_date,omitempty"`
	BirthDateEstimated bool                  `json:"birth_date_estimated,omitempty"`
	Sex                registry.Sex          `json:"sex,omitempty"`
	Phone              string                `json:"phone,omitempty"`
	CreatedAt          time.Time             `json:"created_at"`
	Vaccinations       []vaccinationResponse `json:"vaccinations"`
	Tests              []testResponse        `json:"tests"`
}

// openedRecord is a record with its person decrypted.
type openedRecord struct {
	Person       registry.Person
	Vaccinations []registry.Vaccination
	Tests        []registry.Test
}

func (s *Server) openRecord(ctx context.Context, code registry.CardCode) (*openedRecord, error) {
	rec, err := s.store.FindRecord(ctx, code)
	if err != nil {
		return nil, err
	}
	return s.open(rec)
}

// readRecord finds a person's record and appends the read to the access log
// before anything is returned: a read that cannot be traced is refused.
func (s *Server) readRecord(r *http.Request, code registry.CardCode, action, purpose string) (*openedRecord, error) {
	rec, err := s.store.FindRecord(r.Context(), code)
	if err != nil {
		return nil, err
	}
	subject, err := s.subjectOf(rec.Person.ID)
	if err != nil {
		return nil, err
	}
	if err := s.store.AppendAudit(r.Context(), *s.auditFor(r, action, purpose, subject)); err != nil {
		return nil, err
	}
	return s.open(rec)
}

func (s *Server) open(rec *registry.SealedRecord) (*openedRecord, error) {
	p, err := registry.OpenPerson(s.vault, rec.Person)
	if err != nil {
		return nil, err
	}
	return &openedRecord{Person: p, Vaccinations: rec.Vaccinations, Tests: rec.Tests}, nil
}

func (s *Server) personOut(rec *openedRecord, withSecret bool) personResponse {
	p := rec.Person
	out := personResponse{
		CardCode: string(p.CardCode), GivenName: p.Demographics.GivenName, FamilyName: p.Demographics.FamilyName,
		BirthDate: p.Demographics.BirthDate.String(), BirthDateEstimated: p.Demographics.BirthDateEstimated,
		Sex: p.Demographics.Sex, Phone: p.Demographics.Phone, CreatedAt: p.CreatedAt,
		Vaccinations: []vaccinationResponse{}, Tests: []testResponse{},
	}
	if withSecret {
		out.HolderSecret = p.HolderSecret
	}
	for _, v := range rec.Vaccinations {
		out.Vaccinations = append(out.Vaccinations, s.vaccinationOut(v))
	}
	for _, t := range rec.Tests {
		out.Tests = append(out.Tests, testOut(t))
	}
	return out
}

// newHolderSecret returns ten card symbols (about 50 bits), printed on the
// card so the person can read their own record.
func newHolderSecret() string {
	code := string(registry.NewCardCode()) // 12 random-and-check symbols in groups
	return strings.ReplaceAll(code, "-", "")[:10]
}

// stamp is the time a record is written, at the microsecond precision the
// stores keep, so a record reads back exactly as it was first returned.
func (s *Server) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// today is the latest calendar date anywhere on Earth (UTC+14), so that no
// clinic's "today" is refused as a future date.
func (s *Server) today() registry.Date {
	return registry.DateOf(s.now().In(time.FixedZone("UTC+14", 14*3600)))
}

func (s *Server) handlePersonCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, raw, err := decodeBody[personRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		demo, err := req.validate(s.today())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		idem, err := s.idempotencyFor(r, "person", raw)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: s.stamp(),
			Demographics: demo, HolderSecret: newHolderSecret()}
		sealed, err := registry.SealPerson(s.vault, p)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if idem != nil {
			idem.ResourceID = string(p.CardCode)
		}
		subject, err := s.subjectOf(p.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		prev, err := s.store.CreatePerson(r.Context(), sealed, registry.Write{Idem: idem, Audit: s.auditFor(r, "person.create", "care", subject)})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if prev != nil {
			s.replay(w, r, prev)
			return
		}
		encode(w, http.StatusCreated, s.personOut(&openedRecord{Person: p}, true))
	})
}

// cardFrom reads the {card} path value.
func cardFrom(r *http.Request) (registry.CardCode, error) {
	return registry.ParseCardCode(r.PathValue("card"))
}

func (s *Server) handlePersonGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := cardFrom(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		purpose, err := lookupPurpose(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !s.lookupByToken.allow(tokenFrom(r.Context()).ID, s.now()) || !s.lookupByAddr.allow(clientAddr(r), s.now()) {
			s.writeError(w, r, registry.Errorf(registry.ERATELIMITED, "Too many lookups; slow down."))
			return
		}
		rec, err := s.readRecord(r, code, "person.read", purpose)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, s.personOut(rec, false))
	})
}
