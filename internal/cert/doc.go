// Package cert issues and verifies EU Digital COVID Certificates (HCERT,
// "HC1:" QR codes) offline, following the HCERT specification 1.0.x, RFC 8392
// (CWT), RFC 9052/8152 (COSE), RFC 8949 (CBOR) and RFC 9285 (Base45). SD-JWT
// credentials live in the sub-package sdjwt. Nothing in this package makes a
// network call, reads the clock, or logs.
//
// # Verification
//
// Verify runs these steps, in order, and reports each one:
//
//	unprefix    "HC1:" context identifier (HC2: and others are refused)
//	base45      strict RFC 9285 decoding
//	decompress  ZLIB, at most MaxCWTSize bytes, nothing after the stream
//	cose        COSE_Sign1, untagged or tagged 18, optionally inside CWT tag 61;
//	            alg and kid from the protected header, else the unprotected one
//	cwt         claims iss (text), iat and exp (integer or float NumericDate,
//	            no tag), hcert -260 holding the eu_dcc_v1 map under key 1
//	signature   ES256 (P-256 key, 64-byte r||s) or PS256 (RSA >= 2048 bits,
//	            salt = hash length); every DSC trusted under the kid is tried
//	time        iat <= at <= exp, DSC valid at at, iat not before the DSC,
//	            a test's sample time (sc) not after at
//	key_usage   the DSC's HCERT EKUs (…1847.2021.1.1/2/3 and …0.1847.2021.1.x)
//	            must allow the entry group (t, v or r); no such EKU allows all
//	schema      the DCC JSON schema of the payload's own ver (1.0.0 to 1.3.3,
//	            compiled to Go by internal/schemagen), plus exactly one of
//	            the groups v, t, r
//	valuesets   coded fields against the EU value sets (release 2.12.0;
//	            deactivated codes accepted, RAT device ids not checked)
//
// VerifyAny also accepts SD-JWT presentations (package sdjwt), checked
// against the EC keys of the same trust list, and reports them in the same
// VerifyResult shape with format "sd-jwt" and sdjwt's step names.
//
// A structural failure (unprefix to cwt) or a bad signature stops the run:
// an unauthenticated payload is never processed. After a good signature the
// remaining steps all run. Decoding is strict but accepts everything the
// specifications allow: definite and indefinite lengths, any map order,
// float times; duplicate map keys, invalid UTF-8, unknown tags around the
// message and trailing bytes are refused.
//
// # API
//
//	// Verifier (POST /api/v1/certificates/verify, haven cert verify)
//	NewTrustList(certs ...*x509.Certificate) *TrustList   // kid = SHA-256(DER)[:8]
//	ParseTrustList(json []byte) (*TrustList, error)        // {"<kid b64>": ["<DER b64>", …]}
//	(*TrustList).MarshalJSON() ([]byte, error)
//	(*TrustList).Add(c) / AddWithKID(kid, c) / Lookup(kid) / Entries() / Len()
//	ParseCertificates(pemOrDERorBase64 []byte) ([]*x509.Certificate, error)
//	NewVerifier(tl *TrustList) *Verifier
//	(*Verifier).Verify(text string, VerifyOptions{At, SkipTime, SkipSchema}) *VerifyResult
//	(*Verifier).VerifyAny(text, opts) *VerifyResult   // "HC1:" text or an SD-JWT presentation
//	SDJWTKID(kid []byte) string                       // JWS kid of a DSC key for SD-JWT
//
//	type VerifyResult struct {            // JSON exactly as "haven cert verify --json" prints
//		Valid     bool           `json:"valid"`
//		Format    string         `json:"format"`             // "hcert" or "sd-jwt"
//		Steps     Steps          `json:"steps"`              // ordered {"unprefix":true,…}
//		Failed    string         `json:"failed,omitempty"`   // first failed step
//		Reason    string         `json:"reason,omitempty"`   // why it failed
//		KID       []byte         `json:"kid,omitempty"`      // base64 in JSON
//		Issuer    string         `json:"iss,omitempty"`
//		IssuedAt  time.Time      `json:"iat,omitzero"`
//		Expires   time.Time      `json:"exp,omitzero"`
//		Payload   any            `json:"payload,omitempty"`  // *DCC, only after a good signature
//		Disclosed map[string]any `json:"disclosed,omitempty"`// SD-JWT only
//	}
//	(*VerifyResult).Err() error  // *registry.Error, Field = failed step
//
//	// The single steps, for callers that need them (and the official vector test)
//	ParseHC1(text) (*HCert, error); ParseCOSE(raw) (*HCert, error)
//	Unprefix, Base45Decode, Base45Encode, Decompress
//	(*HCert).VerifySignature(tl) (*x509.Certificate, error); VerifySignatureWith(dsc) error
//	(*HCert).CheckTime(dsc, at) / CheckKeyUsage(dsc) / CheckSchema() / CheckValueSets() error
//	(*HCert).PayloadJSON() (map[string]any, error); ValidatePayload(map[string]any) error
//
//	// Keys (haven keys init | trust-list)
//	InitKeys(dir string, secrets SecretStore, KeyOptions{Country, Organization, Now, …}) (*Keys, error)
//	LoadKeys(dir string, secrets SecretStore) (*Keys, error)
//	type Keys struct{ Signer crypto.Signer; DSC, CSCA *x509.Certificate; Retired []*x509.Certificate }
//	(*Keys).TrustList() *TrustList                // current and retired DSCs
//	type SecretStore interface{ ReadSecret(name) ([]byte, error); WriteSecret(name, data) error }
//	DirStore(dir)  // PEM files, mode 0600; the vault can wrap or replace it
//
//	// Issuing (POST /api/v1/persons/{card}/certificates, haven cert issue)
//	NewIssuer(signer crypto.Signer, dsc *x509.Certificate, IssuerOptions{Country, Name, Validity, Rand}) (*Issuer, error)
//	(*Issuer).Issue(req *IssueRequest, now time.Time) (string, error)          // "HC1:…"
//	(*Issuer).IssueCertificate(req, now) (*Issued, error)                      // HC1, DCC, iat, exp
//	(*Issuer).BuildDCC(req) (*DCC, error)
//	ParseIssueRequest(json []byte) (*IssueRequest, error)
//	type IssueRequest struct{ Person; Vaccination *VaccinationEvent; Test *TestEvent; CertificateID string }
//	NewQR(hc1) (*QR, error); (*QR).PNG(size) ([]byte, error); (*QR).SVG() []byte   // alphanumeric, level Q
//
//	// From registry records to an IssueRequest
//	PersonFromRegistry(registry.Person) Person    // card code, names, (partial) birth date
//	VaccinationFromRecord(v registry.Vaccination, p *catalog.Product, dose, series int, country string) (*VaccinationEvent, error)
//	TestFromRecord(t registry.Test, device, centre, country string) (*TestEvent, error)
//	EncodableProduct(mp string) bool              // an active EU DCC product code
//
// Issued certificates use DCC schema IssueVersion (1.3.0), a tagged
// COSE_Sign1 with alg and kid in the protected header, integer iat and exp
// (exp capped at the DSC's expiry) and a UVCI with a Luhn mod 38 checksum.
// Only active value-set codes are issued.
//
// # Temporary identities
//
// A person with no name on record gets the card code as surname (fn) and its
// letters-only form as the ICAO field fnt, digits spelled out ("7KQM-X4TD" →
// "SEVENKQM<XFOURTD"), since fnt must match ^[A-Z<]*$. The birth date may be
// "YYYY", "YYYY-MM" or empty, as DCC schema 1.3 allows. Names are
// transliterated to ICAO 9303 (Latin with diacritics, Cyrillic); other
// scripts need an explicit transliteration (Person.FamilyNameICAO).
//
// The DCC schemas (in schema/, compiled into schema_gen.go) and the embedded
// value sets are Apache-2.0 data from the eHealth Network; see NOTICE.md.
// Tests hold the generated schema checks to a general JSON-schema validator
// on every official test vector and on mutations of them.
package cert
