package vault

import (
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/haven-registry/haven/internal/registry"
)

// adData prefixes the caller's associated data in Encrypt and Decrypt, so
// these ciphertexts can never be confused with DataKey field ciphertexts.
const adData = "haven/vault/aad/v1"

var _ registry.Vault = (*Vault)(nil)

// NewDataKey returns a fresh random data key in wrapped form only
// (registry.Vault). Returns ESEALED if the vault is sealed.
func (v *Vault) NewDataKey() ([]byte, error) {
	dk, w, err := v.GenerateDataKey()
	if err != nil {
		return nil, err
	}
	dk.Destroy()
	return w, nil
}

// Encrypt seals plaintext under the data key inside wrapped, binding aad
// (registry.Vault). The data key is unwrapped for this call only. Output:
// 0x01 ‖ 24-byte nonce ‖ ciphertext ‖ tag, with "haven/vault/aad/v1" ‖ aad
// as associated data. Returns ESEALED if the vault is sealed.
func (v *Vault) Encrypt(wrapped, aad, plaintext []byte) ([]byte, error) {
	a, err := v.oneShot(wrapped)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+nonceSize, FieldOverhead+len(plaintext))
	out[0] = fieldFormat
	if _, err := io.ReadFull(v.rand, out[1:]); err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	return a.Seal(out, out[1:], plaintext, append([]byte(adData), aad...)), nil
}

// Decrypt opens a ciphertext made by Encrypt with the same wrapped key and
// aad (registry.Vault). Returns ESEALED if sealed, EMALFORMED if the
// ciphertext or wrapped key is truncated, and EINTERNAL wrapping ErrAuth if
// anything differs or was altered.
func (v *Vault) Decrypt(wrapped, aad, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < FieldOverhead || ciphertext[0] != fieldFormat {
		return nil, registry.FieldErrorf(registry.EMALFORMED, "ciphertext", "not a vault ciphertext")
	}
	a, err := v.oneShot(wrapped)
	if err != nil {
		return nil, err
	}
	pt, err := a.Open(nil, ciphertext[1:1+nonceSize], ciphertext[1+nonceSize:], append([]byte(adData), aad...))
	if err != nil {
		return nil, &registry.Error{Code: registry.EINTERNAL, Field: "ciphertext", Message: "ciphertext does not decrypt", Err: ErrAuth}
	}
	return pt, nil
}

func (v *Vault) oneShot(wrapped []byte) (aeadCipher, error) {
	k, _, err := v.unwrapKey(wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(k[:])
	a, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: %v", err)
	}
	return a, nil
}
