package sdjwt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/haven-registry/haven/internal/cert/sdjwt"
	"github.com/haven-registry/haven/internal/registry"
)

var (
	now      = time.Date(2026, 11, 29, 10, 30, 0, 0, time.UTC)
	testKid  = "haven-test-1"
	issuerSK = mustKey()
	trusted  = map[string]crypto.PublicKey{testKid: issuerSK.Public()}
)

func mustKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// fullClaims uses distinctive values so that a leak is easy to find by text
// search.
var fullClaims = sdjwt.Claims{
	Vaccinated: true,
	Doses:      3,
	LastDose:   "2026-03-14",
	Product:    "Spikevax-XBB15",
	ValidUntil: "2027-09-30",
	CardCode:   "HV7K-Q4MX-2P",
	Name:       "Zofia Wiśniewska",
	BirthYear:  1987,
}

func issue(t testing.TB, c sdjwt.Claims, opts sdjwt.IssueOptions) []string {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = now
	}
	creds, err := sdjwt.Issue(issuerSK, testKid, c, opts)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return creds
}

func present(t testing.TB, cred string, reveal []string, opts sdjwt.PresentOptions) string {
	t.Helper()
	p, err := sdjwt.Present(cred, reveal, opts)
	if err != nil {
		t.Fatalf("Present(%v): %v", reveal, err)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	cred := issue(t, fullClaims, sdjwt.IssueOptions{Issuer: "https://haven.example"})[0]
	all := map[string]any{
		sdjwt.ClaimVaccinated: true,
		sdjwt.ClaimDoses:      int64(3),
		sdjwt.ClaimLastDose:   "2026-03-14",
		sdjwt.ClaimProduct:    "Spikevax-XBB15",
		sdjwt.ClaimValidUntil: "2027-09-30",
		sdjwt.ClaimCardCode:   "HV7K-Q4MX-2P",
		sdjwt.ClaimName:       "Zofia Wiśniewska",
		sdjwt.ClaimBirthYear:  int64(1987),
	}
	names, err := sdjwt.Disclosable(cred)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(all)), names); diff != "" {
		t.Errorf("Disclosable (-want +got):\n%s", diff)
	}
	tests := []struct {
		name   string
		reveal []string
	}{
		{"ok/nothing", nil},
		{"ok/minimal", []string{sdjwt.ClaimVaccinated, sdjwt.ClaimValidUntil}},
		{"ok/medical", []string{sdjwt.ClaimVaccinated, sdjwt.ClaimDoses, sdjwt.ClaimLastDose, sdjwt.ClaimProduct}},
		{"ok/identity", []string{sdjwt.ClaimCardCode, sdjwt.ClaimName, sdjwt.ClaimBirthYear}},
		{"ok/everything", slices.Collect(maps.Keys(all))},
		{"ok/duplicates-and-spaces", []string{" doses", "doses", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := present(t, cred, tc.reveal, sdjwt.PresentOptions{})
			res, err := sdjwt.Verify(p, trusted, sdjwt.VerifyOptions{Now: now})
			if err != nil {
				t.Fatalf("Verify: %v (steps %v)", err, res.Steps)
			}
			want := map[string]any{}
			for _, n := range tc.reveal {
				if n = strings.TrimSpace(n); n != "" {
					want[n] = all[n]
				}
			}
			if diff := cmp.Diff(want, res.Disclosed); diff != "" {
				t.Errorf("Disclosed (-want +got):\n%s", diff)
			}
			if !res.Valid || res.Failed != "" || res.Format != "sd-jwt" || res.HolderBinding != sdjwt.BindingNone {
				t.Errorf("result = %+v", res)
			}
			for _, s := range []string{"parse", "header", "signature", "disclosures", "time"} {
				if !res.Steps[s] {
					t.Errorf("step %s = false, want true", s)
				}
			}
			if _, ran := res.Steps["key_binding"]; ran {
				t.Errorf("key_binding step ran without a KB-JWT")
			}
			wantPayload := map[string]any{
				"iss": "https://haven.example",
				"iat": now.Truncate(24 * time.Hour).Unix(),
				"exp": time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC).Unix(),
				"vct": sdjwt.VCT,
			}
			if diff := cmp.Diff(wantPayload, res.Payload); diff != "" {
				t.Errorf("Payload (-want +got):\n%s", diff)
			}
			// The result marshals to the shape "haven cert verify --json" prints.
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var shape map[string]any
			if err := json.Unmarshal(b, &shape); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"valid", "format", "steps", "failed", "payload", "disclosed"} {
				if _, ok := shape[k]; !ok {
					t.Errorf("JSON result has no %q: %s", k, b)
				}
			}
		})
	}
}

// TestRFC9901DigestVector builds a credential around the disclosure published in
// RFC 9901 §4.2.3 (family_name "Möbius") with its published digest, so the
// digest computation is checked against the specification, not against itself.
func TestRFC9901DigestVector(t *testing.T) {
	const disc = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
	const digest = "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"
	jwt := signJWT(t, issuerSK, hdr(), map[string]any{"_sd": []string{digest}, "_sd_alg": "sha-256"})
	res, err := sdjwt.Verify(jwt+"~"+disc+"~", trusted, sdjwt.VerifyOptions{Now: now})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if diff := cmp.Diff(map[string]any{"family_name": "Möbius"}, res.Disclosed); diff != "" {
		t.Errorf("Disclosed (-want +got):\n%s", diff)
	}
}

// decodedText returns the presentation followed by the decoded text of each of
// its base64url segments, so that a search finds values inside disclosures and
// JWT bodies.
func decodedText(p string) string {
	var sb strings.Builder
	sb.WriteString(p)
	for _, part := range strings.Split(p, "~") {
		for _, seg := range strings.Split(part, ".") {
			if b, err := base64.RawURLEncoding.DecodeString(seg); err == nil {
				sb.WriteString("\n")
				sb.Write(b)
			}
		}
	}
	return sb.String()
}

// credDisclosures decodes the disclosures of an issued credential.
func credDisclosures(t testing.TB, cred string) map[string]struct{ raw, salt, value string } {
	t.Helper()
	out := map[string]struct{ raw, salt, value string }{}
	parts := strings.Split(strings.TrimSuffix(cred, "~"), "~")
	for _, raw := range parts[1:] {
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil {
			t.Fatal(err)
		}
		var arr []any
		if err := json.Unmarshal(b, &arr); err != nil || len(arr) != 3 {
			t.Fatalf("disclosure %s: %v", b, err)
		}
		v, _ := json.Marshal(arr[2])
		out[arr[1].(string)] = struct{ raw, salt, value string }{raw, arr[0].(string), string(v)}
	}
	return out
}

// TestNothingUndisclosedLeaks presents every subset of the claims and checks
// that no undisclosed claim name, value, salt or disclosure can be found in the
// presentation, raw or decoded.
func TestNothingUndisclosedLeaks(t *testing.T) {
	holder := mustKey()
	cred := issue(t, fullClaims, sdjwt.IssueOptions{
		HolderKeys:       []crypto.PublicKey{holder.Public()},
		CheckPhrase:      "7KQM-4XRD",
		PhraseIterations: sdjwt.MinPhraseIterations,
	})[0]
	discs := credDisclosures(t, cred)
	names := slices.Sorted(maps.Keys(discs))
	if len(names) != 9 {
		t.Fatalf("credential has %d claims, want 9", len(names))
	}
	for mask := 0; mask < 1<<len(names); mask++ {
		var reveal []string
		for i, n := range names {
			if mask&(1<<i) != 0 {
				reveal = append(reveal, n)
			}
		}
		opts := sdjwt.PresentOptions{}
		if mask%2 == 0 {
			opts = sdjwt.PresentOptions{HolderKey: holder, Audience: "https://verifier.example", Nonce: "n-" + string(rune('a'+mask%26)), Now: now}
		}
		p := present(t, cred, reveal, opts)
		text := decodedText(p)
		for _, n := range names {
			d := discs[n]
			if slices.Contains(reveal, n) {
				if !strings.Contains(p, d.raw) {
					t.Fatalf("mask %b: revealed %s missing", mask, n)
				}
				continue
			}
			for what, s := range map[string]string{"disclosure": d.raw, "salt": d.salt, "name": `"` + n + `"`} {
				if strings.Contains(text, s) {
					t.Fatalf("mask %b: undisclosed %s of %s found in presentation", mask, what, n)
				}
			}
			// Distinctive values (strings, the year) must not appear either.
			if len(d.value) > 4 && strings.Contains(text, strings.Trim(d.value, `"`)) {
				t.Fatalf("mask %b: undisclosed value of %s found in presentation", mask, n)
			}
		}
		res, err := sdjwt.Verify(p, trusted, sdjwt.VerifyOptions{Now: now})
		if err != nil {
			t.Fatalf("mask %b: Verify: %v", mask, err)
		}
		if got := slices.Sorted(maps.Keys(res.Disclosed)); !slices.Equal(got, reveal) && !(len(got) == 0 && len(reveal) == 0) {
			t.Fatalf("mask %b: disclosed %v, want %v", mask, got, reveal)
		}
	}
}

// stringsOf returns every "~"/"."-separated segment of a presentation and every
// JSON string and number found in the decoded segments.
func stringsOf(p string) map[string]bool {
	out := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			out[x] = true
		case float64:
			b, _ := json.Marshal(x)
			out[string(b)] = true
		}
	}
	for _, part := range strings.Split(p, "~") {
		for _, seg := range strings.Split(part, ".") {
			if seg == "" {
				continue
			}
			out[seg] = true
			if b, err := base64.RawURLEncoding.DecodeString(seg); err == nil {
				var v any
				if json.Unmarshal(b, &v) == nil {
					walk(v)
				}
			}
		}
	}
	return out
}

// TestBatchUnlinkable checks that two presentations from one batch share no
// string except the issuer's constants and the values both disclose.
func TestBatchUnlinkable(t *testing.T) {
	h1, h2, h3 := mustKey(), mustKey(), mustKey()
	creds := issue(t, fullClaims, sdjwt.IssueOptions{
		Issuer:           "https://haven.example",
		Count:            3,
		HolderKeys:       []crypto.PublicKey{h1.Public(), h2.Public(), h3.Public()},
		CheckPhrase:      "7KQM-4XRD",
		PhraseIterations: sdjwt.MinPhraseIterations,
	})
	if len(creds) != 3 {
		t.Fatalf("got %d credentials, want 3", len(creds))
	}
	reveal := []string{sdjwt.ClaimVaccinated, sdjwt.ClaimValidUntil, sdjwt.ClaimCheckPhrase}
	p1 := present(t, creds[0], reveal, sdjwt.PresentOptions{HolderKey: h1, Audience: "https://v.example", Nonce: "nonce-one", Now: now})
	p2 := present(t, creds[1], reveal, sdjwt.PresentOptions{HolderKey: h2, Audience: "https://v.example", Nonce: "nonce-two", Now: now.Add(time.Second)})
	for _, p := range []string{p1, p2} {
		if _, err := sdjwt.Verify(p, trusted, sdjwt.VerifyOptions{Now: now.Add(time.Minute), RequireKeyBinding: true, Audience: "https://v.example", CheckPhrase: "7kqm 4xrd"}); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	// Shared by every Haven credential, or chosen by the verifier.
	allowed := map[string]bool{
		"ES256": true, sdjwt.Type: true, testKid: true, sdjwt.KBType: true, "sha-256": true, sdjwt.VCT: true,
		"https://haven.example": true, "EC": true, "P-256": true, "https://v.example": true, "PBKDF2-SHA256": true,
		"2027-09-30": true, "10000": true,
		sdjwt.ClaimVaccinated: true, sdjwt.ClaimValidUntil: true, sdjwt.ClaimCheckPhrase: true,
	}
	for _, ts := range []time.Time{now.Truncate(24 * time.Hour), time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC)} {
		b, _ := json.Marshal(float64(ts.Unix()))
		allowed[string(b)] = true
	}
	s1, s2 := stringsOf(p1), stringsOf(p2)
	for s := range s1 {
		if s2[s] && !allowed[s] {
			// The JWT header segment is the same for every credential of an issuer key.
			if b, err := base64.RawURLEncoding.DecodeString(s); err == nil && (strings.Contains(string(b), `"kid":"`+testKid) || strings.Contains(string(b), `"typ":"kb+jwt"`)) {
				continue
			}
			t.Errorf("presentations share %q", s)
		}
	}
	// Across the whole batch no digest or salt repeats.
	seen := map[string]int{}
	for i, c := range creds {
		for s := range stringsOf(c) {
			if len(s) >= 22 && !allowed[s] && !strings.HasPrefix(s, "eyJ") {
				if j, dup := seen[s]; dup && j != i {
					t.Errorf("credentials %d and %d share %q", j, i, s)
				}
				seen[s] = i
			}
		}
	}
}

// sdDigests returns the _sd array of a credential's JWT payload.
func sdDigests(t testing.TB, cred string) []string {
	t.Helper()
	jwt, _, _ := strings.Cut(cred, "~")
	seg := strings.Split(jwt, ".")[1]
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		SD []string `json:"_sd"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p.SD
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// TestDecoysHideCountAndOrder checks that every credential has DigestCount
// digests whatever its claims, and that a claim's digest moves around.
func TestDecoysHideCountAndOrder(t *testing.T) {
	minimal := sdjwt.Claims{Vaccinated: true, Doses: 1, LastDose: "2026-01-01", Product: "mRNA", ValidUntil: "2027-01-01"}
	for _, c := range []sdjwt.Claims{minimal, fullClaims} {
		for _, cred := range issue(t, c, sdjwt.IssueOptions{Count: 5}) {
			if n := len(sdDigests(t, cred)); n != sdjwt.DigestCount {
				t.Errorf("credential has %d digests, want %d", n, sdjwt.DigestCount)
			}
		}
	}
	positions := map[int]bool{}
	for _, cred := range issue(t, minimal, sdjwt.IssueOptions{Count: 24}) {
		ds := sdDigests(t, cred)
		d := credDisclosures(t, cred)[sdjwt.ClaimDoses]
		i := slices.Index(ds, digest(d.raw))
		if i < 0 {
			t.Fatalf("digest of doses not in _sd")
		}
		positions[i] = true
	}
	if len(positions) < 2 {
		t.Errorf("the doses digest sat at the same position in 24 credentials")
	}
}

func TestKeyBinding(t *testing.T) {
	holder, other := mustKey(), mustKey()
	cred := issue(t, fullClaims, sdjwt.IssueOptions{HolderKeys: []crypto.PublicKey{holder.Public()}})[0]
	unbound := issue(t, fullClaims, sdjwt.IssueOptions{})[0]
	reveal := []string{sdjwt.ClaimVaccinated}
	kbOpts := sdjwt.PresentOptions{HolderKey: holder, Audience: "https://v.example", Nonce: "abc123", Now: now}
	good := present(t, cred, reveal, kbOpts)
	vopts := sdjwt.VerifyOptions{Now: now.Add(30 * time.Second), RequireKeyBinding: true, Audience: "https://v.example", Nonce: "abc123"}

	res, err := sdjwt.Verify(good, trusted, vopts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.HolderBinding != sdjwt.BindingKey || res.KeyBinding == nil || res.KeyBinding.Nonce != "abc123" || !res.Steps["key_binding"] {
		t.Errorf("result = %+v", res)
	}

	// A disclosure added after the KB-JWT was made breaks sd_hash.
	jwt, rest, _ := strings.Cut(good, "~")
	extra := credDisclosures(t, cred)[sdjwt.ClaimName].raw
	tampered := jwt + "~" + extra + "~" + rest

	noKB := present(t, cred, reveal, sdjwt.PresentOptions{})
	moreNoKB := present(t, cred, []string{sdjwt.ClaimVaccinated, sdjwt.ClaimDoses}, sdjwt.PresentOptions{})
	goodKB := good[strings.LastIndex(good, "~")+1:]
	tests := []struct {
		name string
		p    string
		opts func(o *sdjwt.VerifyOptions)
		step string
	}{
		{"fail/wrong-nonce", good, func(o *sdjwt.VerifyOptions) { o.Nonce = "other" }, "key_binding"},
		{"fail/wrong-audience", good, func(o *sdjwt.VerifyOptions) { o.Audience = "https://evil.example" }, "key_binding"},
		{"fail/too-old", good, func(o *sdjwt.VerifyOptions) { o.Now = now.Add(10 * time.Minute) }, "key_binding"},
		{"fail/from-the-future", good, func(o *sdjwt.VerifyOptions) { o.Now = now.Add(-time.Minute) }, "key_binding"},
		{"fail/missing-when-required", noKB, nil, "key_binding"},
		{"fail/disclosure-added", tampered, nil, "key_binding"},
		{"fail/kb-jwt-moved-to-other-disclosures", moreNoKB + goodKB, nil, "key_binding"},
		{"ok/kb-jwt-same-disclosures", noKB + goodKB, nil, ""},
		{"ok/not-required", noKB, func(o *sdjwt.VerifyOptions) { o.RequireKeyBinding = false }, ""},
		{"ok/skip-time", good, func(o *sdjwt.VerifyOptions) { o.SkipTime = true; o.Now = time.Time{} }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := vopts
			if tc.opts != nil {
				tc.opts(&o)
			}
			res, err := sdjwt.Verify(tc.p, trusted, o)
			checkOutcome(t, res, err, tc.step)
		})
	}

	t.Run("fail/present-with-wrong-key", func(t *testing.T) {
		_, err := sdjwt.Present(cred, reveal, sdjwt.PresentOptions{HolderKey: other, Now: now})
		if registry.ErrorCode(err) != registry.EINVALID {
			t.Errorf("err = %v, want EINVALID", err)
		}
	})
	t.Run("fail/present-unbound-with-key", func(t *testing.T) {
		_, err := sdjwt.Present(unbound, reveal, sdjwt.PresentOptions{HolderKey: holder, Now: now})
		if registry.ErrorCode(err) != registry.EINVALID {
			t.Errorf("err = %v, want EINVALID", err)
		}
	})
	t.Run("fail/present-twice", func(t *testing.T) {
		_, err := sdjwt.Present(good, reveal, sdjwt.PresentOptions{})
		if registry.ErrorCode(err) != registry.EINVALID {
			t.Errorf("err = %v, want EINVALID", err)
		}
	})
	t.Run("fail/verify-kb-on-unbound", func(t *testing.T) {
		// A KB-JWT signed by a key the credential does not name.
		p := present(t, unbound, reveal, sdjwt.PresentOptions{})
		kb := signJWT(t, holder, map[string]any{"alg": "ES256", "typ": "kb+jwt"}, map[string]any{"iat": now.Unix(), "aud": "a", "nonce": "n", "sd_hash": digest(p)})
		res, err := sdjwt.Verify(p+kb, trusted, sdjwt.VerifyOptions{Now: now})
		checkOutcome(t, res, err, "key_binding")
	})
}

func TestCheckPhrase(t *testing.T) {
	phrase, err := sdjwt.NewCheckPhrase()
	if err != nil {
		t.Fatal(err)
	}
	if len(phrase) != 9 || phrase[4] != '-' {
		t.Fatalf("NewCheckPhrase = %q, want XXXX-XXXX", phrase)
	}
	if other, _ := sdjwt.NewCheckPhrase(); other == phrase {
		t.Errorf("two check phrases are equal: %q", phrase)
	}
	cred := issue(t, fullClaims, sdjwt.IssueOptions{CheckPhrase: "7KQM-4XRD", PhraseIterations: sdjwt.MinPhraseIterations})[0]
	with := present(t, cred, []string{sdjwt.ClaimVaccinated, sdjwt.ClaimCheckPhrase}, sdjwt.PresentOptions{})
	without := present(t, cred, []string{sdjwt.ClaimVaccinated}, sdjwt.PresentOptions{})
	tests := []struct {
		name, p, said, step string
	}{
		{"ok/exact", with, "7KQM-4XRD", ""},
		{"ok/spoken-lower-case-with-spaces", with, "7 k q m 4 x r d", ""},
		{"fail/wrong", with, "7KQM-4XRE", "check_phrase"},
		{"fail/garbage", with, "hello?", "check_phrase"},
		{"fail/not-disclosed", without, "7KQM-4XRD", "check_phrase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sdjwt.Verify(tc.p, trusted, sdjwt.VerifyOptions{Now: now, CheckPhrase: tc.said})
			checkOutcome(t, res, err, tc.step)
			if tc.step == "" && res.HolderBinding != sdjwt.BindingPhrase {
				t.Errorf("HolderBinding = %q, want phrase", res.HolderBinding)
			}
		})
	}
	// Look-alike letters are read as digits: O→0, I and L→1.
	c2 := issue(t, fullClaims, sdjwt.IssueOptions{CheckPhrase: "10AB-00CD", PhraseIterations: sdjwt.MinPhraseIterations})[0]
	p2 := present(t, c2, []string{sdjwt.ClaimCheckPhrase}, sdjwt.PresentOptions{})
	if _, err := sdjwt.Verify(p2, trusted, sdjwt.VerifyOptions{Now: now, CheckPhrase: "LOAB OOCD"}); err != nil {
		t.Errorf("look-alikes: %v", err)
	}
}

// checkOutcome asserts that a Verify result failed at step (or succeeded if
// step is "") and that the error names the same step.
func checkOutcome(t *testing.T, res *sdjwt.Result, err error, step string) {
	t.Helper()
	if res == nil {
		t.Fatalf("Verify returned a nil result (err %v)", err)
	}
	if step == "" {
		if err != nil || !res.Valid {
			t.Fatalf("Verify: %v (failed %q)", err, res.Failed)
		}
		return
	}
	if err == nil || res.Valid {
		t.Fatalf("Verify succeeded, want failure at %q", step)
	}
	if res.Failed != step || registry.ErrorField(err) != step || res.Steps[step] {
		t.Fatalf("failed at %q (err %v), want %q", res.Failed, err, step)
	}
	if len(res.Disclosed) != 0 || res.Payload != nil {
		t.Fatalf("a failed result exposes claims: %v %v", res.Disclosed, res.Payload)
	}
	var e *registry.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not a *registry.Error", err)
	}
}

func hdr() map[string]any { return map[string]any{"alg": "ES256", "typ": "dc+sd-jwt", "kid": testKid} }

// signJWT builds a compact ES256 JWS independently of the package under test.
func signJWT(t testing.TB, key *ecdsa.PrivateKey, header, payload any) string {
	t.Helper()
	enc := func(v any) string {
		if s, ok := v.(string); ok {
			return base64.RawURLEncoding.EncodeToString([]byte(s))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(payload)
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func discl(parts ...any) string {
	b, _ := json.Marshal(parts)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyRejects(t *testing.T) {
	dName := discl("c2FsdHNhbHRzYWx0", "name", "X")
	dOther := discl("b3RoZXJzYWx0c2FsdA", "doses", 2)
	dExp := discl("ZXhwc2FsdHNhbHRzYQ", "exp", 1)
	dArr := discl("YXJyc2FsdHNhbHRzYQ", "FR")
	dIss := discl("aXNzc2FsdHNhbHRzYQ", "iss", "https://evil.example")
	base := func(sd ...string) map[string]any {
		return map[string]any{"_sd": sd, "_sd_alg": "sha-256", "iss": "https://haven.example", "exp": now.Add(time.Hour).Unix()}
	}
	good := signJWT(t, issuerSK, hdr(), base(digest(dName)))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(h map[string]any, k string, v any) map[string]any { m := maps.Clone(h); m[k] = v; return m }
	without := func(h map[string]any, k string) map[string]any { m := maps.Clone(h); delete(m, k); return m }
	p := func(payload map[string]any) string { return signJWT(t, issuerSK, hdr(), payload) }
	tests := []struct {
		name string
		p    string
		keys map[string]crypto.PublicKey
		opts *sdjwt.VerifyOptions
		step string
		code string
	}{
		{name: "ok/baseline", p: good + "~" + dName + "~"},
		{name: "ok/undisclosed", p: good + "~"},
		{name: "fail/empty", p: "", step: "parse", code: registry.EMALFORMED},
		{name: "fail/plain-jwt", p: good, step: "parse", code: registry.EMALFORMED},
		{name: "fail/hc1", p: "HC1:6BFOXN%TS3DH0YOJ58S", step: "parse", code: registry.EMALFORMED},
		{name: "fail/empty-disclosure", p: good + "~~" + dName + "~", step: "parse", code: registry.EMALFORMED},
		{name: "fail/disclosure-not-base64url", p: good + "~" + dName + "=~", step: "parse", code: registry.EMALFORMED},
		{name: "fail/disclosure-not-array", p: good + "~" + base64.RawURLEncoding.EncodeToString([]byte(`{"a":1}`)) + "~", step: "parse", code: registry.EMALFORMED},
		{name: "fail/disclosure-four-elements", p: good + "~" + discl("s", "n", 1, 2) + "~", step: "parse", code: registry.EMALFORMED},
		{name: "fail/disclosure-reserved-name", p: good + "~" + discl("c2FsdA", "_sd", []string{}) + "~", step: "parse", code: registry.EMALFORMED},
		{name: "fail/disclosure-numeric-salt", p: good + "~" + discl(1, "name", "X") + "~", step: "parse", code: registry.EMALFORMED},
		{name: "fail/duplicate-disclosure", p: good + "~" + dName + "~" + dName + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/duplicate-json-member", p: signJWT(t, issuerSK, hdr(), `{"_sd":[],"exp":1,"exp":2}`) + "~", step: "parse", code: registry.EMALFORMED},
		{name: "fail/payload-not-object", p: signJWT(t, issuerSK, hdr(), `[1]`) + "~", step: "parse", code: registry.EMALFORMED},
		{name: "fail/kb-not-jws", p: good + "~" + dName + "~notajwt", step: "parse", code: registry.EMALFORMED},
		{name: "fail/alg-none", p: signJWT(t, issuerSK, with(hdr(), "alg", "none"), base(digest(dName))) + "~", step: "header", code: registry.EUNSUPPORTED},
		{name: "fail/alg-hs256", p: signJWT(t, issuerSK, with(hdr(), "alg", "HS256"), base(digest(dName))) + "~", step: "header", code: registry.EUNSUPPORTED},
		{name: "fail/typ-jwt", p: signJWT(t, issuerSK, with(hdr(), "typ", "JWT"), base(digest(dName))) + "~", step: "header", code: registry.EINVALID},
		{name: "ok/no-kid-tries-every-key", p: signJWT(t, issuerSK, without(hdr(), "kid"), base(digest(dName))) + "~", keys: map[string]crypto.PublicKey{"a": mustKey().Public(), "b": rsaKey.Public(), testKid: issuerSK.Public()}},
		{name: "fail/no-kid-untrusted-signer", p: signJWT(t, mustKey(), without(hdr(), "kid"), base(digest(dName))) + "~", step: "signature", code: registry.EINVALID},
		{name: "fail/no-kid-no-keys", p: signJWT(t, issuerSK, without(hdr(), "kid"), base(digest(dName))) + "~", keys: map[string]crypto.PublicKey{}, step: "signature", code: registry.ENOTFOUND},
		{name: "fail/empty-kid", p: signJWT(t, issuerSK, with(hdr(), "kid", ""), base(digest(dName))) + "~", step: "header", code: registry.EINVALID},
		{name: "fail/numeric-kid", p: signJWT(t, issuerSK, with(hdr(), "kid", 7), base(digest(dName))) + "~", step: "header", code: registry.EINVALID},
		{name: "fail/other-typ-not-accepted", p: signJWT(t, issuerSK, with(hdr(), "typ", "example+sd-jwt"), base(digest(dName))) + "~", step: "header", code: registry.EINVALID},
		{name: "ok/other-typ-accepted", p: signJWT(t, issuerSK, with(hdr(), "typ", "example+sd-jwt"), base(digest(dName))) + "~", opts: &sdjwt.VerifyOptions{Now: now, AcceptTypes: []string{"example+sd-jwt"}}},
		{name: "fail/crit", p: signJWT(t, issuerSK, with(hdr(), "crit", []string{"x"}), base(digest(dName))) + "~", step: "header", code: registry.EUNSUPPORTED},
		{name: "fail/unknown-kid", p: signJWT(t, issuerSK, with(hdr(), "kid", "nope"), base(digest(dName))) + "~", step: "signature", code: registry.ENOTFOUND},
		{name: "fail/untrusted-signer", p: signJWT(t, mustKey(), hdr(), base(digest(dName))) + "~", step: "signature", code: registry.EINVALID},
		{name: "fail/rsa-trusted-key", p: good + "~", keys: map[string]crypto.PublicKey{testKid: rsaKey.Public()}, step: "signature", code: registry.EINVALID},
		{name: "fail/short-signature", p: good[:strings.LastIndex(good, ".")+1] + base64.RawURLEncoding.EncodeToString(make([]byte, 63)) + "~", step: "signature", code: registry.EINVALID},
		{name: "fail/zero-signature", p: good[:strings.LastIndex(good, ".")+1] + base64.RawURLEncoding.EncodeToString(make([]byte, 64)) + "~", step: "signature", code: registry.EINVALID},
		{name: "fail/payload-swapped", p: strings.Split(good, ".")[0] + "." + strings.Split(p(base(digest(dOther))), ".")[1] + "." + strings.Split(good, ".")[2] + "~", step: "signature", code: registry.EINVALID},
		{name: "fail/sd-alg-sha512", p: p(with(base(digest(dName)), "_sd_alg", "sha-512")) + "~", step: "disclosures", code: registry.EUNSUPPORTED},
		{name: "fail/unreferenced-disclosure", p: good + "~" + dOther + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/digest-twice", p: p(base(digest(dName), digest(dName))) + "~" + dName + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/digest-twice-undisclosed", p: p(base(digest(dName), digest(dName))) + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/name-clash", p: p(with(base(digest(dName)), "name", "Y")) + "~" + dName + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/reserved-exp-disclosed", p: p(base(digest(dExp))) + "~" + dExp + "~", step: "disclosures", code: registry.EINVALID},
		{name: "ok/iat-may-be-disclosed", p: p(base(digest(discl("aWF0c2FsdHNhbHRzYQ", "iat", now.Unix())))) + "~" + discl("aWF0c2FsdHNhbHRzYQ", "iat", now.Unix()) + "~"},
		{name: "fail/reserved-cnf-disclosed", p: p(base(digest(discl("Y25mc2FsdHNhbHRzYQ", "cnf", map[string]any{"jwk": map[string]any{}})))) + "~" + discl("Y25mc2FsdHNhbHRzYQ", "cnf", map[string]any{"jwk": map[string]any{}}) + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/reserved-iss-disclosed", p: p(without(base(digest(dIss)), "iss")) + "~" + dIss + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/array-disclosure-in-object", p: p(base(digest(dArr))) + "~" + dArr + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/object-disclosure-in-array", p: p(with(base(), "nat", []any{map[string]any{"...": digest(dName)}})) + "~" + dName + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/sd-not-array", p: p(with(base(), "_sd", "x")) + "~", step: "disclosures", code: registry.EINVALID},
		{name: "fail/expired", p: p(with(base(digest(dName)), "exp", now.Unix())) + "~", step: "time", code: registry.EINVALID},
		{name: "fail/not-yet-valid", p: p(with(base(digest(dName)), "nbf", now.Add(time.Hour).Unix())) + "~", step: "time", code: registry.EINVALID},
		{name: "fail/issued-in-future", p: p(with(base(digest(dName)), "iat", now.Add(time.Hour).Unix())) + "~", step: "time", code: registry.EINVALID},
		{name: "fail/exp-not-number", p: p(with(base(digest(dName)), "exp", "tomorrow")) + "~", step: "time", code: registry.EINVALID},
		{name: "fail/no-clock", p: good + "~", opts: &sdjwt.VerifyOptions{}, step: "time", code: registry.EINVALID},
		{name: "ok/expired-but-skip-time", p: p(with(base(digest(dName)), "exp", now.Unix())) + "~", opts: &sdjwt.VerifyOptions{SkipTime: true}},
		{name: "ok/leeway", p: p(with(base(digest(dName)), "exp", now.Unix())) + "~", opts: &sdjwt.VerifyOptions{Now: now, Leeway: time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.keys
			if tc.keys == nil {
				keys = trusted
			}
			opts := sdjwt.VerifyOptions{Now: now}
			if tc.opts != nil {
				opts = *tc.opts
			}
			res, err := sdjwt.Verify(tc.p, keys, opts)
			checkOutcome(t, res, err, tc.step)
			if tc.code != "" && registry.ErrorCode(err) != tc.code {
				t.Errorf("code = %q, want %q (%v)", registry.ErrorCode(err), tc.code, err)
			}
		})
	}
}

// TestNestedDisclosures checks RFC 9901 recursive disclosures: a nested claim
// and array elements, selected by Present and expanded by Verify.
func TestNestedDisclosures(t *testing.T) {
	dCountry := discl("Y291bnRyeXNhbHQ", "country", "DE")
	dAddr := discl("YWRkcnNhbHRzYWx0", "address", map[string]any{"_sd": []string{digest(dCountry)}, "city": "Berlin"})
	dFR := discl("ZnJzYWx0c2FsdHNh", "FR")
	dDE := discl("ZGVzYWx0c2FsdHNh", "DE")
	jwt := signJWT(t, issuerSK, hdr(), map[string]any{
		"_sd":           []string{digest(dAddr)},
		"nationalities": []any{map[string]any{"...": digest(dFR)}, map[string]any{"...": digest(dDE)}, "PL"},
		"exp":           now.Add(time.Hour).Unix(),
	})
	cred := jwt + "~" + dCountry + "~" + dAddr + "~" + dFR + "~" + dDE + "~"

	p := present(t, cred, []string{"country"}, sdjwt.PresentOptions{})
	res, err := sdjwt.Verify(p, trusted, sdjwt.VerifyOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"address": map[string]any{"city": "Berlin", "country": "DE"}}
	if diff := cmp.Diff(want, res.Disclosed); diff != "" {
		t.Errorf("Disclosed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"PL"}, res.Payload["nationalities"]); diff != "" {
		t.Errorf("nationalities (-want +got):\n%s", diff)
	}

	p = present(t, cred, []string{"nationalities"}, sdjwt.PresentOptions{})
	res, err = sdjwt.Verify(p, trusted, sdjwt.VerifyOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"FR", "DE", "PL"}, res.Payload["nationalities"]); diff != "" {
		t.Errorf("nationalities (-want +got):\n%s", diff)
	}
	if strings.Contains(p, dAddr) || strings.Contains(p, dCountry) {
		t.Errorf("address disclosed without being asked for")
	}
}

func TestIssueRejects(t *testing.T) {
	ok := fullClaims
	tests := []struct {
		name   string
		signer crypto.Signer
		kid    string
		claims func(c *sdjwt.Claims)
		opts   sdjwt.IssueOptions
		field  string
	}{
		{name: "fail/no-signer", kid: testKid, opts: sdjwt.IssueOptions{Now: now}, field: "signer"},
		{name: "fail/no-kid", signer: issuerSK, opts: sdjwt.IssueOptions{Now: now}, field: "kid"},
		{name: "fail/no-now", signer: issuerSK, kid: testKid, field: "now"},
		{name: "fail/bad-date", signer: issuerSK, kid: testKid, claims: func(c *sdjwt.Claims) { c.LastDose = "14/03/2026" }, opts: sdjwt.IssueOptions{Now: now}, field: "last_dose"},
		{name: "fail/no-product", signer: issuerSK, kid: testKid, claims: func(c *sdjwt.Claims) { c.Product = " " }, opts: sdjwt.IssueOptions{Now: now}, field: "product_type"},
		{name: "fail/negative-doses", signer: issuerSK, kid: testKid, claims: func(c *sdjwt.Claims) { c.Doses = -1 }, opts: sdjwt.IssueOptions{Now: now}, field: "doses"},
		{name: "fail/already-expired", signer: issuerSK, kid: testKid, claims: func(c *sdjwt.Claims) { c.ValidUntil = "2020-01-01" }, opts: sdjwt.IssueOptions{Now: now}, field: "expires"},
		{name: "fail/batch-too-big", signer: issuerSK, kid: testKid, opts: sdjwt.IssueOptions{Now: now, Count: sdjwt.MaxBatch + 1}, field: "count"},
		{name: "fail/holder-key-count", signer: issuerSK, kid: testKid, opts: sdjwt.IssueOptions{Now: now, Count: 3, HolderKeys: []crypto.PublicKey{mustKey().Public(), mustKey().Public()}}, field: "holder_keys"},
		{name: "fail/bad-phrase", signer: issuerSK, kid: testKid, opts: sdjwt.IssueOptions{Now: now, CheckPhrase: "ü"}, field: "check_phrase"},
		{name: "fail/weak-phrase-hash", signer: issuerSK, kid: testKid, opts: sdjwt.IssueOptions{Now: now, CheckPhrase: "7KQM-4XRD", PhraseIterations: 10}, field: "phrase_iterations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			if tc.claims != nil {
				tc.claims(&c)
			}
			_, err := sdjwt.Issue(tc.signer, tc.kid, c, tc.opts)
			if registry.ErrorCode(err) != registry.EINVALID || registry.ErrorField(err) != tc.field {
				t.Errorf("err = %v, want EINVALID on %q", err, tc.field)
			}
		})
	}
	t.Run("ok/optional-claims-left-out", func(t *testing.T) {
		c := sdjwt.Claims{Vaccinated: true, Doses: 0, Product: "none", ValidUntil: "2027-01-01"}
		cred := issue(t, c, sdjwt.IssueOptions{})[0]
		names, err := sdjwt.Disclosable(cred)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"covid19_vaccinated", "doses", "product_type", "valid_until"}
		if !slices.Equal(names, want) {
			t.Errorf("Disclosable = %v, want %v", names, want)
		}
	})
}

func TestPresentRejects(t *testing.T) {
	cred := issue(t, fullClaims, sdjwt.IssueOptions{})[0]
	tests := []struct {
		name, cred string
		reveal     []string
		code       string
	}{
		{"fail/unknown-claim", cred, []string{"passport_number"}, registry.EINVALID},
		{"fail/not-sd-jwt", "HC1:NCFOXN", nil, registry.EMALFORMED},
		{"fail/unreferenced-disclosure", cred + discl("c2FsdHNhbHRzYWx0", "x", 1) + "~", []string{"x"}, registry.EINVALID},
		{"fail/duplicate-disclosure", cred + cred[strings.Index(cred, "~")+1:], []string{"doses"}, registry.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdjwt.Present(tc.cred, tc.reveal, sdjwt.PresentOptions{})
			if registry.ErrorCode(err) != tc.code {
				t.Errorf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

func TestIsPresentation(t *testing.T) {
	cred := issue(t, fullClaims, sdjwt.IssueOptions{})[0]
	for in, want := range map[string]bool{
		cred:                       true,
		"  " + cred + "\n":         true,
		"HC1:NCFOXN%TS3DH":         false,
		"eyJhbGciOiJFUzI1NiJ9.e30": false,
		"":                         false,
		"shc:/5676290952432060":    false,
		base64.RawURLEncoding.EncodeToString([]byte(` {"alg":"ES256"}`)) + ".e30.c2ln~": true,
		"bm90IGpzb24.e30.c2ln~": false,
	} {
		if got := sdjwt.IsPresentation(in); got != want {
			t.Errorf("IsPresentation(%.20q) = %v, want %v", in, got, want)
		}
	}
}
