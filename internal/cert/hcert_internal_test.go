package cert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"testing"
	"time"
)

// TestParseHC1KeepsNoPooledBuffer checks what bufPool relies on: an HCert
// from ParseHC1 holds no reference into the pooled Base45 and ZLIB buffers,
// so parsing other certificates afterwards leaves it unchanged.
func TestParseHC1KeepsNoPooledBuffer(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"KR"}, CommonName: "DSC"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	dsc, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(key, dsc, IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string) string {
		hc1, err := is.Issue(&IssueRequest{
			Person:      Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: name, BirthDate: "1958-11-11"},
			Vaccination: &VaccinationEvent{Product: "EU/1/20/1528", Dose: 2, Series: 2, Date: "2026-02-20", Country: "KR"},
		}, now)
		if err != nil {
			t.Fatal(err)
		}
		return hc1
	}
	h, err := ParseHC1(issue("Kim"))
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func(h *HCert) [][]byte {
		return [][]byte{slices.Clone(h.protected), slices.Clone(h.payload), slices.Clone(h.signature),
			slices.Clone(h.KID), slices.Clone(h.rawDCC), []byte(h.Issuer), []byte(h.DCC.Nam.Fn)}
	}
	before := snapshot(h)
	for _, name := range []string{"Park", "Lee-Choi", "Rogaliński-Król", "Ng"} {
		if _, err := ParseHC1(issue(name)); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range snapshot(h) {
		if !bytes.Equal(b, before[i]) {
			t.Errorf("field %d changed after parsing other certificates: %q, was %q", i, b, before[i])
		}
	}
	if _, err := h.VerifySignature(NewTrustList(dsc)); err != nil {
		t.Errorf("signature no longer verifies: %v", err)
	}
}
