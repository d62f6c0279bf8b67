package cert_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert"
)

// benchFixture is what the benchmarks share: one key set, so that
// BenchmarkVerifyES256Schema and BenchmarkECDSAVerifyBaseline verify with
// the same P-256 key, an issued certificate, and a SHA-256 digest (the size
// of the COSE Sig_structure digest) with its ASN.1 signature by the DSC key.
type benchFixture struct {
	issuer   *cert.Issuer
	verifier *cert.Verifier
	req      *cert.IssueRequest
	hc1      string
	pub      *ecdsa.PublicKey
	digest   [sha256.Size]byte
	sig      []byte
}

var benchShared struct {
	sync.Mutex
	f *benchFixture
}

func benchSetup(b *testing.B) *benchFixture {
	b.Helper()
	benchShared.Lock()
	defer benchShared.Unlock()
	if benchShared.f != nil {
		return benchShared.f
	}
	k, _ := mustKeys(b)
	f := &benchFixture{
		issuer:   mustIssuer(b, k),
		verifier: cert.NewVerifier(k.TrustList()),
		req: &cert.IssueRequest{
			Person:      cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "Rogaliński-Król", GivenName: "Stanisław", BirthDate: "1958-11-11"},
			Vaccination: vaccination(),
		},
	}
	var err error
	if f.hc1, err = f.issuer.Issue(f.req, t0); err != nil {
		b.Fatal(err)
	}
	key := k.Signer.(*ecdsa.PrivateKey)
	f.pub = &key.PublicKey
	f.digest = sha256.Sum256([]byte(f.hc1))
	if f.sig, err = ecdsa.SignASN1(rand.Reader, key, f.digest[:]); err != nil {
		b.Fatal(err)
	}
	benchShared.f = f
	return f
}

// BenchmarkVerifyES256 verifies an ES256 HC1 certificate with every step
// except the JSON schema.
func BenchmarkVerifyES256(b *testing.B) {
	f := benchSetup(b)
	v, hc1 := f.verifier, f.hc1
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
	f := benchSetup(b)
	v, hc1 := f.verifier, f.hc1
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
	f := benchSetup(b)
	is, req := f.issuer, f.req
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
	hc1 := benchSetup(b).hc1
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
// alone (ecdsa.VerifyASN1, as the signature step calls it), with the key
// and digest size of BenchmarkVerifyES256Schema, for comparison on the same
// machine. BenchmarkVerifyES256SchemaRatio runs the two side by side.
func BenchmarkECDSAVerifyBaseline(b *testing.B) {
	f := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !ecdsa.VerifyASN1(f.pub, f.digest[:], f.sig) {
			b.Fatal("no")
		}
	}
}

// BenchmarkVerifyES256SchemaRatio alternates the operations of
// BenchmarkVerifyES256Schema (a verification with every step, schema
// included) and BenchmarkECDSAVerifyBaseline (a bare ecdsa.VerifyASN1 with
// the same key), timing each, so that both see the same machine load. It
// reports their mean times and the ratio verify/ecdsa, which issue 13 wants
// at most 1.3. An op is one of each.
func BenchmarkVerifyES256SchemaRatio(b *testing.B) {
	f := benchSetup(b)
	opts := cert.VerifyOptions{At: t0.Add(time.Hour)}
	if r := f.verifier.Verify(f.hc1, opts); !r.Valid {
		b.Fatal(r.Failed, r.Reason)
	}
	verify := func() {
		if r := f.verifier.Verify(f.hc1, opts); !r.Valid {
			b.Fatal(r.Failed)
		}
	}
	bare := func() {
		if !ecdsa.VerifyASN1(f.pub, f.digest[:], f.sig) {
			b.Fatal("no")
		}
	}
	var tVerify, tBare time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		first, second, d1, d2 := verify, bare, &tVerify, &tBare
		if i%2 == 1 { // alternate the order, in case it matters
			first, second, d1, d2 = bare, verify, &tBare, &tVerify
		}
		start := time.Now()
		first()
		mid := time.Now()
		second()
		*d1 += mid.Sub(start)
		*d2 += time.Since(mid)
	}
	b.ReportMetric(float64(tVerify.Nanoseconds())/float64(b.N), "verify-ns/op")
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "ecdsa-ns/op")
	b.ReportMetric(float64(tVerify)/float64(tBare), "ratio")
}

// BenchmarkParseHC1 runs only the structural steps (unprefix to cwt).
func BenchmarkParseHC1(b *testing.B) {
	hc1 := benchSetup(b).hc1
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
	h, err := cert.ParseHC1(benchSetup(b).hc1)
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
