package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
)

// JoinAction is the action of an entry of chain 0 that joins the other
// chains: it names the head (chain, seq, hash) of each chain that moved
// since the last join, and its subject commits to them. A signed checkpoint
// of chain 0 thereby covers every chain as far as the last join, so cutting
// entries off any chain shows.
const JoinAction = "audit.join"

const (
	joinSubjectPrefix = "heads:"
	joinDomain        = "haven-audit-join/v1\x00"
	// HeadSize is the size of one head in EncodeHeads.
	HeadSize = 8 + 8 + len(Hash{})
)

// Head is where one chain ended when a join entry was written.
type Head struct {
	Chain uint64 `json:"chain"`
	Seq   uint64 `json:"seq"`
	Hash  Hash   `json:"hash"`
}

// EncodeHeads returns heads as stored: u64 chain ‖ u64 seq ‖ hash for each,
// big-endian, in the order given.
func EncodeHeads(heads []Head) []byte {
	b := make([]byte, 0, len(heads)*HeadSize)
	for _, h := range heads {
		b = binary.BigEndian.AppendUint64(b, h.Chain)
		b = binary.BigEndian.AppendUint64(b, h.Seq)
		b = append(b, h.Hash[:]...)
	}
	return b
}

// DecodeHeads reads what EncodeHeads wrote. Returns EMALFORMED if b is not
// a whole number of heads.
func DecodeHeads(b []byte) ([]Head, error) {
	if len(b)%HeadSize != 0 {
		return nil, registry.Errorf(registry.EMALFORMED, "heads are %d bytes, not a multiple of %d", len(b), HeadSize)
	}
	out := make([]Head, 0, len(b)/HeadSize)
	for ; len(b) > 0; b = b[HeadSize:] {
		h := Head{Chain: binary.BigEndian.Uint64(b), Seq: binary.BigEndian.Uint64(b[8:])}
		copy(h.Hash[:], b[16:HeadSize])
		out = append(out, h)
	}
	return out, nil
}

// HeadsDigest is what a join entry's subject commits to:
// SHA-256("haven-audit-join/v1\x00" ‖ EncodeHeads(heads)).
func HeadsDigest(heads []Head) Hash {
	h := sha256.New()
	h.Write([]byte(joinDomain))
	h.Write(EncodeHeads(heads))
	var out Hash
	h.Sum(out[:0])
	return out
}

// JoinRecord is the record of the entry that joins heads into chain 0: its
// subject is "heads:" followed by the hex HeadsDigest. Heads are sorted by
// chain and must name chains other than 0, each once.
func JoinRecord(heads []Head) (Record, error) {
	for i, h := range heads {
		if h.Chain == 0 || h.Seq == 0 || (i > 0 && heads[i-1].Chain >= h.Chain) {
			return Record{}, registry.FieldErrorf(registry.EINVALID, "heads", "heads must name chains other than 0, each once, in ascending order, at seq > 0")
		}
	}
	return Record{Actor: "system", Role: "audit", Action: JoinAction, Subject: joinSubjectPrefix + HeadsDigest(heads).String()}, nil
}

// joinHeads returns the heads a join entry names, and whether e is a join
// entry. A join entry whose heads do not match its subject, or are out of
// order, is an error: it was changed.
func joinHeads(e *Entry) ([]Head, bool, error) {
	if e.Action != JoinAction {
		return nil, false, nil
	}
	digest, ok := strings.CutPrefix(e.Subject, joinSubjectPrefix)
	if !ok || digest != HeadsDigest(e.Heads).String() {
		return nil, true, fmt.Errorf("the heads of join entry %d do not match its subject", e.Seq)
	}
	for i, h := range e.Heads {
		if h.Chain == 0 || h.Seq == 0 || (i > 0 && e.Heads[i-1].Chain >= h.Chain) {
			return nil, true, fmt.Errorf("the heads of join entry %d are out of order", e.Seq)
		}
	}
	return e.Heads, true, nil
}

// JoinedHeads returns the heads a join entry names, checked against its
// subject; ok is false for an entry that is not a join or does not match.
func JoinedHeads(e *Entry) (heads []Head, ok bool) {
	h, isJoin, err := joinHeads(e)
	return h, isJoin && err == nil
}
