package cert

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"sort"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
)

// KIDSize is the length of an HCERT key identifier: the first 8 bytes of the
// SHA-256 fingerprint of the DSC in DER (HCERT spec, appendix A.1).
const KIDSize = 8

// KID returns the HCERT key identifier of a document signer certificate.
func KID(c *x509.Certificate) []byte {
	sum := sha256.Sum256(c.Raw)
	return sum[:KIDSize]
}

// TrustList maps key identifiers to the document signer certificates that
// Haven trusts. Several certificates may share a kid; verification tries
// each. A TrustList is safe for concurrent reads once built; Add must not run
// concurrently with lookups.
type TrustList struct {
	byKID map[string][]*x509.Certificate
}

// NewTrustList returns a trust list holding certs under their computed kids.
func NewTrustList(certs ...*x509.Certificate) *TrustList {
	t := &TrustList{byKID: map[string][]*x509.Certificate{}}
	for _, c := range certs {
		t.Add(c)
	}
	return t
}

// Add trusts c under its computed kid.
func (t *TrustList) Add(c *x509.Certificate) {
	t.AddWithKID(KID(c), c)
}

// AddWithKID trusts c under the given kid (as published by a trust-list
// provider). Adding the same certificate twice under one kid is a no-op.
func (t *TrustList) AddWithKID(kid []byte, c *x509.Certificate) {
	if t.byKID == nil {
		t.byKID = map[string][]*x509.Certificate{}
	}
	k := string(kid)
	for _, have := range t.byKID[k] {
		if bytes.Equal(have.Raw, c.Raw) {
			return
		}
	}
	t.byKID[k] = append(t.byKID[k], c)
}

// Lookup returns every certificate trusted under kid (nil if none).
func (t *TrustList) Lookup(kid []byte) []*x509.Certificate {
	if t == nil {
		return nil
	}
	return t.byKID[string(kid)]
}

// Len returns the number of (kid, certificate) entries.
func (t *TrustList) Len() int {
	if t == nil {
		return 0
	}
	n := 0
	for _, cs := range t.byKID {
		n += len(cs)
	}
	return n
}

// MarshalJSON writes the trust list as a JSON object mapping each kid
// (standard base64) to the list of its certificates (standard base64 DER),
// with keys in sorted order: {"kid":["MIIB…"]}.
func (t *TrustList) MarshalJSON() ([]byte, error) {
	m := make(map[string][]string, len(t.byKID))
	for k, cs := range t.byKID {
		ks := base64.StdEncoding.EncodeToString([]byte(k))
		for _, c := range cs {
			m[ks] = append(m[ks], base64.StdEncoding.EncodeToString(c.Raw))
		}
	}
	return json.Marshal(m) // encoding/json sorts map keys
}

// ParseTrustList reads a trust list written by MarshalJSON. Each value may
// also be a single base64 DER string instead of a list. Errors name the kid
// that failed.
func ParseTrustList(data []byte) (*TrustList, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, registry.Errorf(registry.EMALFORMED, "trust list is not a JSON object: %v", err)
	}
	t := NewTrustList()
	for ks, v := range raw {
		kid, err := base64.StdEncoding.DecodeString(ks)
		if err != nil || len(kid) == 0 {
			return nil, registry.FieldErrorf(registry.EMALFORMED, ks, "kid is not base64")
		}
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			var one string
			if err2 := json.Unmarshal(v, &one); err2 != nil {
				return nil, registry.FieldErrorf(registry.EMALFORMED, ks, "want a base64 certificate or a list of them")
			}
			list = []string{one}
		}
		for i, s := range list {
			der, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, registry.FieldErrorf(registry.EMALFORMED, ks, "certificate %d is not base64", i)
			}
			c, err := parseDER(der)
			if err != nil {
				return nil, registry.FieldErrorf(registry.EMALFORMED, ks, "certificate %d: %v", i, err)
			}
			t.AddWithKID(kid, c)
		}
	}
	return t, nil
}

// ParseCertificates reads one or more X.509 certificates given as PEM
// blocks, as base64 DER text, or as raw DER.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if c, err := parseDER(data); err == nil {
		return []*x509.Certificate{c}, nil
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		var out []*x509.Certificate
		rest := trimmed
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := parseDER(blk.Bytes)
			if err != nil {
				return nil, registry.Errorf(registry.EMALFORMED, "certificate %d: %v", len(out), err)
			}
			out = append(out, c)
		}
		if len(out) == 0 {
			return nil, registry.Errorf(registry.EMALFORMED, "no CERTIFICATE PEM block")
		}
		return out, nil
	}
	s := strings.Join(strings.Fields(string(trimmed)), "")
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, registry.Errorf(registry.EMALFORMED, "certificate is neither PEM, DER nor base64 DER")
	}
	c, err := parseDER(der)
	if err != nil {
		return nil, registry.Errorf(registry.EMALFORMED, "certificate: %v", err)
	}
	return []*x509.Certificate{c}, nil
}

// TrustEntry is one (kid, certificate) pair of a trust list.
type TrustEntry struct {
	KID         []byte
	Certificate *x509.Certificate
}

// Entries returns every (kid, certificate) pair, sorted by kid.
func (t *TrustList) Entries() []TrustEntry {
	if t == nil {
		return nil
	}
	var out []TrustEntry
	for k, cs := range t.byKID {
		for _, c := range cs {
			out = append(out, TrustEntry{KID: []byte(k), Certificate: c})
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].KID, out[j].KID) < 0 })
	return out
}
