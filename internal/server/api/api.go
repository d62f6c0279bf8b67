// Package api is Haven's JSON API: one handler per route, each of which
// decodes its input, calls one action of the clinic service with the
// request's actor, and encodes the result. Nothing here checks roles, site
// scope, rate limits or purpose, or writes audit entries: the action does,
// the same for every transport.
//
// The routes, with the action each calls, are listed in package server's
// route table, whose bearer middleware admits the caller and puts the actor
// in the request's context (httpx.ActorOf) before a handler runs. Bodies
// are read with decodeBody (strict JSON within a size limit) and every
// error is written by Error in the one error shape of the API:
// {"error":{"code","message","field"}}.
package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// API holds the JSON API's handlers. Create it with New.
type API struct {
	svc    *clinic.Service
	logger *slog.Logger

	syncOpts  SyncOptions
	pushSlots chan struct{}
}

// New returns the API's handlers on svc. Internal errors are logged to
// logger (nil: discarded).
func New(svc *clinic.Service, logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{svc: svc, logger: logger}
}

// handle adapts an API handler that returns an error: the handler gets the
// request's actor, and an error is written in the API's error shape.
func (h *API) handle(fn func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r, httpx.ActorOf(r.Context())); err != nil {
			h.Error(w, r, err)
		}
	})
}

// personResponse is a person's record as the API shows it. HolderSecret
// appears only in the response that created the person.
type personResponse struct {
	CardCode     string `json:"card_code"`
	HolderSecret string `json:"holder_secret,omitempty"`
	GivenName    string `json:"given_name,omitempty"`
	FamilyName   string `json:"family_name,omitempty"`
	// DemographicsDestroyed says that the person's names, birth date,
	// phone and holder secret can never be read again (a shred).
	DemographicsDestroyed bool                  `json:"demographics_destroyed,omitempty"`
	GivenNameICAO         string                `json:"given_name_icao,omitempty"`
	FamilyNameICAO        string                `json:"family_name_icao,omitempty"`
	BirthDate             string                `json:"birth_date,omitempty"`
	BirthDateEstimated    bool                  `json:"birth_date_estimated,omitempty"`
	Sex                   registry.Sex          `json:"sex,omitempty"`
	Phone                 string                `json:"phone,omitempty"`
	CreatedAt             time.Time             `json:"created_at"`
	Vaccinations          []vaccinationResponse `json:"vaccinations"`
	Tests                 []testResponse        `json:"tests"`
}

func (h *API) personOut(rec *registry.Record, secret string) personResponse {
	p := rec.Person
	out := personResponse{
		CardCode: string(p.CardCode), HolderSecret: secret, GivenName: p.Demographics.GivenName, FamilyName: p.Demographics.FamilyName,
		DemographicsDestroyed: p.DemographicsDestroyed, GivenNameICAO: p.Demographics.GivenNameICAO, FamilyNameICAO: p.Demographics.FamilyNameICAO,
		BirthDate: p.Demographics.BirthDate.String(), BirthDateEstimated: p.Demographics.BirthDateEstimated,
		Sex: p.Demographics.Sex, Phone: p.Demographics.Phone, CreatedAt: p.CreatedAt,
		Vaccinations: []vaccinationResponse{}, Tests: []testResponse{},
	}
	for _, v := range rec.Vaccinations {
		out.Vaccinations = append(out.Vaccinations, h.vaccinationOut(v))
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

func (h *API) vaccinationOut(v registry.Vaccination) vaccinationResponse {
	out := vaccinationResponse{ID: v.ID.String(), Product: v.Product, Date: v.Date, Site: v.Site, Lot: v.Lot,
		Source: v.Source, Payment: v.Payment, RecordedAt: v.RecordedAt, Status: v.Status,
		Replaces: idOrEmpty(v.Replaces), ReplacedBy: idOrEmpty(v.ReplacedBy)}
	if p, ok := h.svc.Catalog().ByID(v.Product); ok {
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
	Encode(w, http.StatusCreated, v)
}

// PersonCreate registers a person (clinic RegisterPerson) and answers 201 with
// the record and, in this one answer, the holder secret.
func (h *API) PersonCreate() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[clinic.PersonInput](w, r)
		if err != nil {
			return err
		}
		reg, err := h.svc.RegisterPerson(r.Context(), a, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		created(w, reg.Replayed, h.personOut(&reg.Record, reg.HolderSecret))
		return nil
	})
}

// PersonGet reads a person's record for the purpose named in the query
// (clinic ReadRecord).
func (h *API) PersonGet() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := httpx.CardFrom(r)
		if err != nil {
			return err
		}
		rec, err := h.svc.ReadRecord(r.Context(), a, code, r.URL.Query().Get("purpose"))
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, h.personOut(rec, ""))
		return nil
	})
}

// PersonEdit changes a person's demographics (clinic EditPerson) and answers
// with the record.
func (h *API) PersonEdit() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := httpx.CardFrom(r)
		if err != nil {
			return err
		}
		in, err := decodeBody[clinic.PersonEdit](w, r)
		if err != nil {
			return err
		}
		rec, err := h.svc.EditPerson(r.Context(), a, code, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, h.personOut(rec, ""))
		return nil
	})
}

// PersonErase erases a person (clinic ErasePerson) and answers 204.
func (h *API) PersonErase() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := httpx.CardFrom(r)
		if err != nil {
			return err
		}
		if err := h.svc.ErasePerson(r.Context(), a, code); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// VaccinationCreate records a dose (clinic RecordVaccination) and answers 201
// with the dose, its evaluation and any warning.
func (h *API) VaccinationCreate() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := httpx.CardFrom(r)
		if err != nil {
			return err
		}
		in, err := decodeBody[clinic.VaccinationInput](w, r)
		if err != nil {
			return err
		}
		d, err := h.svc.RecordVaccination(r.Context(), a, code, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		out := h.vaccinationOut(d.Vaccination)
		out.Evaluation, out.Warnings = d.Evaluation, d.Warnings
		created(w, d.Replayed, out)
		return nil
	})
}

// TestCreate records a test (clinic RecordTest) and answers 201 with it.
func (h *API) TestCreate() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := httpx.CardFrom(r)
		if err != nil {
			return err
		}
		in, err := decodeBody[clinic.TestInput](w, r)
		if err != nil {
			return err
		}
		t, err := h.svc.RecordTest(r.Context(), a, code, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		created(w, t.Replayed, testOut(t.Test))
		return nil
	})
}

// EnteredInError marks a dose or a test entered in error (clinic
// MarkEnteredInError) and answers 201 with the corrected record.
func (h *API) EnteredInError() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := httpx.CardFrom(r)
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
		c, err := h.svc.MarkEnteredInError(r.Context(), a, code, id, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		if c.Vaccination != nil {
			created(w, c.Replayed, h.vaccinationOut(*c.Vaccination))
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

// Forecast forecasts a person's next doses (clinic ForecastPerson) as of the
// as_of query date, with the schedule and observations the query names.
func (h *API) Forecast() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := httpx.CardFrom(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		asOf, err := httpx.DateParam(r, "as_of", registry.Date{})
		if err != nil {
			return err
		}
		in := clinic.ForecastInput{Schedule: q.Get("schedule"), AsOf: asOf}
		for _, v := range q["observation"] {
			o, err := clinic.ParseObservation(v)
			if err != nil {
				return err
			}
			in.Observations = append(in.Observations, o)
		}
		f, err := h.svc.ForecastPerson(r.Context(), a, code, in)
		if err != nil {
			return err
		}
		out := forecastResponse{Schedule: f.Schedule, AsOf: f.AsOf.String(), BirthDate: f.BirthDate.String(),
			BirthDateReading: f.BirthDateReading, Estimated: f.Estimated, Result: f.Result}
		for _, x := range f.Flagged {
			out.Flagged = append(out.Flagged, flaggedResponse{Record: x.Record.String(), Date: x.Date, Reason: x.Reason})
		}
		Encode(w, http.StatusOK, out)
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

// CertificateIssue issues an EU DCC for one of a person's records (clinic
// IssueCertificate) and answers 201 with it and its QR code.
func (h *API) CertificateIssue() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		code, err := httpx.CardFrom(r)
		if err != nil {
			return err
		}
		in, err := decodeBody[clinic.CertificateInput](w, r)
		if err != nil {
			return err
		}
		c, err := h.svc.IssueCertificate(r.Context(), a, code, in)
		if err != nil {
			return err
		}
		Encode(w, http.StatusCreated, certificateResponse{Format: "hcert", HC1: c.HC1, QRSVG: string(c.QRSVG), QRPNG: c.QRPNG,
			IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt})
		return nil
	})
}

// CertificateVerify checks a certificate against the trust list (clinic
// VerifyCertificate). Nothing about it is kept.
func (h *API) CertificateVerify() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[clinic.VerifyInput](w, r)
		if err != nil {
			return err
		}
		res, err := h.svc.VerifyCertificate(r.Context(), a, in)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, res)
		return nil
	})
}

// Eligibility decides one eligibility question (clinic Decide). The facts
// in the body are used for this one decision and then forgotten.
func (h *API) Eligibility() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[policy.EligibilityRequest](w, r)
		if err != nil {
			return err
		}
		d, err := h.svc.Decide(r.Context(), a, in)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, d)
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

// SiteCreate creates a site (clinic CreateSite) and answers 201 with it.
func (h *API) SiteCreate() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[clinic.SiteInput](w, r)
		if err != nil {
			return err
		}
		c, err := h.svc.CreateSite(r.Context(), a, in, r.Header.Get("Idempotency-Key"))
		if err != nil {
			return err
		}
		created(w, c.Replayed, siteOut(c.Site))
		return nil
	})
}

// SiteList lists the sites (clinic ListSites).
func (h *API) SiteList() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		sites, err := h.svc.ListSites(r.Context(), a)
		if err != nil {
			return err
		}
		out := make([]siteResponse, 0, len(sites))
		for _, site := range sites {
			out = append(out, siteOut(site))
		}
		Encode(w, http.StatusOK, map[string]any{"sites": out})
		return nil
	})
}

type tokenResponse struct {
	ID    string        `json:"id"`
	Token string        `json:"token"` // shown once; only its hash is stored
	Role  registry.Role `json:"role"`
	Sites []string      `json:"sites,omitempty"`
	Label string        `json:"label,omitempty"`
}

// TokenCreate makes a token (clinic CreateToken) and answers 201 with its
// secret, shown this once.
func (h *API) TokenCreate() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[clinic.TokenInput](w, r)
		if err != nil {
			return err
		}
		t, err := h.svc.CreateToken(r.Context(), a, in)
		if err != nil {
			return err
		}
		Encode(w, http.StatusCreated, tokenResponse{ID: t.Token.ID, Token: t.Secret, Role: t.Token.Role, Sites: t.Token.Sites, Label: t.Token.Label})
		return nil
	})
}

// tokenInfo describes a token without its secret or hash.
type tokenInfo struct {
	ID        string        `json:"id"`
	Role      registry.Role `json:"role"`
	Sites     []string      `json:"sites,omitempty"`
	Label     string        `json:"label,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
}

// TokenList lists the tokens without their secrets (clinic ListTokens).
func (h *API) TokenList() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		toks, err := h.svc.ListTokens(r.Context(), a)
		if err != nil {
			return err
		}
		out := make([]tokenInfo, 0, len(toks))
		for _, t := range toks {
			out = append(out, tokenInfo{ID: t.ID, Role: t.Role, Sites: t.Sites, Label: t.Label, CreatedAt: t.CreatedAt})
		}
		Encode(w, http.StatusOK, map[string]any{"tokens": out})
		return nil
	})
}

// TokenRevoke revokes a token (clinic RevokeToken) and answers 204.
func (h *API) TokenRevoke() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		if err := h.svc.RevokeToken(r.Context(), a, r.PathValue("id")); err != nil {
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

// ProductList lists the catalogue's products with their codes (clinic
// Products).
func (h *API) ProductList() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		products, err := h.svc.Products(r.Context(), a)
		if err != nil {
			return err
		}
		var out []productResponse
		for _, p := range products {
			out = append(out, productResponse{ID: p.ID, Names: p.Names, CVX: p.CVXCode(), MVX: p.MVX,
				DCCMP: p.DCCProduct, SNOMED: p.SNOMED, ICD11: p.ICD11})
		}
		Encode(w, http.StatusOK, map[string]any{"products": out})
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

// HolderRecord lets a person read their own record with their card code and
// holder secret (clinic HolderRead).
func (h *API) HolderRecord() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[holderRequest](w, r)
		if err != nil {
			return err
		}
		held, err := h.svc.HolderRead(r.Context(), a.Addr, in.CardCode, in.HolderSecret)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, h.personOut(held.Record, ""))
		return nil
	})
}

type sealRequest struct {
	Shred bool `json:"shred"` // also destroy the key file, for good
}

// Seal seals the vault (clinic Seal), and with "shred" destroys its key file.
func (h *API) Seal() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[sealRequest](w, r)
		if err != nil {
			return err
		}
		if err := h.svc.Seal(r.Context(), a, in.Shred); err != nil {
			return err
		}
		Encode(w, http.StatusOK, map[string]any{"sealed": true, "shredded": in.Shred})
		return nil
	})
}

type unlockRequest struct {
	Passphrase string `json:"passphrase"`
}

// Unlock unseals the vault with a passphrase (clinic Unlock).
func (h *API) Unlock() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[unlockRequest](w, r)
		if err != nil {
			return err
		}
		var pass []byte
		if in.Passphrase != "" {
			pass = []byte(in.Passphrase)
		}
		err = h.svc.Unlock(r.Context(), a, pass)
		clear(pass)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, map[string]any{"sealed": false})
		return nil
	})
}

// Coverage returns the suppressed coverage tables (clinic Coverage).
func (h *API) Coverage() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		to, err := httpx.DateParam(r, "to", registry.DateOf(h.svc.Now()))
		if err != nil {
			return err
		}
		from, err := httpx.DateParam(r, "from", registry.DateOf(to.Time().AddDate(0, 0, -7*12)))
		if err != nil {
			return err
		}
		k := 0
		if v := r.URL.Query().Get("k"); v != "" {
			if k, err = strconv.Atoi(v); err != nil {
				return registry.FieldErrorf(registry.EINVALID, "k", "k must be a whole number.")
			}
		}
		cov, err := h.svc.Coverage(r.Context(), a, from, to, k)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, cov)
		return nil
	})
}

// Gaps returns the sites and jurisdictions whose doses lag in a week.
func (h *API) Gaps() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		week, err := httpx.DateParam(r, "week", registry.DateOf(h.svc.Now()))
		if err != nil {
			return err
		}
		rep, err := h.svc.Gaps(r.Context(), a, week)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, rep)
		return nil
	})
}

// AuditList pages through the access log (clinic AuditEntries).
func (h *API) AuditList() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		chain, from, limit := uint64(0), uint64(1), 100
		q := r.URL.Query()
		if v := q.Get("chain"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return registry.FieldErrorf(registry.EINVALID, "chain", "chain must be a whole number (see chains).")
			}
			chain = n
		}
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
		page, err := h.svc.AuditEntries(r.Context(), a, chain, from, limit)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, map[string]any{"chain": page.Chain, "entries": page.Entries, "chains": page.Chains})
		return nil
	})
}

// AuditVerify checks the whole chain against the stored checkpoints.
func (h *API) AuditVerify() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		rep, err := h.svc.VerifyAudit(r.Context(), a)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, rep)
		return nil
	})
}
