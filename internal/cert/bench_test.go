package cert_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert"
)

func benchSetup(b *testing.B) (*cert.Issuer, *cert.Verifier, *cert.IssueRequest) {
	b.Helper()
	k, _ := mustKeys(b)
	is := mustIssuer(b, k)
	req := &cert.IssueRequest{
		Person:      cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "Rogaliński-Król", GivenName: "Stanisław", BirthDate: "1958-11-11"},
		Vaccination: vaccination(),
	}
	return is, cert.NewVerifier(k.TrustList()), req
}

// BenchmarkVerifyES256 verifies an ES256 HC1 certificate with every step
// except the JSON schema.
func BenchmarkVerifyES256(b *testing.B) {
	is, v, req := benchSetup(b)
	hc1, err := is.Issue(req, t0)
	if err != nil {
		b.Fatal(err)
	}
	opts := cert.VerifyOptions{At: t0.Add(time.Hour), SkipSchema: true}
	if r := v.Verify(hc1, opts); !r.Valid {
		b.Fatal(r.Failed, r.Reason)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := v.Verify(hc1, opts); !r.Valid {
			b.Fatal(r.Failed)
		}
	}
}

// BenchmarkVerifyES256Schema verifies with every step, schema included.
func BenchmarkVerifyES256Schema(b *testing.B) {
	is, v, req := benchSetup(b)
	hc1, err := is.Issue(req, t0)
	if err != nil {
		b.Fatal(err)
	}
	opts := cert.VerifyOptions{At: t0.Add(time.Hour)}
	if r := v.Verify(hc1, opts); !r.Valid {
		b.Fatal(r.Failed, r.Reason)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := v.Verify(hc1, opts); !r.Valid {
			b.Fatal(r.Failed)
		}
	}
}

// BenchmarkIssue issues an ES256 HC1 certificate (no QR rendering).
func BenchmarkIssue(b *testing.B) {
	is, _, req := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := is.Issue(req, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQR renders the QR code of an issued certificate (PNG and SVG).
func BenchmarkQR(b *testing.B) {
	is, _, req := benchSetup(b)
	hc1, err := is.Issue(req, t0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q, err := cert.NewQR(hc1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := q.PNG(400); err != nil {
			b.Fatal(err)
		}
		_ = q.SVG()
	}
}

// BenchmarkECDSAVerifyBaseline is the standard library's P-256 verification
// alone, for comparison with BenchmarkVerifyES256 on the same machine.
func BenchmarkECDSAVerifyBaseline(b *testing.B) {
	k, _ := mustKeys(b)
	key := k.Signer.(*ecdsa.PrivateKey)
	digest := sha256.Sum256([]byte("Signature1"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			b.Fatal("no")
		}
	}
}

// BenchmarkParseHC1 runs only the structural steps (unprefix to cwt).
func BenchmarkParseHC1(b *testing.B) {
	is, _, req := benchSetup(b)
	hc1, err := is.Issue(req, t0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cert.ParseHC1(hc1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckSchema runs only the schema step.
func BenchmarkCheckSchema(b *testing.B) {
	is, _, req := benchSetup(b)
	hc1, err := is.Issue(req, t0)
	if err != nil {
		b.Fatal(err)
	}
	h, err := cert.ParseHC1(hc1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h.CheckSchema(); err != nil {
			b.Fatal(err)
		}
	}
}
