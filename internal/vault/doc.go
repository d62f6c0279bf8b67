// Package vault encrypts each person's identifying fields under a data key
// of their own, wraps those data keys under a key-encryption key (KEK), and
// erases a person by destroying their wrapped data key (crypto-shredding).
// It knows nothing about storage or HTTP: the stores keep the bytes it
// returns.
//
// # Keys and formats
//
//   - Data key: 32 random bytes per person. Fields are sealed with
//     XChaCha20-Poly1305 (random 192-bit nonces, so no nonce bookkeeping),
//     associated data "haven/vault/field/v1" ‖ len ‖ personID ‖ len ‖ field,
//     so a ciphertext cannot be swapped between people or columns.
//     Ciphertext: 0x01 ‖ nonce(24) ‖ ct ‖ tag(16) (FieldOverhead = 41 bytes).
//   - Wrapped data key (WrappedKeySize = 73 bytes): KEK version (1 byte) ‖
//     nonce(24) ‖ XChaCha20-Poly1305(data key), the version byte also bound
//     as associated data.
//   - KEK ring: a JSON file (format "haven-kek/1", mode 0600, refused if group
//     or others may read it) holding KEKs by version, and the pseudonym root
//     key wrapped under the current KEK. An entry is either a clear 32-byte
//     key (file mode: HAVEN_MASTER_KEY_FILE, or a file generated in the data
//     folder on first run) or argon2id parameters (salt, cost) plus a
//     verifier = HKDF-SHA-256(KEK, "haven/vault/kek-verifier/v1") (sealed
//     mode: the KEK is derived from a passphrase and never written down).
//   - Bare key file: HAVEN_MASTER_KEY_FILE may instead hold just a 32-byte
//     KEK, raw or in base64 or hex ("openssl rand -base64 32"). It is read
//     as version 1, its pseudonym root is derived from it with HKDF, and the
//     first Rotate rewrites the file as a ring. The same mode rule applies.
//   - Audit pseudonym: "ps1_" ‖ hex(HMAC-SHA-256(k, personID)[:16]) where
//     k = HKDF-SHA-256(root, "haven/vault/audit-pseudonym/v1") and root is a
//     random key kept wrapped in the ring. It is stable across KEK rotation.
//   - Blob (for example the certificate signing key PEM): "HVB1" ‖ wrapped
//     key ‖ nonce ‖ ct ‖ tag, with the blob's name as associated data.
//
// # API
//
//	Create(path, Options) (*Vault, error)                 new file-mode ring, 0600; ECONFLICT if it exists
//	CreateWithPassphrase(path, pass, Options) (*Vault, error) new passphrase ring (returned unsealed)
//	Open(path, Options) (*Vault, error)                   sealed if the current KEK needs a passphrase
//	OpenOrCreate(path, Options) (*Vault, created bool, error)
//	NewEphemeral(Options) (*Vault, error)                 memory only, for tests
//	ReadPassphraseFile(path) ([]byte, error)              for HAVEN_PASSPHRASE_FILE
//	(*Vault).Sealed() bool / KeyVersion() uint8
//	(*Vault).Unlock(passphrase) error                     re-reads the ring; nil passphrase for file mode
//	(*Vault).Seal()                                       zero KEKs; outstanding DataKeys stop working
//	(*Vault).Shred() error                                Seal, overwrite and remove the ring file
//	(*Vault).GenerateDataKey() (*DataKey, wrapped []byte, error)
//	(*Vault).NewDataKey() (wrapped, error)                  registry.Vault: wrapped key only
//	(*Vault).Encrypt(wrapped, aad, pt) / Decrypt(wrapped, aad, ct) registry.Vault: one-shot
//	(*Vault).Unwrap(wrapped) (*DataKey, error)
//	(*Vault).Rewrap(wrapped) ([]byte, error)               under the current KEK
//	(*Vault).Rotate() (uint8, error) / RotatePassphrase(pass) (uint8, error)
//	(*Vault).Retire() error                               drop non-current KEKs after rewrapping
//	(*Vault).Pseudonym(personID) (string, error)          for audit subjects
//	(*Vault).DeriveKey(purpose) ([]byte, error)            e.g. "stats-noise" for stats.Options.NoiseKey
//	(*Vault).EncryptBlob(name, pt) / DecryptBlob(name, blob) / RewrapBlob(blob)
//	WrappedVersion(wrapped) (uint8, error) / BlobVersion(blob) (uint8, error)
//	(*DataKey).Encrypt(personID, field, pt) ([]byte, error)
//	(*DataKey).Decrypt(personID, field, ct) ([]byte, error)
//	(*DataKey).Destroy()
//
// Every operation that needs a key fails with registry.ESEALED while the
// vault is sealed. A ciphertext that does not authenticate yields EINTERNAL
// wrapping ErrAuth; a truncated one EMALFORMED naming the field.
//
// # Rotation
//
// Rotate (or RotatePassphrase) writes the ring with the new KEK first and the
// old ones after it, so a crash loses nothing; new keys are wrapped under the
// new KEK at once. The caller then rewrites every wrapped key with Rewrap
// (and blobs with RewrapBlob) in a transaction, and calls Retire, which drops
// the old KEKs from memory and from the file.
//
// # Erasure
//
// Erasing a person means deleting the row that holds their wrapped data key
// (and the card-code link). Their field ciphertexts, wherever copies of them
// survive, can then not be decrypted by anyone, the KEK holder included:
// the data key existed only wrapped in that row. Copies of the wrapped key
// in backups taken before the erasure still open those fields as long as
// the KEK that wrapped them exists; rotating the KEK and retiring the old
// one after an erasure (or keeping wrapped keys out of backups) closes that
// gap. A person's audit pseudonym is an HMAC of their internal ID, which
// only their row held: after erasure nobody can recompute it from a card
// code, so their past audit entries can no longer be linked to them.
//
// # Sealing
//
// A sealed vault (passphrase mode after start, or after Seal) serves
// nothing. Shred is the emergency seal: it also destroys the ring file, so
// the data at rest can never be read again unless the operator keeps an
// offline copy of the ring (for example with a partner organisation). That
// is the trade-off: a shredded ring without a copy is a total, permanent
// loss of every identifying field. Zeroing memory in Go is best effort.
package vault
