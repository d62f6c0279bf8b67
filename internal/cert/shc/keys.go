package shc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"path"
	"slices"
	"strings"
)

var b64 = base64.RawURLEncoding

// Key is a usable issuer signing key.
type Key struct {
	Kid        string
	Public     *ecdsa.PublicKey
	CRLVersion int // the JWK's crlVersion; 0 means the key has no revocation list
}

// KeySet is an issuer's JWK set, reduced to the keys that passed every check.
type KeySet struct {
	Keys map[string]*Key // by kid
}

// ParseKeySet parses a JWK set ({"keys":[…]}) and checks each key as SMART
// Health Cards require: kty "EC", use "sig", alg "ES256", crv "P-256", kid equal
// to the RFC 7638 thumbprint, no private part "d", coordinates on the curve, and,
// if x5c is present, a certificate chain whose leaf holds the same public key,
// whose leaf names issuer as a URI subject alternative name (when issuer is not
// ""), and in which each certificate is signed by the next. A key with any
// error is left out of the returned set. The chain is not checked against
// trust anchors or validity dates: the directory itself is the trust decision.
func ParseKeySet(data []byte, issuer string) (*KeySet, []Issue) {
	var is issues
	ks := &KeySet{Keys: map[string]*Key{}}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc.Keys == nil {
		is.err(StepIssuer, CodeInvalidKeySet, "The issuer's JWK set is not a JSON object with a keys array.")
		return ks, is
	}
	for i, m := range doc.Keys {
		before := len(is)
		kid, _ := m["kid"].(string)
		label := fmt.Sprintf("key %d (%s)", i+1, trunc(kid))
		if kty, _ := m["kty"].(string); kty != "EC" {
			is.err(StepIssuer, CodeKeyWrongKty, "%s: kty is %q, not EC.", label, trunc(kty))
			continue
		}
		if use, _ := m["use"].(string); use != "sig" {
			is.err(StepIssuer, CodeKeyWrongUse, "%s: use is %q, not sig.", label, trunc(use))
		}
		if alg, _ := m["alg"].(string); alg != "ES256" {
			is.err(StepIssuer, CodeKeyWrongAlg, "%s: alg is %q, not ES256.", label, trunc(alg))
		}
		if crv, _ := m["crv"].(string); crv != "P-256" {
			is.err(StepIssuer, CodeKeyWrongCrv, "%s: crv is %q, not P-256.", label, trunc(crv))
			continue
		}
		if _, ok := m["d"]; ok {
			is.err(StepIssuer, CodeKeyPrivate, "%s: the JWK set holds a private key.", label)
		}
		xs, _ := m["x"].(string)
		ys, _ := m["y"].(string)
		pub, err := ecPoint(xs, ys)
		if err != nil {
			is.err(StepIssuer, CodeKeyInvalid, "%s: %v.", label, err)
			continue
		}
		if tp := thumbprint(xs, ys); kid != tp {
			is.err(StepIssuer, CodeKeyWrongKid, "%s: kid is not the key's SHA-256 JWK thumbprint.", label)
		}
		if raw, ok := m["x5c"]; ok {
			if msg := checkX5C(raw, pub, issuer); msg != "" {
				is.err(StepIssuer, CodeKeyX5C, "%s: %s.", label, msg)
			}
		}
		crlVersion := 0
		if v, ok := m["crlVersion"]; ok {
			n, isNum := v.(json.Number)
			c, err := n.Int64()
			if !isNum || err != nil || c < 1 || c > math.MaxInt32 {
				is.err(StepIssuer, CodeRevocation, "%s: crlVersion is not a positive integer.", label)
			}
			crlVersion = int(c)
		}
		if len(is) > before {
			continue
		}
		ks.Keys[kid] = &Key{Kid: kid, Public: pub, CRLVersion: crlVersion}
	}
	return ks, is
}

// ecPoint decodes base64url P-256 coordinates into a public key.
func ecPoint(xs, ys string) (*ecdsa.PublicKey, error) {
	x, errX := b64.DecodeString(xs)
	y, errY := b64.DecodeString(ys)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("x and y must be 32-byte base64url values")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, errors.New("the point is not on P-256")
	}
	return pub, nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of an EC P-256 JWK.
func thumbprint(x, y string) string {
	h := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return b64.EncodeToString(h[:])
}

// checkX5C checks an x5c chain against the JWK's key and the issuer URL. It
// returns a message, or "" if the chain is acceptable.
func checkX5C(raw any, pub *ecdsa.PublicKey, issuer string) string {
	list, ok := raw.([]any)
	if !ok || len(list) == 0 || len(list) > 10 {
		return "x5c is not a non-empty array of certificates"
	}
	certs := make([]*x509.Certificate, len(list))
	for i, e := range list {
		s, _ := e.(string)
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Sprintf("x5c[%d] is not base64", i)
		}
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return fmt.Sprintf("x5c[%d] is not an X.509 certificate", i)
		}
	}
	leafKey, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || !leafKey.Equal(pub) {
		return "the x5c leaf certificate holds another public key"
	}
	if issuer != "" && !slices.ContainsFunc(certs[0].URIs, func(u *url.URL) bool { return u.String() == issuer }) {
		return "the x5c leaf certificate does not name the issuer URL as a URI subject alternative name"
	}
	for i := 0; i+1 < len(certs); i++ {
		if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
			return fmt.Sprintf("x5c[%d] is not signed by x5c[%d]", i, i+1)
		}
	}
	return ""
}

// CRL is a card revocation list (method "rid").
type CRL struct {
	Kid  string
	Ctr  int
	Rids map[string]int64 // rid → revoke cards with nbf before this time (seconds); 0 means all
}

// ParseCRL parses and checks a card revocation list: method "rid", a positive
// ctr, and rids from the base64url alphabet of at most 24 characters, each at
// most once, with an optional ".<seconds>" suffix. The CRL is returned even
// with errors, so that callers can report them; a CRL with errors must not be
// used to accept a card.
func ParseCRL(data []byte) (*CRL, []Issue) {
	var is issues
	var doc struct {
		Kid    string      `json:"kid"`
		Method string      `json:"method"`
		Ctr    json.Number `json:"ctr"`
		Rids   []string    `json:"rids"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		is.err(StepRevocation, CodeRevocation, "The revocation list is not a JSON object of the CRL form.")
		return nil, is
	}
	crl := &CRL{Kid: doc.Kid, Rids: map[string]int64{}}
	if doc.Method != "rid" {
		is.err(StepRevocation, CodeRevocation, "The revocation list method is %q, not rid.", trunc(doc.Method))
	}
	ctr, err := doc.Ctr.Int64()
	if err != nil || ctr < 1 || ctr > math.MaxInt32 {
		is.err(StepRevocation, CodeRevocation, "The revocation list ctr is not a positive integer.")
	}
	crl.Ctr = int(ctr)
	for i, r := range doc.Rids {
		id, ts, hasTS := strings.Cut(r, ".")
		if !validRid(id) {
			is.err(StepRevocation, CodeRevocation, "rids[%d] is not 1 to 24 base64url characters.", i)
			continue
		}
		var t int64
		if hasTS {
			if !isDigits(ts) || len(ts) > 12 {
				is.err(StepRevocation, CodeRevocation, "rids[%d] has a malformed timestamp.", i)
				continue
			}
			t = mustAtoi64(ts)
		}
		if _, dup := crl.Rids[id]; dup {
			is.err(StepRevocation, CodeRevocation, "rids[%d] repeats a revocation identifier.", i)
			continue
		}
		crl.Rids[id] = t
	}
	return crl, is
}

func validRid(s string) bool {
	if s == "" || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func mustAtoi64(s string) int64 {
	var n int64
	for i := 0; i < len(s); i++ {
		n = n*10 + int64(s[i]-'0')
	}
	return n
}

// Issuer is a trusted issuer: its URL, usable keys and revocation lists.
type Issuer struct {
	URL  string
	Keys *KeySet
	CRLs map[string]*CRL // by kid
	// crlIssues are the findings about each kid's CRL (missing, malformed,
	// stale), reported on every card that needs that CRL.
	crlIssues map[string][]Issue
}

// Directory maps an issuer URL (the JWT iss) to the trusted issuer.
type Directory map[string]*Issuer

// LoadIssuer reads an issuer's published files from fsys, laid out as on its
// web server: .well-known/jwks.json and, for each key with a crlVersion,
// .well-known/crl/<kid>.json. Findings about keys are returned; findings about a
// key's CRL (absent, malformed, kid or version not matching) are kept and
// reported on the cards signed with that key.
func LoadIssuer(iss string, fsys fs.FS) (*Issuer, []Issue) {
	var is issues
	data, err := fs.ReadFile(fsys, ".well-known/jwks.json")
	if err != nil {
		is.err(StepIssuer, CodeInvalidKeySet, "Cannot read the issuer's .well-known/jwks.json.")
		return &Issuer{URL: iss, Keys: &KeySet{Keys: map[string]*Key{}}}, is
	}
	ks, kis := ParseKeySet(data, iss)
	is = append(is, kis...)
	iss2 := &Issuer{URL: iss, Keys: ks, CRLs: map[string]*CRL{}, crlIssues: map[string][]Issue{}}
	for kid, k := range ks.Keys {
		if k.CRLVersion == 0 {
			continue
		}
		var cis issues
		raw, err := fs.ReadFile(fsys, path.Join(".well-known/crl", kid+".json"))
		if err != nil {
			cis.err(StepRevocation, CodeRevocation, "The revocation list of key %s is not available.", trunc(kid))
			iss2.crlIssues[kid] = cis
			continue
		}
		crl, pis := ParseCRL(raw)
		cis = append(cis, pis...)
		if crl != nil {
			if crl.Kid != kid {
				cis.err(StepRevocation, CodeRevocation, "The revocation list of key %s names another kid.", trunc(kid))
			}
			if crl.Ctr != k.CRLVersion {
				cis.err(StepRevocation, CodeRevocation, "The revocation list of key %s has ctr %d, but the key's crlVersion is %d.", trunc(kid), crl.Ctr, k.CRLVersion)
			}
			iss2.CRLs[kid] = crl
		}
		iss2.crlIssues[kid] = cis
	}
	return iss2, is
}

// AddCRL attaches a revocation list to an issuer key, replacing any other, and
// returns the findings about it (which are also reported on the cards it
// concerns).
func (i *Issuer) AddCRL(data []byte) []Issue {
	crl, is := ParseCRL(data)
	if crl == nil {
		return is
	}
	var all issues = is
	k, ok := i.Keys.Keys[crl.Kid]
	if !ok {
		all.err(StepRevocation, CodeRevocation, "The revocation list names an unknown kid.")
		return all
	}
	if k.CRLVersion != crl.Ctr {
		all.err(StepRevocation, CodeRevocation, "The revocation list has ctr %d, but the key's crlVersion is %d.", crl.Ctr, k.CRLVersion)
	}
	if i.CRLs == nil {
		i.CRLs = map[string]*CRL{}
	}
	if i.crlIssues == nil {
		i.crlIssues = map[string][]Issue{}
	}
	i.CRLs[crl.Kid] = crl
	i.crlIssues[crl.Kid] = all
	return all
}
