package sdjwt

import (
	"crypto"
	"crypto/subtle"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// Verification steps, in the order Verify runs them.
const (
	StepParse       = "parse"        // split the token; decode the JWT and every disclosure
	StepHeader      = "header"       // typ dc+sd-jwt (or VerifyOptions.AcceptTypes), alg ES256, no crit
	StepSignature   = "signature"    // the issuer signature, with the trusted key named by kid (or any, without kid)
	StepDisclosures = "disclosures"  // digests, duplicates, unreferenced disclosures, _sd_alg
	StepTime        = "time"         // exp, nbf and iat against VerifyOptions.Now
	StepKeyBinding  = "key_binding"  // the KB-JWT, when present or required
	StepCheckPhrase = "check_phrase" // the holder's spoken phrase, when given
)

// Steps lists the verification steps in order.
var Steps = []string{StepParse, StepHeader, StepSignature, StepDisclosures, StepTime, StepKeyBinding, StepCheckPhrase}

// Holder binding outcomes reported in Result.HolderBinding.
const (
	BindingNone   = "none"   // no holder binding was checked
	BindingKey    = "key"    // a KB-JWT signed with the cnf key was verified
	BindingPhrase = "phrase" // the holder said the phrase printed on the card
)

// VerifyOptions controls Verify.
type VerifyOptions struct {
	// Now is the verification time; required unless SkipTime is set.
	Now time.Time
	// SkipTime skips the time step and the KB-JWT freshness check.
	SkipTime bool
	// Leeway is the clock skew tolerated on exp, nbf and iat (0 means none).
	Leeway time.Duration
	// RequireKeyBinding fails verification unless a valid KB-JWT is present.
	RequireKeyBinding bool
	// Audience and Nonce, when set, must equal the KB-JWT's aud and nonce. A
	// verifier that requires key binding should always set both, or the KB-JWT
	// can be replayed; when they are empty the KB-JWT's values are only
	// reported in Result.KeyBinding.
	Audience, Nonce string
	// MaxKeyBindingAge is how old a KB-JWT's iat may be; 0 means 5 minutes.
	MaxKeyBindingAge time.Duration
	// AcceptTypes lists the JWS typ values accepted for the issuer-signed JWT;
	// nil means "dc+sd-jwt" and its former name "vc+sd-jwt".
	AcceptTypes []string
	// CheckPhrase, when set, is the phrase the holder said. The presentation
	// must disclose check_phrase and the phrase must match it. See the package
	// comment on check phrases for what this does and does not prove.
	CheckPhrase string
}

// KeyBinding is what a verified KB-JWT said.
type KeyBinding struct {
	Audience string    `json:"aud"`
	Nonce    string    `json:"nonce"`
	IssuedAt time.Time `json:"iat"`
}

// Result is the outcome of Verify. Payload and Disclosed are filled only once
// the signature and the disclosures have been checked, so they never hold
// unverified data.
type Result struct {
	Valid  bool            `json:"valid"`
	Format string          `json:"format"` // always "sd-jwt"
	Steps  map[string]bool `json:"steps"`  // outcome of each step that ran
	Failed string          `json:"failed"` // the first step that failed, or ""
	Kid    string          `json:"kid,omitempty"`
	// Payload holds the always-visible claims (iss, iat, exp, vct, cnf, …).
	Payload map[string]any `json:"payload,omitempty"`
	// Disclosed holds exactly the claims the holder disclosed, by name.
	Disclosed     map[string]any `json:"disclosed"`
	HolderBinding string         `json:"holder_binding"` // BindingNone, BindingKey or BindingPhrase
	KeyBinding    *KeyBinding    `json:"key_binding,omitempty"`
}

// Verify checks an SD-JWT presentation (RFC 9901 §7.1 and §7.3) against the
// trusted issuer keys, given by JWS kid (each a P-256 *ecdsa.PublicKey; other
// key types are never trusted). A JWT without a kid is checked against every
// trusted key; Result.Kid then names the one that verified. It always returns a non-nil Result. The error
// is nil only if the presentation is valid; otherwise it is a *registry.Error
// whose Field is the failed step (EMALFORMED for parse, EUNSUPPORTED for an
// algorithm other than ES256 or a hash other than sha-256, ENOTFOUND for an
// unknown kid, EINVALID otherwise). Verify never panics.
func Verify(presentation string, keys map[string]crypto.PublicKey, opts VerifyOptions) (*Result, error) {
	r := &Result{Format: "sd-jwt", Steps: map[string]bool{}, Disclosed: map[string]any{}, HolderBinding: BindingNone}
	fail := func(step, code, format string, args ...any) (*Result, error) {
		r.Steps[step] = false
		r.Failed = step
		r.Payload, r.Disclosed, r.KeyBinding = nil, map[string]any{}, nil
		r.HolderBinding = BindingNone
		return r, registry.FieldErrorf(code, step, format, args...)
	}
	if !opts.SkipTime && opts.Now.IsZero() {
		return fail(StepTime, registry.EINVALID, "No verification time given.")
	}

	t, err := parseToken(presentation)
	if err != nil {
		return fail(StepParse, registry.EMALFORMED, "%v.", err)
	}
	r.Steps[StepParse] = true

	alg, _ := t.header["alg"].(string)
	typ, _ := t.header["typ"].(string)
	kid, _ := t.header["kid"].(string)
	accept := opts.AcceptTypes
	if accept == nil {
		accept = []string{Type, "vc+sd-jwt"}
	}
	_, hasKid := t.header["kid"]
	switch {
	case alg != "ES256":
		return fail(StepHeader, registry.EUNSUPPORTED, "Algorithm %q is not accepted; only ES256 is.", truncate(alg))
	case !slices.Contains(accept, typ):
		return fail(StepHeader, registry.EINVALID, "Type %q is not accepted.", truncate(typ))
	case hasKid && kid == "":
		return fail(StepHeader, registry.EINVALID, "The key ID (kid) is not a non-empty string.")
	case t.header["crit"] != nil:
		return fail(StepHeader, registry.EUNSUPPORTED, "Critical header extensions are not supported.")
	}
	r.Steps[StepHeader] = true

	// With a kid, only that trusted key may verify; without one (kid is
	// optional in JWS), every trusted key is tried, in kid order.
	candidates := []string{kid}
	if kid == "" {
		candidates = slices.Sorted(maps.Keys(keys))
		if len(candidates) == 0 {
			return fail(StepSignature, registry.ENOTFOUND, "No trusted keys.")
		}
	} else if _, ok := keys[kid]; !ok {
		r.Kid = kid
		return fail(StepSignature, registry.ENOTFOUND, "Key %q is not in the trust list.", truncate(kid))
	}
	verified := false
	for _, c := range candidates {
		pub, err := p256Key(keys[c])
		if err != nil {
			if kid != "" {
				r.Kid = kid
				return fail(StepSignature, registry.EINVALID, "Trusted key %q is not an ES256 key.", truncate(kid))
			}
			continue
		}
		if verifyES256(pub, t.signingInput, t.sig) {
			r.Kid, verified = c, true
			break
		}
	}
	if !verified {
		r.Kid = kid
		return fail(StepSignature, registry.EINVALID, "Issuer signature does not verify.")
	}
	r.Steps[StepSignature] = true

	if a, ok := t.payload["_sd_alg"]; ok && a != "sha-256" {
		return fail(StepDisclosures, registry.EUNSUPPORTED, "Digest algorithm is not sha-256.")
	}
	visible, disclosed, err := process(t)
	if err != nil {
		return fail(StepDisclosures, registry.EINVALID, "%v.", err)
	}
	r.Steps[StepDisclosures] = true

	if !opts.SkipTime {
		if err := checkTimes(t.payload, opts.Now, opts.Leeway); err != "" {
			return fail(StepTime, registry.EINVALID, "%s", err)
		}
		r.Steps[StepTime] = true
	}

	binding := BindingNone
	var kb *KeyBinding
	if t.kb != "" || opts.RequireKeyBinding {
		if t.kb == "" {
			return fail(StepKeyBinding, registry.EINVALID, "Key binding is required but the presentation has no KB-JWT.")
		}
		var msg string
		kb, msg = verifyKB(t, opts)
		if msg != "" {
			return fail(StepKeyBinding, registry.EINVALID, "%s", msg)
		}
		r.Steps[StepKeyBinding] = true
		binding = BindingKey
	}

	if opts.CheckPhrase != "" {
		v, ok := disclosed[ClaimCheckPhrase]
		if !ok {
			return fail(StepCheckPhrase, registry.EINVALID, "The presentation does not disclose a check phrase.")
		}
		if err := checkPhrase(v, opts.CheckPhrase); err != nil {
			return fail(StepCheckPhrase, registry.EINVALID, "%v.", err)
		}
		r.Steps[StepCheckPhrase] = true
		if binding == BindingNone {
			binding = BindingPhrase
		}
	}

	r.Valid = true
	r.Payload = visible
	r.Disclosed = disclosed
	r.HolderBinding = binding
	r.KeyBinding = kb
	return r, nil
}

// checkTimes checks exp, nbf and iat (each optional) against now. It returns
// a message, or "" if all is well.
func checkTimes(payload map[string]any, now time.Time, leeway time.Duration) string {
	at := func(name string) (time.Time, bool, string) {
		v, ok := payload[name]
		if !ok {
			return time.Time{}, false, ""
		}
		f, ok := numericDate(v)
		if !ok || f < 0 || f > 253402300799 { // year 9999
			return time.Time{}, false, fmt.Sprintf("Claim %s is not a valid NumericDate.", name)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), true, ""
	}
	exp, ok, msg := at("exp")
	if msg != "" {
		return msg
	}
	if ok && !now.Before(exp.Add(leeway)) {
		return "The credential expired at " + exp.UTC().Format(time.RFC3339) + "."
	}
	nbf, ok, msg := at("nbf")
	if msg != "" {
		return msg
	}
	if ok && now.Add(leeway).Before(nbf) {
		return "The credential is not valid before " + nbf.UTC().Format(time.RFC3339) + "."
	}
	iat, ok, msg := at("iat")
	if msg != "" {
		return msg
	}
	if ok && now.Add(leeway).Before(iat) {
		return "The credential was issued in the future."
	}
	return ""
}

// verifyKB checks the KB-JWT of t (RFC 9901 §7.3). It returns a message, or ""
// if the KB-JWT is valid.
func verifyKB(t *token, opts VerifyOptions) (*KeyBinding, string) {
	cnf, ok := t.payload["cnf"].(map[string]any)
	if !ok {
		return nil, "The credential has no cnf key to bind a KB-JWT to."
	}
	jwkm, _ := cnf["jwk"].(map[string]any)
	holder, err := ParseJWK(jwkm)
	if err != nil {
		return nil, "The credential's cnf.jwk is not a usable key: " + err.Error() + "."
	}
	h, p, s, _ := splitJWS(t.kb) // shape checked by parseToken
	header, err := decodeSegment(h)
	if err != nil {
		return nil, "KB-JWT header: " + err.Error() + "."
	}
	if typ, _ := header["typ"].(string); typ != KBType {
		return nil, "KB-JWT typ is not kb+jwt."
	}
	if alg, _ := header["alg"].(string); alg != "ES256" {
		return nil, "KB-JWT algorithm is not ES256."
	}
	if header["crit"] != nil {
		return nil, "KB-JWT has critical header extensions."
	}
	sig, err := b64.DecodeString(s)
	if err != nil || !verifyES256(holder, h+"."+p, sig) {
		return nil, "KB-JWT signature does not verify with the cnf key."
	}
	payload, err := decodeSegment(p)
	if err != nil {
		return nil, "KB-JWT payload: " + err.Error() + "."
	}
	sdHash, _ := payload["sd_hash"].(string)
	if subtle.ConstantTimeCompare([]byte(sdHash), []byte(digestOf(t.sdPart))) != 1 {
		return nil, "KB-JWT sd_hash does not match the presentation."
	}
	aud, audOK := payload["aud"].(string)
	nonce, nonceOK := payload["nonce"].(string)
	iatF, iatOK := numericDate(payload["iat"])
	if !audOK || !nonceOK || !iatOK || iatF < 0 || iatF > 253402300799 {
		return nil, "KB-JWT must have string aud and nonce and a numeric iat."
	}
	if opts.Audience != "" && aud != opts.Audience {
		return nil, "KB-JWT aud is not this verifier."
	}
	if opts.Nonce != "" && subtle.ConstantTimeCompare([]byte(nonce), []byte(opts.Nonce)) != 1 {
		return nil, "KB-JWT nonce does not match."
	}
	iat := time.Unix(int64(iatF), 0)
	if !opts.SkipTime {
		maxAge := opts.MaxKeyBindingAge
		if maxAge <= 0 {
			maxAge = 5 * time.Minute
		}
		if opts.Now.Add(opts.Leeway).Before(iat) {
			return nil, "KB-JWT was issued in the future."
		}
		if opts.Now.Sub(iat) > maxAge+opts.Leeway {
			return nil, "KB-JWT is too old."
		}
	}
	return &KeyBinding{Audience: aud, Nonce: nonce, IssuedAt: iat.UTC()}, ""
}

// truncate shortens untrusted text quoted in an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
