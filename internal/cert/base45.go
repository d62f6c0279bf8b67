package cert

import (
	"github.com/haven-registry/haven/internal/registry"
)

// base45Alphabet is the Base45 alphabet of RFC 9285 (draft-faltstrom-base45),
// which is also the QR code alphanumeric character set.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var base45Index = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// Base45Encode encodes b as Base45 (RFC 9285).
func Base45Encode(b []byte) string {
	out := make([]byte, 0, (len(b)/2)*3+2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[(n/45)%45], base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return string(out)
}

// Base45Decode decodes Base45 text (RFC 9285). It is strict: every character
// must be in the alphabet, the length must not leave a single trailing
// character, and every group must decode to a value that fits its byte count
// (at most 65535 for three characters, 255 for two). Errors name the step
// "base45" and the offending offset.
func Base45Decode(s string) ([]byte, error) {
	return appendBase45(nil, s)
}

func appendBase45(dst []byte, s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, registry.FieldErrorf(registry.EMALFORMED, StepBase45, "length %d leaves a dangling character", len(s))
	}
	if need := len(s)/3*2 + 1; cap(dst)-len(dst) < need {
		grown := make([]byte, len(dst), len(dst)+need)
		copy(grown, dst)
		dst = grown
	}
	for i := 0; i < len(s); i += 3 {
		n := len(s) - i
		if n > 3 {
			n = 3
		}
		v := 0
		mul := 1
		for j := 0; j < n; j++ {
			d := base45Index[s[i+j]]
			if d < 0 {
				return nil, registry.FieldErrorf(registry.EMALFORMED, StepBase45, "invalid character at offset %d", i+j)
			}
			v += int(d) * mul
			mul *= 45
		}
		if n == 3 {
			if v > 0xFFFF {
				return nil, registry.FieldErrorf(registry.EMALFORMED, StepBase45, "group at offset %d exceeds 16 bits", i)
			}
			dst = append(dst, byte(v>>8), byte(v))
		} else {
			if v > 0xFF {
				return nil, registry.FieldErrorf(registry.EMALFORMED, StepBase45, "final group at offset %d exceeds 8 bits", i)
			}
			dst = append(dst, byte(v))
		}
	}
	return dst, nil
}
