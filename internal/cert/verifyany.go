package cert

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"strings"

	"github.com/haven-registry/haven/internal/cert/sdjwt"
	"github.com/haven-registry/haven/internal/registry"
)

// SDJWTKID returns the JWS "kid" under which Haven signs SD-JWT credentials
// with a DSC key: the DSC's HCERT kid in unpadded base64url.
func SDJWTKID(kid []byte) string { return base64.RawURLEncoding.EncodeToString(kid) }

// VerifyAny verifies "HC1:" text with Verify, or an SD-JWT presentation
// (RFC 9901) with package sdjwt against the EC keys of the same trust list,
// each under SDJWTKID of its kid. The result has the same shape for both
// formats; for SD-JWT, Steps are sdjwt's steps, Payload holds the
// always-visible claims and Disclosed exactly what the holder disclosed.
// Text that is neither fails at the unprefix step.
func (v *Verifier) VerifyAny(text string, opts VerifyOptions) *VerifyResult {
	if strings.HasPrefix(text, Prefix) || !sdjwt.IsPresentation(text) {
		return v.Verify(text, opts)
	}
	keys := map[string]crypto.PublicKey{}
	for _, e := range v.trust.Entries() {
		if k, ok := e.Certificate.PublicKey.(*ecdsa.PublicKey); ok {
			keys[SDJWTKID(e.KID)] = k
		}
	}
	r, err := sdjwt.Verify(text, keys, sdjwt.VerifyOptions{
		Now: opts.At, SkipTime: opts.SkipTime,
		RequireKeyBinding: opts.RequireKeyBinding, Audience: opts.Audience, Nonce: opts.Nonce,
		CheckPhrase: opts.CheckPhrase,
	})
	out := &VerifyResult{Valid: r.Valid && err == nil, Format: "sd-jwt", Failed: r.Failed, Disclosed: r.Disclosed, err: err}
	if kid, derr := base64.RawURLEncoding.DecodeString(r.Kid); derr == nil {
		out.KID = kid // shown in the same base64 form as an HCERT kid
	} else if r.Kid != "" {
		out.KID = []byte(r.Kid)
	}
	if r.Payload != nil {
		out.Payload = r.Payload
	}
	for _, s := range sdjwt.Steps {
		if ok, ran := r.Steps[s]; ran {
			out.Steps = append(out.Steps, StepOutcome{Step: s, OK: ok})
		}
	}
	if err != nil {
		out.Reason = registry.ErrorMessage(err)
		if out.Failed == "" {
			out.Failed = registry.ErrorField(err)
		}
	}
	return out
}
