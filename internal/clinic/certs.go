package clinic

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
)

// qrPNGSize is the width and height of the PNG QR code, in pixels: large
// enough to print and to scan from a phone screen.
const qrPNGSize = 512

// CertificateInput asks for a certificate of one of a person's records.
type CertificateInput struct {
	Record string `json:"record"` // the vaccination or test to certify
	Device string `json:"device"` // for a rapid antigen test: the EU device id
	// Override, from OverrideReasons, lets a clinician certify a dose the
	// schedule does not count; the override and its reason are audited.
	Override string `json:"override"`
}

// OverrideReasons are the reasons a clinician may give for certifying a dose
// that the schedule evaluates as not valid. The list is fixed so that no free
// text is kept.
var OverrideReasons = []string{"clinical_judgement", "other_schedule", "incomplete_history"}

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
	c := s.certs
	s.certMu.RUnlock()
	if c.Issuer != nil || s.loadCerts == nil {
		return c
	}
	// No signing keys when the server started: perhaps they were made
	// since. Loading is cheap next to issuing, and happens only while
	// there are none.
	fresh, err := s.loadCerts()
	if err != nil {
		s.logger.Warn("loading certificate keys failed", "error", err.Error())
		return c
	}
	if fresh.Issuer != nil {
		s.SetIssuer(fresh)
		return fresh
	}
	return c
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
		return nil, registry.Errorf(registry.EUNAVAILABLE, "No signing keys: an administrator runs haven keys init --country CC on the server; this server uses them at once.")
	}
	rec, err := s.read(ctx, a, card, ActCertificateIssue, "certificate")
	if err != nil {
		return nil, err
	}
	if in.Override != "" && !slices.Contains(OverrideReasons, in.Override) {
		return nil, fieldErr("override", "The reason must be one of %s.", strings.Join(OverrideReasons, ", "))
	}
	req := &cert.IssueRequest{Person: cert.PersonFromRegistry(rec.Person)}
	found := false
	for _, v := range rec.Vaccinations {
		if v.ID != recordID {
			continue
		}
		found = true
		if v.Status != registry.StatusCompleted {
			return nil, registry.FieldErrorf(registry.ECONFLICT, "record", "This dose was marked entered in error.")
		}
		p, _ := s.catalog.ByID(v.Product)
		dose, series, err := s.doseInSeries(rec, v, p)
		if err != nil && in.Override == "" {
			return nil, err
		}
		if err != nil {
			subject, serr := s.subjectOf(rec.Person.ID)
			if serr != nil {
				return nil, serr
			}
			if err := s.trace(ctx, a, ActCertificateOverride, in.Override, subject); err != nil {
				return nil, err
			}
		}
		ev, err := cert.VaccinationFromRecord(v, p, dose, series, s.countryOf(ctx, certs, v.Site))
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
	if err := s.keepCertificate(ctx, rec.Person.ID, recordID, certs, issued); err != nil {
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

// doseInSeries is the EU DCC dose number ("dn") and series size ("sd") of v,
// as the server's schedule evaluates the person's history up to v's date: dn counts the
// doses evaluated valid for v's antigen up to and including v, and sd is the
// product's primary series (at least dn). When the schedule does not count
// v (not valid, or extraneous), it returns ECONFLICT naming record and the
// schedule's reason, with the numbers a certificate would carry if a
// clinician overrides. A dose the schedule finds extraneous (beyond the
// series, such as a booster it does not describe) is numbered after the
// valid ones. Without a birth date nothing can be evaluated, and
// the completed doses are counted instead.
func (s *Service) doseInSeries(rec *registry.Record, v registry.Vaccination, p *catalog.Product) (dn, sd int, err error) {
	series := 2
	if p != nil {
		series = p.PrimaryDoses
	}
	// Evaluated as the day after the dose: a certificate says what the dose
	// was when it was given, whatever was given later.
	f := s.forecast(rec, "", v.Date.Time().AddDate(0, 0, 1), nil)
	evals, evaluated := f.ByRecord[v.ID]
	if f.Unavailable != "" || !evaluated || len(evals) == 0 {
		n := 0
		for _, w := range rec.Vaccinations {
			if w.Status == registry.StatusCompleted && !w.Date.After(v.Date) {
				n++
			}
		}
		n = max(n, 1)
		return n, max(series, n), nil
	}
	own := evals[0]
	count := 0
	for _, w := range rec.Vaccinations {
		if w.Date.After(v.Date) {
			continue
		}
		for _, e := range f.ByRecord[w.ID] {
			if e.Antigen == own.Antigen && e.Status == schedule.Valid {
				count++
			}
		}
	}
	switch own.Status {
	case schedule.Valid:
		return count, max(series, count), nil
	case schedule.Extraneous:
		// A dose beyond the series (a booster the schedule does not
		// describe) is certified in its place after the valid ones.
		return count + 1, max(series, count+1), nil
	}
	n := count + 1
	return n, max(series, n), registry.FieldErrorf(registry.ECONFLICT, "record",
		"The schedule does not count this dose (%s); a certificate needs a clinician's override with a reason.", own.Reason)
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
