package sdjwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// b64 is unpadded base64url (RFC 7515 §2). Strict rejects non-zero trailing
// bits, so every value has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// maxJSONDepth bounds the nesting of any JSON value Haven parses from a token.
const maxJSONDepth = 32

// parseJSON parses one JSON value. Unlike encoding/json it rejects duplicate
// object member names at any depth (RFC 7519 §4 allows a parser to reject them,
// and accepting them lets two parsers see different claims), rejects trailing
// data and nesting deeper than maxJSONDepth, and returns integral numbers as
// int64 and other numbers as float64.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("unexpected end of JSON")
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("JSON object key is not a string")
				}
				if _, dup := m[key]; dup {
					return nil, fmt.Errorf("duplicate JSON member %q", key)
				}
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				m[key] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return m, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		default:
			return nil, fmt.Errorf("unexpected %q in JSON", t)
		}
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("JSON number %.20s out of range", string(t))
		}
		return f, nil
	case string, bool, nil:
		return t, nil
	default:
		return nil, fmt.Errorf("unexpected JSON token %T", tok)
	}
}

// decodeSegment base64url-decodes one JWS segment and parses it as a JSON object.
func decodeSegment(seg string) (map[string]any, error) {
	raw, err := b64.DecodeString(seg)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	v, err := parseJSON(raw)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// encodeSegment marshals v and base64url-encodes it.
func encodeSegment(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(raw), nil
}

// digestOf returns base64url(SHA-256(ASCII(s))), the SD-JWT digest of a
// disclosure and the sd_hash of a presentation (RFC 9901 §4.2.3, §4.3.1).
func digestOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return b64.EncodeToString(h[:])
}

// p256Key returns k as a P-256 ECDSA public key, or an error naming what is wrong.
func p256Key(k crypto.PublicKey) (*ecdsa.PublicKey, error) {
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub == nil {
		return nil, fmt.Errorf("key is %T, want an ECDSA P-256 public key", k)
	}
	if pub.Curve != elliptic.P256() {
		return nil, errors.New("key is not on curve P-256")
	}
	return pub, nil
}

// signES256 signs signingInput with signer (which must hold a P-256 key) and
// returns the base64url JWS signature, R||S as two 32-byte big-endian integers
// (RFC 7518 §3.4).
func signES256(signer crypto.Signer, signingInput string) (string, error) {
	if signer == nil {
		return "", errors.New("no signer")
	}
	if _, err := p256Key(signer.Public()); err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(signingInput))
	der, err := signer.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil {
		return "", errors.New("signer returned a malformed ECDSA signature")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return "", errors.New("signer returned an out-of-range ECDSA signature")
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return b64.EncodeToString(out), nil
}

// verifyES256 checks an ES256 JWS signature (64 bytes, R||S) over signingInput.
func verifyES256(pub *ecdsa.PublicKey, signingInput string, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	h := sha256.Sum256([]byte(signingInput))
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, h[:], r, s)
}

// jwk is a public EC JSON Web Key (RFC 7517, RFC 7518 §6.2.1).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// PublicJWK returns the JSON Web Key of a P-256 public key, as it appears in a
// credential's cnf.jwk.
func PublicJWK(k crypto.PublicKey) (map[string]any, error) {
	pub, err := p256Key(k)
	if err != nil {
		return nil, err
	}
	pt, err := pub.Bytes()
	if err != nil || len(pt) != 65 {
		return nil, errors.New("invalid P-256 public key")
	}
	return map[string]any{
		"kty": "EC",
		"crv": "P-256",
		"x":   b64.EncodeToString(pt[1:33]),
		"y":   b64.EncodeToString(pt[33:]),
	}, nil
}

// ParseJWK parses a public P-256 JSON Web Key given as a decoded JSON object.
// It rejects other key types and curves, coordinates that are not exactly 32
// bytes, points not on the curve, and keys carrying a private part ("d").
func ParseJWK(m map[string]any) (*ecdsa.PublicKey, error) {
	if m == nil {
		return nil, errors.New("no JWK")
	}
	if _, ok := m["d"]; ok {
		return nil, errors.New("JWK holds a private key")
	}
	if kty, _ := m["kty"].(string); kty != "EC" {
		return nil, errors.New(`JWK kty is not "EC"`)
	}
	if crv, _ := m["crv"].(string); crv != "P-256" {
		return nil, errors.New(`JWK crv is not "P-256"`)
	}
	xs, _ := m["x"].(string)
	ys, _ := m["y"].(string)
	x, errX := b64.DecodeString(xs)
	y, errY := b64.DecodeString(ys)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("JWK x and y must be 32-byte base64url values")
	}
	pt := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, errors.New("JWK point is not on P-256")
	}
	return pub, nil
}

// splitJWS splits a compact JWS into its three segments.
func splitJWS(s string) (header, payload, sig string, ok bool) {
	header, rest, ok1 := strings.Cut(s, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") || header == "" || payload == "" || sig == "" {
		return "", "", "", false
	}
	return header, payload, sig, true
}

// numericDate reads a JWT NumericDate (RFC 7519 §2) as seconds.
func numericDate(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
