package sdjwt_test

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert/sdjwt"
)

// fuzzSeeds returns valid and broken tokens to start fuzzing from.
func fuzzSeeds(t testing.TB) []string {
	holder := mustKey()
	creds := issue(t, fullClaims, sdjwt.IssueOptions{
		Count:            2,
		HolderKeys:       []crypto.PublicKey{holder.Public()},
		CheckPhrase:      "7KQM-4XRD",
		PhraseIterations: sdjwt.MinPhraseIterations,
	})
	kb := present(t, creds[0], []string{sdjwt.ClaimDoses, sdjwt.ClaimCheckPhrase}, sdjwt.PresentOptions{HolderKey: holder, Audience: "a", Nonce: "n", Now: now})
	dCountry := discl("Y291bnRyeXNhbHQ", "country", "DE")
	nested := signJWT(t, issuerSK, hdr(), map[string]any{
		"_sd":  []string{digest(dCountry)},
		"nats": []any{map[string]any{"...": digest(dCountry)}},
	}) + "~" + dCountry + "~"
	return []string{
		creds[0], creds[1], kb, nested,
		present(t, creds[1], nil, sdjwt.PresentOptions{}),
		strings.TrimSuffix(kb, "~"), "", "~", "~~", "a.b.c~", "eyJ.eyJ.x~WyJ~",
	}
}

// FuzzVerify checks that Verify never panics, always returns a result, and
// never reports claims from a presentation it rejects.
func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, opts := range []sdjwt.VerifyOptions{
			{Now: now},
			{SkipTime: true, RequireKeyBinding: true, CheckPhrase: "7KQM-4XRD", Audience: "a", Nonce: "n"},
		} {
			res, err := sdjwt.Verify(s, trusted, opts)
			if res == nil {
				t.Fatal("nil result")
			}
			if (err == nil) != res.Valid {
				t.Fatalf("err %v but valid %v", err, res.Valid)
			}
			if err != nil && (len(res.Disclosed) != 0 || res.Payload != nil || res.Failed == "") {
				t.Fatalf("rejected presentation reports claims or no failed step: %+v", res)
			}
		}
	})
}

// FuzzPresent checks that Present and Disclosable never panic, and that what
// Present makes from a trusted credential still verifies.
func FuzzPresent(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, "doses,name")
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, s, reveal string) {
		_, _ = sdjwt.Disclosable(s)
		p, err := sdjwt.Present(s, strings.Split(reveal, ","), sdjwt.PresentOptions{})
		if err != nil {
			return
		}
		if _, err := sdjwt.Verify(s, trusted, sdjwt.VerifyOptions{SkipTime: true}); err != nil {
			return // the input itself is not a valid credential
		}
		if _, err := sdjwt.Verify(p, trusted, sdjwt.VerifyOptions{SkipTime: true, Now: time.Time{}}); err != nil {
			t.Fatalf("a presentation of a valid credential does not verify: %v", err)
		}
	})
}
