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
//   - Wrapped data key (WrappedKeySize = 81 bytes): 0x00 ‖ epoch ID (8
//     random bytes) ‖ nonce(24) ‖ XChaCha20-Poly1305(data key) under that
//     epoch's key, with "haven/vault/epoch-wrap/v1" ‖ 0x00 ‖ epoch ID as
//     associated data. The first 9 bytes (EpochPrefixSize) name the epoch;
//     stores index them. Data keys from before epochs
//     (LegacyWrappedKeySize = 73 bytes: KEK version ‖ nonce ‖ ciphertext
//     under the KEK) still open; Rewrap moves them to an epoch.
//   - Epoch key: 32 random bytes, kept only in the ring, wrapped under the
//     current KEK with "haven/vault/epoch-key/v1/" ‖ hex(ID) ‖ version as
//     associated data. The ring also names the intake: the epoch new data
//     keys go to, until it holds EpochSize of them.
//   - KEK ring: a JSON file (format "haven-kek/1", mode 0600, refused if group
//     or others may read it) holding KEKs by version, the pseudonym root key
//     wrapped under the current KEK, and the epoch keys. Processes sharing a
//     ring serialise their changes with flock on RING.lock, and a rewrite
//     overwrites the old file's blocks once the new one is in place. An
//     entry of the KEK list is either a clear 32-byte
//     key (file mode: HAVEN_MASTER_KEY_FILE, or a file generated in the data
//     folder on first run) or argon2id parameters (salt, cost) plus a
//     verifier = HKDF-SHA-256(KEK, "haven/vault/kek-verifier/v1") (sealed
//     mode: the KEK is derived from a passphrase and never written down).
//   - Bare key file: HAVEN_MASTER_KEY_FILE may instead hold just a 32-byte
//     KEK, raw or in base64 or hex ("openssl rand -base64 32"). It is read
//     as version 1, its pseudonym root is derived from it with HKDF, and the
//     first epoch made (the first registration) rewrites the file as a ring,
//     so it must be writable. The same mode rule applies.
//   - Shred marker: RING.shredded, left by Shred and ShredRing, holding only
//     the time. While it is there Create refuses unless Options.AfterShred.
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
//	(*Vault).Refresh() error                              reload the ring if another process changed it
//	(*Vault).GenerateDataKey() (*DataKey, wrapped []byte, error)
//	(*Vault).NewDataKey() (wrapped, error)                  registry.Vault: wrapped key only
//	(*Vault).Encrypt(wrapped, aad, pt) / Decrypt(wrapped, aad, ct) registry.Vault: one-shot
//	(*Vault).Unwrap(wrapped) (*DataKey, error)
//	(*Vault).Rewrap(wrapped) ([]byte, error)               under a fresh epoch (for Rotate … Retire)
//	(*Vault).Epochs() / Intake() / HasEpoch(id) / EpochSize()
//	(*Vault).NewEpoch() / NewIntake(old) / DestroyEpoch(id) / RewrapTo(id)
//	WrappedEpoch(wrapped) (EpochID, bool)
//	NewRotator(v, EpochStore, RotatorOptions) *Rotator     Run(ctx), AfterErase(ctx), Pass(ctx), Kick()
//	AfterErase(ctx, v, EpochStore) error                   one-off, for commands
//	OpenPerson(registry.Vault, SealedPerson) (OpenedPerson, error) demographics, or DemographicsDestroyed
//	ShredRing(path) error / Shredded(path) (time, bool)    without opening the ring
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
// wrapping ErrAuth; a truncated one EMALFORMED naming the field; a data key
// whose epoch key or KEK was destroyed ENOTFOUND wrapping ErrKeyDestroyed.
//
// # Rotation
//
// Rotate (or RotatePassphrase) writes the ring with the new KEK first and the
// old ones after it, so a crash loses nothing; new persons go to a fresh
// intake epoch at once. The caller then rewrites every wrapped key with
// Rewrap (which moves it to fresh epochs) and blobs with RewrapBlob, in a
// transaction, and calls Retire, which drops the old KEKs and every epoch
// key from before Rotate, from memory and from the file.
//
// # Erasure
//
// Erasing a person deletes the row that holds their wrapped data key (and
// the card-code link). Copies of that row may survive: PostgreSQL keeps dead
// tuples in the heap and every insert in its WAL, replicas and backups keep
// theirs. Each copy holds the data key wrapped under an epoch key, which
// lives only in the ring. So the erasure also asks for the person's epoch to
// be retired, and the Rotator (AfterErase at once, or Run within its Poll)
// rewraps the epoch's other persons under a fresh epoch key, closes the
// epoch in the database and destroys its key: from then on no copy of the
// erased person's wrapped key, wherever it lingers, opens under anything
// Haven holds, the KEK holder included. Epochs hold at most EpochSize
// persons, so an erasure rewraps at most that many keys; epochs older than
// RotatorOptions.MaxAge are rotated the same way, which bounds how long any
// superseded copy stays openable. Other processes sharing the ring drop the
// destroyed key at their next Refresh. Copies of the ring file itself are
// outside this guarantee: do not back it up. See docs/adr/0004-epoch-keys.md.
// A person's audit pseudonym is an HMAC of their internal ID, which only
// their row held: after erasure nobody can recompute it from a card code, so
// their past audit entries can no longer be linked to them.
//
// # Sealing
//
// A sealed vault (passphrase mode after start, or after Seal) serves
// nothing. Shred is the emergency seal: it also destroys the ring file (it
// needs no key, so a sealed vault can be shredded, and ShredRing does it
// with no vault at all), so the data at rest can never be read again unless
// the operator keeps an offline copy of the ring (for example with a partner
// organisation). That is the trade-off: a shredded ring without a copy is a
// total, permanent loss of every identifying field. A new ring is then made
// only on purpose (Options.AfterShred); under it the old persons read with
// empty demographics (OpenPerson), their records intact. Zeroing memory in
// Go is best effort.
package vault
