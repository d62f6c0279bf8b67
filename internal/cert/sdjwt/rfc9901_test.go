package sdjwt_test

import (
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/haven-registry/haven/internal/cert/sdjwt"
)

// rfcIssuer is the issuer key of RFC 9901 Appendix A.5, which signs the
// examples in testdata/rfc9901 (no kid in their headers).
func rfcIssuer(t *testing.T) map[string]crypto.PublicKey {
	t.Helper()
	k, err := sdjwt.ParseJWK(map[string]any{
		"kty": "EC", "crv": "P-256",
		"x": "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
		"y": "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8",
	})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.PublicKey{"rfc9901-a5": k}
}

func rfcVector(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rfc9901", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestRFC9901Examples verifies the specification's own examples: issuer
// signatures, digests of object and array-element disclosures, recursive
// disclosures, and (A.3) a KB-JWT with its sd_hash.
func TestRFC9901Examples(t *testing.T) {
	keys := rfcIssuer(t)
	at := time.Unix(1748454271, 0).Add(time.Minute) // just after the A.3 KB-JWT's iat
	example := []string{"example+sd-jwt"}

	t.Run("ok/section-5.1-all-disclosures", func(t *testing.T) {
		res, err := sdjwt.Verify(rfcVector(t, "section5.1-sd-jwt.txt"), keys, sdjwt.VerifyOptions{Now: at, AcceptTypes: example})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"given_name": "John", "family_name": "Doe", "email": "johndoe@example.com",
			"phone_number": "+1-202-555-0101", "phone_number_verified": true,
			"address":   map[string]any{"street_address": "123 Main St", "locality": "Anytown", "region": "Anystate", "country": "US"},
			"birthdate": "1940-01-01", "updated_at": int64(1570000000),
		}
		if diff := cmp.Diff(want, res.Disclosed); diff != "" {
			t.Errorf("Disclosed (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]any{"US", "DE"}, res.Payload["nationalities"]); diff != "" {
			t.Errorf("nationalities (-want +got):\n%s", diff)
		}
		if res.Payload["sub"] != "user_42" || res.Kid != "rfc9901-a5" {
			t.Errorf("payload %v kid %q", res.Payload, res.Kid)
		}
	})

	t.Run("ok/section-5.2-presentation-made-by-Present", func(t *testing.T) {
		// The holder keeps given_name, family_name, address and one
		// nationality (US is not selectable by name, so all array elements of
		// nationalities go with it).
		p, err := sdjwt.Present(rfcVector(t, "section5.1-sd-jwt.txt"), []string{"family_name", "address", "given_name"}, sdjwt.PresentOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := sdjwt.Verify(p, keys, sdjwt.VerifyOptions{Now: at, AcceptTypes: example})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Disclosed) != 3 || res.Disclosed["given_name"] != "John" {
			t.Errorf("Disclosed = %v", res.Disclosed)
		}
		if n := res.Payload["nationalities"].([]any); len(n) != 0 {
			t.Errorf("nationalities disclosed: %v", n)
		}
	})

	t.Run("ok/appendix-A.1-structured", func(t *testing.T) {
		res, err := sdjwt.Verify(rfcVector(t, "a1-sd-jwt.txt"), keys, sdjwt.VerifyOptions{Now: at, AcceptTypes: example})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"region": "港区", "country": "JP"}
		if diff := cmp.Diff(want, res.Payload["address"]); diff != "" {
			t.Errorf("address (-want +got):\n%s", diff)
		}
		if len(res.Disclosed) != 0 {
			t.Errorf("nested claims reported as top-level disclosures: %v", res.Disclosed)
		}
	})

	a3 := rfcVector(t, "a3-sd-jwt-kb.txt")
	t.Run("ok/appendix-A.3-dc+sd-jwt-with-key-binding", func(t *testing.T) {
		res, err := sdjwt.Verify(a3, keys, sdjwt.VerifyOptions{
			Now: at, RequireKeyBinding: true, Audience: "https://verifier.example.org", Nonce: "1234567890",
		})
		if err != nil {
			t.Fatalf("%v (steps %v)", err, res.Steps)
		}
		want := map[string]any{"age_equal_or_over": map[string]any{"18": true}, "nationalities": []any{"DE"}}
		if diff := cmp.Diff(want, res.Disclosed); diff != "" {
			t.Errorf("Disclosed (-want +got):\n%s", diff)
		}
		if res.HolderBinding != sdjwt.BindingKey || res.Payload["vct"] != "urn:eudi:pid:de:1" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("fail/appendix-A.3-wrong-nonce", func(t *testing.T) {
		res, err := sdjwt.Verify(a3, keys, sdjwt.VerifyOptions{Now: at, RequireKeyBinding: true, Nonce: "other"})
		checkOutcome(t, res, err, "key_binding")
	})
	t.Run("fail/appendix-A.3-disclosure-dropped", func(t *testing.T) {
		parts := strings.Split(a3, "~")
		dropped := strings.Join(append(parts[:2:2], parts[3:]...), "~") // drop the "18" disclosure
		res, err := sdjwt.Verify(dropped, keys, sdjwt.VerifyOptions{Now: at, RequireKeyBinding: true})
		checkOutcome(t, res, err, "key_binding")
	})
	t.Run("fail/section-5.1-typ-not-accepted-by-default", func(t *testing.T) {
		res, err := sdjwt.Verify(rfcVector(t, "section5.1-sd-jwt.txt"), keys, sdjwt.VerifyOptions{Now: at})
		checkOutcome(t, res, err, "header")
	})
}
