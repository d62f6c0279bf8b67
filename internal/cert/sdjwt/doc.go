// Package sdjwt issues, presents and verifies Haven's minimal-disclosure
// vaccination credentials as SD-JWTs (RFC 9901, Selective Disclosure for JSON
// Web Tokens), with the SD-JWT VC media type "dc+sd-jwt" and ES256 signatures.
// It uses only the standard library (no JOSE library).
//
// # API
//
//	// Issuer: a batch of single-use credentials, each "<JWT>~<D1>~…~<Dn>~".
//	Issue(signer crypto.Signer, kid string, claims Claims, opts IssueOptions) ([]string, error)
//
//	// Holder: keep only the named claims; with opts.HolderKey, append a KB-JWT.
//	Present(credential string, reveal []string, opts PresentOptions) (string, error)
//	Disclosable(credential string) ([]string, error) // claim names the holder may reveal
//
//	// Verifier: keys maps a JWS "kid" to a trusted *ecdsa.PublicKey (P-256);
//	// a JWT without a kid is tried against every key.
//	Verify(presentation string, keys map[string]crypto.PublicKey, opts VerifyOptions) (*Result, error)
//	IsPresentation(text string) bool // cheap format sniffing for "haven cert verify"
//
//	// Holder binding without a device.
//	NewCheckPhrase() (string, error)
//
// Verify always returns a non-nil *Result, even with an error. Result has the
// JSON shape used by "haven cert verify --json":
//
//	{"valid":true,"format":"sd-jwt","steps":{"parse":true,"header":true,…},
//	 "failed":"","payload":{"iss":…,"iat":…,"exp":…,"vct":…},"disclosed":{"doses":2,…}}
//
// Steps run in the order of [Steps]: parse, header, signature, disclosures,
// time, key_binding, check_phrase. A step that did not run is absent from
// Result.Steps; "failed" names the first step that failed. The returned error is
// a *registry.Error whose Field is that step name.
//
// # Claims
//
// Each claim below is its own selectively disclosable claim at the top level of
// the payload (claim names are the constants Claim*): covid19_vaccinated (bool),
// doses (integer), last_dose (YYYY-MM-DD), product_type (string), valid_until
// (YYYY-MM-DD), and the optional card_code, name, birth_year and check_phrase.
// Only iss, iat (truncated to the UTC day), exp (truncated to the UTC day), vct,
// cnf and _sd_alg are always visible.
//
// # Privacy properties
//
//   - Every credential carries exactly [DigestCount] digests (real plus decoy),
//     in random order, so neither the number nor the order of claims leaks.
//   - Salts are 128-bit values from crypto/rand.
//   - Issue returns a batch of single-use credentials: distinct salts, digests
//     and signatures, and iat/exp rounded to the day, so two presentations from one
//     batch share no per-credential string. Holder keys should be distinct per
//     credential too (IssueOptions.HolderKeys); one key for the whole batch puts
//     the same cnf in every credential and makes them linkable.
//
// # Holder binding
//
// With a device, the credential carries cnf.jwk and the presentation ends in a
// KB-JWT (typ "kb+jwt", claims iat, aud, nonce, sd_hash) signed with that key.
// Without a device, the credential may carry a check_phrase claim: a PBKDF2
// hash of a short phrase printed on the holder's card, which the verifier asks the
// holder to say (see [VerifyOptions.CheckPhrase] for the security trade-off).
package sdjwt
