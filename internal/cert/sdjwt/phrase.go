package sdjwt

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
)

// Check phrases bind a credential to a holder who has no device to hold a key.
//
// At issuance Haven prints a short random phrase on the holder's card (for
// example "7KQM-4XRD") and puts into the credential a selectively disclosable
// claim check_phrase = {"alg":"PBKDF2-SHA256","iter":N,"salt":S,"hash":H} where
// H = PBKDF2-HMAC-SHA256(normalised phrase, S, N). Each credential of a batch
// has its own salt S, so the hashes do not link credentials. The verifier asks
// the holder to say the phrase and passes it as VerifyOptions.CheckPhrase.
//
// Security trade-off: the phrase is short so that people can read it aloud.
// Anyone who sees a presentation that discloses check_phrase (the verifier, or
// someone who copies the QR code) can guess the phrase offline against H. With
// 8 symbols from a 32-symbol alphabet (40 bits) and the default 100 000 PBKDF2
// iterations, an exhaustive search costs about 2^40 × 10^5 ≈ 10^17 HMAC
// computations: months of GPU time for one credential, so the phrase stops
// casual reuse of a photographed or forwarded QR code but not a determined
// attacker who has the presentation. It is also weaker than a KB-JWT in that it
// proves knowledge of a printed secret, not possession of a device, and a
// verifier who hears the phrase learns it. Holders with a device should use key
// binding. Raising the iteration count slows every verification proportionally.

const (
	// DefaultPhraseIterations is the PBKDF2 iteration count Issue uses.
	DefaultPhraseIterations = 100_000
	// MinPhraseIterations and MaxPhraseIterations bound the iteration count a
	// credential may ask for; the upper bound caps the verifier's work.
	MinPhraseIterations = 10_000
	MaxPhraseIterations = 1_000_000
	// phraseAlphabet is Crockford's base32 alphabet (no I, L, O or U).
	phraseAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	phraseLen      = 8
	phraseAlg      = "PBKDF2-SHA256"
)

// NewCheckPhrase returns a random check phrase of 8 symbols (40 bits) from
// Crockford's base32 alphabet, written as two groups of four ("7KQM-4XRD").
func NewCheckPhrase() (string, error) {
	b := make([]byte, phraseLen)
	for i := range b {
		j, err := randIntn(len(phraseAlphabet))
		if err != nil {
			return "", err
		}
		b[i] = phraseAlphabet[j]
	}
	return string(b[:4]) + "-" + string(b[4:]), nil
}

// normalizePhrase upper-cases a spoken or typed phrase, drops spaces and
// hyphens, and maps the look-alikes O→0 and I, L→1. It fails unless the result
// has 6 to 32 symbols of Crockford's alphabet.
func normalizePhrase(s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(phraseAlphabet, r) {
			return "", errors.New("check phrase has a character outside the alphabet")
		}
		b.WriteRune(r)
	}
	if b.Len() < 6 || b.Len() > 32 {
		return "", errors.New("check phrase must have 6 to 32 symbols")
	}
	return b.String(), nil
}

// hashPhrase returns the check_phrase claim value for a normalised phrase.
func hashPhrase(phrase string, iter int) (map[string]any, error) {
	salt := make([]byte, saltBytes)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	h, err := pbkdf2.Key(sha256.New, phrase, salt, iter, 32)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"alg":  phraseAlg,
		"iter": iter,
		"salt": b64.EncodeToString(salt),
		"hash": b64.EncodeToString(h),
	}, nil
}

// checkPhrase reports whether spoken matches the disclosed check_phrase value.
func checkPhrase(value any, spoken string) error {
	m, ok := value.(map[string]any)
	if !ok {
		return errors.New("check_phrase is not an object")
	}
	if alg, _ := m["alg"].(string); alg != phraseAlg {
		return fmt.Errorf("check_phrase alg is not %s", phraseAlg)
	}
	iter, ok := m["iter"].(int64)
	if !ok || iter < MinPhraseIterations || iter > MaxPhraseIterations {
		return errors.New("check_phrase iteration count is out of range")
	}
	ss, _ := m["salt"].(string)
	hs, _ := m["hash"].(string)
	salt, err1 := b64.DecodeString(ss)
	want, err2 := b64.DecodeString(hs)
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) != 32 {
		return errors.New("check_phrase salt or hash is malformed")
	}
	p, err := normalizePhrase(spoken)
	if err != nil {
		return errors.New("the phrase given does not match")
	}
	got, err := pbkdf2.Key(sha256.New, p, salt, int(iter), 32)
	if err != nil || subtle.ConstantTimeCompare(got, want) != 1 {
		return errors.New("the phrase given does not match")
	}
	return nil
}
