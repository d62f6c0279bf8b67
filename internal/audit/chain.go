package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"strings"
	"sync"

	"github.com/haven-registry/haven/internal/registry"
)

// ChainKeySize is the size of a chain key in bytes.
const ChainKeySize = 32

// EpochAction is the action of the entry that starts a key epoch: from it
// on, entries carry a MAC under the chain key its subject names
// ("chain:" followed by the key's ID).
const EpochAction = "audit.chain-key"

// RoleOperator is the role of entries written by operator commands (haven
// token create, haven erase…). They run outside the server and may not hold
// the chain key, so their entries may lack a MAC; a keyed entry after them
// covers them.
const RoleOperator = "operator"

const (
	macDomain          = "haven-audit-mac/v1\x00"
	keyIDDomain        = "haven-audit-chain-key-id/v1"
	epochSubjectPrefix = "chain:"
)

// MACSize is the size of an entry's MAC: HMAC-SHA-256 truncated to 128
// bits (as RFC 4868 truncates it for IPsec), which keeps a forger's chance
// per attempt at 2^-128 and halves what every entry stores.
const MACSize = 16

// MAC is an entry's MAC. Its text form is 32 lower-case hex digits.
type MAC [MACSize]byte

// String returns the MAC as lower-case hex.
func (m MAC) String() string { return hex.EncodeToString(m[:]) }

// MarshalText encodes the MAC as hex (so JSON shows a string).
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText decodes 32 hex digits.
func (m *MAC) UnmarshalText(b []byte) error {
	if len(b) != 2*len(m) {
		return registry.Errorf(registry.EMALFORMED, "mac must be %d hex digits", 2*len(m))
	}
	if _, err := hex.Decode(m[:], b); err != nil {
		return registry.Errorf(registry.EMALFORMED, "mac is not hex")
	}
	return nil
}

// ChainKey is the secret that keys the audit chain. Each entry's MAC is
//
//	HMAC-SHA-256(key, "haven-audit-mac/v1\x00" ‖ entry hash), first 16 bytes
//
// and the entry hash commits to every entry before it, so a valid MAC on
// entry n vouches for entries 1…n. Someone who can edit the database but
// does not hold the key can delete or change entries and recompute the
// SHA-256 chain, but not the MACs: VerifyLog, given the key, finds the first
// entry whose MAC no longer matches.
//
// The key must be kept outside the database (Haven derives it from the key
// ring; see cmd/haven). A ChainKey is safe for concurrent use.
type ChainKey struct {
	id   string
	key  [ChainKeySize]byte
	macs sync.Pool // of *macState: HMAC states keyed with key, reused
}

// NewChainKey returns the chain key made of secret, which must be
// ChainKeySize bytes. It copies secret. Returns EINVALID otherwise.
func NewChainKey(secret []byte) (*ChainKey, error) {
	if len(secret) != ChainKeySize {
		return nil, registry.FieldErrorf(registry.EINVALID, "chain_key", "chain key must be %d bytes", ChainKeySize)
	}
	k := &ChainKey{}
	copy(k.key[:], secret)
	m := hmac.New(sha256.New, k.key[:])
	m.Write([]byte(keyIDDomain))
	k.id = hex.EncodeToString(m.Sum(nil)[:8])
	return k, nil
}

// ID names the key without revealing it: 16 hex digits of an HMAC under the
// key. It is public; the chain-key entry that starts the key's epoch names
// it.
func (k *ChainKey) ID() string { return k.id }

// Is reports, in constant time, whether secret is this key.
func (k *ChainKey) Is(secret []byte) bool {
	return len(secret) == ChainKeySize && subtle.ConstantTimeCompare(secret, k.key[:]) == 1
}

// Sum returns the MAC of an entry whose hash is h.
func (k *ChainKey) Sum(h Hash) MAC {
	st, _ := k.macs.Get().(*macState)
	if st == nil {
		st = k.newState()
	}
	out := st.sum(&h)
	k.macs.Put(st)
	return out
}

// macState is an HMAC keyed with one chain key, with buffers so that
// computing a MAC allocates nothing. It is not safe for concurrent use.
type macState struct {
	h   hash.Hash
	in  [len(macDomain) + len(Hash{})]byte
	out [sha256.Size]byte
}

func (k *ChainKey) newState() *macState {
	st := &macState{h: hmac.New(sha256.New, k.key[:])}
	copy(st.in[:], macDomain)
	return st
}

func (st *macState) sum(h *Hash) MAC {
	copy(st.in[len(macDomain):], h[:])
	st.h.Reset()
	st.h.Write(st.in[:])
	var out MAC
	copy(out[:], st.h.Sum(st.out[:0]))
	return out
}

// Seal sets e.MAC from e.Hash. Call it after the hash is final.
func (k *ChainKey) Seal(e *Entry) {
	mac := k.Sum(e.Hash)
	e.MAC = &mac
}

// Signed reports whether e carries a MAC that verifies under k: e belongs
// to k's epoch and was written by a holder of k.
func (k *ChainKey) Signed(e *Entry) bool {
	if e.MAC == nil {
		return false
	}
	want := k.Sum(e.Hash)
	return hmac.Equal(want[:], e.MAC[:])
}

// macChecker checks many MACs under one key, reusing its HMAC state. It is
// not safe for concurrent use.
type macChecker struct{ st *macState }

func (k *ChainKey) checker() *macChecker { return &macChecker{st: k.newState()} }

func (c *macChecker) ok(e *Entry) bool {
	if e.MAC == nil {
		return false
	}
	want := c.st.sum(&e.Hash)
	return hmac.Equal(want[:], e.MAC[:])
}

// EpochRecord is the record of the entry that starts k's epoch. The entry
// itself carries a MAC under k, which vouches for the whole log before it.
func EpochRecord(k *ChainKey) Record {
	return Record{Actor: "system", Role: "audit", Action: EpochAction, Subject: epochSubjectPrefix + k.id}
}

// EpochKeyID returns the chain-key ID that entry e starts an epoch for, and
// whether e is such an entry.
func EpochKeyID(e *Entry) (string, bool) {
	if e.Action != EpochAction {
		return "", false
	}
	return strings.CutPrefix(e.Subject, epochSubjectPrefix)
}
