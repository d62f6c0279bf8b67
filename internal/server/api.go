package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

// The JSON API. Every handler decodes its input, calls one action of the
// clinic service with the request's actor, and encodes the result: nothing
// here checks scope, limits, purpose or audits, because the action does.

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

func (s *Server) personOut(rec *registry.Record, secret string) personResponse {
	p := rec.Person
	out := personResponse{
		CardCode: string(p.CardCode), HolderSecret: secret, GivenName: p.Demographics.GivenName, FamilyName: p.Demographics.FamilyName,
		BirthDate: p.Demographics.BirthDate.String(), BirthDateEstimated: p.Demographics.BirthDateEstimated,
		Sex: p.Demographics.Sex, Phone: p.Demographics.Phone, CreatedAt: p.CreatedAt,
		Vaccinations: []vaccinationResponse{}, Tests: []testResponse{},
	}
	for _, v := range rec.Vaccinations {
		out.Vaccinations = append(out.Vaccinations, s.vaccinationOut(v))
	}
	for _, t := range rec.Tests {
		out.Tests = append(out.Tests, testOut(t))
	}
	return out
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
	Warnings   []clinic.Warning      `json:"warnings,omitempty"`
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
	if p, ok := s.svc.Catalog().ByID(v.Product); ok {
		out.ProductName, out.CVX = p.Name("en"), p.CVXCode()
	}
	return out
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

// created answers a write: 201 with the resource, and Idempotent-Replayed
// when a retry returned the first request's result.
func created(w http.ResponseWriter, replayed bool, v any) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	encode(w, http.StatusCreated, v)
}

func (s *Server) handlePersonCreate() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[clinic.PersonInput](w, r)
		if err != nil {
			return err
		}
		reg, err := s.svc.RegisterPerson(r.Context(), a, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		created(w, reg.Replayed, s.personOut(&reg.Record, reg.HolderSecret))
		return nil
	})
}

func (s *Server) handlePersonGet() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := cardFrom(r)
		if err != nil {
			return err
		}
		rec, err := s.svc.ReadRecord(r.Context(), a, code, r.URL.Query().Get("purpose"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, s.personOut(rec, ""))
		return nil
	})
}

func (s *Server) handlePersonEdit() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := cardFrom(r)
		if err != nil {
			return err
		}
		in, err := decodeBody[clinic.PersonEdit](w, r)
		if err != nil {
			return err
		}
		rec, err := s.svc.EditPerson(r.Context(), a, code, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, s.personOut(rec, ""))
		return nil
	})
}

func (s *Server) handlePersonErase() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := cardFrom(r)
		if err != nil {
			return err
		}
		if err := s.svc.ErasePerson(r.Context(), a, code); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func (s *Server) handleVaccinationCreate() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := cardFrom(r)
		if err != nil {
			return err
		}
		in, err := decodeBody[clinic.VaccinationInput](w, r)
		if err != nil {
			return err
		}
		d, err := s.svc.RecordVaccination(r.Context(), a, code, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		out := s.vaccinationOut(d.Vaccination)
		out.Evaluation, out.Warnings = d.Evaluation, d.Warnings
		created(w, d.Replayed, out)
		return nil
	})
}

func (s *Server) handleTestCreate() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := cardFrom(r)
		if err != nil {
			return err
		}
		in, err := decodeBody[clinic.TestInput](w, r)
		if err != nil {
			return err
		}
		t, err := s.svc.RecordTest(r.Context(), a, code, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		created(w, t.Replayed, testOut(t.Test))
		return nil
	})
}

func (s *Server) handleEnteredInError() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := cardFrom(r)
		if err != nil {
			return err
		}
		in, err := decodeBody[clinic.Correction](w, r)
		if err != nil {
			return err
		}
		id, err := registry.ParseID(r.PathValue("id"))
		if err != nil {
			return registry.FieldErrorf(registry.EINVALID, "id", "Malformed record ID.")
		}
		c, err := s.svc.MarkEnteredInError(r.Context(), a, code, id, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		if c.Vaccination != nil {
			created(w, c.Replayed, s.vaccinationOut(*c.Vaccination))
		} else {
			created(w, c.Replayed, testOut(*c.Test))
		}
		return nil
	})
}

// forecastResponse is a person's forecast: the design.md forecast JSON plus
// which schedule was used and how the birth date was read.
type forecastResponse struct {
	Schedule         string `json:"schedule"`
	AsOf             string `json:"as_of"`
	BirthDate        string `json:"birth_date_used"`
	BirthDateReading string `json:"birth_date_reading"`
	Estimated        bool   `json:"birth_date_estimated,omitempty"`
	schedule.Result
	// Flagged lists recorded doses the forecast left out because they
	// cannot be right; they should be corrected.
	Flagged []flaggedResponse `json:"flagged,omitempty"`
}

type flaggedResponse struct {
	Record string        `json:"record"`
	Date   registry.Date `json:"date"`
	Reason string        `json:"reason"`
}

func (s *Server) handleForecast() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := cardFrom(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		asOf, err := dateParam(r, "as_of", registry.Date{})
		if err != nil {
			return err
		}
		f, err := s.svc.ForecastPerson(r.Context(), a, code, clinic.ForecastInput{Schedule: q.Get("schedule"), AsOf: asOf,
			Observations: q["observation"]})
		if err != nil {
			return err
		}
		out := forecastResponse{Schedule: f.Schedule, AsOf: f.AsOf.String(), BirthDate: f.BirthDate.String(),
			BirthDateReading: f.BirthDateReading, Estimated: f.Estimated, Result: f.Result}
		for _, x := range f.Flagged {
			out.Flagged = append(out.Flagged, flaggedResponse{Record: x.Record.String(), Date: x.Date, Reason: x.Reason})
		}
		encode(w, http.StatusOK, out)
		return nil
	})
}

// certificateResponse is an issued certificate with its QR code.
type certificateResponse struct {
	Format    string    `json:"format"`
	HC1       string    `json:"hc1"`
	QRSVG     string    `json:"qr_svg"`
	QRPNG     []byte    `json:"qr_png"` // base64 in JSON
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) handleCertificateIssue() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := cardFrom(r)
		if err != nil {
			return err
		}
		in, err := decodeBody[clinic.CertificateInput](w, r)
		if err != nil {
			return err
		}
		c, err := s.svc.IssueCertificate(r.Context(), a, code, in)
		if err != nil {
			return err
		}
		encode(w, http.StatusCreated, certificateResponse{Format: "hcert", HC1: c.HC1, QRSVG: string(c.QRSVG), QRPNG: c.QRPNG,
			IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt})
		return nil
	})
}

func (s *Server) handleCertificateVerify() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[clinic.VerifyInput](w, r)
		if err != nil {
			return err
		}
		res, err := s.svc.VerifyCertificate(r.Context(), a, in)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, res)
		return nil
	})
}

// handleEligibility decides one eligibility question. The facts in the body
// are used for this one decision and then forgotten.
func (s *Server) handleEligibility() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[policy.EligibilityRequest](w, r)
		if err != nil {
			return err
		}
		d, err := s.svc.Decide(r.Context(), a, in)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, d)
		return nil
	})
}

type siteResponse struct {
	Code         string    `json:"code"`
	Name         string    `json:"name"`
	Jurisdiction string    `json:"jurisdiction"`
	Services     []string  `json:"services"`
	CreatedAt    time.Time `json:"created_at"`
}

func siteOut(s registry.Site) siteResponse {
	services := s.Services
	if services == nil {
		services = []string{}
	}
	return siteResponse{Code: s.Code, Name: s.Name, Jurisdiction: s.Jurisdiction, Services: services, CreatedAt: s.CreatedAt}
}

func (s *Server) handleSiteCreate() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[clinic.SiteInput](w, r)
		if err != nil {
			return err
		}
		c, err := s.svc.CreateSite(r.Context(), a, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		created(w, c.Replayed, siteOut(c.Site))
		return nil
	})
}

func (s *Server) handleSiteList() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		sites, err := s.svc.ListSites(r.Context(), a)
		if err != nil {
			return err
		}
		out := make([]siteResponse, 0, len(sites))
		for _, site := range sites {
			out = append(out, siteOut(site))
		}
		encode(w, http.StatusOK, map[string]any{"sites": out})
		return nil
	})
}

type tokenResponse struct {
	ID    string        `json:"id"`
	Token string        `json:"token"` // shown once; only its hash is stored
	Role  registry.Role `json:"role"`
	Sites []string      `json:"sites,omitempty"`
}

func (s *Server) handleTokenCreate() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[clinic.TokenInput](w, r)
		if err != nil {
			return err
		}
		t, err := s.svc.CreateToken(r.Context(), a, in)
		if err != nil {
			return err
		}
		encode(w, http.StatusCreated, tokenResponse{ID: t.Token.ID, Token: t.Secret, Role: t.Token.Role, Sites: t.Token.Sites})
		return nil
	})
}

// tokenInfo describes a token without its secret or hash.
type tokenInfo struct {
	ID        string        `json:"id"`
	Role      registry.Role `json:"role"`
	Sites     []string      `json:"sites,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
}

func (s *Server) handleTokenList() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		toks, err := s.svc.ListTokens(r.Context(), a)
		if err != nil {
			return err
		}
		out := make([]tokenInfo, 0, len(toks))
		for _, t := range toks {
			out = append(out, tokenInfo{ID: t.ID, Role: t.Role, Sites: t.Sites, CreatedAt: t.CreatedAt})
		}
		encode(w, http.StatusOK, map[string]any{"tokens": out})
		return nil
	})
}

func (s *Server) handleTokenRevoke() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		if err := s.svc.RevokeToken(r.Context(), a, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

type productResponse struct {
	ID     string            `json:"id"`
	Names  map[string]string `json:"names"`
	CVX    string            `json:"cvx,omitempty"`
	MVX    string            `json:"mvx,omitempty"`
	DCCMP  string            `json:"dcc_mp,omitempty"`
	SNOMED string            `json:"snomed,omitempty"`
	ICD11  string            `json:"icd11,omitempty"`
}

func (s *Server) handleProductList() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		products, err := s.svc.Products(r.Context(), a)
		if err != nil {
			return err
		}
		var out []productResponse
		for _, p := range products {
			out = append(out, productResponse{ID: p.ID, Names: p.Names, CVX: p.CVXCode(), MVX: p.MVX,
				DCCMP: p.DCCProduct, SNOMED: p.SNOMED, ICD11: p.ICD11})
		}
		encode(w, http.StatusOK, map[string]any{"products": out})
		return nil
	})
}

// holderRequest is the body of POST /api/v1/holder/record: a person reads
// their own record with the card code and the holder secret printed on
// their card. The secret travels in the body, never in a URL.
type holderRequest struct {
	CardCode     string `json:"card_code"`
	HolderSecret string `json:"holder_secret"`
}

func (s *Server) handleHolderRecord() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[holderRequest](w, r)
		if err != nil {
			return err
		}
		h, err := s.svc.HolderRead(r.Context(), a.Addr, in.CardCode, in.HolderSecret)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, s.personOut(h.Record, ""))
		return nil
	})
}

type sealRequest struct {
	Shred bool `json:"shred"` // also destroy the key file, for good
}

func (s *Server) handleSeal() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[sealRequest](w, r)
		if err != nil {
			return err
		}
		if err := s.svc.Seal(r.Context(), a, in.Shred); err != nil {
			return err
		}
		encode(w, http.StatusOK, map[string]any{"sealed": true, "shredded": in.Shred})
		return nil
	})
}

type unlockRequest struct {
	Passphrase string `json:"passphrase"`
}

func (s *Server) handleUnlock() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[unlockRequest](w, r)
		if err != nil {
			return err
		}
		var pass []byte
		if in.Passphrase != "" {
			pass = []byte(in.Passphrase)
		}
		err = s.svc.Unlock(r.Context(), a, pass)
		clear(pass)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, map[string]any{"sealed": false})
		return nil
	})
}

// handleCoverage returns the suppressed coverage tables.
func (s *Server) handleCoverage() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		to, err := dateParam(r, "to", registry.DateOf(s.svc.Now()))
		if err != nil {
			return err
		}
		from, err := dateParam(r, "from", registry.DateOf(to.Time().AddDate(0, 0, -7*12)))
		if err != nil {
			return err
		}
		k := 0
		if v := r.URL.Query().Get("k"); v != "" {
			if k, err = strconv.Atoi(v); err != nil {
				return registry.FieldErrorf(registry.EINVALID, "k", "k must be a whole number.")
			}
		}
		cov, err := s.svc.Coverage(r.Context(), a, from, to, k)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, cov)
		return nil
	})
}

// handleGaps returns the sites and jurisdictions whose doses lag in a week.
func (s *Server) handleGaps() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		week, err := dateParam(r, "week", registry.DateOf(s.svc.Now()))
		if err != nil {
			return err
		}
		rep, err := s.svc.Gaps(r.Context(), a, week)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, rep)
		return nil
	})
}

// handleAuditList pages through the access log.
func (s *Server) handleAuditList() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		from, limit := uint64(1), 100
		q := r.URL.Query()
		if v := q.Get("from_seq"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 {
				return registry.FieldErrorf(registry.EINVALID, "from_seq", "from_seq must be a positive whole number.")
			}
			from = n
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return registry.FieldErrorf(registry.EINVALID, "limit", "limit must be 1 to 1000.")
			}
			limit = n
		}
		entries, err := s.svc.AuditEntries(r.Context(), a, from, limit)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, map[string]any{"entries": entries})
		return nil
	})
}

// handleAuditVerify checks the whole chain against the stored checkpoints.
func (s *Server) handleAuditVerify() http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		rep, err := s.svc.VerifyAudit(r.Context(), a)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, rep)
		return nil
	})
}

// cardFrom reads the {card} path value.
func cardFrom(r *http.Request) (registry.CardCode, error) {
	return registry.ParseCardCode(r.PathValue("card"))
}

// dateParam reads an optional YYYY-MM-DD query parameter.
func dateParam(r *http.Request, name string, def registry.Date) (registry.Date, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	d, err := registry.ParseDate(v)
	if err != nil {
		return d, registry.FieldErrorf(registry.EINVALID, name, "%v.", err)
	}
	return d, nil
}
