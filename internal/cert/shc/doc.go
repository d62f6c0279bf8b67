// Package shc verifies SMART Health Cards (https://spec.smarthealth.cards):
// numeric QR text ("shc:/…", including deprecated multi-chunk sets),
// .smart-health-card files, FHIR $health-cards-issue responses and bare
// compact JWS, signed with ES256 over a raw-DEFLATE-compressed JWT payload.
//
// Verification is offline. The caller gives a Directory of trusted issuers, each
// loaded from its JWK set and card revocation lists (LoadIssuer reads the
// issuer's ".well-known/jwks.json" and ".well-known/crl/<kid>.json" from an
// fs.FS); keys are checked as the specification requires (EC P-256, use "sig",
// alg ES256, kid = RFC 7638 thumbprint, no private part, and when present an
// x5c chain whose leaf matches the key and names the issuer URL). Time is an
// input.
//
// # API
//
//	Verify(inputs []string, dir Directory, opts Options) *Result
//	DecodeQR(chunks []string) (jws string, issues []Issue)
//	ParseKeySet(data []byte, issuer string) (*KeySet, []Issue)
//	ParseCRL(data []byte) (*CRL, []Issue)
//	LoadIssuer(iss string, fsys fs.FS) (*Issuer, []Issue)
//	(*Issuer).AddCRL(data []byte) []Issue           // attach a newer revocation list
//	CheckPayload(data []byte, opts Options) []Issue // an uncompressed JWS payload
//	CheckBundle(data []byte) []Issue                // a FHIR Bundle
//
// Findings are Issues with a stable Code (the Code* constants), a Step, and a
// Severity: an error makes the card invalid, a warning does not. Where the
// specification says SHALL only for cards shown as QR codes (no Resource.id,
// no Coding.display, …) or SHOULD, Haven warns instead of rejecting, so that an
// authentic card is not refused over its formatting.
package shc
