package vault

import (
	"encoding/binary"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/haven-registry/haven/internal/registry"
)

const (
	fieldFormat = 0x01 // ciphertext layout: format ‖ nonce ‖ AEAD output
	adField     = "haven/vault/field/v1"

	// FieldOverhead is how many bytes Encrypt adds to a plaintext.
	FieldOverhead = 1 + nonceSize + tagSize
)

// DataKey is one person's unwrapped data key. It encrypts that person's
// identifying fields with XChaCha20-Poly1305. A DataKey stops working (with
// ESEALED) once its vault is sealed; call Destroy when done with it.
type DataKey struct {
	v    *Vault
	gen  uint64
	key  [KeySize]byte
	dead bool
}

func (k *DataKey) aead() (aeadCipher, error) {
	if k == nil || k.dead {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: data key was destroyed")
	}
	if k.v.sealGen.Load() != k.gen {
		return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	a, err := chacha20poly1305.NewX(k.key[:])
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: %v", err)
	}
	return a, nil
}

type aeadCipher interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}

// fieldAD binds a ciphertext to one person and one field, so a ciphertext
// cannot be moved to another person's row or another column.
func fieldAD(personID, field string) []byte {
	b := make([]byte, 0, len(adField)+8+len(personID)+len(field))
	b = append(b, adField...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(personID)))
	b = append(b, personID...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
	return append(b, field...)
}

// Encrypt seals plaintext as the value of field (for example "given_name")
// of the person with internal ID personID. The result is
// 0x01 ‖ 24-byte random nonce ‖ ciphertext ‖ 16-byte tag, with
// "haven/vault/field/v1" ‖ len ‖ personID ‖ len ‖ field as associated data.
// personID must be the same byte string at Decrypt time.
func (k *DataKey) Encrypt(personID, field string, plaintext []byte) ([]byte, error) {
	if personID == "" || field == "" {
		return nil, registry.FieldErrorf(registry.EINVALID, "person_id", "person ID and field name are required")
	}
	a, err := k.aead()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+nonceSize, FieldOverhead+len(plaintext))
	out[0] = fieldFormat
	if _, err := io.ReadFull(k.v.rand, out[1:]); err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	return a.Seal(out, out[1:], plaintext, fieldAD(personID, field)), nil
}

// Decrypt opens a ciphertext made by Encrypt for the same person and field.
// It fails with EMALFORMED naming the field if the ciphertext is truncated
// or of an unknown format, and with EINTERNAL wrapping ErrAuth if it does
// not authenticate (another person's or field's ciphertext, another key, or
// tampering). It never panics on input.
func (k *DataKey) Decrypt(personID, field string, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < FieldOverhead || ciphertext[0] != fieldFormat {
		return nil, registry.FieldErrorf(registry.EMALFORMED, field, "not a field ciphertext")
	}
	a, err := k.aead()
	if err != nil {
		return nil, err
	}
	pt, err := a.Open(nil, ciphertext[1:1+nonceSize], ciphertext[1+nonceSize:], fieldAD(personID, field))
	if err != nil {
		return nil, &registry.Error{Code: registry.EINTERNAL, Field: field, Message: "field does not decrypt for this person", Err: ErrAuth}
	}
	return pt, nil
}

// Destroy overwrites the data key with zeros; the DataKey is useless after.
func (k *DataKey) Destroy() {
	if k == nil {
		return
	}
	clear(k.key[:])
	k.dead = true
}
