package registry

import (
	"crypto/rand"
	"strings"
)

// CardAlphabet is the set of symbols a card code is written in. It has 31
// symbols (a prime), leaves out 0, 1, I and O, which are confused with each
// other, and U, which is confused with V when read aloud.
const CardAlphabet = "23456789ABCDEFGHJKLMNPQRSTVWXYZ"

const (
	cardRandomSymbols = 11 // 11 × log2(31) ≈ 54.5 bits of randomness
	cardSymbols       = cardRandomSymbols + 1
	cardGroup         = 4
)

var cardValue = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(CardAlphabet); i++ {
		v[CardAlphabet[i]] = int8(i)
		v[strings.ToLower(CardAlphabet[i : i+1])[0]] = int8(i)
	}
	return v
}()

// CardCode is a person's "temporary management number": 11 random symbols and
// a check symbol, written in groups of four (for example "7KQM-X4TD-9HCA").
// It is the only key by which a person can be found.
//
// The check symbol makes the weighted sum Σ (i+1)·v(i) over all 12 symbols
// divisible by 31. Because 31 is prime and larger than every weight, any single
// wrong symbol and any swap of two neighbouring symbols changes the sum and is
// detected.
type CardCode string

// NewCardCode returns a fresh random card code, reading randomness from
// crypto/rand.
func NewCardCode() CardCode {
	var buf [cardRandomSymbols]byte
	var v [cardSymbols]int
	for i := 0; i < cardRandomSymbols; {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("registry: crypto/rand failed: " + err.Error()) // crypto/rand never fails on supported platforms
		}
		for _, b := range buf {
			if i == cardRandomSymbols {
				break
			}
			if b >= 248 { // reject to keep the distribution uniform (248 = 8 × 31)
				continue
			}
			v[i] = int(b) % len(CardAlphabet)
			i++
		}
	}
	v[cardRandomSymbols] = cardCheck(v[:cardRandomSymbols])
	return formatCard(v[:])
}

// cardCheck returns the check value that makes the weighted sum vanish mod 31.
func cardCheck(v []int) int {
	sum := 0
	for i, x := range v {
		sum += (i + 1) * x
	}
	w := len(v) + 1 // weight of the check symbol
	// Solve w·c ≡ −sum (mod 31) with the inverse of w (Fermat: w^29).
	inv := 1
	for range 29 {
		inv = inv * w % 31
	}
	return ((31 - sum%31) % 31) * inv % 31
}

func formatCard(v []int) CardCode {
	var b strings.Builder
	for i, x := range v {
		if i > 0 && i%cardGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(CardAlphabet[x])
	}
	return CardCode(b.String())
}

// ParseCardCode reads a card code as a person might type it: case, spaces and
// hyphens do not matter. It returns the canonical form, or an EINVALID error
// naming field "card_code" that says whether a symbol or the check failed.
func ParseCardCode(s string) (CardCode, error) {
	var v []int
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == ' ' {
			continue
		}
		x := cardValue[c]
		if x < 0 {
			return "", FieldErrorf(EINVALID, "card_code", "Card code contains %q, which is not a card symbol.", rune(c))
		}
		v = append(v, int(x))
		if len(v) > cardSymbols {
			break
		}
	}
	if len(v) != cardSymbols {
		return "", FieldErrorf(EINVALID, "card_code", "Card code must have %d symbols.", cardSymbols)
	}
	sum := 0
	for i, x := range v {
		sum += (i + 1) * x
	}
	if sum%31 != 0 {
		return "", FieldErrorf(EINVALID, "card_code", "Card code check symbol does not match; a symbol may be mistyped.")
	}
	return formatCard(v), nil
}
