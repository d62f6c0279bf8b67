package shc

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/url"
	"strings"
	"time"
)

const (
	// MaxInputSize bounds the total size of the inputs Verify accepts.
	MaxInputSize = 1 << 20
	// maxPayload bounds an inflated JWS payload.
	maxPayload = 1 << 20
	// msThreshold: a NumericDate above this (year 5138) is taken to be in
	// milliseconds, which the specification does not allow.
	msThreshold = 1e11
	// typeHealthCard must be among a card's vc.type values.
	typeHealthCard = "https://smarthealth.cards#health-card"
	typePrefix     = "https://smarthealth.cards#"
)

// Options controls verification.
type Options struct {
	// Now is the verification time; required unless SkipTime is set.
	Now time.Time
	// SkipTime skips the nbf and exp checks against Now (format checks remain).
	SkipTime bool
	// Leeway is the clock skew tolerated on nbf and exp (0 means none).
	Leeway time.Duration
}

// Card is one verified (or rejected) health card.
type Card struct {
	Issuer   string   `json:"iss"`
	Kid      string   `json:"kid"`
	Types    []string `json:"types,omitempty"`
	Verified bool     `json:"verified"` // the signature verifies with a trusted key
	Revoked  bool     `json:"revoked"`
	// Payload is the JWT payload, filled only when Verified.
	Payload map[string]any `json:"payload,omitempty"`
}

// Result is the outcome of Verify.
type Result struct {
	Valid  bool            `json:"valid"`
	Format string          `json:"format"` // always "shc"
	Steps  map[string]bool `json:"steps"`  // each step that ran: true unless it found an error
	Failed string          `json:"failed"` // the first step (in Steps order) with an error, or ""
	Issues []Issue         `json:"issues"`
	Cards  []*Card         `json:"cards"`
}

// Verify verifies SMART Health Cards given as the text of one QR code or of
// every QR code of a chunk set ("shc:/…"), as a .smart-health-card file or a
// FHIR $health-cards-issue response (JSON), or as one compact JWS per input.
// Keys and revocation lists come only from dir: Verify never uses the network.
// The result is valid only if at least one card was found and no finding is
// an error. Verify never panics.
func Verify(inputs []string, dir Directory, opts Options) *Result {
	r := &Result{Format: "shc", Steps: map[string]bool{}, Issues: []Issue{}, Cards: []*Card{}}
	var is issues
	ran := map[string]bool{StepDecode: true}
	if !opts.SkipTime && opts.Now.IsZero() {
		ran[StepTime] = true
		is.err(StepTime, CodeExpiration, "No verification time given.")
	}
	total := 0
	for _, in := range inputs {
		total += len(in)
	}
	var jwsList []string
	if total > MaxInputSize {
		is.err(StepDecode, CodeInvalidFile, "The input is larger than %d bytes.", MaxInputSize)
	} else {
		jwsList = decodeInputs(inputs, &is)
	}
	for i, jws := range jwsList {
		var cis issues
		card := verifyJWS(jws, dir, opts, &cis, ran)
		for _, c := range cis {
			c.Card = i
			is = append(is, c)
		}
		r.Cards = append(r.Cards, card)
	}
	r.Issues = append(r.Issues, is...)
	for s := range ran {
		r.Steps[s] = true
	}
	for _, i := range r.Issues {
		if i.Severity == SeverityError {
			r.Steps[i.Step] = false
		}
	}
	for _, s := range Steps {
		if ok, present := r.Steps[s]; present && !ok {
			r.Failed = s
			break
		}
	}
	r.Valid = len(r.Cards) > 0 && !HasError(r.Issues)
	return r
}

// decodeInputs turns the inputs into the JWS strings they carry.
func decodeInputs(inputs []string, is *issues) []string {
	if len(inputs) == 0 || strings.TrimSpace(inputs[0]) == "" {
		is.err(StepDecode, CodeInvalidFile, "No input.")
		return nil
	}
	first := strings.TrimSpace(inputs[0])
	switch {
	case strings.HasPrefix(first, "shc:"):
		jws, qis := DecodeQR(inputs)
		*is = append(*is, qis...)
		if jws == "" {
			return nil
		}
		return []string{jws}
	case strings.HasPrefix(first, "{"):
		if len(inputs) != 1 {
			is.err(StepDecode, CodeInvalidFile, "Give one health card file at a time.")
			return nil
		}
		if first != inputs[0] {
			is.err(StepDecode, CodeTrailingCharacters, "The file has white space around its JSON.")
		}
		return decodeFile([]byte(first), is)
	default:
		var out []string
		for i, in := range inputs {
			t := strings.TrimSpace(in)
			if t != in {
				is.err(StepDecode, CodeTrailingCharacters, "JWS %d has white space around it.", i+1)
			}
			out = append(out, t)
		}
		return out
	}
}

// decodeFile reads a .smart-health-card file ({"verifiableCredential":[…]}) or
// a FHIR Parameters resource with verifiableCredential parameters.
func decodeFile(data []byte, is *issues) []string {
	var doc struct {
		VerifiableCredential []string `json:"verifiableCredential"`
		ResourceType         string   `json:"resourceType"`
		Parameter            []struct {
			Name        string `json:"name"`
			ValueString string `json:"valueString"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		is.err(StepDecode, CodeInvalidFile, "The file is not a health card file or FHIR response.")
		return nil
	}
	out := doc.VerifiableCredential
	if doc.ResourceType == "Parameters" {
		for _, p := range doc.Parameter {
			if p.Name == "verifiableCredential" {
				out = append(out, p.ValueString)
			}
		}
	}
	if len(out) == 0 {
		is.err(StepDecode, CodeInvalidFile, "The file holds no verifiable credential.")
	}
	return out
}

// verifyJWS checks one card.
func verifyJWS(jws string, dir Directory, opts Options, is *issues, ran map[string]bool) *Card {
	card := &Card{}
	if len(jws) > MaxSingleJWS {
		is.warn(StepDecode, CodeJWSTooLong, "The JWS has %d characters; more than %d do not fit in one QR code.", len(jws), MaxSingleJWS)
	}
	ran[StepHeader] = true
	hs, ps, ss, ok := split3(jws)
	if !ok {
		is.err(StepHeader, CodeJWSFormat, "The card is not a compact JWS.")
		return card
	}
	var header map[string]any
	if raw, err := b64.DecodeString(hs); err != nil || json.Unmarshal(raw, &header) != nil || header == nil {
		is.err(StepHeader, CodeJWSFormat, "The JWS header is not base64url JSON.")
		return card
	}
	alg, _ := header["alg"].(string)
	zip, _ := header["zip"].(string)
	kid, _ := header["kid"].(string)
	card.Kid = kid
	if alg != "ES256" {
		is.err(StepHeader, CodeJWSHeader, `The JWS header alg is %q, not "ES256".`, trunc(alg))
	}
	if zip != "DEF" {
		is.err(StepHeader, CodeJWSHeader, `The JWS header zip is %q, not "DEF".`, trunc(zip))
	}
	if kid == "" {
		is.err(StepHeader, CodeJWSHeader, "The JWS header has no kid.")
	}

	ran[StepInflate] = true
	var payload map[string]any
	compressed, err := b64.DecodeString(ps)
	if err != nil {
		is.err(StepInflate, CodeJWSFormat, "The JWS payload is not base64url.")
	} else if raw, err := inflate(compressed); err != nil {
		is.err(StepInflate, CodeInflation, "The JWS payload is not raw DEFLATE data: %v.", err)
	} else if payload, err = parseObject(raw); err != nil {
		is.err(StepInflate, CodeJSONParse, "The JWS payload is not a JSON object.")
	}
	if payload == nil {
		// Without claims there is no issuer, so no key to check the signature.
		return card
	}
	ran[StepPayload], ran[StepFHIR] = true, true
	if !opts.SkipTime {
		ran[StepTime] = true
	}
	claims := checkClaims(payload, opts, is)
	card.Issuer, card.Types = claims.iss, claims.types

	ran[StepIssuer] = true
	var key *Key
	var issuer *Issuer
	switch {
	case claims.iss == "":
		is.err(StepIssuer, CodeIssuerNotTrusted, "The card names no issuer.")
	case dir[claims.iss] == nil:
		if other := issuerOfKid(dir, kid); other != "" {
			is.err(StepIssuer, CodeIssuerKidMismatch, "Key %s belongs to issuer %s, not to %s.", trunc(kid), trunc(other), trunc(claims.iss))
		} else {
			is.err(StepIssuer, CodeIssuerNotTrusted, "Issuer %s is not trusted.", trunc(claims.iss))
		}
	default:
		issuer = dir[claims.iss]
		if issuer.Keys != nil {
			key = issuer.Keys.Keys[kid]
		}
		if key == nil {
			is.err(StepIssuer, CodeJWSVerification, "Key %q is not among the issuer's valid keys.", trunc(kid))
		}
	}

	ran[StepSignature] = true
	sig, err := b64.DecodeString(ss)
	switch {
	case err != nil || len(sig) != 64:
		is.err(StepSignature, CodeSignatureFormat, "The signature is not a 64-byte ES256 signature (R||S).")
	case key != nil && alg == "ES256":
		h := sha256.Sum256([]byte(hs + "." + ps))
		if ecdsa.Verify(key.Public, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			card.Verified = true
		} else {
			is.err(StepSignature, CodeJWSVerification, "The signature does not verify with the issuer's key.")
		}
	case key != nil:
		is.err(StepSignature, CodeJWSVerification, "The signature cannot be checked without alg ES256.")
	}

	if key != nil && key.CRLVersion > 0 {
		ran[StepRevocation] = true
		*is = append(*is, issuer.crlIssues[kid]...)
		if crl := issuer.CRLs[kid]; crl != nil && claims.rid != "" {
			if ts, ok := crl.Rids[claims.rid]; ok && (ts == 0 || claims.nbf < float64(ts)) {
				card.Revoked = true
				is.err(StepRevocation, CodeRevoked, "The card has been revoked by its issuer.")
			}
		}
	}
	if card.Verified {
		card.Payload = payload
	}
	return card
}

// issuerOfKid returns a trusted issuer that has a key kid, or "".
func issuerOfKid(dir Directory, kid string) string {
	for iss, i := range dir {
		if i != nil && i.Keys != nil && i.Keys.Keys[kid] != nil {
			return iss
		}
	}
	return ""
}

func split3(s string) (a, b, c string, ok bool) {
	a, rest, ok1 := strings.Cut(s, ".")
	b, c, ok2 := strings.Cut(rest, ".")
	ok = ok1 && ok2 && a != "" && b != "" && c != "" && !strings.Contains(c, ".")
	return
}

// inflate decompresses raw DEFLATE data (RFC 1951), up to maxPayload bytes.
func inflate(data []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(data))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, maxPayload+1))
	if err != nil {
		return nil, errors.New("corrupt DEFLATE stream")
	}
	if len(out) > maxPayload {
		return nil, errors.New("inflated payload too large")
	}
	return out, nil
}

// parseObject parses a JSON object, keeping numbers as json.Number.
func parseObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return m, nil
}

// claimInfo is what checkClaims found.
type claimInfo struct {
	iss   string
	nbf   float64
	rid   string
	types []string
}

// checkClaims checks the JWT claims and the VC structure, then the FHIR
// bundle.
func checkClaims(p map[string]any, opts Options, is *issues) *claimInfo {
	ci := &claimInfo{}
	iss, ok := p["iss"].(string)
	ci.iss = iss
	if !ok || iss == "" {
		is.err(StepPayload, CodeSchema, "The payload has no iss.")
	} else if u, err := url.Parse(iss); err != nil || u.Scheme != "https" || u.Host == "" || strings.HasSuffix(iss, "/") || u.RawQuery != "" || u.Fragment != "" {
		is.err(StepPayload, CodeInvalidIssuerURL, "The issuer URL %q must use https and must not end in \"/\".", trunc(iss))
	}

	nbf, hasNBF, nbfOK := number(p["nbf"])
	switch {
	case !hasNBF || !nbfOK:
		is.err(StepPayload, CodeSchema, "The payload has no numeric nbf.")
	case nbf > msThreshold:
		is.err(StepTime, CodeNotYetValid, "nbf looks like milliseconds; it must be seconds.")
	case !opts.SkipTime && !opts.Now.IsZero() && nbf > unixSeconds(opts.Now.Add(opts.Leeway)):
		is.err(StepTime, CodeNotYetValid, "The card is not valid before %s.", secondsTime(nbf).Format(time.RFC3339))
	}
	ci.nbf = nbf
	if exp, hasExp, expOK := number(p["exp"]); hasExp {
		switch {
		case !expOK:
			is.err(StepPayload, CodeSchema, "exp is not a number.")
		case exp > msThreshold:
			is.err(StepTime, CodeExpiration, "exp looks like milliseconds; it must be seconds.")
		case hasNBF && nbfOK && exp <= nbf:
			is.err(StepTime, CodeExpiration, "exp is not after nbf.")
		case !opts.SkipTime && !opts.Now.IsZero() && exp <= unixSeconds(opts.Now.Add(-opts.Leeway)):
			is.err(StepTime, CodeExpiration, "The card expired at %s.", secondsTime(exp).Format(time.RFC3339))
		}
	}

	vc, ok := p["vc"].(map[string]any)
	if !ok {
		is.err(StepPayload, CodeSchema, "The payload has no vc object.")
		return ci
	}
	types, _ := vc["type"].([]any)
	for _, t := range types {
		if s, ok := t.(string); ok {
			ci.types = append(ci.types, s)
		}
	}
	hasHC := false
	specific := false
	for _, t := range ci.types {
		switch {
		case t == typeHealthCard:
			hasHC = true
		case strings.HasPrefix(t, typePrefix):
			specific = true
		case t == "VerifiableCredential":
			is.warn(StepPayload, CodeSchema, "vc.type VerifiableCredential is no longer needed.")
		default:
			is.warn(StepPayload, CodeSchema, "vc.type %q is not known and is ignored.", trunc(t))
		}
	}
	if !hasHC {
		is.err(StepPayload, CodeSchema, "vc.type does not include %s.", typeHealthCard)
	}
	if raw, ok := vc["rid"]; ok {
		if s, isStr := raw.(string); !isStr || !validRid(s) {
			is.err(StepPayload, CodeSchema, "vc.rid is not 1 to 24 base64url characters.")
		} else {
			ci.rid = s
		}
	}
	cs, ok := vc["credentialSubject"].(map[string]any)
	if !ok {
		is.err(StepPayload, CodeSchema, "vc has no credentialSubject.")
		return ci
	}
	if v, _ := cs["fhirVersion"].(string); v == "" {
		is.err(StepPayload, CodeSchema, "credentialSubject has no fhirVersion.")
	}
	bundle, ok := cs["fhirBundle"].(map[string]any)
	if !ok {
		is.err(StepPayload, CodeSchema, "credentialSubject has no fhirBundle.")
		return ci
	}
	kinds := checkBundle(bundle, is)
	if specific {
		if kinds["Immunization"] && !contains(ci.types, typePrefix+"immunization") {
			is.warn(StepPayload, CodeSchema, "vc.type should include %simmunization for a bundle of immunizations.", typePrefix)
		}
		if kinds["Observation"] && !contains(ci.types, typePrefix+"laboratory") {
			is.warn(StepPayload, CodeSchema, "vc.type should include %slaboratory for a bundle of observations.", typePrefix)
		}
	}
	return ci
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// number reads a JSON number: present reports whether v is not nil, ok whether
// it is a finite number.
func number(v any) (f float64, present, ok bool) {
	if v == nil {
		return 0, false, false
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return 0, true, false
	}
	f, err := n.Float64()
	return f, true, err == nil && f >= 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func secondsTime(f float64) time.Time {
	return time.Unix(0, int64(f*1e9)).UTC()
}

// CheckPayload checks an uncompressed JWS payload (the JSON of a card's JWT
// claims): claims, VC structure, times against opts, and the FHIR bundle.
func CheckPayload(data []byte, opts Options) []Issue {
	var is issues
	if t := bytes.TrimSpace(data); len(t) != len(data) {
		is.err(StepDecode, CodeTrailingCharacters, "The payload has white space around its JSON.")
		data = t
	}
	p, err := parseObject(data)
	if err != nil {
		is.err(StepInflate, CodeJSONParse, "The payload is not a JSON object.")
		return is
	}
	checkClaims(p, opts, &is)
	return is
}

// CheckBundle checks a FHIR Bundle as a health card carries it.
func CheckBundle(data []byte) []Issue {
	var is issues
	if t := bytes.TrimSpace(data); len(t) != len(data) {
		is.err(StepDecode, CodeTrailingCharacters, "The bundle has white space around its JSON.")
		data = t
	}
	b, err := parseObject(data)
	if err != nil {
		is.err(StepFHIR, CodeJSONParse, "The bundle is not a JSON object.")
		return is
	}
	checkBundle(b, &is)
	return is
}
