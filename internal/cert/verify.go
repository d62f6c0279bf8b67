package cert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// Extended key usage OIDs that restrict which HCERT types a DSC may sign
// (HCERT spec, appendix A.4), in their official form and in the ".0." form
// that several member states deployed.
var (
	OIDTest        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 1}
	OIDVaccination = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 2}
	OIDRecovery    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 3}

	oidTestAlt        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 1}
	oidVaccinationAlt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 2}
	oidRecoveryAlt    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 3}
)

// ekuKind maps an HCERT key-usage OID to the entry group it allows, or "".
func ekuKind(oid asn1.ObjectIdentifier) string {
	switch {
	case oid.Equal(OIDTest), oid.Equal(oidTestAlt):
		return "t"
	case oid.Equal(OIDVaccination), oid.Equal(oidVaccinationAlt):
		return "v"
	case oid.Equal(OIDRecovery), oid.Equal(oidRecoveryAlt):
		return "r"
	}
	return ""
}

// VerifyResult is the outcome of verifying a certificate. It is what
// "haven cert verify --json" prints and what POST /api/v1/certificates/verify
// returns.
type VerifyResult struct {
	// Valid is true only if every step that ran passed.
	Valid bool `json:"valid"`
	// Format is "hcert" or "sd-jwt".
	Format string `json:"format"`
	// Steps holds each step that ran, in order, and whether it passed.
	Steps Steps `json:"steps"`
	// Failed names the first step that failed; empty when valid.
	Failed string `json:"failed,omitempty"`
	// Reason explains the first failure; empty when valid.
	Reason string `json:"reason,omitempty"`
	// KID is the key identifier (base64 in JSON) and Issuer the iss claim.
	KID    []byte `json:"kid,omitempty"`
	Issuer string `json:"iss,omitempty"`
	// IssuedAt and Expires are the iat and exp claims (RFC 3339 in JSON).
	IssuedAt time.Time `json:"iat,omitzero"`
	Expires  time.Time `json:"exp,omitzero"`
	// Payload is the signed payload, set only once the signature has been
	// verified: for HCERT a *DCC, or the raw JSON form of the payload when it
	// does not fit Haven's DCC model.
	Payload any `json:"payload,omitempty"`
	// Disclosed holds the claims an SD-JWT presentation disclosed.
	Disclosed map[string]any `json:"disclosed,omitempty"`

	err error
}

// Err returns the error of the first failed step, or nil when valid.
func (r *VerifyResult) Err() error { return r.err }

func (r *VerifyResult) record(step string, err error) {
	if r.Steps == nil {
		r.Steps = make(Steps, 0, len(HCERTSteps))
	}
	r.Steps = append(r.Steps, StepOutcome{Step: step, OK: err == nil})
	if err != nil && r.err == nil {
		r.err = err
		r.Failed = step
		r.Reason = registry.ErrorMessage(err)
	}
}

// VerifyOptions controls one verification.
type VerifyOptions struct {
	// At is the verification time (required unless SkipTime).
	At time.Time
	// SkipTime skips the time step; it is then absent from Steps.
	SkipTime bool
	// SkipSchema skips the JSON-schema step; it is then absent from Steps.
	SkipSchema bool

	// For SD-JWT presentations only (VerifyAny): require a key-binding JWT,
	// the audience and nonce it must carry, and the holder's spoken check
	// phrase. See package sdjwt.
	RequireKeyBinding bool
	Audience, Nonce   string
	CheckPhrase       string
}

// Verifier verifies HCERTs offline against a trust list. It never makes a
// network call. A Verifier is safe for concurrent use.
type Verifier struct {
	trust *TrustList
}

// NewVerifier returns a Verifier that trusts the DSCs in tl.
func NewVerifier(tl *TrustList) *Verifier {
	return &Verifier{trust: tl}
}

// Verify runs every HCERT step on text ("HC1:…") and reports each outcome.
// Structural failures (unprefix to cwt) and a failed signature end the run:
// nothing in an unauthenticated payload is processed further (HCERT spec
// 6.3). After a good signature, the time, key usage, schema and value-set
// steps all run and each is reported. Verify never panics; the result's Err
// is an *registry.Error whose Field names the first failed step.
func (v *Verifier) Verify(text string, opts VerifyOptions) *VerifyResult {
	res := &VerifyResult{Format: "hcert"}
	h, err := parseHC1(text, res)
	if err != nil {
		return res
	}
	res.KID = h.KID
	res.Issuer = h.Issuer
	res.IssuedAt = h.IssuedAt
	res.Expires = h.Expires
	dsc, err := h.VerifySignature(v.trust)
	res.record(StepSignature, err)
	if err != nil {
		return res
	}
	if !opts.SkipTime {
		res.record(StepTime, h.CheckTime(dsc, opts.At))
	}
	res.record(StepKeyUsage, h.CheckKeyUsage(dsc))
	if !opts.SkipSchema {
		res.record(StepSchema, h.CheckSchema())
	}
	res.record(StepValueSets, h.CheckValueSets())
	if h.DCC != nil {
		res.Payload = h.DCC
	} else if m, err := h.PayloadJSON(); err == nil {
		res.Payload = m
	}
	res.Valid = res.err == nil
	return res
}

// sigDigest returns SHA-256 of the COSE Sig_structure
// ["Signature1", protected, external_aad (empty), payload] (RFC 9052 section 4.4).
func (h *HCert) sigDigest() [32]byte {
	// Built in a stack buffer when it fits: sha256.New would allocate.
	var stack [1024]byte
	b := append(stack[:0], 0x84, 0x6a, 'S', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', '1')
	b = bstrHead(b, len(h.protected))
	b = append(b, h.protected...)
	b = append(b, 0x40)
	b = bstrHead(b, len(h.payload))
	b = append(b, h.payload...)
	return sha256.Sum256(b)
}

// bstrHead appends the CBOR head of a byte string of length n.
func bstrHead(dst []byte, n int) []byte {
	return appendHead(dst, 2, uint64(n))
}

func appendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= 0xff:
		return append(dst, m|24, byte(n))
	case n <= 0xffff:
		return append(dst, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(dst, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// VerifySignature checks the COSE signature against every DSC that tl
// trusts under the HCERT's kid (HCERT spec 3.3.3: a kid may collide) and
// returns the first that verifies. Only ES256 (P-256, 64-byte r||s) and
// PS256 (RSA of at least 2048 bits) are accepted, with the key type checked
// against the algorithm.
func (h *HCert) VerifySignature(tl *TrustList) (*x509.Certificate, error) {
	if h.Alg != AlgES256 && h.Alg != AlgPS256 {
		return nil, registry.FieldErrorf(registry.EUNSUPPORTED, StepSignature, "algorithm %d is not ES256 or PS256", h.Alg)
	}
	if h.KID == nil {
		return nil, registry.FieldErrorf(registry.EINVALID, StepSignature, "no kid: the signer cannot be identified")
	}
	if len(h.KID) != KIDSize {
		return nil, registry.FieldErrorf(registry.EINVALID, StepSignature, "kid has %d bytes, want %d", len(h.KID), KIDSize)
	}
	cands := tl.Lookup(h.KID)
	if len(cands) == 0 {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, StepSignature, "no trusted DSC for kid %s", base64.StdEncoding.EncodeToString(h.KID))
	}
	digest := h.sigDigest()
	var firstErr error
	for _, c := range cands {
		err := verifyDigest(h.Alg, c.PublicKey, digest[:], h.signature)
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

func verifyDigest(alg int64, pub crypto.PublicKey, digest, sig []byte) error {
	switch alg {
	case AlgES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return registry.FieldErrorf(registry.EINVALID, StepSignature, "ES256 needs a P-256 key, DSC has %s", keyDesc(pub))
		}
		if len(sig) != 64 {
			return registry.FieldErrorf(registry.EINVALID, StepSignature, "ES256 signature has %d bytes, want 64", len(sig))
		}
		var der [72]byte
		if !ecdsa.VerifyASN1(k, digest, rawToASN1(der[:0], sig)) {
			return registry.FieldErrorf(registry.EINVALID, StepSignature, "ES256 signature does not verify")
		}
		return nil
	case AlgPS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok || k.N.BitLen() < 2048 {
			return registry.FieldErrorf(registry.EINVALID, StepSignature, "PS256 needs an RSA key of at least 2048 bits, DSC has %s", keyDesc(pub))
		}
		if len(sig) != k.Size() {
			return registry.FieldErrorf(registry.EINVALID, StepSignature, "PS256 signature has %d bytes, want %d", len(sig), k.Size())
		}
		if err := rsa.VerifyPSS(k, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			return registry.FieldErrorf(registry.EINVALID, StepSignature, "PS256 signature does not verify")
		}
		return nil
	}
	return registry.FieldErrorf(registry.EUNSUPPORTED, StepSignature, "algorithm %d is not ES256 or PS256", alg)
}

func keyDesc(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "an EC key on " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("an RSA-%d key", k.N.BitLen())
	}
	return fmt.Sprintf("a %T", pub)
}

// rawToASN1 converts a 64-byte r||s ECDSA signature to ASN.1 DER.
func rawToASN1(dst, sig []byte) []byte {
	r, s := asn1Int(sig[:32]), asn1Int(sig[32:])
	n := 4 + len(r) + len(s)
	if r[0]&0x80 != 0 {
		n++
	}
	if s[0]&0x80 != 0 {
		n++
	}
	dst = append(dst, 0x30, byte(n))
	dst = appendASN1Int(dst, r)
	return appendASN1Int(dst, s)
}

// asn1Int strips leading zeros (keeping one byte).
func asn1Int(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func appendASN1Int(dst, b []byte) []byte {
	if b[0]&0x80 != 0 {
		dst = append(dst, 0x02, byte(len(b)+1), 0)
	} else {
		dst = append(dst, 0x02, byte(len(b)))
	}
	return append(dst, b...)
}

// CheckTime checks, at time at, that the HCERT has iat and exp claims with
// iat <= at <= exp, that the DSC is valid at at, and that iat does not
// predate the DSC (HCERT spec 3.3.5 and 3.3.6). A test certificate whose
// sample was taken after at is refused too (case DGC8 of the eHN verifier
// checks).
func (h *HCert) CheckTime(dsc *x509.Certificate, at time.Time) error {
	switch {
	case at.IsZero():
		return registry.FieldErrorf(registry.EINVALID, StepTime, "no verification time given")
	case !h.HasIssuedAt:
		return registry.FieldErrorf(registry.EINVALID, StepTime, "no iat claim")
	case !h.HasExpires:
		return registry.FieldErrorf(registry.EINVALID, StepTime, "no exp claim")
	case at.Before(h.IssuedAt):
		return registry.FieldErrorf(registry.EINVALID, StepTime, "not yet valid: issued at %s", h.IssuedAt.Format(time.RFC3339))
	case at.After(h.Expires):
		return registry.FieldErrorf(registry.EINVALID, StepTime, "expired at %s", h.Expires.Format(time.RFC3339))
	case at.Before(dsc.NotBefore):
		return registry.FieldErrorf(registry.EINVALID, StepTime, "the DSC is not valid before %s", dsc.NotBefore.UTC().Format(time.RFC3339))
	case at.After(dsc.NotAfter):
		return registry.FieldErrorf(registry.EINVALID, StepTime, "the DSC expired at %s", dsc.NotAfter.UTC().Format(time.RFC3339))
	case h.IssuedAt.Before(dsc.NotBefore):
		return registry.FieldErrorf(registry.EINVALID, StepTime, "issued before the DSC became valid (%s)", dsc.NotBefore.UTC().Format(time.RFC3339))
	}
	if h.DCC != nil {
		for _, t := range h.DCC.T {
			if sc, err := time.Parse(time.RFC3339Nano, string(t.Sc)); err == nil && sc.After(at) {
				return registry.FieldErrorf(registry.EINVALID, StepTime, "the test sample was taken after the verification time")
			}
		}
	}
	return nil
}

// CheckKeyUsage checks the DSC's HCERT extended key usages (HCERT spec A.4):
// if the DSC lists any of the test, vaccination or recovery OIDs, the
// certificate's entry group must be among them. A DSC without such OIDs may
// sign every type.
func (h *HCert) CheckKeyUsage(dsc *x509.Certificate) error {
	kind, err := h.kind()
	if err != nil {
		return registry.FieldErrorf(registry.EINVALID, StepKeyUsage, "%s", err.Error())
	}
	restricted := false
	for _, oid := range dsc.UnknownExtKeyUsage {
		k := ekuKind(oid)
		if k == "" {
			continue
		}
		restricted = true
		if k == kind {
			return nil
		}
	}
	if restricted {
		return registry.FieldErrorf(registry.EINVALID, StepKeyUsage, "the DSC may not sign %s certificates", kindName(kind))
	}
	return nil
}

func kindName(k string) string {
	switch k {
	case "v":
		return "vaccination"
	case "t":
		return "test"
	case "r":
		return "recovery"
	}
	return "unknown"
}

// kind returns the entry group of the payload: "v", "t" or "r".
func (h *HCert) kind() (string, error) {
	if h.DCC != nil {
		if k := h.DCC.Kind(); k != "" {
			return k, nil
		}
	}
	m, err := h.PayloadJSON()
	if err != nil {
		return "", err
	}
	return kindOfMap(m)
}

func kindOfMap(m map[string]any) (string, error) {
	n, kind := 0, ""
	for _, k := range []string{"v", "t", "r"} {
		if _, ok := m[k]; ok {
			n, kind = n+1, k
		}
	}
	if n != 1 {
		return "", fmt.Errorf("payload has %d of the entry groups v, t and r, want exactly one", n)
	}
	return kind, nil
}
