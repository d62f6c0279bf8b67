package vault

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/haven-registry/haven/internal/registry"
)

// KeySize is the size in bytes of every key the vault handles: KEKs, data
// keys and the pseudonym root key.
const KeySize = 32

const (
	nonceSize   = chacha20poly1305.NonceSizeX // 24
	tagSize     = chacha20poly1305.Overhead   // 16
	wrappedSize = 1 + nonceSize + KeySize + tagSize

	adWrap       = "haven/vault/wrap/v1"
	infoVerify   = "haven/vault/kek-verifier/v1"
	infoPseudo   = "haven/vault/audit-pseudonym/v1"
	infoDerive   = "haven/vault/derive-root/v1"
	adPseudoKey  = "haven/vault/pseudonym-key/v1"
	infoBareRoot = "haven/vault/bare-key-pseudonym-root/v1"

	// PseudonymPrefix starts every audit pseudonym; the rest is 32 lower-case
	// hex digits (128 bits of HMAC-SHA-256).
	PseudonymPrefix = "ps1_"
)

// ErrAuth is wrapped by every error caused by a ciphertext that does not
// authenticate: the wrong key, the wrong person or field, or tampering.
var ErrAuth = errors.New("vault: message authentication failed")

// Options configure a Vault. The zero value is ready to use.
type Options struct {
	// Rand is the source of randomness for keys and nonces. Nil means
	// crypto/rand.Reader; tests may not replace it with anything weaker in
	// production.
	Rand io.Reader
	// KDF sets the argon2id cost of new passphrase entries; the salt is always
	// fresh. Zero means DefaultKDF.
	KDF KDFParams
}

// Vault holds the key-encryption keys (KEKs) and wraps, unwraps and rewraps
// per-person data keys. It is safe for concurrent use.
//
// A Vault is either unsealed (its current KEK is in memory) or sealed; a
// sealed Vault fails every operation that needs a key with ESEALED.
type Vault struct {
	mu     sync.RWMutex
	path   string // key-ring file; "" for an ephemeral vault
	rand   io.Reader
	kdf    KDFParams
	ring   *ringFile                // public structure of the ring; clear keys are zeroed out of it
	keks   map[uint8]*[KeySize]byte // loaded KEKs by version
	pseudo *[KeySize]byte           // HMAC key for pseudonyms; nil when sealed
	derive *[KeySize]byte           // root of DeriveKey; nil when sealed
	sealed bool
	epoch  atomic.Uint64 // bumped by Seal: data keys from an older epoch refuse to work
}

func newVault(path string, opts Options) *Vault {
	v := &Vault{path: path, rand: opts.Rand, kdf: opts.KDF, keks: map[uint8]*[KeySize]byte{}, sealed: true}
	if v.rand == nil {
		v.rand = rand.Reader
	}
	if v.kdf.Time == 0 {
		v.kdf = DefaultKDF
	}
	v.kdf.Salt = nil
	return v
}

// NewEphemeral returns an unsealed vault with a random KEK that lives only in
// memory, for tests and throw-away instances. Once sealed it can never be
// unlocked again: everything it wrapped is lost.
func NewEphemeral(opts Options) (*Vault, error) {
	v := newVault("", opts)
	if err := v.initRing(nil); err != nil {
		return nil, err
	}
	return v, nil
}

// Create makes a new key ring at path holding one random KEK (version 1), in
// clear, with mode 0600, and returns the unsealed vault. It fails with
// ECONFLICT if path exists. This is the first-run path when
// HAVEN_MASTER_KEY_FILE is not set: path is then a file in the data folder.
func Create(path string, opts Options) (*Vault, error) {
	v := newVault(path, opts)
	if err := v.initRing(nil); err != nil {
		return nil, err
	}
	if err := v.save(true); err != nil {
		v.Seal()
		return nil, err
	}
	return v, nil
}

// CreateWithPassphrase makes a new key ring at path whose KEK (version 1) is
// derived with argon2id from passphrase and a fresh salt. The file holds the
// salt, the cost and a verifier, never the KEK. It returns the vault
// unsealed; a later Open of the same path starts sealed.
func CreateWithPassphrase(path string, passphrase []byte, opts Options) (*Vault, error) {
	if len(passphrase) == 0 {
		return nil, registry.FieldErrorf(registry.EINVALID, "passphrase", "passphrase is empty")
	}
	v := newVault(path, opts)
	if err := v.initRing(passphrase); err != nil {
		return nil, err
	}
	if path != "" {
		if err := v.save(true); err != nil {
			v.Seal()
			return nil, err
		}
	}
	return v, nil
}

// Open reads the key ring at path. Clear KEKs are loaded at once; if the
// current KEK is passphrase-derived the vault starts sealed and serves
// nothing until Unlock. The file must not be readable by group or others
// (EINVALID naming the path otherwise). A missing file is ENOTFOUND.
func Open(path string, opts Options) (*Vault, error) {
	v := newVault(path, opts)
	if err := v.load(nil); err != nil && registry.ErrorCode(err) != registry.ESEALED {
		return nil, err
	}
	return v, nil
}

// OpenOrCreate opens the key ring at path, or creates a file-mode ring there
// if none exists. created reports which happened.
func OpenOrCreate(path string, opts Options) (v *Vault, created bool, err error) {
	v, err = Open(path, opts)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		v, err = Create(path, opts)
		return v, err == nil, err
	}
	return v, false, err
}

// initRing fills a new ring with KEK version 1 (random, or derived from
// passphrase) and a fresh pseudonym root key.
func (v *Vault) initRing(passphrase []byte) error {
	e, kek, err := v.newEntry(1, passphrase)
	if err != nil {
		return err
	}
	e.Key = nil // clear keys live only in v.keks; save fills them in
	v.ring = &ringFile{Format: ringFormat, Current: 1, KEKs: []ringEntry{e}}
	v.keks[1] = kek
	v.sealed = false
	var root [KeySize]byte
	defer clear(root[:])
	if _, err := io.ReadFull(v.rand, root[:]); err != nil {
		return registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	if v.ring.PseudonymKey, err = v.wrapLocked(root[:], adPseudoKey); err != nil {
		return err
	}
	v.setPseudo(root[:])
	return nil
}

// newEntry makes a ring entry of the given version and its KEK.
func (v *Vault) newEntry(version uint8, passphrase []byte) (ringEntry, *[KeySize]byte, error) {
	kek := new([KeySize]byte)
	if passphrase == nil {
		if _, err := io.ReadFull(v.rand, kek[:]); err != nil {
			return ringEntry{}, nil, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
		}
		return ringEntry{Version: version, Key: kek[:]}, kek, nil
	}
	p := v.kdf
	p.Salt = make([]byte, 16)
	if _, err := io.ReadFull(v.rand, p.Salt); err != nil {
		return ringEntry{}, nil, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	if err := p.validate("kdf"); err != nil {
		return ringEntry{}, nil, err
	}
	derive(kek, passphrase, p)
	return ringEntry{Version: version, Argon2id: &p, Verifier: verifier(kek)}, kek, nil
}

func derive(kek *[KeySize]byte, passphrase []byte, p KDFParams) {
	k := argon2.IDKey(passphrase, p.Salt, p.Time, p.MemoryKiB, p.Threads, KeySize)
	copy(kek[:], k)
	clear(k)
}

func verifier(kek *[KeySize]byte) []byte {
	out, err := hkdf.Key(sha256.New, kek[:], nil, infoVerify, KeySize)
	if err != nil { // only for absurd lengths
		panic("vault: hkdf: " + err.Error())
	}
	return out
}

// load (re)reads the ring file and loads every clear KEK and every
// passphrase-derived KEK that passphrase opens. Called with v.mu held for
// writing (or before v is shared).
func (v *Vault) load(passphrase []byte) error {
	data, err := readPrivate(v.path, maxRingFile)
	if err != nil {
		return err
	}
	defer clear(data)
	if raw, ok := bareKey(data); ok {
		return v.loadBare(raw)
	}
	r, err := parseRing(data)
	if err != nil {
		return registry.FieldErrorf(registry.ErrorCode(err), v.path+": "+registry.ErrorField(err), "%s", registry.ErrorMessage(err))
	}
	tried, opened := 0, 0
	for i := range r.KEKs {
		e := &r.KEKs[i]
		if _, ok := v.keks[e.Version]; ok {
			clear(e.Key)
			e.Key = nil
			continue
		}
		kek := new([KeySize]byte)
		switch {
		case e.Key != nil:
			copy(kek[:], e.Key)
			clear(e.Key)
			e.Key = nil
		case passphrase != nil:
			tried++
			derive(kek, passphrase, *e.Argon2id)
			if subtle.ConstantTimeCompare(verifier(kek), e.Verifier) != 1 {
				clear(kek[:])
				continue
			}
			opened++
		default:
			continue
		}
		v.keks[e.Version] = kek
	}
	v.ring = r
	if tried > 0 && opened == 0 && v.keks[r.Current] == nil {
		return registry.FieldErrorf(registry.EUNAUTHORIZED, "passphrase", "the passphrase opens no key of the ring")
	}
	if v.keks[r.Current] == nil {
		return registry.Errorf(registry.ESEALED, "vault is sealed: the current key (version %d) needs its passphrase", r.Current)
	}
	root, err := v.unwrapLocked(r.PseudonymKey, adPseudoKey)
	if err != nil {
		return registry.FieldErrorf(registry.ErrorCode(err), v.path+": pseudonym_key", "%s", registry.ErrorMessage(err))
	}
	v.setPseudo(root[:])
	clear(root[:])
	v.sealed = false
	return nil
}

// bareKey recognises a key file that holds just a 32-byte KEK: raw, or in
// standard base64 or hex with surrounding white space (as written by
// "openssl rand -base64 32" or "openssl rand -hex 32").
func bareKey(data []byte) (*[KeySize]byte, bool) {
	k := new([KeySize]byte)
	if len(data) == KeySize {
		copy(k[:], data)
		return k, true
	}
	t := bytes.TrimSpace(data)
	var dec []byte
	switch {
	case len(t) == base64.StdEncoding.EncodedLen(KeySize):
		dec, _ = base64.StdEncoding.DecodeString(string(t))
	case len(t) == 2*KeySize:
		dec, _ = hex.DecodeString(string(t))
	}
	if len(dec) != KeySize {
		return nil, false
	}
	copy(k[:], dec)
	clear(dec)
	return k, true
}

// loadBare loads a bare key file as KEK version 1. The pseudonym root key
// is derived from it, so pseudonyms are stable for as long as the key is;
// the first Rotate rewrites the file as a full ring.
func (v *Vault) loadBare(kek *[KeySize]byte) error {
	if old, ok := v.keks[1]; ok {
		clear(old[:])
	}
	v.keks[1] = kek
	v.ring = &ringFile{Format: ringFormat, Current: 1, KEKs: []ringEntry{{Version: 1}}}
	v.sealed = false
	root, err := hkdf.Key(sha256.New, kek[:], nil, infoBareRoot, KeySize)
	if err != nil {
		return registry.Errorf(registry.EINTERNAL, "vault: hkdf: %v", err)
	}
	defer clear(root)
	if v.ring.PseudonymKey, err = v.wrapLocked(root, adPseudoKey); err != nil {
		return err
	}
	v.setPseudo(root)
	return nil
}

// save writes the ring (with clear KEKs filled in from memory) to v.path.
func (v *Vault) save(exclusive bool) error {
	if v.path == "" {
		return nil
	}
	out := *v.ring
	out.KEKs = make([]ringEntry, len(v.ring.KEKs))
	for i, e := range v.ring.KEKs {
		if e.Argon2id == nil {
			k, ok := v.keks[e.Version]
			if !ok {
				return registry.Errorf(registry.ESEALED, "vault: key version %d is not loaded; cannot rewrite the ring", e.Version)
			}
			e.Key = k[:]
		}
		out.KEKs[i] = e
	}
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return registry.Errorf(registry.EINTERNAL, "vault: encode ring: %v", err)
	}
	data = append(data, '\n')
	defer clear(data)
	return writePrivate(v.path, data, exclusive)
}

// setPseudo derives the pseudonym key and the DeriveKey root from the
// ring's pseudonym root key.
func (v *Vault) setPseudo(root []byte) {
	for _, d := range []struct {
		dst  **[KeySize]byte
		info string
	}{{&v.pseudo, infoPseudo}, {&v.derive, infoDerive}} {
		k, err := hkdf.Key(sha256.New, root, nil, d.info, KeySize)
		if err != nil {
			panic("vault: hkdf: " + err.Error())
		}
		*d.dst = new([KeySize]byte)
		copy((*d.dst)[:], k)
		clear(k)
	}
}

// Sealed reports whether the vault is sealed.
func (v *Vault) Sealed() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.sealed
}

// KeyVersion returns the version of the current KEK, the one new data keys
// are wrapped under.
func (v *Vault) KeyVersion() uint8 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.ring.Current
}

// Unlock re-reads the key ring and loads every KEK it can: clear keys at
// once, passphrase entries whose verifier matches passphrase (which may be
// nil for a file-mode ring). It fails with EUNAUTHORIZED if passphrase opens
// no entry, and with ESEALED if the current KEK is still not loaded (for
// example when only an older entry's passphrase was given). Unlock may be
// called again with another passphrase to load older versions during a
// passphrase rotation. An ephemeral vault cannot be unlocked once sealed.
func (v *Vault) Unlock(passphrase []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.path == "" {
		if v.sealed {
			return registry.Errorf(registry.ESEALED, "an ephemeral vault cannot be unlocked after Seal")
		}
		return nil
	}
	if passphrase != nil && len(passphrase) == 0 {
		return registry.FieldErrorf(registry.EINVALID, "passphrase", "passphrase is empty")
	}
	return v.load(passphrase)
}

// Seal drops every KEK and the pseudonym key from memory, overwriting them
// with zeros, and invalidates every DataKey handed out so far. The key-ring
// file is left alone; Unlock loads it again. Go may have copied key bytes
// (into cipher states or during garbage collection), so zeroing is best
// effort: it shortens, but cannot guarantee to end, the life of a key in RAM.
func (v *Vault) Seal() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sealLocked()
}

func (v *Vault) sealLocked() {
	for ver, k := range v.keks {
		clear(k[:])
		delete(v.keks, ver)
	}
	if v.pseudo != nil {
		clear(v.pseudo[:])
		v.pseudo = nil
	}
	if v.derive != nil {
		clear(v.derive[:])
		v.derive = nil
	}
	v.sealed = true
	v.epoch.Add(1)
}

// Shred seals the vault, then overwrites the key-ring file with random bytes
// and zeros and removes it. Afterwards nothing the vault wrapped can ever be
// decrypted, by anyone, unless a copy of the ring exists elsewhere: this is
// the emergency seal for a clinic that expects to be raided. On flash storage
// and copy-on-write or journaling file systems old blocks may survive the
// overwrite; keep the ring on a tmpfs or an encrypted volume if that matters.
func (v *Vault) Shred() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sealLocked()
	if v.path == "" {
		return nil
	}
	return shredFile(v.path)
}

// wrapLocked seals key under the current KEK: version ‖ nonce ‖ AEAD(key)
// with associated data ad ‖ version.
func (v *Vault) wrapLocked(key []byte, ad string) ([]byte, error) {
	if v.sealed {
		return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	kek := v.keks[v.ring.Current]
	aead, err := chacha20poly1305.NewX(kek[:])
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: %v", err)
	}
	out := make([]byte, 1+nonceSize, wrappedSize)
	out[0] = v.ring.Current
	if _, err := io.ReadFull(v.rand, out[1:]); err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	return aead.Seal(out, out[1:], key, wrapAD(ad, out[0])), nil
}

// unwrapLocked opens a wrapped key with the KEK its version byte names.
func (v *Vault) unwrapLocked(wrapped []byte, ad string) (*[KeySize]byte, error) {
	if len(wrapped) != wrappedSize {
		return nil, registry.FieldErrorf(registry.EMALFORMED, "wrapped_key", "wrapped key is %d bytes, want %d", len(wrapped), wrappedSize)
	}
	kek, ok := v.keks[wrapped[0]]
	if !ok {
		if v.sealed {
			return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
		}
		return nil, registry.FieldErrorf(registry.EINTERNAL, "wrapped_key", "key is wrapped under KEK version %d, which is not loaded (retired, or its passphrase was not given)", wrapped[0])
	}
	aead, err := chacha20poly1305.NewX(kek[:])
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: %v", err)
	}
	key := new([KeySize]byte)
	if _, err := aead.Open(key[:0], wrapped[1:1+nonceSize], wrapped[1+nonceSize:], wrapAD(ad, wrapped[0])); err != nil {
		return nil, &registry.Error{Code: registry.EINTERNAL, Field: "wrapped_key", Message: "wrapped key does not authenticate", Err: ErrAuth}
	}
	return key, nil
}

func wrapAD(ad string, version byte) []byte {
	b := make([]byte, 0, len(ad)+1)
	return append(append(b, ad...), version)
}

// GenerateDataKey makes a fresh random data key for one person and returns it
// with its wrapped form (WrappedKeySize bytes: KEK version, nonce,
// XChaCha20-Poly1305 ciphertext). Store the wrapped form beside the person;
// destroying it is erasure. Fails with ESEALED when sealed.
func (v *Vault) GenerateDataKey() (*DataKey, []byte, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	dk := &DataKey{v: v, epoch: v.epoch.Load()}
	if _, err := io.ReadFull(v.rand, dk.key[:]); err != nil {
		return nil, nil, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	w, err := v.wrapLocked(dk.key[:], adWrap)
	if err != nil {
		dk.Destroy()
		return nil, nil, err
	}
	return dk, w, nil
}

// WrappedKeySize is the length of a wrapped data key.
const WrappedKeySize = wrappedSize

// Unwrap opens a wrapped data key. It fails with ESEALED when sealed,
// EMALFORMED when wrapped has the wrong length, and EINTERNAL wrapping
// ErrAuth when it does not authenticate.
func (v *Vault) Unwrap(wrapped []byte) (*DataKey, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.sealed {
		return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	k, err := v.unwrapLocked(wrapped, adWrap)
	if err != nil {
		return nil, err
	}
	dk := &DataKey{v: v, epoch: v.epoch.Load(), key: *k}
	clear(k[:])
	return dk, nil
}

// WrappedVersion returns the KEK version a wrapped data key (or the key
// inside an encrypted blob) is wrapped under, so a rotation can find the
// rows it has not yet rewrapped. It needs no key.
func WrappedVersion(wrapped []byte) (uint8, error) {
	if len(wrapped) != wrappedSize {
		return 0, registry.FieldErrorf(registry.EMALFORMED, "wrapped_key", "wrapped key is %d bytes, want %d", len(wrapped), wrappedSize)
	}
	return wrapped[0], nil
}

// Rewrap opens a wrapped data key under whichever loaded KEK it names and
// wraps it again under the current KEK. The data key itself, and so every
// field encrypted under it, is unchanged. Run it over every wrapped key
// (in a transaction) after Rotate, then call Retire.
func (v *Vault) Rewrap(wrapped []byte) ([]byte, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.sealed {
		return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	k, err := v.unwrapLocked(wrapped, adWrap)
	if err != nil {
		return nil, err
	}
	defer clear(k[:])
	return v.wrapLocked(k[:], adWrap)
}

// Rotate adds a new random KEK (file mode) as the current version and
// rewraps the pseudonym root key under it. The ring file is rewritten
// holding both the old and the new KEKs, so a crash in the middle of a
// rotation loses nothing. New data keys are wrapped under the new KEK at
// once. Then Rewrap every stored wrapped key and call Retire. It fails with
// ECONFLICT if the next version number (after 255 comes 1) is still in the
// ring, that is if an earlier rotation was never retired.
func (v *Vault) Rotate() (uint8, error) {
	return v.rotate(nil)
}

// RotatePassphrase is Rotate with a new KEK derived from passphrase (which
// may equal the old one: the salt is fresh, so the KEK is new). It moves a
// file-mode ring to passphrase mode, too. Until Retire, a restarted server
// needs Unlock with the new passphrase and, for rows not yet rewrapped, the
// old one.
func (v *Vault) RotatePassphrase(passphrase []byte) (uint8, error) {
	if len(passphrase) == 0 {
		return 0, registry.FieldErrorf(registry.EINVALID, "passphrase", "passphrase is empty")
	}
	return v.rotate(passphrase)
}

func (v *Vault) rotate(passphrase []byte) (uint8, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.sealed {
		return 0, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	next := v.ring.Current%255 + 1
	for _, e := range v.ring.KEKs {
		if e.Version == next {
			return 0, registry.Errorf(registry.ECONFLICT, "key version %d is still in the ring; finish the previous rotation with Retire first", next)
		}
	}
	root, err := v.unwrapLocked(v.ring.PseudonymKey, adPseudoKey)
	if err != nil {
		return 0, err
	}
	defer clear(root[:])
	e, kek, err := v.newEntry(next, passphrase)
	if err != nil {
		return 0, err
	}
	e.Key = nil
	old := *v.ring
	v.ring = &ringFile{Format: old.Format, Current: next, KEKs: append([]ringEntry{e}, old.KEKs...)}
	v.keks[next] = kek
	if v.ring.PseudonymKey, err = v.wrapLocked(root[:], adPseudoKey); err == nil {
		err = v.save(false)
	}
	if err != nil {
		v.ring = &old
		clear(kek[:])
		delete(v.keks, next)
		return 0, err
	}
	return next, nil
}

// Retire removes every KEK but the current one from memory (zeroed) and from
// the ring file. Call it only after every wrapped key and blob has been
// rewrapped: anything still wrapped under a retired version is lost, which
// is also how a rotation makes old backups of wrapped keys useless.
func (v *Vault) Retire() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.sealed {
		return registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	old := *v.ring
	keep := []ringEntry{}
	for _, e := range old.KEKs {
		if e.Version == old.Current {
			keep = append(keep, e)
		}
	}
	v.ring = &ringFile{Format: old.Format, Current: old.Current, KEKs: keep, PseudonymKey: old.PseudonymKey}
	if err := v.save(false); err != nil {
		v.ring = &old
		return err
	}
	for ver, k := range v.keks {
		if ver != old.Current {
			clear(k[:])
			delete(v.keks, ver)
		}
	}
	return nil
}

// Pseudonym returns the stable audit pseudonym of an internal person ID:
// "ps1_" followed by 32 hex digits of HMAC-SHA-256 under a key derived with
// HKDF from the ring's pseudonym root key. The root key is random, kept
// wrapped under the KEK in the ring file, and survives KEK rotation, so a
// person's pseudonym never changes. Without the key (and without the
// internal ID, which only the person row holds) a pseudonym cannot be
// linked to anyone; once a person is erased, their row and the card-code
// link are gone, so their old audit entries can no longer be linked back to
// them. Fails with ESEALED when sealed.
func (v *Vault) Pseudonym(personID string) (string, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.sealed || v.pseudo == nil {
		return "", registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	if personID == "" {
		return "", registry.FieldErrorf(registry.EINVALID, "person_id", "person ID is empty")
	}
	m := hmac.New(sha256.New, v.pseudo[:])
	m.Write([]byte(personID))
	sum := m.Sum(nil)
	return PseudonymPrefix + hex.EncodeToString(sum[:16]), nil
}

// DeriveKey returns a 32-byte key for one named purpose (for example
// "stats-noise"), derived with HKDF-SHA-256 from the ring's pseudonym root
// key. Like pseudonyms it is stable across KEK rotation, differs between
// purposes and between rings, and is gone once the ring is shredded. Fails
// with ESEALED when sealed and EINVALID for an empty purpose.
func (v *Vault) DeriveKey(purpose string) ([]byte, error) {
	if purpose == "" {
		return nil, registry.FieldErrorf(registry.EINVALID, "purpose", "purpose is empty")
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.sealed || v.derive == nil {
		return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	k, err := hkdf.Key(sha256.New, v.derive[:], nil, "haven/vault/derived/v1/"+purpose, KeySize)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: hkdf: %v", err)
	}
	return k, nil
}
