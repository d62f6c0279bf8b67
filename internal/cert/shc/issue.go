package shc

import "fmt"

// Severity of an Issue.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Issue codes. They are stable; tests and clients match on them.
const (
	CodeTrailingCharacters     = "trailing_characters"       // white space around the input
	CodeInvalidNumericQRHeader = "invalid_numeric_qr_header" // not "shc:/", bad or inconsistent chunk index
	CodeInvalidNumericQR       = "invalid_numeric_qr"        // odd digit count, value > 77, chunk too big
	CodeMissingQRChunk         = "missing_qr_chunk"          // a chunk of a multi-chunk set is absent
	CodeQRChunkingDeprecated   = "qr_chunking_deprecated"    // warning: multi-chunk QR sets are deprecated
	CodeUnbalancedQRChunks     = "unbalanced_qr_chunks"      // warning: chunks needless or of unequal size
	CodeJWSTooLong             = "jws_too_long"              // warning: longer than 1195 characters (no single QR)
	CodeInvalidFile            = "invalid_file"              // not a health card file, FHIR response, QR text or JWS
	CodeJWSFormat              = "jws_format_error"          // not a compact JWS
	CodeJWSHeader              = "jws_header_error"          // alg not ES256, zip not DEF, or no kid
	CodeInflation              = "inflation_error"           // payload is not raw DEFLATE
	CodeJSONParse              = "json_parse_error"          // payload is not a JSON object
	CodeSignatureFormat        = "signature_format_error"    // signature is not 64 bytes R||S (e.g. DER)
	CodeJWSVerification        = "jws_verification_error"    // signature invalid, or kid not in the issuer's keys
	CodeInvalidIssuerURL       = "invalid_issuer_url"        // iss not https, or has a trailing "/"
	CodeIssuerNotTrusted       = "issuer_not_trusted"        // iss is not in the directory
	CodeIssuerKidMismatch      = "issuer_kid_mismatch"       // kid belongs to another trusted issuer
	CodeSchema                 = "schema_error"              // JWT/VC structure (types, nbf, rid, …)
	CodeFHIRSchema             = "fhir_schema_error"         // FHIR bundle content
	CodeNotYetValid            = "not_yet_valid"             // nbf in the future (or in milliseconds)
	CodeExpiration             = "expiration_error"          // expired, exp before nbf, or exp in milliseconds
	CodeRevocation             = "revocation_error"          // CRL missing, malformed or out of date
	CodeRevoked                = "revoked"                   // the card's rid is in its issuer's CRL
	CodeInvalidKeySet          = "invalid_key_set"           // JWK set is not {"keys":[…]}
	CodeKeyWrongKty            = "invalid_key_wrong_kty"
	CodeKeyWrongAlg            = "invalid_key_wrong_alg"
	CodeKeyWrongCrv            = "invalid_key_wrong_crv"
	CodeKeyWrongUse            = "invalid_key_wrong_use"
	CodeKeyWrongKid            = "invalid_key_wrong_kid"
	CodeKeyPrivate             = "invalid_key_private"
	CodeKeyInvalid             = "invalid_key"     // coordinates malformed or not on P-256
	CodeKeyX5C                 = "invalid_key_x5c" // x5c chain does not match the key, the issuer or itself
)

// Verification steps, in order. Result.Steps reports each step that ran.
const (
	StepDecode     = "decode"     // QR text, file or FHIR response → JWS
	StepHeader     = "header"     // JWS header
	StepInflate    = "inflate"    // raw DEFLATE payload → JSON
	StepPayload    = "payload"    // JWT claims and VC structure
	StepIssuer     = "issuer"     // iss is a trusted issuer; kid is one of its keys
	StepSignature  = "signature"  // ES256 signature
	StepTime       = "time"       // nbf and exp
	StepRevocation = "revocation" // rid against the CRL
	StepFHIR       = "fhir"       // FHIR bundle
)

// Steps lists the verification steps in order.
var Steps = []string{StepDecode, StepHeader, StepInflate, StepPayload, StepIssuer, StepSignature, StepTime, StepRevocation, StepFHIR}

// Issue is one finding.
type Issue struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Step     string `json:"step"`
	Card     int    `json:"card"` // index of the card it concerns, -1 for the input as a whole
	Message  string `json:"message"`
}

func (i Issue) String() string {
	return fmt.Sprintf("%s %s/%s: %s", i.Severity, i.Step, i.Code, i.Message)
}

// issues collects findings.
type issues []Issue

func (is *issues) err(step, code, format string, args ...any) {
	*is = append(*is, Issue{Code: code, Severity: SeverityError, Step: step, Card: -1, Message: fmt.Sprintf(format, args...)})
}

func (is *issues) warn(step, code, format string, args ...any) {
	*is = append(*is, Issue{Code: code, Severity: SeverityWarning, Step: step, Card: -1, Message: fmt.Sprintf(format, args...)})
}

// HasError reports whether any issue is an error.
func HasError(list []Issue) bool {
	for _, i := range list {
		if i.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Codes returns the distinct codes of list with the given severity ("" for
// any), in order of first appearance.
func Codes(list []Issue, severity string) []string {
	var out []string
	seen := map[string]bool{}
	for _, i := range list {
		if (severity == "" || i.Severity == severity) && !seen[i.Code] {
			seen[i.Code] = true
			out = append(out, i.Code)
		}
	}
	return out
}
