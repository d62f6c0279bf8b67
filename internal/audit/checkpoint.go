package audit

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// checkpointHeader starts the signed message of every checkpoint.
const checkpointHeader = "haven-audit-checkpoint/v1"

// Checkpoint is a signed statement "chain 0 of the log named Origin had Seq
// entries and entry Seq had hash Hash, at Time". Through the joins in chain
// 0 (JoinAction) it covers every other chain too. Anyone holding the public key can check
// it; an outside party (a partner organisation, a witness) keeps copies so a
// later rewrite or truncation of the log is caught even by someone who
// controls the database.
type Checkpoint struct {
	Origin    string    `json:"origin"`    // names the log, for example "haven.example.org/audit"
	Seq       uint64    `json:"seq"`       // the last entry covered
	Hash      Hash      `json:"hash"`      // that entry's hash, which commits to the whole chain before it
	Time      time.Time `json:"time"`      // when the checkpoint was signed (UTC, seconds)
	KeyID     string    `json:"key_id"`    // KeyID of the signing key
	Signature []byte    `json:"signature"` // Ed25519 over SignedMessage, base64 in JSON
}

// SignedMessage is the exact text the signature covers:
//
//	haven-audit-checkpoint/v1\n<origin>\n<seq>\n<hash hex>\n<time RFC 3339 UTC>\n
func (c Checkpoint) SignedMessage() []byte {
	var b bytes.Buffer
	b.WriteString(checkpointHeader + "\n")
	b.WriteString(c.Origin + "\n")
	b.WriteString(strconv.FormatUint(c.Seq, 10) + "\n")
	b.WriteString(c.Hash.String() + "\n")
	b.WriteString(c.Time.UTC().Format(time.RFC3339) + "\n")
	return b.Bytes()
}

// KeyID names an Ed25519 public key: the first 8 bytes of its SHA-256, hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// EncodePublicKey returns the text form of a checkpoint verification key,
// "ed25519:" followed by the standard base64 of the 32-byte key.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads the form written by EncodePublicKey. Returns
// EMALFORMED if it is not one.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "ed25519:")
	if !ok {
		return nil, registry.FieldErrorf(registry.EMALFORMED, "public_key", "public key must start with \"ed25519:\"")
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, registry.FieldErrorf(registry.EMALFORMED, "public_key", "public key must be %d bytes of base64", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// Signer signs checkpoints with an Ed25519 key it never exposes.
type Signer struct {
	origin string
	signer crypto.Signer
	pub    ed25519.PublicKey
	id     string
}

// NewSigner returns a Signer for the log named origin. s must hold an
// Ed25519 key (ed25519.PrivateKey is one). Returns EINVALID otherwise.
func NewSigner(origin string, s crypto.Signer) (*Signer, error) {
	if err := validField("origin", origin, true); err != nil {
		return nil, err
	}
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok {
		return nil, registry.FieldErrorf(registry.EINVALID, "signing_key", "checkpoint key must be Ed25519, not %T", s.Public())
	}
	return &Signer{origin: origin, signer: s, pub: pub, id: KeyID(pub)}, nil
}

// PublicKey returns the key outside parties need to check checkpoints.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.pub }

// Sign returns a checkpoint for entry e (normally the last one) at time now.
func (s *Signer) Sign(e Entry, now time.Time) (Checkpoint, error) {
	if now.IsZero() {
		return Checkpoint{}, registry.FieldErrorf(registry.EINVALID, "time", "time is required")
	}
	c := Checkpoint{Origin: s.origin, Seq: e.Seq, Hash: e.Hash, Time: now.UTC().Truncate(time.Second), KeyID: s.id}
	sig, err := s.signer.Sign(nil, c.SignedMessage(), crypto.Hash(0))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: sign checkpoint %d: %w", e.Seq, err)
	}
	c.Signature = sig
	return c, nil
}

// Verify checks the checkpoint's signature against the keys given, choosing
// by KeyID. Returns EINVALID naming the checkpoint when no key matches or
// the signature is bad.
func (c Checkpoint) Verify(keys ...ed25519.PublicKey) error {
	_, err := c.verify(keys)
	return err
}

// verify is Verify that also says whether one of keys has the checkpoint's
// KeyID: a checkpoint signed by an unknown key proves nothing, one that
// fails under a known key is a forgery.
func (c Checkpoint) verify(keys []ed25519.PublicKey) (known bool, err error) {
	field := fmt.Sprintf("checkpoint[seq=%d]", c.Seq)
	for _, k := range keys {
		if KeyID(k) != c.KeyID {
			continue
		}
		if ed25519.Verify(k, c.SignedMessage(), c.Signature) {
			return true, nil
		}
		return true, registry.FieldErrorf(registry.EINVALID, field, "signature does not verify")
	}
	return false, registry.FieldErrorf(registry.EINVALID, field, "signed by unknown key %q", c.KeyID)
}

// MarshalCheckpoints writes checkpoints as JSON Lines, one per line: the
// export an outside party keeps and appends to.
func MarshalCheckpoints(w io.Writer, cps []Checkpoint) error {
	enc := json.NewEncoder(w)
	for _, c := range cps {
		if err := enc.Encode(c); err != nil {
			return err
		}
	}
	return nil
}

// ParseCheckpoints reads checkpoints written by MarshalCheckpoints (JSON
// Lines), or a JSON array of them. It checks shape, not signatures. Returns
// EMALFORMED naming the line that failed. It never panics on input.
func ParseCheckpoints(data []byte) ([]Checkpoint, error) {
	trimmed := bytes.TrimSpace(data)
	strict := func(b []byte, v any) error {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return err
		}
		if dec.More() {
			return fmt.Errorf("trailing data")
		}
		return nil
	}
	var out []Checkpoint
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := strict(trimmed, &out); err != nil {
			return nil, registry.FieldErrorf(registry.EMALFORMED, "checkpoints", "cannot parse checkpoints: %v", err)
		}
	} else {
		for i, line := range bytes.Split(trimmed, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			var c Checkpoint
			if err := strict(line, &c); err != nil {
				return nil, registry.FieldErrorf(registry.EMALFORMED, fmt.Sprintf("checkpoints:line %d", i+1), "cannot parse checkpoint: %v", err)
			}
			out = append(out, c)
		}
	}
	for i, c := range out {
		if c.Seq == 0 || len(c.Signature) != ed25519.SignatureSize || c.KeyID == "" || c.Time.IsZero() {
			return nil, registry.FieldErrorf(registry.EMALFORMED, fmt.Sprintf("checkpoints[%d]", i), "checkpoint needs seq > 0, time, key_id and a %d-byte signature", ed25519.SignatureSize)
		}
	}
	return out, nil
}
