package clinic

import (
	"context"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
)

// qrPNGSize is the width and height of the PNG QR code, in pixels: large
// enough to print and to scan from a phone screen.
const qrPNGSize = 512

// CertificateInput asks for a certificate of one of a person's records.
type CertificateInput struct {
	Record string `json:"record"` // the vaccination or test to certify
	Device string `json:"device"` // for a rapid antigen test: the EU device id
}

// Certificate is an issued EU DCC with its QR code.
type Certificate struct {
	Card      registry.CardCode
	HC1       string
	QRSVG     []byte
	QRPNG     []byte
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// SetIssuer replaces the certificate issuer and verifier, for example after
// "haven keys init" made keys while the server runs.
func (s *Service) SetIssuer(c Certs) {
	s.certMu.Lock()
	defer s.certMu.Unlock()
	s.certs = c
}

func (s *Service) currentCerts() Certs {
	s.certMu.RLock()
	defer s.certMu.RUnlock()
	return s.certs
}

// IssueCertificate makes an EU DCC for one of a person's records. A person
// with no name on record gets the card code as name (a temporary identity);
// the birth date may be partial. It is a person-level read: limited, and
// audited with the purpose "certificate".
func (s *Service) IssueCertificate(ctx context.Context, a Actor, card registry.CardCode, in CertificateInput) (*Certificate, error) {
	if err := s.begin(a, ActCertificateIssue); err != nil {
		return nil, err
	}
	return s.issueCertificate(ctx, a, card, in)
}

// issueCertificate is IssueCertificate once the actor is admitted.
func (s *Service) issueCertificate(ctx context.Context, a Actor, card registry.CardCode, in CertificateInput) (*Certificate, error) {
	recordID, err := registry.ParseID(in.Record)
	if err != nil {
		return nil, fieldErr("record", "Malformed record ID.")
	}
	certs := s.currentCerts()
	if certs.Issuer == nil {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "No signing keys; run haven keys init.")
	}
	rec, err := s.read(ctx, a, card, ActCertificateIssue, "certificate")
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
		dose, series := doseNumber(rec, v), 2
		if p != nil {
			series = p.PrimaryDoses
		}
		ev, err := cert.VaccinationFromRecord(v, p, dose, max(series, dose), s.countryOf(ctx, certs, v.Site))
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
		centre := t.Site
		if site, err := s.FindSite(ctx, t.Site); err == nil {
			centre = site.Name
		}
		ev, err := cert.TestFromRecord(t, in.Device, centre, s.countryOf(ctx, certs, t.Site))
		if err != nil {
			return nil, err
		}
		req.Test = ev
	}
	if !found {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "record", "This person has no such record.")
	}
	issued, err := certs.Issuer.IssueCertificate(req, s.now())
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
	return &Certificate{Card: card, HC1: issued.HC1, QRSVG: qr.SVG(), QRPNG: png, IssuedAt: issued.IssuedAt, ExpiresAt: issued.ExpiresAt}, nil
}

// doseNumber is v's position among the person's completed doses, in date
// order (the EU DCC "dn").
func doseNumber(rec *registry.Record, v registry.Vaccination) int {
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
func (s *Service) countryOf(ctx context.Context, certs Certs, code string) string {
	if code != "" {
		if site, err := s.FindSite(ctx, code); err == nil {
			c, _, _ := strings.Cut(site.Jurisdiction, "-")
			return c
		}
	}
	return certs.Country
}

// VerifyInput is a certificate to check offline.
type VerifyInput struct {
	Text     string    `json:"text"`      // "HC1:…" or an SD-JWT presentation
	At       time.Time `json:"at"`        // verification time; default now
	SkipTime bool      `json:"skip_time"` // skip the time step
}

// VerifyCertificate checks a certificate offline against the trust list. It
// is public, and nothing about the certificate is stored, logged or audited.
func (s *Service) VerifyCertificate(ctx context.Context, a Actor, in VerifyInput) (*cert.VerifyResult, error) {
	if err := s.begin(a, ActCertificateVerify); err != nil {
		return nil, err
	}
	text := strings.TrimSpace(in.Text)
	if text == "" {
		return nil, fieldErr("text", "Paste the certificate text (HC1:… or an SD-JWT presentation).")
	}
	certs := s.currentCerts()
	if certs.Verifier == nil {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "No trust list; run haven keys init or configure one.")
	}
	at := in.At
	if at.IsZero() {
		at = s.now()
	}
	return certs.Verifier.VerifyAny(text, cert.VerifyOptions{At: at, SkipTime: in.SkipTime}), nil
}
