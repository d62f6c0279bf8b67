package shc_test

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/haven-registry/haven/internal/cert/shc"
)

// exampleKey returns the example issuer's private key 3Kfdg… from test-keys.
func exampleKey(t testing.TB, root string) (*ecdsa.PrivateKey, string) {
	t.Helper()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(read(t, filepath.Join(root, "test-keys", "issuer.jwks.private.json"))), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range doc.Keys {
		if k.Kid == "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s" {
			d, err := base64.RawURLEncoding.DecodeString(k.D)
			if err != nil {
				t.Fatal(err)
			}
			key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
			if err != nil {
				t.Fatal(err)
			}
			return key, k.Kid
		}
	}
	t.Fatal("example key not in test-keys")
	return nil, ""
}

// signCard builds a health card JWS independently of the package: minified
// JSON, raw DEFLATE, ES256.
func signCard(t testing.TB, key *ecdsa.PrivateKey, header map[string]any, payload any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(p)
	w.Close()
	enc := base64.RawURLEncoding.EncodeToString
	input := enc(h) + "." + enc(buf.Bytes())
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc(sig)
}

func card(nbf float64, rid string, exp float64) map[string]any {
	vc := map[string]any{
		"type": []string{"https://smarthealth.cards#health-card"},
		"credentialSubject": map[string]any{
			"fhirVersion": "4.0.1",
			"fhirBundle": map[string]any{
				"resourceType": "Bundle", "type": "collection",
				"entry": []any{
					map[string]any{"fullUrl": "resource:0", "resource": map[string]any{"resourceType": "Patient", "birthDate": "1990"}},
					map[string]any{"fullUrl": "resource:1", "resource": map[string]any{
						"resourceType": "Immunization", "status": "completed",
						"vaccineCode":        map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/cvx", "code": "208"}}},
						"patient":            map[string]any{"reference": "resource:0"},
						"occurrenceDateTime": "2021-05-01",
					}},
				},
			},
		},
	}
	if rid != "" {
		vc["rid"] = rid
	}
	p := map[string]any{"iss": specIssuer, "nbf": nbf, "vc": vc}
	if exp != 0 {
		p["exp"] = exp
	}
	return p
}

// issuerWithCRL trusts the example issuer's keys with the given CRL for 3Kfdg….
func issuerWithCRL(t testing.TB, root, crl string) shc.Directory {
	t.Helper()
	fsys := fstest.MapFS{
		".well-known/jwks.json": &fstest.MapFile{Data: []byte(read(t, filepath.Join(root, "examples", "issuer", ".well-known", "jwks.json")))},
	}
	if crl != "" {
		fsys[".well-known/crl/3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s.json"] = &fstest.MapFile{Data: []byte(crl)}
	}
	iss, _ := shc.LoadIssuer(specIssuer, fsys)
	return shc.Directory{specIssuer: iss}
}

func TestCRLRules(t *testing.T) {
	root := shcDir(t)
	key, kid := exampleKey(t, root)
	hdr := map[string]any{"zip": "DEF", "alg": "ES256", "kid": kid}
	nbf := float64(at.Add(-48 * time.Hour).Unix())
	crl := func(method string, ctr int, rids ...string) string {
		b, _ := json.Marshal(map[string]any{"kid": kid, "method": method, "ctr": ctr, "rids": rids})
		return string(b)
	}
	before, after := itoa(int(nbf)+10), itoa(int(nbf)-10)
	tests := []struct {
		name   string
		card   map[string]any
		crl    string
		errors []string
	}{
		{"ok/not-in-crl", card(nbf, "AAAAAAAAAAA", 0), crl("rid", 1, "BBBBBBBBBBB"), nil},
		{"ok/no-rid", card(nbf, "", 0), crl("rid", 1, "AAAAAAAAAAA"), nil},
		{"fail/revoked", card(nbf, "AAAAAAAAAAA", 0), crl("rid", 1, "AAAAAAAAAAA"), []string{shc.CodeRevoked}},
		{"fail/revoked-issued-before-timestamp", card(nbf, "AAAAAAAAAAA", 0), crl("rid", 1, "AAAAAAAAAAA."+before), []string{shc.CodeRevoked}},
		{"ok/issued-after-timestamp", card(nbf, "AAAAAAAAAAA", 0), crl("rid", 1, "AAAAAAAAAAA."+after), nil},
		{"fail/invalid-method", card(nbf, "AAAAAAAAAAA", 0), crl("hash", 1, "BBBBBBBBBBB"), []string{shc.CodeRevocation}},
		{"fail/version-mismatch", card(nbf, "AAAAAAAAAAA", 0), crl("rid", 2, "BBBBBBBBBBB"), []string{shc.CodeRevocation}},
		{"fail/crl-missing", card(nbf, "AAAAAAAAAAA", 0), "", []string{shc.CodeRevocation}},
		{"fail/crl-not-json", card(nbf, "AAAAAAAAAAA", 0), "rids: none", []string{shc.CodeRevocation}},
		{"fail/bad-rid-in-card", card(nbf, "not a rid!", 0), crl("rid", 1), []string{shc.CodeSchema}},
		{"fail/expired", card(nbf, "", nbf+3600), crl("rid", 1), []string{shc.CodeExpiration}},
		{"ok/expires-later", card(nbf, "", float64(at.Add(time.Hour).Unix())), crl("rid", 1), nil},
		{"fail/not-yet-valid", card(float64(at.Add(time.Hour).Unix()), "", 0), crl("rid", 1), []string{shc.CodeNotYetValid}},
		{"ok/issued-within-leeway", card(float64(at.Add(time.Minute).Unix()), "", 0), crl("rid", 1), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jws := signCard(t, key, hdr, tc.card)
			res := shc.Verify([]string{jws}, issuerWithCRL(t, root, tc.crl), shc.Options{Now: at, Leeway: 2 * time.Minute})
			errs := shc.Codes(res.Issues, shc.SeverityError)
			slices.Sort(errs)
			if !slices.Equal(errs, tc.errors) && len(errs)+len(tc.errors) > 0 {
				t.Errorf("errors %v, want %v\n%s", errs, tc.errors, list(res.Issues))
			}
			if res.Valid != (len(tc.errors) == 0) {
				t.Errorf("Valid = %v", res.Valid)
			}
			if len(res.Cards) != 1 || res.Cards[0].Revoked != slices.Contains(tc.errors, shc.CodeRevoked) {
				t.Errorf("cards = %+v", res.Cards)
			}
		})
	}
}

func TestAddCRL(t *testing.T) {
	root := shcDir(t)
	key, kid := exampleKey(t, root)
	nbf := float64(at.Add(-time.Hour).Unix())
	jws := signCard(t, key, map[string]any{"zip": "DEF", "alg": "ES256", "kid": kid}, card(nbf, "Q0FSRElE", 0))
	dir := issuerWithCRL(t, root, `{"kid":"`+kid+`","method":"rid","ctr":1,"rids":[]}`)
	if res := shc.Verify([]string{jws}, dir, shc.Options{Now: at}); !res.Valid {
		t.Fatalf("before revocation: %v", res.Issues)
	}
	if issues := dir[specIssuer].AddCRL([]byte(`{"kid":"` + kid + `","method":"rid","ctr":1,"rids":["Q0FSRElE"]}`)); len(issues) != 0 {
		t.Fatalf("AddCRL: %v", issues)
	}
	res := shc.Verify([]string{jws}, dir, shc.Options{Now: at})
	if res.Valid || !res.Cards[0].Revoked || res.Failed != shc.StepRevocation {
		t.Errorf("after revocation: %+v", res)
	}
	if issues := dir[specIssuer].AddCRL([]byte(`{"kid":"unknown","method":"rid","ctr":1,"rids":[]}`)); !shc.HasError(issues) {
		t.Errorf("a CRL for an unknown kid was accepted")
	}
}

func TestVerifyOptionsAndTampering(t *testing.T) {
	root := shcDir(t)
	key, kid := exampleKey(t, root)
	dir := issuerWithCRL(t, root, `{"kid":"`+kid+`","method":"rid","ctr":1,"rids":[]}`)
	nbf := float64(at.Add(-time.Hour).Unix())
	jws := signCard(t, key, map[string]any{"zip": "DEF", "alg": "ES256", "kid": kid}, card(nbf, "", nbf+60))

	if res := shc.Verify([]string{jws}, dir, shc.Options{SkipTime: true}); !res.Valid {
		t.Errorf("SkipTime: %v", res.Issues)
	} else if res.Cards[0].Payload["iss"] != specIssuer || !res.Cards[0].Verified {
		t.Errorf("card = %+v", res.Cards[0])
	}
	if res := shc.Verify([]string{jws}, dir, shc.Options{}); res.Valid || res.Failed != shc.StepTime {
		t.Errorf("no clock: valid %v failed %q", res.Valid, res.Failed)
	}
	// Another payload under the same signature.
	other := signCard(t, key, map[string]any{"zip": "DEF", "alg": "ES256", "kid": kid}, card(nbf, "", 0))
	p := strings.Split(jws, ".")
	q := strings.Split(other, ".")
	res := shc.Verify([]string{q[0] + "." + q[1] + "." + p[2]}, dir, shc.Options{SkipTime: true})
	if res.Valid || !slices.Contains(shc.Codes(res.Issues, shc.SeverityError), shc.CodeJWSVerification) || res.Cards[0].Payload != nil {
		t.Errorf("tampered card: %+v", res)
	}
	// Untrusted issuer.
	if res := shc.Verify([]string{jws}, shc.Directory{}, shc.Options{SkipTime: true}); res.Valid || res.Failed != shc.StepIssuer {
		t.Errorf("empty directory: %+v", res)
	}
	// The JSON result has the shape "haven cert verify --json" uses.
	b, err := json.Marshal(shc.Verify([]string{jws}, dir, shc.Options{SkipTime: true}))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"valid":true`, `"format":"shc"`, `"steps":{`, `"failed":""`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON result lacks %s: %s", k, b)
		}
	}
}

// numeric encodes a JWS as SMART Health Card numeric QR data.
func numeric(jws string) string {
	var sb strings.Builder
	for i := 0; i < len(jws); i++ {
		v := int(jws[i]) - 45
		sb.WriteByte(byte('0' + v/10))
		sb.WriteByte(byte('0' + v%10))
	}
	return sb.String()
}

func TestDecodeQR(t *testing.T) {
	jws := "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"
	n := numeric(jws)
	half := len(n) / 2 / 2 * 2
	tests := []struct {
		name   string
		chunks []string
		want   string
		errors []string
		warns  []string
	}{
		{"ok/single", []string{"shc:/" + n}, jws, nil, nil},
		{"ok/two-chunks", []string{"shc:/2/2/" + n[half:], "shc:/1/2/" + n[:half]}, jws, nil, []string{shc.CodeQRChunkingDeprecated, shc.CodeUnbalancedQRChunks}},
		{"fail/no-prefix", []string{n}, "", []string{shc.CodeInvalidNumericQRHeader}, nil},
		{"fail/odd-digits", []string{"shc:/" + n + "1"}, "", []string{shc.CodeInvalidNumericQR}, nil},
		{"fail/value-above-77", []string{"shc:/78"}, "", []string{shc.CodeInvalidNumericQR}, nil},
		{"fail/not-digits", []string{"shc:/56a6"}, "", []string{shc.CodeInvalidNumericQR}, nil},
		{"fail/empty", []string{"shc:/"}, "", []string{shc.CodeInvalidNumericQR}, nil},
		{"fail/index-zero", []string{"shc:/0/2/" + n}, "", []string{shc.CodeInvalidNumericQRHeader}, nil},
		{"fail/counts-differ", []string{"shc:/1/2/" + n[:half], "shc:/2/3/" + n[half:]}, "", []string{shc.CodeInvalidNumericQRHeader}, nil},
		{"fail/duplicate", []string{"shc:/1/2/" + n[:half], "shc:/1/2/" + n[:half]}, "", []string{shc.CodeInvalidNumericQRHeader}, nil},
		{"fail/missing", []string{"shc:/1/3/" + n[:half], "shc:/3/3/" + n[half:]}, "", []string{shc.CodeMissingQRChunk}, nil},
		{"fail/none", nil, "", []string{shc.CodeInvalidNumericQRHeader}, nil},
		{"fail/single-too-long", []string{"shc:/" + strings.Repeat("00", shc.MaxSingleJWS+1)}, "", []string{shc.CodeInvalidNumericQR}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, issues := shc.DecodeQR(tc.chunks)
			if got != tc.want {
				t.Errorf("jws = %q, want %q", got, tc.want)
			}
			errs := shc.Codes(issues, shc.SeverityError)
			if !slices.Equal(errs, tc.errors) && len(errs)+len(tc.errors) > 0 {
				t.Errorf("errors %v, want %v", errs, tc.errors)
			}
			for _, w := range tc.warns {
				if !slices.Contains(shc.Codes(issues, shc.SeverityWarning), w) {
					t.Errorf("no warning %s in %v", w, issues)
				}
			}
		})
	}
}

// FuzzVerify checks that Verify never panics and never exposes the payload
// of a card it could not verify.
func FuzzVerify(f *testing.F) {
	root := shcDir(f)
	for _, p := range []string{
		"examples/example-00-d-jws.txt", "examples/example-00-e-file.smart-health-card",
		"examples/example-00-f-qr-code-numeric-value-0.txt", "examples/example-03-d-jws.txt",
		"negative/test-example-00-fhirhealthcard.json", "negative/test-example-00-d-jws-no_jws_header_zip.txt",
	} {
		f.Add(read(f, filepath.Join(root, p)))
	}
	f.Add("shc:/1/2/5676")
	f.Add("{}")
	dir := exampleDirectory(f, root)
	f.Fuzz(func(t *testing.T, s string) {
		res := shc.Verify(strings.Split(s, "\n"), dir, shc.Options{Now: at})
		if res == nil {
			t.Fatal("nil result")
		}
		if res.Valid && shc.HasError(res.Issues) {
			t.Fatal("valid with errors")
		}
		for _, c := range res.Cards {
			if c.Payload != nil && !c.Verified {
				t.Fatal("unverified payload exposed")
			}
		}
		_, _ = shc.ParseKeySet([]byte(s), specIssuer)
		_, _ = shc.ParseCRL([]byte(s))
		_ = shc.CheckPayload([]byte(s), shc.Options{Now: at})
	})
}

// TestTestKeys checks the private test key set against the key rules: as
// published it would leak private keys, and without "d" its signing keys are
// valid and include the example issuer's published keys.
func TestTestKeys(t *testing.T) {
	root := shcDir(t)
	raw := []byte(read(t, filepath.Join(root, "test-keys", "issuer.jwks.private.json")))
	if _, issues := shc.ParseKeySet(raw, ""); !slices.Contains(shc.Codes(issues, shc.SeverityError), shc.CodeKeyPrivate) {
		t.Errorf("a key set with private keys was accepted: %v", issues)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range doc.Keys {
		delete(k, "d")
	}
	public, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	// The set also holds an encryption key (use "enc", alg "ECDH-ES"), which
	// must not be accepted for signatures.
	ks, issues := shc.ParseKeySet(public, specIssuer)
	errs := shc.Codes(issues, shc.SeverityError)
	slices.Sort(errs)
	if want := []string{shc.CodeKeyWrongAlg, shc.CodeKeyWrongUse}; !slices.Equal(errs, want) {
		t.Errorf("public test keys: errors %v, want %v: %v", errs, want, issues)
	}
	if len(ks.Keys) != 2 {
		t.Errorf("usable signing keys: %d, want 2", len(ks.Keys))
	}
	published, _ := shc.ParseKeySet([]byte(read(t, filepath.Join(root, "examples", "issuer", ".well-known", "jwks.json"))), specIssuer)
	for kid, k := range published.Keys {
		if tk := ks.Keys[kid]; tk == nil || !tk.Public.Equal(k.Public) {
			t.Errorf("published key %s is not among the test keys", kid)
		}
	}
}
