package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/haven-registry/haven/internal/registry"
)

// Key epochs. A person's data key is wrapped under the key of one epoch, and
// epoch keys live only in the key ring (wrapped under the KEK), never in the
// database. Erasing a person rewraps the other persons of their epoch under
// a fresh epoch key and destroys the old one: every copy of the erased
// person's wrapped key that lingers (PostgreSQL heap and WAL, SQLite free
// pages, replicas, backups) then opens under nothing. See
// docs/adr/0004-epoch-keys.md and Rotator.

// EpochID names one key epoch. It is random, so epochs made by different
// processes, or by a ring made after a shred, never collide.
type EpochID [8]byte

func (id EpochID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero ID, which names no epoch.
func (id EpochID) IsZero() bool { return id == EpochID{} }

// Prefix returns the EpochPrefixSize bytes that every data key wrapped under
// the epoch starts with. Stores index this prefix to find an epoch's persons.
func (id EpochID) Prefix() []byte { return append([]byte{epochMarker}, id[:]...) }

// ParseEpochID reads the 16-hex-digit form written by String.
func ParseEpochID(s string) (EpochID, error) {
	var id EpochID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) || bytes.Equal(b, id[:]) {
		return id, registry.FieldErrorf(registry.EMALFORMED, "epoch", "epoch ID must be 16 hex digits, not all zero")
	}
	copy(id[:], b)
	return id, nil
}

// EpochFromPrefix reads an epoch ID from a prefix as returned by Prefix.
func EpochFromPrefix(prefix []byte) (EpochID, bool) {
	var id EpochID
	if len(prefix) != EpochPrefixSize || prefix[0] != epochMarker {
		return id, false
	}
	copy(id[:], prefix[1:])
	return id, !id.IsZero()
}

const (
	// epochMarker starts a data key wrapped under an epoch key. A key
	// wrapped directly under a KEK (before epochs) starts with the KEK
	// version, which is never 0.
	epochMarker = 0x00

	// EpochPrefixSize is the length of the prefix (0x00 ‖ epoch ID) of a
	// data key wrapped under an epoch key.
	EpochPrefixSize = 1 + len(EpochID{})

	// WrappedKeySize is the length of a wrapped data key: 0x00 ‖ epoch ID
	// (8) ‖ nonce (24) ‖ XChaCha20-Poly1305(data key) (48).
	WrappedKeySize = EpochPrefixSize + nonceSize + KeySize + tagSize

	// LegacyWrappedKeySize is the length of a data key wrapped directly
	// under a KEK, as Haven did before epochs: KEK version ‖ nonce ‖ ct.
	// Such keys still open; haven vault rotate moves them to epochs.
	LegacyWrappedKeySize = wrappedSize

	// DefaultEpochSize is how many persons' data keys are wrapped under one
	// epoch before new persons go to a fresh one. Erasing a person rewraps
	// at most this many keys.
	DefaultEpochSize = 4096

	// maxEpochs bounds the epochs a ring may hold (and so its size).
	maxEpochs = 1 << 15

	adEpochWrap = "haven/vault/epoch-wrap/v1"
	adEpochKey  = "haven/vault/epoch-key/v1/"
)

// ErrKeyDestroyed is wrapped (with code ENOTFOUND) by every error caused by
// a data key whose wrapping key no longer exists: its epoch was retired
// after an erasure or by rotation, its KEK was retired, or the ring was
// shredded. The demographics it protected can never be read again; the
// person's card code and records are unaffected. See OpenPerson.
var ErrKeyDestroyed = errors.New("vault: the key that wrapped this data key was destroyed")

func keyDestroyed(format string) error {
	return &registry.Error{Code: registry.ENOTFOUND, Field: "wrapped_key", Message: format, Err: ErrKeyDestroyed}
}

// errUnknownEpoch is returned by unwrapKeyLocked for an epoch this process
// has not loaded: the caller reloads the ring once before concluding that
// the epoch was destroyed.
var errUnknownEpoch = errors.New("vault: unknown epoch")

// epochKey is one loaded epoch key.
type epochKey struct {
	key     [KeySize]byte
	created time.Time
}

// ringEpoch is an epoch key as the ring file keeps it: wrapped under a KEK
// of the ring, with the epoch ID (and KEK version) as associated data.
type ringEpoch struct {
	ID      string `json:"id"`          // 16 hex digits
	Created int64  `json:"created"`     // Unix seconds
	Key     []byte `json:"wrapped_key"` // KEK version ‖ nonce ‖ XChaCha20-Poly1305(epoch key)
}

// EpochInfo describes one loaded epoch key (never the key itself).
type EpochInfo struct {
	ID      EpochID
	Created time.Time
	Intake  bool // new persons' data keys are wrapped under it
}

// WrappedEpoch returns the epoch a wrapped data key is wrapped under; ok is
// false for a key wrapped directly under a KEK (from before epochs) or for
// anything that is not a wrapped key. It needs no key.
func WrappedEpoch(wrapped []byte) (EpochID, bool) {
	if len(wrapped) != WrappedKeySize {
		return EpochID{}, false
	}
	return EpochFromPrefix(wrapped[:EpochPrefixSize])
}

func epochWrapAD(prefix []byte) []byte {
	return append([]byte(adEpochWrap), prefix...)
}

// wrapEpochLocked wraps a data key under the key of epoch id.
func (v *Vault) wrapEpochLocked(id EpochID, key []byte) ([]byte, error) {
	ek := v.epochs[id]
	if ek == nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: epoch %s is not loaded", id)
	}
	aead, err := chacha20poly1305.NewX(ek.key[:])
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: %v", err)
	}
	out := make([]byte, EpochPrefixSize+nonceSize, WrappedKeySize)
	out[0] = epochMarker
	copy(out[1:], id[:])
	if _, err := io.ReadFull(v.rand, out[EpochPrefixSize:]); err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	return aead.Seal(out, out[EpochPrefixSize:], key, epochWrapAD(out[:EpochPrefixSize])), nil
}

// unwrapKeyLocked opens a wrapped data key of either format. It returns
// errUnknownEpoch for an epoch that is not loaded, so that the caller can
// reload the ring and try again.
func (v *Vault) unwrapKeyLocked(wrapped []byte) (*[KeySize]byte, error) {
	if v.sealed {
		return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	switch {
	case len(wrapped) == WrappedKeySize && wrapped[0] == epochMarker:
		id, ok := WrappedEpoch(wrapped)
		if !ok {
			return nil, registry.FieldErrorf(registry.EMALFORMED, "wrapped_key", "wrapped key names the zero epoch")
		}
		ek := v.epochs[id]
		if ek == nil {
			return nil, errUnknownEpoch
		}
		aead, err := chacha20poly1305.NewX(ek.key[:])
		if err != nil {
			return nil, registry.Errorf(registry.EINTERNAL, "vault: %v", err)
		}
		key := new([KeySize]byte)
		if _, err := aead.Open(key[:0], wrapped[EpochPrefixSize:EpochPrefixSize+nonceSize], wrapped[EpochPrefixSize+nonceSize:], epochWrapAD(wrapped[:EpochPrefixSize])); err != nil {
			return nil, &registry.Error{Code: registry.EINTERNAL, Field: "wrapped_key", Message: "wrapped key does not authenticate", Err: ErrAuth}
		}
		return key, nil
	case len(wrapped) == LegacyWrappedKeySize && wrapped[0] != epochMarker:
		if _, ok := v.keks[wrapped[0]]; !ok && !v.ringListsKEK(wrapped[0]) {
			return nil, keyDestroyed("the key-encryption key this data key was wrapped under was retired or shredded")
		}
		k, err := v.unwrapLocked(wrapped, adWrap)
		if err != nil && v.ring.AfterShred && errors.Is(err, ErrAuth) {
			// A ring made after a shred reuses KEK version numbers; a key
			// of the shredded ring fails to authenticate under them.
			return nil, keyDestroyed("this data key was wrapped under a key-encryption key that was shredded")
		}
		return k, err
	}
	return nil, registry.FieldErrorf(registry.EMALFORMED, "wrapped_key", "wrapped key is %d bytes, want %d", len(wrapped), WrappedKeySize)
}

func (v *Vault) ringListsKEK(version uint8) bool {
	for _, e := range v.ring.KEKs {
		if e.Version == version {
			return true
		}
	}
	return false
}

// unwrapKey opens a wrapped data key of either format, reloading the ring
// once if it names an epoch this process has not loaded (one made by
// another process). An epoch that is still unknown was destroyed.
func (v *Vault) unwrapKey(wrapped []byte) (*[KeySize]byte, uint64, error) {
	for attempt := 0; ; attempt++ {
		v.mu.RLock()
		k, err := v.unwrapKeyLocked(wrapped)
		gen := v.sealGen.Load()
		v.mu.RUnlock()
		if err != errUnknownEpoch {
			return k, gen, err
		}
		if attempt == 1 {
			id, _ := WrappedEpoch(wrapped)
			return nil, 0, keyDestroyed("the key of epoch " + id.String() + " was destroyed (erasure or rotation), or the ring was shredded")
		}
		v.refreshIfChanged()
	}
}

// newEpochLocked adds a fresh random epoch key (in memory; the caller saves
// the ring). With intake set it becomes the epoch new data keys go to.
func (v *Vault) newEpochLocked(intake bool) (EpochID, error) {
	if v.sealed {
		return EpochID{}, registry.Errorf(registry.ESEALED, "vault is sealed")
	}
	if len(v.epochs) >= maxEpochs {
		return EpochID{}, registry.Errorf(registry.EUNAVAILABLE, "vault: the ring holds %d epoch keys; let the rotator retire some", len(v.epochs))
	}
	var id EpochID
	for id.IsZero() || v.epochs[id] != nil || v.unopened[id] {
		if _, err := io.ReadFull(v.rand, id[:]); err != nil {
			return EpochID{}, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
		}
	}
	ek := &epochKey{created: v.now().UTC().Truncate(time.Second)}
	if _, err := io.ReadFull(v.rand, ek.key[:]); err != nil {
		return EpochID{}, registry.Errorf(registry.EINTERNAL, "vault: no randomness: %v", err)
	}
	v.epochs[id] = ek
	if intake {
		v.intake = id
		v.intakeUsed.Store(0)
	}
	return id, nil
}

// NewEpoch adds a fresh epoch key to the ring (not the intake) and returns
// its ID; the Rotator rewraps an old epoch's persons under it.
func (v *Vault) NewEpoch() (EpochID, error) {
	var id EpochID
	err := v.withRing(func() (bool, error) {
		var err error
		id, err = v.newEpochLocked(false)
		return err == nil, err
	})
	return id, err
}

// NewIntake makes a fresh epoch the one new data keys are wrapped under,
// unless the intake is no longer old (another process already moved it on),
// and returns the intake. Call it with the zero ID to get an intake only if
// there is none.
func (v *Vault) NewIntake(old EpochID) (EpochID, error) {
	var id EpochID
	err := v.withRing(func() (bool, error) {
		if v.intake != old && v.epochs[v.intake] != nil {
			id = v.intake
			return false, nil
		}
		var err error
		id, err = v.newEpochLocked(true)
		return err == nil, err
	})
	return id, err
}

// DestroyEpoch removes an epoch key from memory and from the ring file. Call
// it only once no stored data key is wrapped under the epoch any more (the
// Rotator does): anything still wrapped under it is lost for good, which is
// the point. The old ring file is overwritten before it is let go. It is not
// an error if the epoch is already gone.
func (v *Vault) DestroyEpoch(id EpochID) error {
	return v.withRing(func() (bool, error) {
		if v.epochs[id] == nil {
			return false, nil
		}
		if v.sealed {
			return false, registry.Errorf(registry.ESEALED, "vault is sealed")
		}
		if v.intake == id {
			v.intake = EpochID{}
		}
		v.dropEpochLocked(id)
		return true, nil
	})
}

func (v *Vault) dropEpochLocked(id EpochID) {
	if ek := v.epochs[id]; ek != nil {
		clear(ek.key[:])
		delete(v.epochs, id)
	}
}

// Epochs lists the loaded epoch keys, oldest first.
func (v *Vault) Epochs() []EpochInfo {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.epochsLocked()
}

func (v *Vault) epochsLocked() []EpochInfo {
	out := make([]EpochInfo, 0, len(v.epochs))
	for id, ek := range v.epochs {
		out = append(out, EpochInfo{ID: id, Created: ek.created, Intake: id == v.intake})
	}
	slices.SortFunc(out, func(a, b EpochInfo) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out
}

// Intake returns the epoch new data keys are wrapped under (zero if none
// yet).
func (v *Vault) Intake() EpochID {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.intake
}

// HasEpoch reports whether the ring lists the epoch: loaded, or present but
// not openable with the KEKs in memory (a passphrase not yet given).
func (v *Vault) HasEpoch(id EpochID) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.epochs[id] != nil || v.unopened[id]
}

// EpochSize returns how many data keys one epoch takes before new persons
// go to a fresh one.
func (v *Vault) EpochSize() int { return v.epochSize }

// RewrapTo returns a function that opens a wrapped data key (of either
// format, under any loaded key) and wraps it again under epoch target. The
// data key, and so every field sealed under it, is unchanged.
func (v *Vault) RewrapTo(target EpochID) func(wrapped []byte) ([]byte, error) {
	return func(wrapped []byte) ([]byte, error) {
		k, _, err := v.unwrapKey(wrapped)
		if err != nil {
			return nil, err
		}
		defer clear(k[:])
		v.mu.RLock()
		defer v.mu.RUnlock()
		if v.sealed {
			return nil, registry.Errorf(registry.ESEALED, "vault is sealed")
		}
		return v.wrapEpochLocked(target, k[:])
	}
}
