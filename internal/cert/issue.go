package cert

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"io"
	"math/big"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/haven-registry/haven/internal/registry"
)

// IssueVersion is the DCC schema version of the certificates Haven issues.
const IssueVersion = "1.3.0"

// DiseaseCOVID19 is the SNOMED CT code of COVID-19 (value set
// disease-agent-targeted).
const DiseaseCOVID19 = "840539006"

// encMode encodes deterministically (RFC 8949 core deterministic encoding).
var encMode = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // constant options; unreachable
	}
	return em
}()

// Person is the holder of a certificate. Every field but CardCode may be
// empty: a person with no name on record gets the card code in the name
// fields, and BirthDate may be "YYYY", "YYYY-MM", "YYYY-MM-DD" or "".
type Person struct {
	CardCode   string `json:"card_code"`
	FamilyName string `json:"family_name,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	// FamilyNameICAO and GivenNameICAO override the automatic ICAO 9303
	// transliteration (needed for names outside the Latin and Cyrillic
	// scripts).
	FamilyNameICAO string `json:"family_name_icao,omitempty"`
	GivenNameICAO  string `json:"given_name_icao,omitempty"`
	BirthDate      string `json:"birth_date,omitempty"`
}

// VaccinationEvent is one vaccination to certify. Codes come from the EU DCC
// value sets; Holder and Prophylaxis default to what the EU encoding
// instructions give for Product.
type VaccinationEvent struct {
	Product     string `json:"product"`               // mp, e.g. "EU/1/20/1528"
	Holder      string `json:"holder,omitempty"`      // ma, e.g. "ORG-100030215"
	Prophylaxis string `json:"prophylaxis,omitempty"` // vp, e.g. "1119349007"
	Dose        int    `json:"dose"`                  // dn
	Series      int    `json:"series"`                // sd
	Date        string `json:"date"`                  // dt, YYYY-MM-DD
	Country     string `json:"country"`               // co, ISO 3166-1 alpha-2
}

// TestEvent is one test result to certify.
type TestEvent struct {
	Type      string    `json:"type"`             // tt: "LP6464-4" (NAAT) or "LP217198-3" (RAT)
	Name      string    `json:"name,omitempty"`   // nm, NAAT test name
	Device    string    `json:"device,omitempty"` // ma, RAT device id (JRC database)
	SampledAt time.Time `json:"sampled_at"`       // sc
	Result    string    `json:"result"`           // tr: "260415000" not detected, "260373001" detected
	Centre    string    `json:"centre,omitempty"` // tc
	Country   string    `json:"country"`          // co
}

// IssueRequest describes one certificate: a person and exactly one event.
type IssueRequest struct {
	Person      Person            `json:"person"`
	Vaccination *VaccinationEvent `json:"vaccination,omitempty"`
	Test        *TestEvent        `json:"test,omitempty"`
	// CertificateID is the UVCI; Haven generates one when empty.
	CertificateID string `json:"certificate_id,omitempty"`
}

// ParseIssueRequest decodes the JSON form of an IssueRequest, rejecting
// unknown fields.
func ParseIssueRequest(data []byte) (*IssueRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r IssueRequest
	if err := dec.Decode(&r); err != nil {
		return nil, registry.Errorf(registry.EMALFORMED, "issue request: %v", err)
	}
	return &r, nil
}

// IssuerOptions configures an Issuer.
type IssuerOptions struct {
	// Country is the iss claim and the UVCI country (ISO 3166-1 alpha-2);
	// default: the DSC subject's country.
	Country string
	// Name is the certificate issuer ("is"); default: the DSC subject's
	// organisation.
	Name string
	// Validity is how long a certificate's signature stays valid (exp - iat);
	// default 365 days. exp never exceeds the DSC's validity.
	Validity time.Duration
	// Rand is the randomness for signatures and UVCIs; default crypto/rand.
	Rand io.Reader
}

// Issuer signs HCERTs with one DSC. It is safe for concurrent use.
type Issuer struct {
	signer   crypto.Signer
	dsc      *x509.Certificate
	protect  []byte // serialized protected header
	alg      int64
	country  string
	name     string
	validity time.Duration
	rand     io.Reader
}

// NewIssuer returns an Issuer that signs with signer, whose public key must
// be the DSC's: ES256 for a P-256 key, PS256 for RSA of at least 2048 bits.
func NewIssuer(signer crypto.Signer, dsc *x509.Certificate, opts IssuerOptions) (*Issuer, error) {
	if !publicKeysEqual(signer.Public(), dsc.PublicKey) {
		return nil, registry.Errorf(registry.EINVALID, "the signing key does not match the DSC")
	}
	is := &Issuer{signer: signer, dsc: dsc, country: opts.Country, name: opts.Name, validity: opts.Validity, rand: opts.Rand}
	switch k := dsc.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, registry.Errorf(registry.EUNSUPPORTED, "DSC key must be P-256 for ES256")
		}
		is.alg = AlgES256
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, registry.Errorf(registry.EUNSUPPORTED, "DSC RSA key must have at least 2048 bits for PS256")
		}
		is.alg = AlgPS256
	default:
		return nil, registry.Errorf(registry.EUNSUPPORTED, "DSC key type %T is neither ES256 nor PS256", k)
	}
	if is.country == "" && len(dsc.Subject.Country) > 0 {
		is.country = dsc.Subject.Country[0]
	}
	if !countryRE.MatchString(is.country) {
		return nil, registry.FieldErrorf(registry.EINVALID, "country", "issuer country must be an ISO 3166-1 alpha-2 code")
	}
	if is.name == "" && len(dsc.Subject.Organization) > 0 {
		is.name = dsc.Subject.Organization[0]
	}
	if is.name == "" {
		is.name = "Haven"
	}
	if utf8.RuneCountInString(is.name) > 80 {
		return nil, registry.FieldErrorf(registry.EINVALID, "name", "issuer name exceeds 80 characters")
	}
	if is.validity <= 0 {
		is.validity = 365 * 24 * time.Hour
	}
	if is.rand == nil {
		is.rand = rand.Reader
	}
	// Protected header {1: alg, 4: kid}, deterministic order.
	p := []byte{0xa2, 0x01}
	if is.alg == AlgES256 {
		p = append(p, 0x26)
	} else {
		p = append(p, 0x38, 0x24)
	}
	p = append(p, 0x04, 0x48)
	is.protect = append(p, KID(dsc)...)
	return is, nil
}

// DSC returns the issuer's document signer certificate.
func (is *Issuer) DSC() *x509.Certificate { return is.dsc }

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// checkDate reports whether s is a real calendar date YYYY-MM-DD.
func checkDate(s string) bool {
	if !dateRE.MatchString(s) {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

var birthRE = regexp.MustCompile(`^((19|20)\d\d(-\d\d){0,2})?$`)

// BuildDCC turns a request into a DCC payload, checking every field and
// code: codes must be active in the EU value sets, dates real, names
// transliterable. Errors are EINVALID and name the field.
func (is *Issuer) BuildDCC(req *IssueRequest) (*DCC, error) {
	sets, err := ValueSets()
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "value sets: %v", err)
	}
	d := &DCC{Ver: IssueVersion}
	p := req.Person
	if err := fillName(&d.Nam, &p); err != nil {
		return nil, err
	}
	if !birthRE.MatchString(p.BirthDate) {
		return nil, registry.FieldErrorf(registry.EINVALID, "person.birth_date", "birth date must be YYYY, YYYY-MM, YYYY-MM-DD (1900-2099) or empty")
	}
	if len(p.BirthDate) == 10 && !checkDate(p.BirthDate) {
		return nil, registry.FieldErrorf(registry.EINVALID, "person.birth_date", "birth date is not a calendar date")
	}
	d.Dob = p.BirthDate
	uvci := req.CertificateID
	if uvci == "" {
		uvci = NewUVCI(is.country, is.rand)
	} else if len(uvci) > 80 {
		return nil, registry.FieldErrorf(registry.EINVALID, "certificate_id", "certificate id exceeds 80 characters")
	}
	active := func(set, field, code string) error {
		if !sets[set].Active(code) {
			return registry.FieldErrorf(registry.EINVALID, field, "%q is not an active code of value set %s", code, sets[set].ID)
		}
		return nil
	}
	switch {
	case req.Vaccination != nil && req.Test != nil:
		return nil, registry.FieldErrorf(registry.EINVALID, "vaccination", "a certificate holds either a vaccination or a test, not both")
	case req.Vaccination != nil:
		v := *req.Vaccination
		if instr, ok := encodingFor(v.Product); ok {
			if v.Holder == "" {
				v.Holder = instr.Holder
			}
			if v.Prophylaxis == "" {
				v.Prophylaxis = instr.Prophylaxis
			}
		}
		for _, c := range [][3]string{
			{VSProduct, "vaccination.product", v.Product},
			{VSHolder, "vaccination.holder", v.Holder},
			{VSProphylaxis, "vaccination.prophylaxis", v.Prophylaxis},
			{VSCountry, "vaccination.country", v.Country},
		} {
			if err := active(c[0], c[1], c[2]); err != nil {
				return nil, err
			}
		}
		if v.Dose < 1 || v.Series < 1 || v.Dose > 99 || v.Series > 99 {
			return nil, registry.FieldErrorf(registry.EINVALID, "vaccination.dose", "dose and series must be between 1 and 99")
		}
		if !checkDate(v.Date) {
			return nil, registry.FieldErrorf(registry.EINVALID, "vaccination.date", "date must be YYYY-MM-DD")
		}
		d.V = []Vaccination{{Tg: DiseaseCOVID19, Vp: v.Prophylaxis, Mp: v.Product, Ma: v.Holder, Dn: Integer(v.Dose), Sd: Integer(v.Series), Dt: v.Date, Co: v.Country, Is: is.name, Ci: uvci}}
	case req.Test != nil:
		t := *req.Test
		for _, c := range [][3]string{
			{VSTestType, "test.type", t.Type},
			{VSTestResult, "test.result", t.Result},
			{VSCountry, "test.country", t.Country},
		} {
			if err := active(c[0], c[1], c[2]); err != nil {
				return nil, err
			}
		}
		if t.Type == "LP217198-3" && t.Device == "" {
			return nil, registry.FieldErrorf(registry.EINVALID, "test.device", "a rapid antigen test needs the device id")
		}
		if t.SampledAt.IsZero() {
			return nil, registry.FieldErrorf(registry.EINVALID, "test.sampled_at", "sample time is required")
		}
		if utf8.RuneCountInString(t.Name) > 80 || utf8.RuneCountInString(t.Centre) > 80 {
			return nil, registry.FieldErrorf(registry.EINVALID, "test.name", "test name and centre are limited to 80 characters")
		}
		d.T = []TestEntry{{Tg: DiseaseCOVID19, Tt: t.Type, Nm: t.Name, Ma: t.Device, Sc: DateTime(t.SampledAt.UTC().Format(time.RFC3339)), Tr: t.Result, Tc: t.Centre, Co: t.Country, Is: is.name, Ci: uvci}}
	default:
		return nil, registry.FieldErrorf(registry.EINVALID, "vaccination", "a certificate needs a vaccination or a test")
	}
	return d, nil
}

// fillName sets the DCC names. The schema requires a surname (fnt), so a
// person with no family name on record gets the card code as surname (fn)
// and its letters-only form as fnt, and keeps any given name.
func fillName(n *Name, p *Person) error {
	fam, giv := strings.TrimSpace(p.FamilyName), strings.TrimSpace(p.GivenName)
	var err error
	if fam == "" {
		code := strings.ToUpper(strings.TrimSpace(p.CardCode))
		if code == "" {
			return registry.FieldErrorf(registry.EINVALID, "person.card_code", "a person without a family name needs the card code")
		}
		n.Fn = code
		n.Fnt = CardCodeTransliteration(code)
		if len(n.Fnt) > 80 || !icaoRE.MatchString(n.Fnt) {
			return registry.FieldErrorf(registry.EINVALID, "person.card_code", "card code cannot be written as a name")
		}
	} else {
		n.Fn = fam
		if n.Fnt, err = icaoOrGiven(p.FamilyNameICAO, fam, "person.family_name"); err != nil {
			return err
		}
	}
	if giv != "" {
		n.Gn = giv
		if n.Gnt, err = icaoOrGiven(p.GivenNameICAO, giv, "person.given_name"); err != nil {
			return err
		}
	}
	if utf8.RuneCountInString(n.Fn) > 80 || utf8.RuneCountInString(n.Gn) > 80 || len(n.Fnt) > 80 || len(n.Gnt) > 80 {
		return registry.FieldErrorf(registry.EINVALID, "person.family_name", "names are limited to 80 characters")
	}
	if n.Fnt == "" && n.Gnt == "" {
		return registry.FieldErrorf(registry.EINVALID, "person.family_name", "the name has no letters that ICAO 9303 can write")
	}
	return nil
}

var icaoRE = regexp.MustCompile(`^[A-Z<]*$`)

func icaoOrGiven(given, name, field string) (string, error) {
	if given != "" {
		if !icaoRE.MatchString(given) {
			return "", registry.FieldErrorf(registry.EINVALID, field+"_icao", "transliteration must match ^[A-Z<]*$")
		}
		return given, nil
	}
	return TransliterateICAO(name, field)
}

type encodingInstruction struct {
	Holder, Prophylaxis string
}

var (
	encOnce sync.Once
	encByMP map[string]encodingInstruction
)

// encodingFor returns the EU encoding instruction (holder and class code)
// for a medicinal product code. Where the instructions list a vaccine class
// code besides the generic 28531000087107, the class code is chosen.
func encodingFor(mp string) (encodingInstruction, bool) {
	encOnce.Do(func() {
		encByMP = map[string]encodingInstruction{}
		raw, err := dataFS.ReadFile("valuesets/vaccine-encoding-instructions.json")
		if err != nil {
			return
		}
		var doc struct {
			Values map[string]struct {
				Code     string   `json:"vaccine-code"`
				Holder   string   `json:"vaccine-manufacturer"`
				SCTCodes []string `json:"sct-codes"`
			} `json:"valueSetValues"`
		}
		if json.Unmarshal(raw, &doc) != nil {
			return
		}
		for _, v := range doc.Values {
			e := encodingInstruction{Holder: v.Holder}
			for _, c := range v.SCTCodes {
				if e.Prophylaxis == "" || e.Prophylaxis == "28531000087107" {
					e.Prophylaxis = c
				}
			}
			encByMP[v.Code] = e
		}
	})
	e, ok := encByMP[mp]
	return e, ok
}

// uvciCharset is the Luhn mod N alphabet of the UVCI checksum (eHN UVCI
// guidelines; DCC schema FAQ).
const uvciCharset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"

// NewUVCI returns a fresh UVCI "URN:UVCI:01:CC:HVN<random>#<check>" with 100
// bits of randomness and a Luhn mod 38 checksum over the whole identifier.
func NewUVCI(country string, r io.Reader) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // RFC 4648 base32: 5 bits each
	var raw [20]byte
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		panic("cert: random source failed: " + err.Error())
	}
	var b strings.Builder
	b.WriteString("URN:UVCI:01:")
	b.WriteString(country)
	b.WriteString(":HVN")
	for _, x := range raw {
		b.WriteByte(alphabet[int(x)%32])
	}
	s := b.String()
	return s + "#" + string(uvciCharset[luhnModN(s)])
}

// luhnModN returns the index of the Luhn mod N check character for s over
// uvciCharset; characters outside the charset are skipped.
func luhnModN(s string) int {
	n := len(uvciCharset)
	factor, sum := 2, 0
	for i := len(s) - 1; i >= 0; i-- {
		cp := strings.IndexByte(uvciCharset, s[i])
		if cp < 0 {
			continue
		}
		addend := factor * cp
		if factor == 2 {
			factor = 1
		} else {
			factor = 2
		}
		sum += addend/n + addend%n
	}
	return (n - sum%n) % n
}

// ValidUVCIChecksum reports whether a UVCI ending in "#<c>" carries the right
// Luhn mod 38 checksum.
func ValidUVCIChecksum(uvci string) bool {
	i := strings.LastIndexByte(uvci, '#')
	if i < 0 || i != len(uvci)-2 {
		return false
	}
	return uvci[i+1] == uvciCharset[luhnModN(uvci[:i])]
}

type cwtOut struct {
	Iss   string   `cbor:"1,keyasint"`
	Exp   int64    `cbor:"4,keyasint"`
	Iat   int64    `cbor:"6,keyasint"`
	HCert hcertOut `cbor:"-260,keyasint"`
}

type hcertOut struct {
	EU *DCC `cbor:"1,keyasint"`
}

var zlibWriters = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(io.Discard, zlib.BestCompression)
	return w
}}

// Issued is a freshly issued certificate.
type Issued struct {
	HC1       string
	DCC       *DCC
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Issue signs a certificate for req at time now and returns its "HC1:" text.
func (is *Issuer) Issue(req *IssueRequest, now time.Time) (string, error) {
	c, err := is.IssueCertificate(req, now)
	if err != nil {
		return "", err
	}
	return c.HC1, nil
}

// IssueCertificate signs a certificate for req at time now: a CWT with iss,
// iat = now, exp = now + validity (capped at the DSC's expiry) and the DCC
// under claim -260, signed as a tagged COSE_Sign1 with the kid in the
// protected header, ZLIB-compressed, Base45-encoded and prefixed "HC1:".
func (is *Issuer) IssueCertificate(req *IssueRequest, now time.Time) (*Issued, error) {
	if now.IsZero() {
		return nil, registry.FieldErrorf(registry.EINVALID, "now", "no issuing time given")
	}
	iat := now.UTC().Truncate(time.Second)
	if iat.Before(is.dsc.NotBefore) || iat.After(is.dsc.NotAfter) {
		return nil, registry.Errorf(registry.EINVALID, "the DSC is not valid at %s", iat.Format(time.RFC3339))
	}
	exp := iat.Add(is.validity)
	if exp.After(is.dsc.NotAfter) {
		exp = is.dsc.NotAfter.UTC().Truncate(time.Second)
	}
	d, err := is.BuildDCC(req)
	if err != nil {
		return nil, err
	}
	payload, err := encMode.Marshal(cwtOut{Iss: is.country, Exp: exp.Unix(), Iat: iat.Unix(), HCert: hcertOut{EU: d}})
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "encoding CWT: %v", err)
	}
	h := HCert{protected: is.protect, payload: payload}
	digest := h.sigDigest()
	var sig []byte
	if is.alg == AlgES256 {
		der, err := is.signer.Sign(is.rand, digest[:], crypto.SHA256)
		if err != nil {
			return nil, registry.Errorf(registry.EINTERNAL, "signing: %v", err)
		}
		if sig, err = asn1ToRaw(der); err != nil {
			return nil, registry.Errorf(registry.EINTERNAL, "signing: %v", err)
		}
	} else {
		sig, err = is.signer.Sign(is.rand, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
		if err != nil {
			return nil, registry.Errorf(registry.EINTERNAL, "signing: %v", err)
		}
	}
	// Tagged COSE_Sign1: 18([protected, {}, payload, signature]).
	msg := make([]byte, 0, 16+len(is.protect)+len(payload)+len(sig))
	msg = append(msg, 0xd2, 0x84)
	msg = append(bstrHead(msg, len(is.protect)), is.protect...)
	msg = append(msg, 0xa0)
	msg = append(bstrHead(msg, len(payload)), payload...)
	msg = append(bstrHead(msg, len(sig)), sig...)

	var z bytes.Buffer
	z.Grow(len(msg))
	zw := zlibWriters.Get().(*zlib.Writer)
	zw.Reset(&z)
	_, err = zw.Write(msg)
	if err == nil {
		err = zw.Close()
	}
	zlibWriters.Put(zw)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "compressing: %v", err)
	}
	return &Issued{HC1: Prefix + Base45Encode(z.Bytes()), DCC: d, IssuedAt: iat, ExpiresAt: exp}, nil
}

// asn1ToRaw converts an ASN.1 ECDSA signature to the 64-byte r||s form that
// COSE ES256 uses.
func asn1ToRaw(der []byte) ([]byte, error) {
	var s struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil || len(rest) != 0 {
		return nil, registry.Errorf(registry.EINTERNAL, "malformed ECDSA signature")
	}
	out := make([]byte, 64)
	s.R.FillBytes(out[:32])
	s.S.FillBytes(out[32:])
	return out, nil
}

// EncodableProduct reports whether Haven can issue an EU DCC for the
// medicinal product code mp: it is an active code of the value set.
func EncodableProduct(mp string) bool {
	sets, err := ValueSets()
	return err == nil && sets[VSProduct].Active(mp)
}
