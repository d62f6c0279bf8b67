package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// hashDomain starts the hashed encoding of every entry of chain 0, and
// hashDomainV2 that of every other chain, which also names the chain.
const (
	hashDomain   = "haven-audit/v1\x00"
	hashDomainV2 = "haven-audit/v2\x00"
)

// MaxFieldLen bounds each text field of an entry.
const MaxFieldLen = 128

// Hash is a SHA-256 digest. Its text form is 64 lower-case hex digits.
type Hash [sha256.Size]byte

// String returns the hash as lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes the hash as hex (so JSON shows a string).
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return registry.Errorf(registry.EMALFORMED, "hash must be %d hex digits", 2*len(h))
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return registry.Errorf(registry.EMALFORMED, "hash is not hex")
	}
	return nil
}

// Record is what a caller asks to log: who did what, why, to whom. It must
// never hold personal data: Subject is a pseudonym (vault.Pseudonym) or an
// object reference such as "token:3f2a" or "policy:sha256:…", never a card
// code, name or phone number. Every field is restricted to
// [A-Za-z0-9._:/@+=-], at most MaxFieldLen bytes, so free text cannot
// slip in.
type Record struct {
	Actor   string `json:"actor"`             // token ID, or "system" / "cli"
	Role    string `json:"role"`              // role of the actor
	Action  string `json:"action"`            // for example "person.read", "person.erase", "token.create"
	Purpose string `json:"purpose,omitempty"` // the stated purpose of a lookup, from a fixed list
	Subject string `json:"subject,omitempty"` // pseudonym or object reference
}

// Entry is one link of an audit chain. Hash is SHA-256 over a canonical,
// length-prefixed encoding of every other field but MAC and Heads, Chain and
// PrevHash included, so a change anywhere breaks the chain from that point
// on. MAC keys the chain: anyone can recompute SHA-256, but only the holder
// of the chain key can recompute MAC (see ChainKey).
type Entry struct {
	// Chain names the chain the entry belongs to. Chain 0 is the log's
	// spine: the only chain of a log with one writer (SQLite, and every log
	// written before chains existed), and on PostgreSQL the chain that
	// holds key epochs and the joins of every other chain (see JoinRecord).
	// Other chains belong to one writer at a time (docs/adr/0005).
	Chain    uint64    `json:"chain,omitempty"`
	Seq      uint64    `json:"seq"`  // 1, 2, 3, … without gaps within the chain
	Time     time.Time `json:"time"` // UTC, microsecond precision
	Record             // actor, role, action, purpose, subject
	PrevHash Hash      `json:"prev_hash"` // Hash of entry Seq-1 of the chain; zero for Seq 1
	Hash     Hash      `json:"hash"`
	// MAC is HMAC-SHA-256 of Hash under the chain key of the entry's epoch,
	// truncated to 128 bits, or nil for an entry appended without that key:
	// every entry before the chain's first chain-key entry, and entries of
	// operator commands that do not hold the key.
	MAC *MAC `json:"mac,omitempty"`
	// Heads are the chain heads a join entry (JoinAction) names; its
	// subject commits to them. Nil for every other entry.
	Heads []Head `json:"heads,omitempty"`
}

func validField(name, s string, required bool) error {
	if s == "" {
		if required {
			return registry.FieldErrorf(registry.EINVALID, name, "%s is required", name)
		}
		return nil
	}
	if len(s) > MaxFieldLen {
		return registry.FieldErrorf(registry.EINVALID, name, "%s is longer than %d bytes", name, MaxFieldLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '_' || c == ':' || c == '/' || c == '@' || c == '+' || c == '=' || c == '-':
		default:
			return registry.FieldErrorf(registry.EINVALID, name, "%s holds a character outside [A-Za-z0-9._:/@+=-] at byte %d", name, i)
		}
	}
	return nil
}

// Validate checks a record: Actor, Role and Action are required, every
// field is short and from the restricted alphabet. Returns EINVALID naming
// the field.
func (r Record) Validate() error {
	for _, f := range []struct {
		name, v string
		req     bool
	}{{"actor", r.Actor, true}, {"role", r.Role, true}, {"action", r.Action, true}, {"purpose", r.Purpose, false}, {"subject", r.Subject, false}} {
		if err := validField(f.name, f.v, f.req); err != nil {
			return err
		}
	}
	return nil
}

// normTime is the form of a time that is hashed and stored: UTC, truncated
// to the microsecond (what PostgreSQL keeps), no monotonic reading.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// appendEncoding appends the canonical encoding that Hash covers, for
// chain 0:
//
//	"haven-audit/v1\x00" ‖ u64 seq ‖ i64 unix microseconds ‖
//	lp(actor) ‖ lp(role) ‖ lp(action) ‖ lp(purpose) ‖ lp(subject) ‖ prev hash
//
// and for any other chain:
//
//	"haven-audit/v2\x00" ‖ u64 chain ‖ u64 seq ‖ i64 unix microseconds ‖
//	lp(actor) ‖ lp(role) ‖ lp(action) ‖ lp(purpose) ‖ lp(subject) ‖ prev hash
//
// with big-endian integers and lp(s) = u32 length ‖ bytes. Chain 0 keeps
// the encoding of logs written before chains existed, so they verify as
// they are; naming the chain elsewhere keeps an entry from being moved
// from one chain to another.
func appendEncoding(b []byte, e *Entry) []byte {
	if e.Chain == 0 {
		b = append(b, hashDomain...)
	} else {
		b = append(b, hashDomainV2...)
		b = binary.BigEndian.AppendUint64(b, e.Chain)
	}
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMicro()))
	for _, s := range [...]string{e.Actor, e.Role, e.Action, e.Purpose, e.Subject} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return append(b, e.PrevHash[:]...)
}

// ComputeHash returns the hash the entry should carry, from its other
// fields. It does not read e.Hash.
func (e *Entry) ComputeHash() Hash {
	var buf [512]byte
	return sha256.Sum256(appendEncoding(buf[:0], e))
}

// Next returns the entry that follows last in last's chain, for the record r
// at time now. Pass a nil last for the first entry of chain 0. Callers
// append it inside the transaction in which they read last, while no one
// else appends to that chain. Returns EINVALID naming the field if r is not
// valid, or if now is zero.
func Next(last *Entry, r Record, now time.Time) (Entry, error) {
	var chain uint64
	if last != nil {
		chain = last.Chain
	}
	return NextInChain(chain, last, r, now)
}

// NextInChain is Next for a chain that may be empty: with a nil last, it
// returns the first entry of chain. A non-nil last must belong to chain.
func NextInChain(chain uint64, last *Entry, r Record, now time.Time) (Entry, error) {
	if err := r.Validate(); err != nil {
		return Entry{}, err
	}
	if now.IsZero() {
		return Entry{}, registry.FieldErrorf(registry.EINVALID, "time", "time is required")
	}
	e := Entry{Chain: chain, Seq: 1, Time: normTime(now), Record: r}
	if last != nil {
		if last.Chain != chain {
			return Entry{}, registry.FieldErrorf(registry.EINVALID, "chain", "entry of chain %d cannot follow one of chain %d", chain, last.Chain)
		}
		if last.Seq == ^uint64(0) {
			return Entry{}, registry.FieldErrorf(registry.EINVALID, "seq", "audit log is full")
		}
		e.Seq = last.Seq + 1
		e.PrevHash = last.Hash
	}
	e.Hash = e.ComputeHash()
	return e, nil
}

// String describes an entry for logs and reports; it holds no personal data
// because entries never do.
func (e Entry) String() string {
	if e.Chain != 0 {
		return fmt.Sprintf("#%d:%d %s %s/%s %s purpose=%s subject=%s", e.Chain, e.Seq, e.Time.Format(time.RFC3339Nano), e.Actor, e.Role, e.Action, e.Purpose, e.Subject)
	}
	return fmt.Sprintf("#%d %s %s/%s %s purpose=%s subject=%s", e.Seq, e.Time.Format(time.RFC3339Nano), e.Actor, e.Role, e.Action, e.Purpose, e.Subject)
}
