package shc

import (
	"strconv"
	"strings"
)

const (
	// MaxSingleJWS is the longest JWS that may be carried in one QR code.
	MaxSingleJWS = 1195
	// MaxChunkJWS is the longest JWS chunk in a multi-chunk QR set.
	MaxChunkJWS = 1191
	// maxChunks bounds the number of chunks Haven assembles.
	maxChunks = 100
)

// DecodeQR decodes the text of one QR code ("shc:/<digits>") or of every QR
// code of a (deprecated) multi-chunk set ("shc:/<C>/<N>/<digits>", in any
// order) into a compact JWS: each pair of digits is one character, its value
// plus 45. It returns the JWS ("" on error) and its findings. White space
// around a chunk is reported (CodeTrailingCharacters) and ignored.
func DecodeQR(chunks []string) (string, []Issue) {
	var is issues
	if len(chunks) == 0 {
		is.err(StepDecode, CodeInvalidNumericQRHeader, "No QR text.")
		return "", is
	}
	if len(chunks) > maxChunks {
		is.err(StepDecode, CodeInvalidNumericQRHeader, "More than %d QR chunks.", maxChunks)
		return "", is
	}
	total := 0
	parts := make(map[int]string, len(chunks))
	for i, c := range chunks {
		if t := strings.TrimSpace(c); t != c {
			is.err(StepDecode, CodeTrailingCharacters, "QR chunk %d has white space around it.", i+1)
			c = t
		}
		rest, ok := strings.CutPrefix(c, "shc:/")
		if !ok {
			is.err(StepDecode, CodeInvalidNumericQRHeader, `QR chunk %d does not start with "shc:/".`, i+1)
			return "", is
		}
		index, count := 1, 1
		if strings.Contains(rest, "/") {
			f := strings.SplitN(rest, "/", 3)
			if len(f) != 3 {
				is.err(StepDecode, CodeInvalidNumericQRHeader, "QR chunk %d has a malformed chunk header.", i+1)
				return "", is
			}
			var err1, err2 error
			index, err1 = strconv.Atoi(f[0])
			count, err2 = strconv.Atoi(f[1])
			if err1 != nil || err2 != nil || !isDigits(f[0]) || !isDigits(f[1]) || count < 1 || count > maxChunks || index < 1 || index > count {
				is.err(StepDecode, CodeInvalidNumericQRHeader, "QR chunk %d has an invalid chunk index %q of %q.", i+1, trunc(f[0]), trunc(f[1]))
				return "", is
			}
			rest = f[2]
		}
		switch {
		case total == 0:
			total = count
		case count != total:
			is.err(StepDecode, CodeInvalidNumericQRHeader, "QR chunk %d says %d chunks, another says %d.", i+1, count, total)
			return "", is
		}
		if _, dup := parts[index]; dup {
			is.err(StepDecode, CodeInvalidNumericQRHeader, "QR chunk index %d appears twice.", index)
			return "", is
		}
		jws, msg := decodeDigits(rest)
		if msg != "" {
			is.err(StepDecode, CodeInvalidNumericQR, "QR chunk %d: %s", i+1, msg)
			return "", is
		}
		if total > 1 && len(jws) > MaxChunkJWS {
			is.err(StepDecode, CodeInvalidNumericQR, "QR chunk %d holds %d JWS characters; a chunk holds at most %d.", i+1, len(jws), MaxChunkJWS)
		}
		if total == 1 && len(jws) > MaxSingleJWS {
			is.err(StepDecode, CodeInvalidNumericQR, "The QR code holds %d JWS characters; one QR code holds at most %d.", len(jws), MaxSingleJWS)
		}
		parts[index] = jws
	}
	if len(parts) != total {
		var missing []string
		for i := 1; i <= total; i++ {
			if _, ok := parts[i]; !ok {
				missing = append(missing, strconv.Itoa(i))
			}
		}
		is.err(StepDecode, CodeMissingQRChunk, "QR chunks %s of %d are missing.", strings.Join(missing, ", "), total)
		return "", is
	}
	var sb strings.Builder
	minLen, maxLen := -1, 0
	for i := 1; i <= total; i++ {
		sb.WriteString(parts[i])
		n := len(parts[i])
		if minLen < 0 || n < minLen {
			minLen = n
		}
		maxLen = max(maxLen, n)
	}
	jws := sb.String()
	if total > 1 {
		is.warn(StepDecode, CodeQRChunkingDeprecated, "The card is split over %d QR codes; chunking is deprecated.", total)
		if len(jws) <= MaxSingleJWS {
			is.warn(StepDecode, CodeUnbalancedQRChunks, "The JWS (%d characters) fits in one QR code; %d chunks are not needed.", len(jws), total)
		} else if maxLen-minLen >= total {
			is.warn(StepDecode, CodeUnbalancedQRChunks, "QR chunks should be of balanced size (%d to %d characters).", minLen, maxLen)
		}
	}
	if HasError(is) {
		return "", is
	}
	return jws, is
}

// decodeDigits turns pairs of digits into JWS characters.
func decodeDigits(s string) (string, string) {
	if s == "" {
		return "", "no digits"
	}
	if !isDigits(s) {
		return "", "numeric data holds a character other than 0-9"
	}
	if len(s)%2 != 0 {
		return "", "numeric data has an odd number of digits"
	}
	out := make([]byte, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		v := int(s[i]-'0')*10 + int(s[i+1]-'0')
		if v > 'z'-45 {
			return "", "a digit pair is above 77 (beyond 'z')"
		}
		out[i/2] = byte(v + 45)
	}
	return string(out), ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// trunc shortens untrusted text quoted in a message.
func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
