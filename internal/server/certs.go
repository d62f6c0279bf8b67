package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
)

// Certs issues and verifies certificates. Both parts are optional: without
// an Issuer (no keys made with "haven keys init") issuing answers 503.
type Certs struct {
	Issuer   *cert.Issuer
	Verifier *cert.Verifier
	// Country is the issuing country (ISO 3166-1 alpha-2), used for a dose
	// whose site is unknown (a historical or self-reported dose).
	Country string
}

// qrPNGSize is the width and height of the PNG QR code, in pixels: large
// enough to print and to scan from a phone screen.
const qrPNGSize = 512

// certificateRequest is the body of POST /api/v1/persons/{card}/certificates.
type certificateRequest struct {
	Record string `json:"record"` // the vaccination or test to certify
	Device string `json:"device"` // for a rapid antigen test: the EU device id
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

// IssueCertificate makes an EU DCC for one of a person's records. A person
// with no name on record gets the card code as name (a temporary identity);
// the birth date may be partial. The read is audited like any other.
func (s *Server) IssueCertificate(r *http.Request, code registry.CardCode, recordID registry.ID, device string) (*certificateResponse, error) {
	if s.certs.Issuer == nil {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "No signing keys; run haven keys init.")
	}
	rec, err := s.readRecord(r, code, "certificate.issue", "certificate")
	if err != nil {
		return nil, err
	}
	req := &cert.IssueRequest{Person: cert.PersonFromRegistry(rec.Person)}
	found := false
	for _, v := range rec.Vaccinations {
		if v.ID != recordID {
			continue
		}
		found = true
		p, _ := s.catalog.ByID(v.Product)
		dose, series := s.doseNumber(rec, v), 2
		if p != nil {
			series = p.PrimaryDoses
		}
		ev, err := cert.VaccinationFromRecord(v, p, dose, max(series, dose), s.countryOf(r.Context(), v.Site))
		if err != nil {
			return nil, err
		}
		req.Vaccination = ev
	}
	for _, t := range rec.Tests {
		if t.ID != recordID {
			continue
		}
		found = true
		site, _ := s.findSite(r.Context(), t.Site)
		centre := t.Site
		if site != nil {
			centre = site.Name
		}
		ev, err := cert.TestFromRecord(t, device, centre, s.countryOf(r.Context(), t.Site))
		if err != nil {
			return nil, err
		}
		req.Test = ev
	}
	if !found {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "record", "This person has no such record.")
	}
	issued, err := s.certs.Issuer.IssueCertificate(req, s.now())
	if err != nil {
		return nil, err
	}
	qr, err := cert.NewQR(issued.HC1)
	if err != nil {
		return nil, err
	}
	png, err := qr.PNG(qrPNGSize)
	if err != nil {
		return nil, err
	}
	return &certificateResponse{Format: "hcert", HC1: issued.HC1, QRSVG: string(qr.SVG()), QRPNG: png,
		IssuedAt: issued.IssuedAt, ExpiresAt: issued.ExpiresAt}, nil
}

// doseNumber is v's position among the person's completed doses, in date
// order (the EU DCC "dn").
func (s *Server) doseNumber(rec *openedRecord, v registry.Vaccination) int {
	n := 0
	for _, w := range rec.Vaccinations {
		if w.Status == registry.StatusCompleted && !w.Date.After(v.Date) {
			n++
		}
	}
	return max(n, 1)
}

// countryOf is the ISO 3166-1 country of a site's jurisdiction, or the
// issuing country when the site is unknown.
func (s *Server) countryOf(ctx context.Context, code string) string {
	if code != "" {
		if site, err := s.findSite(ctx, code); err == nil {
			c, _, _ := strings.Cut(site.Jurisdiction, "-")
			return c
		}
	}
	return s.certs.Country
}

func (s *Server) handleCertificateIssue() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := cardFrom(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req, _, err := decodeBody[certificateRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		id, err := registry.ParseID(req.Record)
		if err != nil {
			s.writeError(w, r, fieldErr("record", "Malformed record ID."))
			return
		}
		out, err := s.IssueCertificate(r, code, id, req.Device)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusCreated, out)
	})
}

// verifyRequest is the body of POST /api/v1/certificates/verify.
type verifyRequest struct {
	Text     string    `json:"text"`      // "HC1:…" or an SD-JWT presentation
	At       time.Time `json:"at"`        // verification time; default now
	SkipTime bool      `json:"skip_time"` // skip the time step
}

// VerifyCertificate checks a certificate offline against the trust list.
// Nothing about the certificate is stored or logged.
func (s *Server) VerifyCertificate(text string, at time.Time, skipTime bool) (*cert.VerifyResult, error) {
	if s.certs.Verifier == nil {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "No trust list; run haven keys init or configure one.")
	}
	if at.IsZero() {
		at = s.now()
	}
	return s.certs.Verifier.VerifyAny(strings.TrimSpace(text), cert.VerifyOptions{At: at, SkipTime: skipTime}), nil
}

func (s *Server) handleCertificateVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _, err := decodeBody[verifyRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if req.Text == "" {
			s.writeError(w, r, fieldErr("text", "Paste the certificate text (HC1:… or an SD-JWT presentation)."))
			return
		}
		res, err := s.VerifyCertificate(req.Text, req.At, req.SkipTime)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, res)
	})
}
