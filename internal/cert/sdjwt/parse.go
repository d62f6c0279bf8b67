package sdjwt

import (
	"errors"
	"fmt"
	"strings"
)

// Size limits for untrusted input.
const (
	// MaxPresentationSize is the largest credential or presentation, in bytes,
	// that Present and Verify accept.
	MaxPresentationSize = 64 << 10
	// maxDisclosures is the largest number of disclosures in one token.
	maxDisclosures = 256
)

// disclosure is one decoded SD-JWT disclosure (RFC 9901 §4.2).
type disclosure struct {
	raw     string // the base64url text as it appeared, which the digest covers
	digest  string
	salt    string
	name    string // claim name; "" for an array element
	isArray bool   // a two-element array-element disclosure
	value   any
}

// decodeDisclosure decodes and checks the shape of one disclosure: a JSON array
// [salt, name, value] for an object property, or [salt, value] for an array
// element. The salt and name must be strings, and the name must not be "_sd"
// or "..." (RFC 9901 §4.2.1).
func decodeDisclosure(raw string) (*disclosure, error) {
	b, err := b64.DecodeString(raw)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	v, err := parseJSON(b)
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("not a JSON array")
	}
	d := &disclosure{raw: raw, digest: digestOf(raw)}
	switch len(arr) {
	case 3:
		name, ok := arr[1].(string)
		if !ok {
			return nil, errors.New("claim name is not a string")
		}
		if name == "_sd" || name == "..." {
			return nil, fmt.Errorf("claim name %q is reserved", name)
		}
		d.name, d.value = name, arr[2]
	case 2:
		d.isArray, d.value = true, arr[1]
	default:
		return nil, fmt.Errorf("array has %d elements, want 2 or 3", len(arr))
	}
	salt, ok := arr[0].(string)
	if !ok || salt == "" {
		return nil, errors.New("salt is not a non-empty string")
	}
	d.salt = salt
	return d, nil
}

// token is an SD-JWT or SD-JWT+KB split into its parts (RFC 9901 §4):
// <issuer-signed JWT>~<disclosure>~…~<disclosure>~[<KB-JWT>].
type token struct {
	jwt          string // the issuer-signed JWT
	signingInput string // "<header>.<payload>" of the issuer-signed JWT
	sig          []byte
	header       map[string]any
	payload      map[string]any
	disclosures  []*disclosure
	byDigest     map[string]*disclosure
	duplicate    int    // 1-based index of the first disclosure that repeats an earlier one, 0 if none
	kb           string // the KB-JWT, "" if absent
	sdPart       string // everything up to and including the last "~"; sd_hash covers it
}

// parseToken splits and decodes an SD-JWT or SD-JWT+KB. It checks syntax only:
// no signature, digest or time check. Surrounding white space is ignored.
func parseToken(s string) (*token, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxPresentationSize {
		return nil, fmt.Errorf("token is larger than %d bytes", MaxPresentationSize)
	}
	if s == "" {
		return nil, errors.New("empty token")
	}
	last := strings.LastIndexByte(s, '~')
	if last < 0 {
		return nil, errors.New(`no "~": a plain JWT is not an SD-JWT`)
	}
	t := &token{sdPart: s[:last+1], kb: s[last+1:]}
	parts := strings.Split(s[:last], "~")
	if len(parts)-1 > maxDisclosures {
		return nil, fmt.Errorf("more than %d disclosures", maxDisclosures)
	}
	t.jwt = parts[0]
	h, p, sig, ok := splitJWS(t.jwt)
	if !ok {
		return nil, errors.New("issuer-signed JWT is not a compact JWS")
	}
	t.signingInput = h + "." + p
	var err error
	if t.sig, err = b64.DecodeString(sig); err != nil {
		return nil, errors.New("JWT signature is not base64url")
	}
	if t.header, err = decodeSegment(h); err != nil {
		return nil, fmt.Errorf("JWT header: %w", err)
	}
	if t.payload, err = decodeSegment(p); err != nil {
		return nil, fmt.Errorf("JWT payload: %w", err)
	}
	t.byDigest = make(map[string]*disclosure, len(parts)-1)
	for i, raw := range parts[1:] {
		if raw == "" {
			return nil, fmt.Errorf("disclosure %d is empty", i+1)
		}
		d, err := decodeDisclosure(raw)
		if err != nil {
			return nil, fmt.Errorf("disclosure %d: %w", i+1, err)
		}
		if _, dup := t.byDigest[d.digest]; dup {
			if t.duplicate == 0 {
				t.duplicate = i + 1
			}
			continue
		}
		t.byDigest[d.digest] = d
		t.disclosures = append(t.disclosures, d)
	}
	if t.kb != "" {
		if _, _, _, ok := splitJWS(t.kb); !ok {
			return nil, errors.New("key-binding JWT is not a compact JWS")
		}
	}
	return t, nil
}

// IsPresentation reports whether text looks like an SD-JWT (with or without a
// KB-JWT): a compact JWS whose header is a JSON object, followed by "~". It is a
// cheap check for dispatching input; only Verify decides validity.
func IsPresentation(text string) bool {
	text = strings.TrimSpace(text)
	jwt, _, ok := strings.Cut(text, "~")
	if !ok {
		return false
	}
	h, _, _, ok := splitJWS(jwt)
	if !ok || len(h) > 4096 {
		return false
	}
	raw, err := b64.DecodeString(h)
	return err == nil && strings.HasPrefix(strings.TrimLeft(string(raw), " \t\r\n"), "{")
}
