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
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

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
	// EpochSize is how many data keys go to one epoch before new persons
	// go to a fresh one. Zero means DefaultEpochSize.
	EpochSize int
	// Now is the clock that dates new epochs (for scheduled rotation). Nil
	// means time.Now.
	Now func() time.Time
	// AfterShred lets Create and CreateWithPassphrase make a new ring where
	// one was shredded (see Shred). Without it they refuse: a new master
	// key is never written in place of a shredded one by accident.
	AfterShred bool
}

// Vault holds the key-encryption keys (KEKs) and wraps, unwraps and rewraps
// per-person data keys. It is safe for concurrent use.
//
// A Vault is either unsealed (its current KEK is in memory) or sealed; a
// sealed Vault fails every operation that needs a key with ESEALED.
type Vault struct {
	mu         sync.RWMutex
	path       string // key-ring file; "" for an ephemeral vault
	rand       io.Reader
	kdf        KDFParams
	now        func() time.Time
	epochSize  int
	afterShred bool                     // Options.AfterShred
	ring       *ringFile                // public structure of the ring; clear keys are zeroed out of it
	keks       map[uint8]*[KeySize]byte // loaded KEKs by version
	pseudo     *[KeySize]byte           // HMAC key for pseudonyms; nil when sealed
	derive     *[KeySize]byte           // root of DeriveKey; nil when sealed
	sealed     bool
	sealGen    atomic.Uint64 // bumped by Seal: data keys handed out before refuse to work

	epochs     map[EpochID]*epochKey // loaded epoch keys
	unopened   map[EpochID]bool      // epochs in the ring whose KEK is not loaded
	intake     EpochID               // the epoch new data keys are wrapped under
	intakeUsed atomic.Int64          // data keys this process wrapped under intake
	stamp      fileStamp             // the ring file as last read or written

	renewMu   sync.Mutex       // guards the three below (Rotate, Rewrap, Retire)
	renewFrom map[EpochID]bool // epochs that Retire destroys
	renewTo   EpochID          // the epoch Rewrap wraps under
	renewUsed int
}

// fileStamp identifies one version of the ring file (see stampOf).
type fileStamp struct {
	dev, ino    uint64
	size, mtime int64
}

func newVault(path string, opts Options) *Vault {
	v := &Vault{path: path, rand: opts.Rand, kdf: opts.KDF, now: opts.Now, epochSize: opts.EpochSize, afterShred: opts.AfterShred,
		keks: map[uint8]*[KeySize]byte{}, epochs: map[EpochID]*epochKey{}, unopened: map[EpochID]bool{}, sealed: true}
	if v.rand == nil {
		v.rand = rand.Reader
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.epochSize <= 0 {
		v.epochSize = DefaultEpochSize
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
//
// Where a ring was shredded (see Shred) it refuses with ECONFLICT wrapping
// ErrShredded unless opts.AfterShred is set: the new ring then opens none of
// the old wrapped keys, which read as destroyed (ErrKeyDestroyed).
func Create(path string, opts Options) (*Vault, error) {
	if err := checkShredded(path, opts); err != nil {
		return nil, err
	}
	v := newVault(path, opts)
	if err := v.initRing(nil); err != nil {
		return nil, err
	}
	if err := v.saveNew(); err != nil {
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
	if err := checkShredded(path, opts); err != nil {
		return nil, err
	}
	v := newVault(path, opts)
	if err := v.initRing(passphrase); err != nil {
		return nil, err
	}
	if path != "" {
		if err := v.saveNew(); err != nil {
			v.Seal()
			return nil, err
		}
	}
	return v, nil
}

// saveNew writes a new ring file (failing if one exists) and, for a ring
// made after a shred, removes the shred marker.
func (v *Vault) saveNew() error {
	if v.path == "" {
		return nil
	}
	unlock, err := lockRing(v.path, true)
	if err != nil {
		return &registry.Error{Code: registry.EUNAVAILABLE, Field: v.path, Message: "cannot lock the key ring", Err: err}
	}
	defer unlock()
	if err := v.save(true); err != nil {
		return err
	}
	if v.afterShred {
		os.Remove(v.path + shredMarkerSuffix)
	}
	return nil
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
	v.ring = &ringFile{Format: ringFormat, Current: 1, KEKs: []ringEntry{e}, AfterShred: v.afterShred}
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
	_, err = v.newEpochLocked(true)
	return err
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
// passphrase-derived KEK that passphrase opens, then the epoch keys. The
// file is authoritative for epochs: one that another process destroyed is
// dropped (and zeroed) here. Called with v.mu held for writing (or before v
// is shared); lock says whether to take the ring's shared lock (not when the
// caller holds the exclusive one).
func (v *Vault) load(passphrase []byte) error { return v.loadRing(passphrase, true) }

func (v *Vault) loadRing(passphrase []byte, lock bool) error {
	data, stamp, err := v.readRing(lock)
	if err != nil {
		return err
	}
	defer clear(data)
	if raw, ok := bareKey(data); ok {
		if err := v.loadBare(raw); err != nil {
			return err
		}
		v.stamp = stamp
		return nil
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
		v.sealed = true
		return registry.FieldErrorf(registry.EUNAUTHORIZED, "passphrase", "the passphrase opens no key of the ring")
	}
	if v.keks[r.Current] == nil {
		v.sealed = true
		return registry.Errorf(registry.ESEALED, "vault is sealed: the current key (version %d) needs its passphrase", r.Current)
	}
	root, err := v.unwrapLocked(r.PseudonymKey, adPseudoKey)
	if err != nil {
		return registry.FieldErrorf(registry.ErrorCode(err), v.path+": pseudonym_key", "%s", registry.ErrorMessage(err))
	}
	if err := v.loadEpochs(r); err != nil {
		clear(root[:])
		return err
	}
	v.setPseudo(root[:])
	clear(root[:])
	v.sealed = false
	v.stamp = stamp
	return nil
}

// loadEpochs replaces the loaded epoch keys with those of r, keeping the
// ones already in memory (no need to unwrap them again) and zeroing those
// that r no longer holds.
func (v *Vault) loadEpochs(r *ringFile) error {
	keep := make(map[EpochID]*epochKey, len(r.Epochs))
	unopened := map[EpochID]bool{}
	var fresh []*epochKey
	for i, re := range r.Epochs {
		id, _ := ParseEpochID(re.ID) // checked by parseRing
		if ek := v.epochs[id]; ek != nil {
			keep[id] = ek
			continue
		}
		if _, ok := v.keks[re.Key[0]]; !ok {
			unopened[id] = true
			continue
		}
		k, err := v.unwrapLocked(re.Key, adEpochKey+re.ID)
		if err != nil {
			for _, ek := range fresh {
				clear(ek.key[:])
			}
			return registry.FieldErrorf(registry.ErrorCode(err), fmt.Sprintf("%s: epochs[%d]", v.path, i), "%s", registry.ErrorMessage(err))
		}
		ek := &epochKey{key: *k, created: time.Unix(re.Created, 0).UTC()}
		clear(k[:])
		keep[id] = ek
		fresh = append(fresh, ek)
	}
	for id := range v.epochs {
		if keep[id] == nil {
			v.dropEpochLocked(id)
		}
	}
	v.epochs, v.unopened = keep, unopened
	intake := EpochID{}
	if r.Intake != "" {
		intake, _ = ParseEpochID(r.Intake)
	}
	if keep[intake] == nil {
		intake = EpochID{}
	}
	if intake != v.intake {
		v.intake = intake
		v.intakeUsed.Store(0)
	}
	return nil
}

// readRing reads the ring file (under its shared lock if lock is set) and
// returns its bytes and stamp.
func (v *Vault) readRing(lock bool) ([]byte, fileStamp, error) {
	if lock {
		unlock, err := lockRing(v.path, false)
		if err != nil {
			return nil, fileStamp{}, &registry.Error{Code: registry.EUNAVAILABLE, Field: v.path, Message: "cannot lock the key ring", Err: err}
		}
		defer unlock()
	}
	data, err := readPrivate(v.path, maxRingFile)
	if err != nil {
		return nil, fileStamp{}, err
	}
	fi, err := os.Stat(v.path)
	if err != nil {
		clear(data)
		return nil, fileStamp{}, &registry.Error{Code: registry.EUNAVAILABLE, Field: v.path, Message: "cannot stat file", Err: err}
	}
	return data, stampOf(fi), nil
}

// withRing runs fn with v.mu held for writing and, for a ring file, its
// exclusive lock, after reloading the ring so that fn sees every change
// other processes made. If fn reports a change, the ring is saved. If fn
// or the save fails, the ring is reloaded, undoing fn's changes in memory.
func (v *Vault) withRing(fn func() (changed bool, err error)) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.path == "" {
		_, err := fn()
		return err
	}
	if v.sealed {
		return registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	unlock, err := lockRing(v.path, true)
	if err != nil {
		return &registry.Error{Code: registry.EUNAVAILABLE, Field: v.path, Message: "cannot lock the key ring", Err: err}
	}
	defer unlock()
	if err := v.loadRing(nil, false); err != nil {
		return err
	}
	changed, err := fn()
	if err == nil && changed {
		err = v.save(false)
	}
	if err != nil {
		v.loadRing(nil, false)
	}
	return err
}

// Refresh reloads the ring if the file changed since it was last read: new
// epochs another process made are loaded, and destroyed ones dropped from
// memory. If the file is gone and a shred marker is beside it (another
// process shredded the ring), the vault seals itself. The Rotator calls it
// on every pass, which bounds how long a process keeps a key that another
// one destroyed.
func (v *Vault) Refresh() error { return v.refreshIfChanged() }

func (v *Vault) refreshIfChanged() error {
	if v.path == "" {
		return nil
	}
	fi, err := os.Stat(v.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, shredded := Shredded(v.path); shredded {
				v.Seal()
				return registry.Errorf(registry.ESEALED, "vault is sealed: the key ring was shredded")
			}
		}
		return &registry.Error{Code: registry.EUNAVAILABLE, Field: v.path, Message: "cannot stat the key ring", Err: err}
	}
	st := stampOf(fi)
	v.mu.RLock()
	skip := v.sealed || st == v.stamp
	v.mu.RUnlock()
	if skip {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.sealed {
		return nil
	}
	return v.loadRing(nil, true)
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
	// A bare key file holds no epochs: the first one made turns the file
	// into a ring (as the first Rotate does).
	return v.loadEpochs(v.ring)
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
	out.Epochs, out.Intake = nil, ""
	for _, ep := range v.ring.Epochs {
		if id, _ := ParseEpochID(ep.ID); v.unopened[id] {
			out.Epochs = append(out.Epochs, ep) // kept as found: this process cannot open it
		}
	}
	for _, info := range v.epochsLocked() {
		w, err := v.wrapLocked(v.epochs[info.ID].key[:], adEpochKey+info.ID.String())
		if err != nil {
			return err
		}
		out.Epochs = append(out.Epochs, ringEpoch{ID: info.ID.String(), Created: info.Created.Unix(), Key: w})
	}
	if !v.intake.IsZero() {
		out.Intake = v.intake.String()
	}
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return registry.Errorf(registry.EINTERNAL, "vault: encode ring: %v", err)
	}
	data = append(data, '\n')
	defer clear(data)
	if err := writePrivate(v.path, data, exclusive); err != nil {
		return err
	}
	v.ring.Epochs, v.ring.Intake = out.Epochs, out.Intake
	if fi, err := os.Stat(v.path); err == nil {
		v.stamp = stampOf(fi)
	}
	return nil
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
	for id := range v.epochs {
		v.dropEpochLocked(id)
	}
	clear(v.unopened)
	v.intake = EpochID{}
	v.stamp = fileStamp{}
	v.sealed = true
	v.sealGen.Add(1)
}

// Shred seals the vault, then overwrites the key-ring file with random bytes
// and zeros and removes it, leaving a shred marker beside it (see
// ShredRing). Afterwards nothing the vault wrapped can ever be decrypted, by
// anyone, unless a copy of the ring exists elsewhere: this is the emergency
// seal for a clinic that expects to be raided. It needs no key, so it works
// on a sealed vault too (a passphrase ring never unlocked, or one sealed
// earlier). Other processes that share the ring seal themselves at their
// next Refresh. On flash storage and copy-on-write or journaling file
// systems old blocks may survive the overwrite; keep the ring on a tmpfs or
// an encrypted volume if that matters.
func (v *Vault) Shred() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sealLocked()
	if v.path == "" {
		return nil
	}
	return ShredRing(v.path)
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
// with its wrapped form (WrappedKeySize bytes: 0x00, the intake epoch's ID,
// nonce, XChaCha20-Poly1305 ciphertext). Store the wrapped form beside the
// person; erasure destroys it, and the Rotator destroys the epoch key that
// wrapped it. It first reloads the ring if another process changed it (a
// stat per call), so that every process wraps under the shared intake.
// Fails with ESEALED when sealed.
func (v *Vault) GenerateDataKey() (*DataKey, []byte, error) {
	v.refreshIfChanged()
	for range 3 {
		v.mu.RLock()
		if v.sealed {
			v.mu.RUnlock()
			return nil, nil, registry.Errorf(registry.ESEALED, "vault is sealed")
		}
		id := v.intake
		if !id.IsZero() && v.epochs[id] != nil && v.intakeUsed.Load() < int64(v.epochSize) {
			dk := &DataKey{v: v, gen: v.sealGen.Load()}
			_, err := io.ReadFull(v.rand, dk.key[:])
			var w []byte
			if err == nil {
				w, err = v.wrapEpochLocked(id, dk.key[:])
			} else {
				err = registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
			}
			v.mu.RUnlock()
			if err != nil {
				dk.Destroy()
				return nil, nil, err
			}
			v.intakeUsed.Add(1)
			return dk, w, nil
		}
		v.mu.RUnlock()
		// No intake yet, or this process filled it: move on to a fresh one
		// (unless another process just did).
		if _, err := v.NewIntake(id); err != nil {
			return nil, nil, err
		}
	}
	return nil, nil, registry.Errorf(registry.EUNAVAILABLE, "vault: no intake epoch could be made")
}

// Unwrap opens a wrapped data key, under the epoch key (or, for a key from
// before epochs, the KEK) it names. It fails with ESEALED when sealed,
// EMALFORMED when wrapped has the wrong length, ENOTFOUND wrapping
// ErrKeyDestroyed when the key that wrapped it was destroyed, and EINTERNAL
// wrapping ErrAuth when it does not authenticate.
func (v *Vault) Unwrap(wrapped []byte) (*DataKey, error) {
	k, gen, err := v.unwrapKey(wrapped)
	if err != nil {
		return nil, err
	}
	dk := &DataKey{v: v, gen: gen, key: *k}
	clear(k[:])
	return dk, nil
}

// WrappedVersion returns the KEK version a data key from before epochs (or
// the key inside an encrypted blob) is wrapped under, and 0 for a data key
// wrapped under an epoch key (which no KEK rotation touches). It needs no
// key.
func WrappedVersion(wrapped []byte) (uint8, error) {
	if _, ok := WrappedEpoch(wrapped); ok {
		return 0, nil
	}
	if len(wrapped) != wrappedSize || wrapped[0] == epochMarker {
		return 0, registry.FieldErrorf(registry.EMALFORMED, "wrapped_key", "wrapped key is %d bytes, want %d", len(wrapped), WrappedKeySize)
	}
	return wrapped[0], nil
}

// Rewrap opens a wrapped data key (of either format, under any loaded key)
// and wraps it again under a fresh epoch made for the purpose, filled up to
// the epoch size before the next is made. The data key itself, and so every
// field encrypted under it, is unchanged. After Rotate, run it over every
// wrapped key (in a transaction), then call Retire: the epochs and KEKs that
// wrapped the old copies are then destroyed.
func (v *Vault) Rewrap(wrapped []byte) ([]byte, error) {
	k, _, err := v.unwrapKey(wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(k[:])
	v.renewMu.Lock()
	defer v.renewMu.Unlock()
	if v.renewTo.IsZero() || v.renewUsed >= v.epochSize || !v.HasEpoch(v.renewTo) {
		id, err := v.NewEpoch()
		if err != nil {
			return nil, err
		}
		v.renewTo, v.renewUsed = id, 0
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.sealed {
		return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	w, err := v.wrapEpochLocked(v.renewTo, k[:])
	if err == nil {
		v.renewUsed++
	}
	return w, err
}

// Rotate adds a new random KEK (file mode) as the current version, rewraps
// the pseudonym root key under it, and moves new persons to a fresh intake
// epoch. The ring file is rewritten holding both the old and the new KEKs
// (and every epoch key, now wrapped under the new KEK), so a crash in the
// middle of a rotation loses nothing. Then Rewrap every stored wrapped key
// and call Retire, which destroys the old KEKs and every epoch that existed
// before Rotate. It fails with ECONFLICT if the next version number (after
// 255 comes 1) is still in the ring, that is if an earlier rotation was
// never retired.
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
	v.renewMu.Lock()
	defer v.renewMu.Unlock()
	var next uint8
	err := v.withRing(func() (bool, error) {
		if v.sealed {
			return false, registry.Errorf(registry.ESEALED, "vault is sealed")
		}
		next = v.ring.Current%255 + 1
		for _, e := range v.ring.KEKs {
			if e.Version == next {
				return false, registry.Errorf(registry.ECONFLICT, "key version %d is still in the ring; finish the previous rotation with Retire first", next)
			}
		}
		root, err := v.unwrapLocked(v.ring.PseudonymKey, adPseudoKey)
		if err != nil {
			return false, err
		}
		defer clear(root[:])
		e, kek, err := v.newEntry(next, passphrase)
		if err != nil {
			return false, err
		}
		e.Key = nil
		r := *v.ring
		r.Current, r.KEKs = next, append([]ringEntry{e}, v.ring.KEKs...)
		v.ring = &r
		v.keks[next] = kek
		if v.ring.PseudonymKey, err = v.wrapLocked(root[:], adPseudoKey); err != nil {
			return false, err
		}
		from := map[EpochID]bool{}
		for id := range v.epochs {
			from[id] = true
		}
		if _, err := v.newEpochLocked(true); err != nil {
			return false, err
		}
		v.renewFrom, v.renewTo, v.renewUsed = from, EpochID{}, 0
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	return next, nil
}

// Retire removes every KEK but the current one from memory (zeroed) and from
// the ring file, and destroys the epoch keys that existed before Rotate.
// Call it only after every wrapped key and blob has been rewrapped: anything
// still wrapped under a retired key is lost, which is also how a rotation
// makes old copies of wrapped keys (backups, old page images) useless.
func (v *Vault) Retire() error {
	v.renewMu.Lock()
	defer v.renewMu.Unlock()
	return v.withRing(func() (bool, error) {
		if v.sealed {
			return false, registry.Errorf(registry.ESEALED, "vault is sealed")
		}
		r := *v.ring
		r.KEKs = nil
		for _, e := range v.ring.KEKs {
			if e.Version == v.ring.Current {
				r.KEKs = append(r.KEKs, e)
			}
		}
		v.ring = &r
		for ver, k := range v.keks {
			if ver != r.Current {
				clear(k[:])
				delete(v.keks, ver)
			}
		}
		for id := range v.renewFrom {
			if v.intake == id {
				v.intake = EpochID{}
			}
			v.dropEpochLocked(id)
		}
		v.renewFrom = nil
		return true, nil
	})
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
