package sdjwt

import (
	"crypto"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// PresentOptions controls Present.
type PresentOptions struct {
	// HolderKey, when set, signs a KB-JWT appended to the presentation. It
	// must be the private key of the credential's cnf.jwk.
	HolderKey crypto.Signer
	// Audience and Nonce are the KB-JWT's aud and nonce, as the verifier asked.
	Audience, Nonce string
	// Now is the KB-JWT's iat; required with HolderKey.
	Now time.Time
}

// Disclosable returns the sorted, distinct names of the claims a credential
// lets its holder disclose: claims with their own disclosure, and visible claims
// that hold disclosable array elements. It does not verify the issuer
// signature.
func Disclosable(credential string) ([]string, error) {
	t, err := parseToken(credential)
	if err != nil {
		return nil, &registry.Error{Code: registry.EMALFORMED, Field: "credential", Message: "Not an SD-JWT credential.", Err: err}
	}
	rootClaim := rootClaims(t)
	var names []string
	for _, d := range t.disclosures {
		name := d.name
		if d.isArray {
			name = rootClaim[d.digest]
		}
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Present makes a presentation of credential that discloses only the claims
// named in reveal (plus, for a nested claim, the disclosures that contain it,
// and the array elements inside a revealed claim). Every other disclosure is
// left out, so its salt and value do not appear in the presentation. With
// opts.HolderKey it appends a KB-JWT over the presentation (RFC 9901 §4.3).
//
// Present does not verify the issuer signature (the holder may not have the
// trust list). Returns EMALFORMED if credential is not an SD-JWT, and EINVALID
// if it already carries a KB-JWT, if a name in reveal is not disclosable, if a
// disclosure is not referenced by the credential, or if HolderKey does not
// match cnf.jwk.
func Present(credential string, reveal []string, opts PresentOptions) (string, error) {
	t, err := parseToken(credential)
	if err != nil {
		return "", &registry.Error{Code: registry.EMALFORMED, Field: "credential", Message: "Not an SD-JWT credential.", Err: err}
	}
	if t.kb != "" {
		return "", registry.FieldErrorf(registry.EINVALID, "credential", "The credential already ends in a key-binding JWT.")
	}
	if t.duplicate != 0 {
		return "", registry.FieldErrorf(registry.EINVALID, "credential", "Disclosure %d appears twice.", t.duplicate)
	}
	// Find where each digest sits: in a disclosure (parent) or in the
	// issuer-signed payload under a top-level claim (rootClaim).
	parent := map[string]*disclosure{}
	rootClaim := rootClaims(t)
	for _, d := range t.disclosures {
		digestsIn(d.value, 0, func(dg string) { parent[dg] = d })
	}
	for i, d := range t.disclosures {
		_, inRoot := rootClaim[d.digest]
		if _, inParent := parent[d.digest]; !inRoot && !inParent {
			return "", registry.FieldErrorf(registry.EINVALID, "credential", "Disclosure %d is not referenced by the credential.", i+1)
		}
	}

	want := map[string]bool{}
	for _, name := range reveal {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		found := false
		for _, d := range t.disclosures {
			if (!d.isArray && d.name == name) || (d.isArray && rootClaim[d.digest] == name) {
				found = true
				break
			}
		}
		if !found {
			return "", registry.FieldErrorf(registry.EINVALID, "reveal", "The credential has no disclosable claim %q.", truncate(name))
		}
		want[name] = true
	}

	// selected reports whether d is disclosed: it is named in reveal, or it is
	// an array element whose containing claim is revealed.
	var selected func(d *disclosure, depth int) bool
	selected = func(d *disclosure, depth int) bool {
		if depth > maxDisclosures {
			return false
		}
		if !d.isArray {
			return want[d.name]
		}
		if p, ok := parent[d.digest]; ok {
			return selected(p, depth+1)
		}
		return want[rootClaim[d.digest]]
	}
	include := map[string]bool{}
	for _, d := range t.disclosures {
		if !selected(d, 0) {
			continue
		}
		// Include d and every disclosure that contains it, up to the payload.
		for cur, n := d, 0; cur != nil && !include[cur.digest] && n <= maxDisclosures; n++ {
			include[cur.digest] = true
			cur = parent[cur.digest]
		}
	}

	var sb strings.Builder
	sb.WriteString(t.jwt + "~")
	for _, d := range t.disclosures {
		if include[d.digest] {
			sb.WriteString(d.raw + "~")
		}
	}
	sdPart := sb.String()
	if opts.HolderKey == nil {
		return sdPart, nil
	}
	kb, err := keyBindingJWT(t, sdPart, opts)
	if err != nil {
		return "", err
	}
	return sdPart + kb, nil
}

// keyBindingJWT signs the KB-JWT for sdPart with opts.HolderKey, after checking
// that the key is the credential's cnf.jwk.
func keyBindingJWT(t *token, sdPart string, opts PresentOptions) (string, error) {
	if opts.Now.IsZero() {
		return "", registry.FieldErrorf(registry.EINVALID, "now", "The key-binding time is required.")
	}
	cnf, _ := t.payload["cnf"].(map[string]any)
	jwkm, _ := cnf["jwk"].(map[string]any)
	bound, err := ParseJWK(jwkm)
	if err != nil {
		return "", &registry.Error{Code: registry.EINVALID, Field: "holder_key", Message: "The credential is not bound to a holder key.", Err: err}
	}
	own, err := p256Key(opts.HolderKey.Public())
	if err != nil {
		return "", &registry.Error{Code: registry.EINVALID, Field: "holder_key", Message: "The holder key must be ECDSA P-256.", Err: err}
	}
	if !own.Equal(bound) {
		return "", registry.FieldErrorf(registry.EINVALID, "holder_key", "The holder key is not the key this credential is bound to.")
	}
	header, err := encodeSegment(map[string]any{"alg": "ES256", "typ": KBType})
	if err != nil {
		return "", fmt.Errorf("kb-jwt header: %w", err)
	}
	body, err := encodeSegment(map[string]any{
		"iat":     opts.Now.Unix(),
		"aud":     opts.Audience,
		"nonce":   opts.Nonce,
		"sd_hash": digestOf(sdPart),
	})
	if err != nil {
		return "", fmt.Errorf("kb-jwt payload: %w", err)
	}
	sig, err := signES256(opts.HolderKey, header+"."+body)
	if err != nil {
		return "", &registry.Error{Code: registry.EINTERNAL, Field: "holder_key", Message: "Cannot sign the key-binding JWT.", Err: err}
	}
	return header + "." + body + "." + sig, nil
}

// rootClaims maps each digest in the issuer-signed payload to the top-level
// claim that holds it ("" for the top-level _sd array).
func rootClaims(t *token) map[string]string {
	rootClaim := map[string]string{}
	for k, v := range t.payload {
		if k == "_sd" {
			digestsIn(map[string]any{"_sd": v}, 0, func(dg string) { rootClaim[dg] = "" })
			continue
		}
		digestsIn(v, 0, func(dg string) { rootClaim[dg] = k })
	}
	return rootClaim
}
