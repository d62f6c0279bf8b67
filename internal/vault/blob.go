package vault

import (
	"encoding/binary"
	"io"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/haven-registry/haven/internal/registry"
)

// blobMagic starts every encrypted blob.
const (
	blobMagic = "HVB1"
	adBlob    = "haven/vault/blob/v1"
	adBlobKey = "haven/vault/blob-key/v1"
	blobHead  = len(blobMagic) + wrappedSize + nonceSize
)

// EncryptBlob encrypts a secret to keep at rest, such as the certificate
// signing key PEM, under a fresh data key wrapped by the current KEK
// (envelope encryption). name is bound as associated data: a blob only
// decrypts under the name it was made with. Layout:
// "HVB1" ‖ wrapped key (73 bytes) ‖ 24-byte nonce ‖ ciphertext ‖ tag.
func (v *Vault) EncryptBlob(name string, plaintext []byte) ([]byte, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var key [KeySize]byte
	defer clear(key[:])
	if _, err := io.ReadFull(v.rand, key[:]); err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	w, err := v.wrapLocked(key[:], adBlobKey)
	if err != nil {
		return nil, err
	}
	a, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: %v", err)
	}
	out := make([]byte, blobHead, blobHead+len(plaintext)+tagSize)
	copy(out, blobMagic)
	copy(out[len(blobMagic):], w)
	nonce := out[len(blobMagic)+wrappedSize:]
	if _, err := io.ReadFull(v.rand, nonce); err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	return a.Seal(out, nonce, plaintext, blobAD(name)), nil
}

func blobAD(name string) []byte {
	b := append([]byte(adBlob), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(adBlob):], uint32(len(name)))
	return append(b, name...)
}

// DecryptBlob opens a blob made by EncryptBlob under the same name. It fails
// with ESEALED when sealed, EMALFORMED naming the blob when it is not one,
// and EINTERNAL wrapping ErrAuth when it does not authenticate.
func (v *Vault) DecryptBlob(name string, blob []byte) ([]byte, error) {
	if len(blob) < blobHead+tagSize || string(blob[:len(blobMagic)]) != blobMagic {
		return nil, registry.FieldErrorf(registry.EMALFORMED, name, "not an encrypted blob")
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.sealed {
		return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	key, err := v.unwrapLocked(blob[len(blobMagic):len(blobMagic)+wrappedSize], adBlobKey)
	if err != nil {
		return nil, err
	}
	defer clear(key[:])
	a, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: %v", err)
	}
	pt, err := a.Open(nil, blob[len(blobMagic)+wrappedSize:blobHead], blob[blobHead:], blobAD(name))
	if err != nil {
		return nil, &registry.Error{Code: registry.EINTERNAL, Field: name, Message: "blob does not decrypt", Err: ErrAuth}
	}
	return pt, nil
}

// RewrapBlob rewraps the key inside a blob under the current KEK, leaving
// the ciphertext as it is. Use it with Rewrap during a rotation.
func (v *Vault) RewrapBlob(blob []byte) ([]byte, error) {
	if len(blob) < blobHead+tagSize || string(blob[:len(blobMagic)]) != blobMagic {
		return nil, registry.FieldErrorf(registry.EMALFORMED, "blob", "not an encrypted blob")
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.sealed {
		return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	key, err := v.unwrapLocked(blob[len(blobMagic):len(blobMagic)+wrappedSize], adBlobKey)
	if err != nil {
		return nil, err
	}
	defer clear(key[:])
	w, err := v.wrapLocked(key[:], adBlobKey)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), blob...)
	copy(out[len(blobMagic):], w)
	return out, nil
}

// BlobVersion returns the KEK version the key inside a blob is wrapped under.
func BlobVersion(blob []byte) (uint8, error) {
	if len(blob) < blobHead+tagSize || string(blob[:len(blobMagic)]) != blobMagic {
		return 0, registry.FieldErrorf(registry.EMALFORMED, "blob", "not an encrypted blob")
	}
	return blob[len(blobMagic)], nil
}
