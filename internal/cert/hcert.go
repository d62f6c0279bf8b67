package cert

import (
	"bytes"
	"compress/zlib"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/haven-registry/haven/internal/registry"
)

// Prefix is the HCERT context identifier for version 1.
const Prefix = "HC1:"

// MaxCWTSize bounds the decompressed CWT. A QR code holds at most about 3 KB
// of compressed data, so a larger CWT is refused rather than inflated (zip
// bomb protection).
const MaxCWTSize = 64 << 10

// COSE algorithm identifiers (RFC 9053) accepted by HCERT.
const (
	AlgES256 = -7
	AlgPS256 = -37
)

// CWT and HCERT claim keys (RFC 8392, HCERT spec 3.3).
const (
	claimIss   = 1
	claimExp   = 4
	claimIat   = 6
	claimHCert = -260
)

// decMode decodes untrusted CBOR strictly but within what RFC 8949 and the
// HCERT spec allow: definite or indefinite lengths, tags anywhere the schema
// tolerates them, duplicate map keys rejected, invalid UTF-8 rejected,
// nesting and sizes bounded.
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsAllowed,
		MaxNestedLevels:  16,
		MaxArrayElements: 4096,
		MaxMapPairs:      4096,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err) // constant options; unreachable
	}
	return dm
}()

// HCert is an HCERT that passed the structural steps (unprefix, base45,
// decompress, cose, cwt). Its signature has not been checked yet: nothing in
// it may be trusted before VerifySignature succeeds.
type HCert struct {
	// Alg is the COSE algorithm (protected header, else unprotected).
	Alg int64
	// KID is the key identifier (protected header, else unprotected); may be nil.
	KID []byte
	// Issuer is the iss claim, "" if absent.
	Issuer string
	// IssuedAt and Expires are the iat and exp claims; zero if absent.
	IssuedAt, Expires time.Time
	// HasIssuedAt and HasExpires report whether iat and exp were present.
	HasIssuedAt, HasExpires bool
	// DCC is the eu_dcc_v1 payload decoded into Haven's data model, or nil
	// if it does not fit that model (the schema step then reports why).
	DCC *DCC

	protected []byte // serialized protected header, as signed
	payload   []byte // CWT claims, as signed
	signature []byte
	rawDCC    []byte // CBOR of hcert[1]
}

// cborHead reads the head of the CBOR item at b: major type, argument and
// head length. ok is false for truncated or reserved encodings.
func cborHead(b []byte) (major byte, arg uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, 0, false
	}
	major = b[0] >> 5
	info := b[0] & 0x1f
	switch {
	case info < 24:
		return major, uint64(info), 1, true
	case info == 24:
		if len(b) < 2 {
			return 0, 0, 0, false
		}
		return major, uint64(b[1]), 2, true
	case info == 25:
		if len(b) < 3 {
			return 0, 0, 0, false
		}
		return major, uint64(b[1])<<8 | uint64(b[2]), 3, true
	case info == 26:
		if len(b) < 5 {
			return 0, 0, 0, false
		}
		return major, uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4]), 5, true
	case info == 27:
		if len(b) < 9 {
			return 0, 0, 0, false
		}
		var v uint64
		for i := 1; i < 9; i++ {
			v = v<<8 | uint64(b[i])
		}
		return major, v, 9, true
	}
	return major, 0, 1, info == 31 // indefinite length marker
}

// Unprefix strips the HCERT context identifier "HC1:".
func Unprefix(text string) (string, error) {
	if !strings.HasPrefix(text, Prefix) {
		if len(text) >= 4 && text[0] == 'H' && text[1] == 'C' && text[3] == ':' {
			return "", registry.FieldErrorf(registry.EUNSUPPORTED, StepUnprefix, "context identifier %q is not supported", text[:4])
		}
		return "", registry.FieldErrorf(registry.EMALFORMED, StepUnprefix, "missing context identifier %q", Prefix)
	}
	return text[len(Prefix):], nil
}

var zlibPool sync.Pool // of *pooledZlib

// bufPool holds the transient buffers of parseHC1: the Base45-decoded and
// the decompressed bytes. Neither outlives parseHC1: the CBOR decoder copies
// every byte and text string it stores (protected header, payload,
// signature, kid, claims), so an HCert holds no reference into them.
var bufPool sync.Pool // of *[]byte

// maxPooledBuf bounds the buffers kept in bufPool.
const maxPooledBuf = 16 << 10

func getBuf() *[]byte {
	if p, _ := bufPool.Get().(*[]byte); p != nil {
		return p
	}
	return new([]byte)
}

func putBuf(p *[]byte) {
	if cap(*p) <= maxPooledBuf {
		bufPool.Put(p)
	}
}

type pooledZlib struct {
	br bytes.Reader
	zr io.ReadCloser
}

// Decompress inflates a ZLIB (RFC 1950) stream, refusing output larger than
// MaxCWTSize. Data after the end of the ZLIB stream is refused too.
func Decompress(b []byte) ([]byte, error) {
	return decompress(b, nil)
}

// decompress is Decompress appending to dst.
func decompress(b, dst []byte) ([]byte, error) {
	p, _ := zlibPool.Get().(*pooledZlib)
	if p == nil {
		p = &pooledZlib{}
	}
	p.br.Reset(b)
	defer p.br.Reset(nil) // the pool must not keep b alive
	var err error
	if p.zr == nil {
		p.zr, err = zlib.NewReader(&p.br)
	} else {
		err = p.zr.(zlib.Resetter).Reset(&p.br, nil)
	}
	if err != nil {
		if p.zr != nil {
			zlibPool.Put(p)
		}
		return nil, registry.FieldErrorf(registry.EMALFORMED, StepDecompress, "not a ZLIB stream: %v", err)
	}
	defer zlibPool.Put(p)
	if want := 4*len(b) + 256; cap(dst)-len(dst) < want {
		dst = append(make([]byte, 0, len(dst)+want), dst...)
	}
	for {
		if len(dst) == cap(dst) {
			if len(dst) >= MaxCWTSize+1 {
				break
			}
			dst = append(dst, 0)[:len(dst)]
		}
		n, rerr := p.zr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > MaxCWTSize {
			return nil, registry.FieldErrorf(registry.ETOOLARGE, StepDecompress, "decompressed data exceeds %d bytes", MaxCWTSize)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, registry.FieldErrorf(registry.EMALFORMED, StepDecompress, "corrupt ZLIB stream: %v", rerr)
		}
	}
	if len(dst) > MaxCWTSize {
		return nil, registry.FieldErrorf(registry.ETOOLARGE, StepDecompress, "decompressed data exceeds %d bytes", MaxCWTSize)
	}
	if p.br.Len() != 0 {
		return nil, registry.FieldErrorf(registry.EMALFORMED, StepDecompress, "%d bytes after the end of the ZLIB stream", p.br.Len())
	}
	return dst, nil
}

// rawRef captures the encoded CBOR of one data item without copying it: it
// aliases the input buffer, which Haven owns and never reuses.
type rawRef []byte

// UnmarshalCBOR keeps a reference to data.
func (r *rawRef) UnmarshalCBOR(data []byte) error {
	*r = data
	return nil
}

type coseSign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected rawRef
	Payload     []byte
	Signature   []byte
}

type coseHeader struct {
	Alg rawRef `cbor:"1,keyasint,omitempty"`
	Kid rawRef `cbor:"4,keyasint,omitempty"`
}

// parseCOSE parses a COSE_Sign1 message, optionally wrapped in the CWT tag
// (61) and/or the COSE_Sign1 tag (18), in that order. It fills the header
// fields and raw parts of h.
func parseCOSE(b []byte, h *HCert) error {
	// Strip the optional tags: 61 (CWT) then 18 (COSE_Sign1).
	seen61, seen18 := false, false
	for {
		major, arg, n, ok := cborHead(b)
		if !ok {
			return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "truncated or invalid CBOR")
		}
		if major != 6 {
			break
		}
		switch {
		case arg == 61 && !seen61 && !seen18:
			seen61 = true
		case arg == 18 && !seen18:
			seen18 = true
		default:
			return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "unexpected CBOR tag %d (want COSE_Sign1)", arg)
		}
		b = b[n:]
	}
	var msg coseSign1
	if err := decMode.Unmarshal(b, &msg); err != nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "not a COSE_Sign1 array: %v", err)
	}
	if msg.Payload == nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "detached or missing payload")
	}
	if msg.Signature == nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "missing signature")
	}
	var prot, unprot coseHeader
	if len(msg.Protected) > 0 {
		if err := decMode.Unmarshal(msg.Protected, &prot); err != nil {
			return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "protected header is not a CBOR map: %v", err)
		}
	}
	if len(msg.Unprotected) == 0 {
		return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "missing unprotected header")
	}
	if err := decMode.Unmarshal(msg.Unprotected, &unprot); err != nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "unprotected header is not a CBOR map: %v", err)
	}
	// The protected header takes precedence (HCERT spec 3.3.3).
	algRaw := prot.Alg
	if algRaw == nil {
		algRaw = unprot.Alg
	}
	if algRaw == nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "no alg header parameter")
	}
	if err := decMode.Unmarshal(algRaw, &h.Alg); err != nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "alg is not an integer")
	}
	kidRaw := prot.Kid
	if kidRaw == nil {
		kidRaw = unprot.Kid
	}
	if kidRaw != nil {
		if major, _, _, _ := cborHead(kidRaw); major != 2 {
			return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "kid is not a byte string")
		}
		if err := decMode.Unmarshal(kidRaw, &h.KID); err != nil {
			return registry.FieldErrorf(registry.EMALFORMED, StepCOSE, "kid is not a byte string")
		}
	}
	h.protected = msg.Protected
	h.payload = msg.Payload
	h.signature = msg.Signature
	return nil
}

type cwtClaims struct {
	Iss   rawRef `cbor:"1,keyasint,omitempty"`
	Exp   rawRef `cbor:"4,keyasint,omitempty"`
	Iat   rawRef `cbor:"6,keyasint,omitempty"`
	HCert rawRef `cbor:"-260,keyasint,omitempty"`
}

type hcertClaim struct {
	EUDCC rawRef `cbor:"1,keyasint,omitempty"`
}

// numericDate reads an RFC 8392 NumericDate: an integer or floating-point
// number of seconds since the epoch, without tag 1.
func numericDate(raw rawRef, name string) (time.Time, error) {
	major, _, _, ok := cborHead(raw)
	if !ok {
		return time.Time{}, registry.FieldErrorf(registry.EMALFORMED, StepCWT, "%s is not valid CBOR", name)
	}
	switch major {
	case 0, 1:
		// An integer head is the whole item: raw passed the decoder's
		// well-formedness check with the claims.
		_, arg, _, _ := cborHead(raw)
		v := int64(arg)
		if major == 1 {
			v = -1 - v
		}
		if arg > 1<<40 || v < -(1<<40) || v > 1<<40 {
			return time.Time{}, registry.FieldErrorf(registry.EMALFORMED, StepCWT, "%s is out of range", name)
		}
		return time.Unix(v, 0).UTC(), nil
	case 7:
		var f float64
		if err := decMode.Unmarshal(raw, &f); err != nil {
			return time.Time{}, registry.FieldErrorf(registry.EMALFORMED, StepCWT, "%s is not a number", name)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || f < -(1<<40) || f > 1<<40 {
			return time.Time{}, registry.FieldErrorf(registry.EMALFORMED, StepCWT, "%s is out of range", name)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, registry.FieldErrorf(registry.EMALFORMED, StepCWT, "%s is not a NumericDate", name)
}

// parseCWT reads the CWT claims from h.payload.
func parseCWT(h *HCert) error {
	var c cwtClaims
	if major, _, _, _ := cborHead(h.payload); major != 5 {
		return registry.FieldErrorf(registry.EMALFORMED, StepCWT, "payload is not a CBOR map")
	}
	if err := decMode.Unmarshal(h.payload, &c); err != nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCWT, "invalid claims: %v", err)
	}
	if c.Iss != nil {
		if err := decMode.Unmarshal(c.Iss, &h.Issuer); err != nil {
			return registry.FieldErrorf(registry.EMALFORMED, StepCWT, "iss is not a text string")
		}
	}
	var err error
	if c.Iat != nil {
		if h.IssuedAt, err = numericDate(c.Iat, "iat"); err != nil {
			return err
		}
		h.HasIssuedAt = true
	}
	if c.Exp != nil {
		if h.Expires, err = numericDate(c.Exp, "exp"); err != nil {
			return err
		}
		h.HasExpires = true
	}
	if c.HCert == nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCWT, "no hcert claim (-260)")
	}
	if major, _, _, _ := cborHead(c.HCert); major != 5 {
		return registry.FieldErrorf(registry.EMALFORMED, StepCWT, "hcert claim is not a map")
	}
	var hc hcertClaim
	if err := decMode.Unmarshal(c.HCert, &hc); err != nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCWT, "invalid hcert claim: %v", err)
	}
	if hc.EUDCC == nil {
		return registry.FieldErrorf(registry.EMALFORMED, StepCWT, "no eu_dcc_v1 entry (1) in the hcert claim")
	}
	if major, _, _, _ := cborHead(hc.EUDCC); major != 5 {
		return registry.FieldErrorf(registry.EMALFORMED, StepCWT, "eu_dcc_v1 is not a map")
	}
	h.rawDCC = hc.EUDCC
	var d DCC
	if err := decMode.Unmarshal(hc.EUDCC, &d); err == nil {
		h.DCC = &d
	}
	return nil
}

// ParseCOSE runs the cose and cwt steps on a raw COSE_Sign1 message (the
// "raw" transport of HCERT spec 4.1, without prefix, Base45 or ZLIB).
func ParseCOSE(raw []byte) (*HCert, error) {
	h := &HCert{}
	if err := parseCOSE(raw, h); err != nil {
		return nil, err
	}
	if err := parseCWT(h); err != nil {
		return nil, err
	}
	return h, nil
}

// ParseHC1 runs the structural steps (unprefix, base45, decompress, cose,
// cwt) on an "HC1:" text. It returns the parsed, still unverified HCERT. On
// failure it returns an *registry.Error whose Field names the failed step.
func ParseHC1(text string) (*HCert, error) {
	var res VerifyResult
	return parseHC1(text, &res)
}

func parseHC1(text string, res *VerifyResult) (*HCert, error) {
	b45, err := Unprefix(text)
	res.record(StepUnprefix, err)
	if err != nil {
		return nil, err
	}
	cbuf := getBuf()
	defer putBuf(cbuf)
	compressed, err := appendBase45((*cbuf)[:0], b45)
	res.record(StepBase45, err)
	if err != nil {
		return nil, err
	}
	*cbuf = compressed
	rbuf := getBuf()
	defer putBuf(rbuf)
	raw, err := decompress(compressed, (*rbuf)[:0])
	res.record(StepDecompress, err)
	if err != nil {
		return nil, err
	}
	*rbuf = raw
	h := &HCert{}
	err = parseCOSE(raw, h)
	res.record(StepCOSE, err)
	if err != nil {
		return nil, err
	}
	err = parseCWT(h)
	res.record(StepCWT, err)
	if err != nil {
		return nil, err
	}
	return h, nil
}
