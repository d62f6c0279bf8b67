package cert_test

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
)

func TestBase45(t *testing.T) {
	// Examples from RFC 9285 section 4.
	tests := []struct{ raw, enc string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := cert.Base45Encode([]byte(tt.raw)); got != tt.enc {
			t.Errorf("encode %q = %q, want %q", tt.raw, got, tt.enc)
		}
		got, err := cert.Base45Decode(tt.enc)
		if err != nil || string(got) != tt.raw {
			t.Errorf("decode %q = %q, %v", tt.enc, got, err)
		}
	}
	for _, bad := range []string{"GGW", "A", "ABCD", "aBB", "BB8\n", "ZZZ"} {
		if _, err := cert.Base45Decode(bad); registry.ErrorField(err) != cert.StepBase45 {
			t.Errorf("decode %q: err %v, want a base45 error", bad, err)
		}
	}
}

// selfSigned returns a certificate for key valid around t0, with the given
// extended key usages.
func selfSigned(t testing.TB, key crypto.Signer, ekus ...asn1.ObjectIdentifier) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(7),
		Subject:            pkix.Name{Country: []string{"KR"}, CommonName: "test DSC"},
		NotBefore:          t0.Add(-24 * time.Hour),
		NotAfter:           t0.Add(400 * 24 * time.Hour),
		UnknownExtKeyUsage: ekus,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cose builds HCERTs field by field, to test what the issuer never emits.
type cose struct {
	key         crypto.Signer
	alg         int64 // 0: ES256
	prot, unpro map[any]any
	claims      any
	tags        []uint64 // outermost first
	rawSig      []byte   // overrides the signature
	trailing    []byte   // appended after the COSE message
}

func claimsAt(iat, exp any, dcc any) map[any]any {
	return map[any]any{1: "KR", 6: iat, 4: exp, -260: map[any]any{1: dcc}}
}

func validDCC() map[string]any {
	return map[string]any{
		"ver": "1.3.0", "dob": "1980",
		"nam": map[string]any{"fn": "7KQM-X4TD-9HCA", "fnt": "SEVENKQM<XFOURTD<NINEHCA"},
		"v": []any{map[string]any{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
			"dn": 1, "sd": 2, "dt": "2026-02-01", "co": "KR", "is": "Haven", "ci": "URN:UVCI:01:KR:TEST#A"}},
	}
}

func testDCC(sc any) map[string]any {
	d := validDCC()
	delete(d, "v")
	d["t"] = []any{map[string]any{"tg": "840539006", "tt": "LP6464-4", "sc": sc, "tr": "260415000", "co": "KR", "is": "Haven", "ci": "URN:UVCI:01:KR:T#A"}}
	return d
}

func (c cose) build(t testing.TB) []byte {
	t.Helper()
	em, _ := cbor.CoreDetEncOptions().EncMode()
	prot := []byte{}
	if c.prot != nil {
		prot, _ = em.Marshal(c.prot)
	}
	unpro := c.unpro
	if unpro == nil {
		unpro = map[any]any{}
	}
	payload, err := em.Marshal(c.claims)
	if err != nil {
		t.Fatal(err)
	}
	sigStruct, _ := em.Marshal([]any{"Signature1", prot, []byte{}, payload})
	digest := sha256.Sum256(sigStruct)
	sig := c.rawSig
	if sig == nil {
		switch k := c.key.(type) {
		case *ecdsa.PrivateKey:
			r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
			if err != nil {
				t.Fatal(err)
			}
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		case *rsa.PrivateKey:
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var msg any = []any{prot, unpro, payload, sig}
	for i := len(c.tags) - 1; i >= 0; i-- {
		msg = cbor.Tag{Number: c.tags[i], Content: msg}
	}
	b, err := em.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, c.trailing...)
}

func hc1Of(raw []byte) string {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(raw)
	w.Close()
	return "HC1:" + cert.Base45Encode(z.Bytes())
}

func TestVerifyCOSEAndCWT(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	dsc := selfSigned(t, ec)
	kid := cert.KID(dsc)
	other := []byte("12345678")
	iat, exp := t0.Add(-time.Hour).Unix(), t0.Add(30*24*time.Hour).Unix()
	good := claimsAt(iat, exp, validDCC())
	ph := func(alg, kid any) map[any]any {
		m := map[any]any{}
		if alg != nil {
			m[1] = alg
		}
		if kid != nil {
			m[4] = kid
		}
		return m
	}
	der := func() []byte { // a 70-odd byte ASN.1 ECDSA signature instead of r||s
		s, _ := ecdsa.SignASN1(rand.Reader, ec, make([]byte, 32))
		return s
	}()
	rsaDSC := selfSigned(t, rsa2048)
	rsaSmallDSC := selfSigned(t, rsa1024)
	ec384DSC := selfSigned(t, ec384)

	tests := []struct {
		name   string
		c      cose
		trust  *cert.TrustList
		failed string // "" = valid
	}{
		{"ok/tagged", cose{key: ec, prot: ph(-7, kid), claims: good, tags: []uint64{18}}, nil, ""},
		{"ok/untagged", cose{key: ec, prot: ph(-7, kid), claims: good}, nil, ""},
		{"ok/cwt-and-cose-tags", cose{key: ec, prot: ph(-7, kid), claims: good, tags: []uint64{61, 18}}, nil, ""},
		{"ok/kid-unprotected", cose{key: ec, prot: ph(-7, nil), unpro: ph(nil, kid), claims: good}, nil, ""},
		{"ok/alg-and-kid-unprotected", cose{key: ec, unpro: ph(-7, kid), claims: good}, nil, ""},
		{"ok/protected-kid-wins", cose{key: ec, prot: ph(-7, kid), unpro: ph(nil, other), claims: good}, nil, ""},
		{"ok/float-times", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(float64(iat)+0.5, float64(exp)+0.25, validDCC())}, nil, ""},
		{"ok/kid-collision", cose{key: ec, prot: ph(-7, kid), claims: good}, func() *cert.TrustList {
			tl := cert.NewTrustList()
			tl.AddWithKID(kid, selfSigned(t, ec2)) // wrong key first
			tl.AddWithKID(kid, dsc)
			return tl
		}(), ""},
		{"ok/ps256", cose{key: rsa2048, prot: ph(-37, cert.KID(rsaDSC)), claims: good}, cert.NewTrustList(rsaDSC), ""},
		{"fail/protected-kid-wrong", cose{key: ec, prot: ph(-7, other), unpro: ph(nil, kid), claims: good}, nil, cert.StepSignature},
		{"fail/no-kid", cose{key: ec, prot: ph(-7, nil), claims: good}, nil, cert.StepSignature},
		{"fail/kid-short", cose{key: ec, prot: ph(-7, kid[:4]), claims: good}, nil, cert.StepSignature},
		{"fail/kid-long", cose{key: ec, prot: ph(-7, append(append([]byte{}, kid...), kid...)), claims: good}, nil, cert.StepSignature},
		{"fail/kid-text", cose{key: ec, prot: ph(-7, "kid"), claims: good}, nil, cert.StepCOSE},
		{"fail/alg-es384", cose{key: ec, prot: ph(-35, kid), claims: good}, nil, cert.StepSignature},
		{"fail/alg-text", cose{key: ec, prot: ph("ES256", kid), claims: good}, nil, cert.StepCOSE},
		{"fail/no-alg", cose{key: ec, prot: ph(nil, kid), claims: good}, nil, cert.StepCOSE},
		{"fail/ps256-with-ec-key", cose{key: ec, prot: ph(-37, kid), claims: good}, nil, cert.StepSignature},
		{"fail/es256-with-rsa-key", cose{key: rsa2048, prot: ph(-7, cert.KID(rsaDSC)), claims: good}, cert.NewTrustList(rsaDSC), cert.StepSignature},
		{"fail/es256-p384-key", cose{key: ec, prot: ph(-7, cert.KID(ec384DSC)), claims: good}, cert.NewTrustList(ec384DSC), cert.StepSignature},
		{"fail/ps256-rsa-1024", cose{key: rsa1024, prot: ph(-37, cert.KID(rsaSmallDSC)), claims: good}, cert.NewTrustList(rsaSmallDSC), cert.StepSignature},
		{"fail/asn1-signature", cose{key: ec, prot: ph(-7, kid), claims: good, rawSig: der}, nil, cert.StepSignature},
		{"fail/zero-signature", cose{key: ec, prot: ph(-7, kid), claims: good, rawSig: make([]byte, 64)}, nil, cert.StepSignature},
		{"fail/cose-sign-tag", cose{key: ec, prot: ph(-7, kid), claims: good, tags: []uint64{98}}, nil, cert.StepCOSE},
		{"fail/tags-reversed", cose{key: ec, prot: ph(-7, kid), claims: good, tags: []uint64{18, 61}}, nil, cert.StepCOSE},
		{"fail/trailing-bytes", cose{key: ec, prot: ph(-7, kid), claims: good, trailing: []byte{0}}, nil, cert.StepCOSE},
		{"fail/payload-array", cose{key: ec, prot: ph(-7, kid), claims: []any{1, 2}}, nil, cert.StepCWT},
		{"fail/no-hcert", cose{key: ec, prot: ph(-7, kid), claims: map[any]any{1: "KR", 6: iat, 4: exp}}, nil, cert.StepCWT},
		{"fail/no-eu-dcc", cose{key: ec, prot: ph(-7, kid), claims: map[any]any{6: iat, 4: exp, -260: map[any]any{2: "x"}}}, nil, cert.StepCWT},
		{"fail/tagged-iat", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(cbor.Tag{Number: 1, Content: iat}, exp, validDCC())}, nil, cert.StepCWT},
		{"fail/text-exp", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, "soon", validDCC())}, nil, cert.StepCWT},
		{"fail/iss-number", cose{key: ec, prot: ph(-7, kid), claims: map[any]any{1: 410, 6: iat, 4: exp, -260: map[any]any{1: validDCC()}}}, nil, cert.StepCWT},
		{"fail/no-exp", cose{key: ec, prot: ph(-7, kid), claims: map[any]any{6: iat, -260: map[any]any{1: validDCC()}}}, nil, cert.StepTime},
		{"fail/not-yet-valid", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(t0.Add(time.Hour).Unix(), exp, validDCC())}, nil, cert.StepTime},
		{"fail/expired", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, t0.Add(-time.Minute).Unix(), validDCC())}, nil, cert.StepTime},
		{"fail/two-groups", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, exp, func() map[string]any {
			d := validDCC()
			d["r"] = []any{map[string]any{"tg": "840539006", "fr": "2026-01-01", "co": "KR", "is": "Haven", "df": "2026-01-12", "du": "2026-06-30", "ci": "URN:UVCI:01:KR:R#A"}}
			return d
		}())}, nil, cert.StepKeyUsage},
		{"fail/schema-dob", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, exp, func() map[string]any {
			d := validDCC()
			d["dob"] = "1980-xx-xx"
			return d
		}())}, nil, cert.StepSchema},
		{"ok/float-dose-number", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, exp, func() map[string]any {
			d := validDCC()
			d["v"].([]any)[0].(map[string]any)["dn"] = 1.0
			return d
		}())}, nil, ""},
		{"ok/test-sc-tag0", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, exp, testDCC(cbor.Tag{Number: 0, Content: "2026-02-28T10:00:00Z"}))}, nil, ""},
		{"ok/test-sc-tag1", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, exp, testDCC(cbor.Tag{Number: 1, Content: 1772272800}))}, nil, ""},
		{"fail/test-sampled-in-future", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, exp, testDCC(t0.Add(time.Minute).Format(time.RFC3339)))}, nil, cert.StepTime},
		{"ok/test-sampled-before", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, exp, testDCC(t0.Add(-2*time.Hour).Format(time.RFC3339)))}, nil, ""},
		{"fail/fractional-dose-number", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, exp, func() map[string]any {
			d := validDCC()
			d["v"].([]any)[0].(map[string]any)["dn"] = 1.5
			return d
		}())}, nil, cert.StepSchema},
		{"fail/valueset-country", cose{key: ec, prot: ph(-7, kid), claims: claimsAt(iat, exp, func() map[string]any {
			d := validDCC()
			d["v"].([]any)[0].(map[string]any)["co"] = "XY"
			return d
		}())}, nil, cert.StepValueSets},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trust := tt.trust
			if trust == nil {
				trust = cert.NewTrustList(dsc)
			}
			res := cert.NewVerifier(trust).Verify(hc1Of(tt.c.build(t)), cert.VerifyOptions{At: t0})
			if tt.failed == "" {
				if !res.Valid {
					t.Fatalf("invalid: %s: %s", res.Failed, res.Reason)
				}
				return
			}
			if res.Valid || res.Failed != tt.failed {
				t.Fatalf("valid %v failed %q (%s), want failure at %s", res.Valid, res.Failed, res.Reason, tt.failed)
			}
			if registry.ErrorField(res.Err()) != tt.failed {
				t.Errorf("Err() field %q", registry.ErrorField(res.Err()))
			}
		})
	}
}

func TestKeyUsage(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	iat, exp := t0.Add(-time.Hour).Unix(), t0.Add(time.Hour).Unix()
	altVacc := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 2}
	serverAuth := asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	tests := []struct {
		name string
		ekus []asn1.ObjectIdentifier
		ok   bool
	}{
		{"ok/no-eku", nil, true},
		{"ok/vaccination", []asn1.ObjectIdentifier{cert.OIDVaccination}, true},
		{"ok/vaccination-alt-oid", []asn1.ObjectIdentifier{altVacc}, true},
		{"ok/all-three", []asn1.ObjectIdentifier{cert.OIDTest, cert.OIDVaccination, cert.OIDRecovery}, true},
		{"ok/unrelated-eku-only", []asn1.ObjectIdentifier{serverAuth}, true},
		{"fail/test-only", []asn1.ObjectIdentifier{cert.OIDTest}, false},
		{"fail/recovery-and-test", []asn1.ObjectIdentifier{cert.OIDRecovery, cert.OIDTest, serverAuth}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsc := selfSigned(t, ec, tt.ekus...)
			c := cose{key: ec, prot: map[any]any{1: -7, 4: cert.KID(dsc)}, claims: claimsAt(iat, exp, validDCC())}
			h, err := cert.ParseCOSE(c.build(t))
			if err != nil {
				t.Fatal(err)
			}
			err = h.CheckKeyUsage(dsc)
			if (err == nil) != tt.ok {
				t.Errorf("CheckKeyUsage = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestDecompressLimits(t *testing.T) {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(make([]byte, cert.MaxCWTSize+1))
	w.Close()
	if _, err := cert.Decompress(z.Bytes()); registry.ErrorCode(err) != registry.ETOOLARGE {
		t.Errorf("zip bomb: %v", err)
	}
	if _, err := cert.Decompress(append(append([]byte{}, z.Bytes()...), 0)); err == nil {
		t.Error("trailing data accepted")
	}
	for _, bad := range [][]byte{nil, {0x78}, {0xd2, 0x84}, z.Bytes()[:10]} {
		if _, err := cert.Decompress(bad); registry.ErrorField(err) != cert.StepDecompress {
			t.Errorf("Decompress(%x) = %v", bad, err)
		}
	}
}

func TestUnprefix(t *testing.T) {
	for _, tt := range []struct{ in, code string }{
		{"HC1:ABC", ""}, {"HC2:ABC", registry.EUNSUPPORTED}, {"HL0:ABC", registry.EMALFORMED},
		{"hc1:ABC", registry.EMALFORMED}, {"ABC", registry.EMALFORMED}, {"", registry.EMALFORMED},
	} {
		_, err := cert.Unprefix(tt.in)
		if registry.ErrorCode(err) != tt.code {
			t.Errorf("Unprefix(%q) = %v, want code %q", tt.in, err, tt.code)
		}
	}
}

func TestTrustListRoundTrip(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a, b := selfSigned(t, ec), selfSigned(t, ec, cert.OIDTest)
	tl := cert.NewTrustList(a)
	tl.AddWithKID(cert.KID(a), b) // a deliberate kid collision
	js, err := tl.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := cert.ParseTrustList(js)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Lookup(cert.KID(a)); len(got) != 2 || !got[0].Equal(a) || !got[1].Equal(b) {
		t.Errorf("lookup after round trip: %d certificates", len(got))
	}
	for _, bad := range []string{`[]`, `{"!!":["MII="]}`, `{"AAAAAAAAAAA=":["bm90IGEgY2VydA=="]}`, `{"AAAAAAAAAAA=":5}`} {
		if _, err := cert.ParseTrustList([]byte(bad)); err == nil {
			t.Errorf("ParseTrustList(%s) accepted", bad)
		}
	}
}

// TestVerifyResultJSON pins the JSON shape that "haven cert verify --json"
// prints and the HTTP API returns.
func TestVerifyResultJSON(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := selfSigned(t, ec)
	c := cose{key: ec, prot: map[any]any{1: -7, 4: cert.KID(dsc)}, claims: claimsAt(t0.Add(-time.Hour).Unix(), t0.Add(time.Hour).Unix(), validDCC())}
	res := cert.NewVerifier(cert.NewTrustList(dsc)).Verify(hc1Of(c.build(t)), cert.VerifyOptions{At: t0})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"valid":true,"format":"hcert","steps":{"unprefix":true,"base45":true,"decompress":true,"cose":true,"cwt":true,"signature":true,"time":true,"key_usage":true,"schema":true,"valuesets":true},`
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("JSON = %s\nwant prefix %s", b, want)
	}
	for _, key := range []string{`"payload":{"ver":"1.3.0"`, `"iss":"KR"`, `"kid":"`, `"iat":"2026-03-01T08:00:00Z"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	var back cert.VerifyResult
	if err := json.Unmarshal(b, &back); err != nil || len(back.Steps) != 10 || back.Steps[9].Step != cert.StepValueSets {
		t.Errorf("unmarshal: %v %+v", err, back.Steps)
	}
	bad := cert.NewVerifier(cert.NewTrustList(dsc)).Verify("HC1:%%%", cert.VerifyOptions{At: t0})
	b, _ = json.Marshal(bad)
	if want := `{"valid":false,"format":"hcert","steps":{"unprefix":true,"base45":false},"failed":"base45","reason":`; !strings.HasPrefix(string(b), want) {
		t.Errorf("JSON = %s, want prefix %s", b, want)
	}
	if strings.Contains(string(b), "payload") {
		t.Errorf("failed result carries a payload: %s", b)
	}
}

func TestCheckTimeAgainstDSC(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := selfSigned(t, ec) // valid t0-24h … t0+400d
	build := func(iat, exp time.Time) *cert.HCert {
		c := cose{key: ec, prot: map[any]any{1: -7, 4: cert.KID(dsc)}, claims: claimsAt(iat.Unix(), exp.Unix(), validDCC())}
		h, err := cert.ParseCOSE(c.build(t))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	day := 24 * time.Hour
	tests := []struct {
		name          string
		iat, exp, now time.Time
		ok            bool
	}{
		{"ok/inside", t0, t0.Add(day), t0.Add(time.Hour), true},
		{"ok/at-iat", t0, t0.Add(day), t0, true},
		{"ok/at-exp", t0, t0.Add(day), t0.Add(day), true},
		{"ok/exp-beyond-dsc-but-dsc-still-valid", t0, t0.Add(500 * day), t0.Add(day), true},
		{"fail/iat-before-dsc", t0.Add(-2 * day), t0.Add(day), t0, false},
		{"fail/dsc-expired", t0, t0.Add(500 * day), t0.Add(450 * day), false},
		{"fail/zero-clock", t0, t0.Add(day), time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := build(tt.iat, tt.exp).CheckTime(dsc, tt.now)
			if (err == nil) != tt.ok {
				t.Errorf("CheckTime = %v, want ok %v", err, tt.ok)
			}
			if err != nil && registry.ErrorField(err) != cert.StepTime {
				t.Errorf("field %q", registry.ErrorField(err))
			}
		})
	}
}

func TestSchemaVersions(t *testing.T) {
	if got := strings.Join(cert.SchemaVersions(), " "); got != "1.0.0 1.0.1 1.1.0 1.2.0 1.2.1 1.3.0 1.3.1 1.3.2 1.3.3" {
		t.Errorf("SchemaVersions = %s", got)
	}
	base := validDCC()
	base["v"].([]any)[0].(map[string]any)["dn"] = 1
	for _, tt := range []struct {
		ver  string
		code string
	}{
		{"1.3.0", ""}, {"1.3.3", ""}, {"1.3.9", ""}, // newest shipped patch of 1.3
		{"1.4.0", registry.EUNSUPPORTED}, {"2.0.0", registry.EUNSUPPORTED},
		{"1.3", registry.EINVALID}, {"01.3.0", registry.EINVALID},
	} {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		m["ver"] = tt.ver
		err := cert.ValidatePayload(m)
		if registry.ErrorCode(err) != tt.code {
			t.Errorf("ver %s: %v, want code %q", tt.ver, err, tt.code)
		}
	}
}
