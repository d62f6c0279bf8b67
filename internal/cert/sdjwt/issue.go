package sdjwt

import (
	"crypto"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// Claim names. Each is a separately disclosable top-level claim.
const (
	ClaimVaccinated  = "covid19_vaccinated" // bool: vaccinated against COVID-19
	ClaimDoses       = "doses"              // integer ≥ 0: number of doses
	ClaimLastDose    = "last_dose"          // "YYYY-MM-DD": date of the last dose
	ClaimProduct     = "product_type"       // string, e.g. "mRNA" or an EU DCC mp code
	ClaimValidUntil  = "valid_until"        // "YYYY-MM-DD": last day the status is valid
	ClaimCardCode    = "card_code"          // optional: the holder's card code
	ClaimName        = "name"               // optional: the holder's name
	ClaimBirthYear   = "birth_year"         // optional: integer year
	ClaimCheckPhrase = "check_phrase"       // optional: salted PBKDF2 hash of the card's check phrase
)

const (
	// Type is the JWS "typ" of an issued credential (SD-JWT VC).
	Type = "dc+sd-jwt"
	// KBType is the JWS "typ" of a key-binding JWT (RFC 9901 §4.3).
	KBType = "kb+jwt"
	// VCT is the verifiable credential type ("vct") of Haven's credential.
	VCT = "urn:haven:vc:covid19-vaccination:1"
	// DigestCount is the number of digests (real and decoy) in every credential's
	// _sd array, whatever the number of claims.
	DigestCount = 16
	// MaxBatch is the largest number of credentials Issue makes in one call.
	MaxBatch = 100
	// saltBytes is the salt length: 128 bits (RFC 9901 §9.3).
	saltBytes = 16
)

// Claims is what a credential can state. The first five fields are always
// included; the optional ones are included only when set (non-empty, non-zero).
type Claims struct {
	Vaccinated bool   // covid19_vaccinated
	Doses      int    // doses, ≥ 0
	LastDose   string // last_dose, YYYY-MM-DD; required when Doses > 0
	Product    string // product_type, required
	ValidUntil string // valid_until, YYYY-MM-DD, required
	CardCode   string // card_code, optional
	Name       string // name, optional
	BirthYear  int    // birth_year, optional; 0 means absent
}

// IssueOptions controls Issue.
type IssueOptions struct {
	// Now is the issuance time (required). The credential's iat is Now truncated
	// to the UTC day, so that it does not single out the holder.
	Now time.Time
	// Expires is the credential's exp, truncated to the UTC day. Zero means the
	// day after ValidUntil (00:00 UTC). It must be after Now.
	Expires time.Time
	// Issuer is the iss claim; empty leaves it out.
	Issuer string
	// Count is the batch size: the number of single-use credentials. 0 means 1.
	Count int
	// HolderKeys are the holder's device public keys (P-256) for cnf.jwk. With
	// none there is no key binding; with one, every credential of the batch
	// carries the same key (which links them); with Count keys, credential i
	// carries key i.
	HolderKeys []crypto.PublicKey
	// CheckPhrase, if set, adds a check_phrase claim for holders without a
	// device: a salted PBKDF2 hash of this phrase, which is printed on the card.
	// See NewCheckPhrase and VerifyOptions.CheckPhrase.
	CheckPhrase string
	// PhraseIterations is the PBKDF2 iteration count for CheckPhrase; 0 means
	// DefaultPhraseIterations. It must lie in [MinPhraseIterations,
	// MaxPhraseIterations].
	PhraseIterations int
}

// Issue returns a batch of opts.Count credentials signed with ES256 by signer
// (which must hold a P-256 key) under the JWS key ID kid. Each credential is an
// SD-JWT with every disclosure, "<JWT>~<D1>~…~<Dn>~", to be given to the holder
// and presented once. Credentials of one batch share no salt, digest or
// signature; their always-visible claims (iss, iat, exp, vct) are the same.
//
// Returns EINVALID, naming the field, if a claim or option is out of range.
func Issue(signer crypto.Signer, kid string, claims Claims, opts IssueOptions) ([]string, error) {
	if signer == nil {
		return nil, registry.FieldErrorf(registry.EINVALID, "signer", "No signing key.")
	}
	if _, err := p256Key(signer.Public()); err != nil {
		return nil, &registry.Error{Code: registry.EINVALID, Field: "signer", Message: "The signing key must be ECDSA P-256.", Err: err}
	}
	if kid == "" {
		return nil, registry.FieldErrorf(registry.EINVALID, "kid", "Key ID is required.")
	}
	list, err := claimList(claims)
	if err != nil {
		return nil, err
	}
	if opts.Now.IsZero() {
		return nil, registry.FieldErrorf(registry.EINVALID, "now", "Issuance time is required.")
	}
	iat := utcDay(opts.Now)
	exp := opts.Expires
	if exp.IsZero() {
		vu, _ := time.Parse(time.DateOnly, claims.ValidUntil) // checked by claimList
		exp = vu.AddDate(0, 0, 1)
	}
	exp = utcDay(exp)
	if !exp.After(opts.Now) {
		return nil, registry.FieldErrorf(registry.EINVALID, "expires", "The credential would already be expired.")
	}
	n := opts.Count
	if n == 0 {
		n = 1
	}
	if n < 0 || n > MaxBatch {
		return nil, registry.FieldErrorf(registry.EINVALID, "count", "Batch size must be between 1 and %d.", MaxBatch)
	}
	if k := len(opts.HolderKeys); k != 0 && k != 1 && k != n {
		return nil, registry.FieldErrorf(registry.EINVALID, "holder_keys", "Give no holder key, one, or one per credential (%d).", n)
	}
	jwks := make([]map[string]any, len(opts.HolderKeys))
	for i, k := range opts.HolderKeys {
		if jwks[i], err = PublicJWK(k); err != nil {
			return nil, &registry.Error{Code: registry.EINVALID, Field: fmt.Sprintf("holder_keys[%d]", i), Message: "Holder key must be ECDSA P-256.", Err: err}
		}
	}
	var phrase string
	iter := opts.PhraseIterations
	if opts.CheckPhrase != "" {
		if phrase, err = normalizePhrase(opts.CheckPhrase); err != nil {
			return nil, &registry.Error{Code: registry.EINVALID, Field: "check_phrase", Message: "Invalid check phrase.", Err: err}
		}
		if iter == 0 {
			iter = DefaultPhraseIterations
		}
		if iter < MinPhraseIterations || iter > MaxPhraseIterations {
			return nil, registry.FieldErrorf(registry.EINVALID, "phrase_iterations", "PBKDF2 iterations must be between %d and %d.", MinPhraseIterations, MaxPhraseIterations)
		}
	}
	header, err := encodeSegment(map[string]any{"alg": "ES256", "typ": Type, "kid": kid})
	if err != nil {
		return nil, registry.FieldErrorf(registry.EINTERNAL, "header", "Cannot encode the header.")
	}

	out := make([]string, 0, n)
	for i := range n {
		items := list
		if phrase != "" {
			ph, err := hashPhrase(phrase, iter)
			if err != nil {
				return nil, &registry.Error{Code: registry.EINTERNAL, Field: "check_phrase", Message: "Cannot hash the check phrase.", Err: err}
			}
			items = append(items[:len(items):len(items)], claim{ClaimCheckPhrase, ph})
		}
		payload := map[string]any{
			"_sd_alg": "sha-256",
			"iat":     iat.Unix(),
			"exp":     exp.Unix(),
			"vct":     VCT,
		}
		if opts.Issuer != "" {
			payload["iss"] = opts.Issuer
		}
		switch len(jwks) {
		case 0:
		case 1:
			payload["cnf"] = map[string]any{"jwk": jwks[0]}
		default:
			payload["cnf"] = map[string]any{"jwk": jwks[i]}
		}
		discs := make([]string, 0, len(items))
		digests := make([]string, 0, DigestCount)
		for _, c := range items {
			d, err := newDisclosure(c.name, c.value)
			if err != nil {
				return nil, &registry.Error{Code: registry.EINTERNAL, Field: c.name, Message: "Cannot make the disclosure.", Err: err}
			}
			discs = append(discs, d)
			digests = append(digests, digestOf(d))
		}
		for len(digests) < DigestCount {
			// A decoy digest is the digest of a random value (RFC 9901 §4.2.5).
			r, err := randomB64(saltBytes)
			if err != nil {
				return nil, err
			}
			digests = append(digests, digestOf(r))
		}
		if err := shuffle(digests); err != nil {
			return nil, err
		}
		if err := shuffle(discs); err != nil {
			return nil, err
		}
		payload["_sd"] = digests
		body, err := encodeSegment(payload)
		if err != nil {
			return nil, registry.FieldErrorf(registry.EINTERNAL, "payload", "Cannot encode the payload.")
		}
		input := header + "." + body
		sig, err := signES256(signer, input)
		if err != nil {
			return nil, &registry.Error{Code: registry.EINTERNAL, Field: "signature", Message: "Cannot sign the credential.", Err: err}
		}
		var sb strings.Builder
		sb.WriteString(input + "." + sig + "~")
		for _, d := range discs {
			sb.WriteString(d + "~")
		}
		out = append(out, sb.String())
	}
	return out, nil
}

type claim struct {
	name  string
	value any
}

// claimList checks c and returns its claims in a fixed order.
func claimList(c Claims) ([]claim, error) {
	if c.Doses < 0 || c.Doses > 100 {
		return nil, registry.FieldErrorf(registry.EINVALID, ClaimDoses, "Number of doses must be between 0 and 100.")
	}
	if c.Doses > 0 || c.LastDose != "" {
		if _, err := time.Parse(time.DateOnly, c.LastDose); err != nil {
			return nil, registry.FieldErrorf(registry.EINVALID, ClaimLastDose, "Date of the last dose must be YYYY-MM-DD.")
		}
	}
	if strings.TrimSpace(c.Product) == "" {
		return nil, registry.FieldErrorf(registry.EINVALID, ClaimProduct, "Product type is required.")
	}
	if _, err := time.Parse(time.DateOnly, c.ValidUntil); err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, ClaimValidUntil, "Valid-until date must be YYYY-MM-DD.")
	}
	if c.BirthYear != 0 && (c.BirthYear < 1850 || c.BirthYear > 9999) {
		return nil, registry.FieldErrorf(registry.EINVALID, ClaimBirthYear, "Birth year is out of range.")
	}
	list := []claim{
		{ClaimVaccinated, c.Vaccinated},
		{ClaimDoses, c.Doses},
	}
	if c.LastDose != "" {
		list = append(list, claim{ClaimLastDose, c.LastDose})
	}
	list = append(list, claim{ClaimProduct, c.Product}, claim{ClaimValidUntil, c.ValidUntil})
	if c.CardCode != "" {
		list = append(list, claim{ClaimCardCode, c.CardCode})
	}
	if c.Name != "" {
		list = append(list, claim{ClaimName, c.Name})
	}
	if c.BirthYear != 0 {
		list = append(list, claim{ClaimBirthYear, c.BirthYear})
	}
	return list, nil
}

// newDisclosure returns base64url(JSON([salt, name, value])) with a fresh
// 128-bit salt.
func newDisclosure(name string, value any) (string, error) {
	salt, err := randomB64(saltBytes)
	if err != nil {
		return "", err
	}
	return encodeSegment([]any{salt, name, value})
}

func randomB64(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", registry.Errorf(registry.EINTERNAL, "No randomness.")
	}
	return b64.EncodeToString(b), nil
}

// shuffle permutes s uniformly at random (Fisher–Yates with crypto/rand).
func shuffle(s []string) error {
	for i := len(s) - 1; i > 0; i-- {
		j, err := randIntn(i + 1)
		if err != nil {
			return err
		}
		s[i], s[j] = s[j], s[i]
	}
	return nil
}

// randIntn returns a uniform random integer in [0, n), n > 0, by rejection.
func randIntn(n int) (int, error) {
	limit := ^uint64(0) - ^uint64(0)%uint64(n)
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, registry.Errorf(registry.EINTERNAL, "No randomness.")
		}
		if v := binary.BigEndian.Uint64(b[:]); v < limit {
			return int(v % uint64(n)), nil
		}
	}
}

// utcDay truncates t to 00:00 UTC of its UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
