package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/haven-registry/haven/internal/registry"
)

// Kinds of tampering a Report can name. The kind is a diagnosis, made by
// looking at how the chain breaks; the Seq of the first bad entry is what
// counts.
const (
	KindChanged   = "changed"   // an entry's content no longer matches its hash, or a re-hashed entry breaks the link after it
	KindDeleted   = "deleted"   // entries are missing (a gap, or later entries renumbered to close it)
	KindInserted  = "inserted"  // entries that are not part of the chain sit between linked ones
	KindReordered = "reordered" // entries are in the wrong place
	KindTruncated = "truncated" // the log ends before a signed checkpoint
	KindRewritten = "rewritten" // the chain is self-consistent but disagrees with a signed checkpoint
)

// Problem names the first bad entry and what seems to have happened.
type Problem struct {
	Seq    uint64 `json:"seq"` // the first entry that is missing, altered or out of place
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	OK          bool     `json:"ok"`
	Entries     uint64   `json:"entries"`     // entries checked and found good, in order from seq 1
	LastSeq     uint64   `json:"last_seq"`    // the last good entry
	LastHash    Hash     `json:"last_hash"`   // its hash (sign or compare it as a checkpoint); zero when a problem lies before it
	Checkpoints int      `json:"checkpoints"` // signed checkpoints matched against the log
	Problem     *Problem `json:"problem,omitempty"`
}

var errStop = errors.New("audit: stop scan")

// Verify reads the whole log in Seq order and checks that every entry's
// hash matches its content, that it links to the entry before it, that Seq
// runs 1, 2, 3… without gaps, and that the log agrees with every signed
// checkpoint given (checked against keys, by KeyID). The first failure stops
// the check; a second pass then diagnoses it (change, deletion, insertion,
// reordering, truncation or rewrite). Report.Problem names the first bad
// entry.
//
// The returned error is nil when the log verifies; an *registry.Error with
// code EINVALID naming "audit[seq=N]" when it does not (with the Report
// filled in); EINVALID naming the checkpoint when a checkpoint's signature
// does not verify or two checkpoints disagree; or the store's error.
//
// A log can only prove what it was checkpointed for: an attacker who holds
// the database can truncate or re-hash the entries after the last
// checkpoint an outside party kept. Sign checkpoints often.
func Verify(ctx context.Context, s Store, checkpoints []Checkpoint, keys ...ed25519.PublicKey) (Report, error) {
	cps := map[uint64]Hash{}
	var maxCP uint64
	if len(checkpoints) > 0 && len(keys) == 0 {
		return Report{}, registry.FieldErrorf(registry.EINVALID, "checkpoints", "checkpoints given without a trusted public key")
	}
	for _, c := range checkpoints {
		if err := c.Verify(keys...); err != nil {
			return Report{}, err
		}
		if c.Origin != checkpoints[0].Origin {
			return Report{}, registry.FieldErrorf(registry.EINVALID, fmt.Sprintf("checkpoint[seq=%d]", c.Seq), "checkpoint is for log %q, not %q", c.Origin, checkpoints[0].Origin)
		}
		if h, ok := cps[c.Seq]; ok && h != c.Hash {
			return Report{}, registry.FieldErrorf(registry.EINVALID, fmt.Sprintf("checkpoint[seq=%d]", c.Seq), "two signed checkpoints give different hashes for seq %d: the log was forked", c.Seq)
		}
		cps[c.Seq] = c.Hash
		maxCP = max(maxCP, c.Seq)
	}

	var (
		rep    Report
		prev   Entry
		pos    uint64 // entries read before the current one
		bad    *Entry // the first entry that breaks the chain
		cpBad  uint64 // the first checkpointed seq whose hash differs; 0 if none
		lastCP uint64 // highest checkpointed seq matched before cpBad
		buf    = make([]byte, 0, 1024)
	)
	err := s.Scan(ctx, 1, func(e Entry) error {
		want, link := uint64(1), Hash{}
		if pos > 0 {
			want, link = prev.Seq+1, prev.Hash
		}
		buf = appendEncoding(buf[:0], &e)
		if e.Seq != want || e.PrevHash != link || sha256.Sum256(buf) != e.Hash {
			b := e // a copy, so that e itself does not escape to the heap
			bad = &b
			return errStop
		}
		if h, ok := cps[e.Seq]; ok && cpBad == 0 {
			if h != e.Hash {
				// Keep reading: a break in the chain just after this
				// entry tells what happened more precisely.
				cpBad = e.Seq
			} else {
				rep.Checkpoints++
				lastCP = e.Seq
			}
		}
		if cpBad == 0 {
			rep.Entries++
			rep.LastSeq, rep.LastHash = e.Seq, e.Hash
		}
		prev = e
		pos++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Report{}, fmt.Errorf("audit: verify: scan: %w", err)
	}
	var rewritten *Problem
	if cpBad != 0 {
		rewritten = &Problem{Seq: lastCP + 1, Kind: KindRewritten, Detail: fmt.Sprintf(
			"entry %d does not have the hash a signed checkpoint gives it (%s): an entry after seq %d was changed, removed or added and the chain re-hashed",
			cpBad, cps[cpBad], lastCP)}
	}
	switch {
	case bad != nil:
		var pp *Entry
		if pos > 0 {
			pp = &prev
		}
		p, err := diagnose(ctx, s, pos, pp, *bad)
		if err != nil {
			return Report{}, err
		}
		rep.Problem = &p
		if rewritten != nil && p.Seq > cpBad {
			rep.Problem = rewritten
		}
	case rewritten != nil:
		rep.Problem = rewritten
	case maxCP > rep.LastSeq:
		rep.Problem = &Problem{Seq: rep.LastSeq + 1, Kind: KindTruncated, Detail: fmt.Sprintf(
			"the log ends at seq %d but a signed checkpoint covers seq %d: entries were removed from the end", rep.LastSeq, maxCP)}
	}
	if rep.Problem != nil {
		if rep.LastSeq >= rep.Problem.Seq {
			// Entries read before the break are not trustworthy past the
			// first bad one.
			rep.Entries, rep.LastSeq, rep.LastHash = rep.Problem.Seq-1, rep.Problem.Seq-1, Hash{}
		}
		return rep, registry.FieldErrorf(registry.EINVALID, fmt.Sprintf("audit[seq=%d]", rep.Problem.Seq), "%s: %s", rep.Problem.Kind, rep.Problem.Detail)
	}
	rep.OK = true
	return rep, nil
}

// diagnose looks at the entry e that broke the chain at scan position pos
// (prev is the good entry before it, nil at the start) and says what
// happened. It indexes every stored hash, so it costs a second pass.
func diagnose(ctx context.Context, s Store, pos uint64, prev *Entry, e Entry) (Problem, error) {
	idx := map[Hash]uint64{}
	var next *Entry
	var p uint64
	err := s.Scan(ctx, 1, func(x Entry) error {
		if _, dup := idx[x.Hash]; !dup {
			idx[x.Hash] = x.Seq
		}
		if p == pos+1 {
			n := x
			next = &n
		}
		p++
		return nil
	})
	if err != nil {
		return Problem{}, fmt.Errorf("audit: verify: diagnose: %w", err)
	}
	return classify(idx, prev, e, next), nil
}

// classify names what happened at the first break, given every stored hash
// (idx, hash to Seq), the good entry before the break, the entry at the
// break and the one after it.
func classify(idx map[Hash]uint64, prev *Entry, e Entry, next *Entry) Problem {
	want, link := uint64(1), Hash{}
	if prev != nil {
		want, link = prev.Seq+1, prev.Hash
	}
	hashOK := e.ComputeHash() == e.Hash
	linkOK := e.PrevHash == link
	// linksTo reports whether x's predecessor is the stored entry labelled seq.
	linksTo := func(x *Entry, seq uint64) bool {
		if x == nil {
			return false
		}
		if seq == 0 {
			return x.PrevHash == Hash{}
		}
		got, ok := idx[x.PrevHash]
		return ok && got == seq
	}

	switch {
	case e.Seq > want:
		return Problem{Seq: want, Kind: KindDeleted, Detail: fmt.Sprintf("entries %d to %d are missing", want, e.Seq-1)}
	case e.Seq < want:
		if prev != nil && e.Seq == prev.Seq && e.Hash == prev.Hash {
			return Problem{Seq: e.Seq, Kind: KindInserted, Detail: fmt.Sprintf("entry %d appears twice", e.Seq)}
		}
		return Problem{Seq: e.Seq, Kind: KindReordered, Detail: fmt.Sprintf("entry %d comes after entry %d", e.Seq, want-1)}
	case !hashOK && linkOK:
		if next != nil && next.PrevHash == link {
			return Problem{Seq: want, Kind: KindInserted, Detail: fmt.Sprintf("entry %d is not part of the chain: the entry after it links to entry %d", want, want-1)}
		}
		return Problem{Seq: want, Kind: KindChanged, Detail: fmt.Sprintf("entry %d does not match its hash", want)}
	case hashOK && !linkOK:
		p, found := idx[e.PrevHash]
		switch {
		case prev == nil:
			return Problem{Seq: 1, Kind: KindDeleted, Detail: "the first entry links to a predecessor that is missing"}
		case !found:
			return Problem{Seq: want - 1, Kind: KindChanged, Detail: fmt.Sprintf("entry %d was changed and re-hashed: entry %d links to a hash no entry has", want-1, want)}
		case p < want-1:
			return Problem{Seq: p + 1, Kind: KindInserted, Detail: fmt.Sprintf("entry %d links to entry %d: entries %d to %d are not part of the chain", want, p, p+1, want-1)}
		default:
			return Problem{Seq: want, Kind: KindReordered, Detail: fmt.Sprintf("entry %d links to entry %d, which comes after it", want, p)}
		}
	}
	// Neither hash nor link hold: the entry was moved (its Seq changed), or
	// changed beyond recognition. Find the Seq it was hashed with.
	orig, found := originalSeq(e, idx, want)
	if !found {
		return Problem{Seq: want, Kind: KindChanged, Detail: fmt.Sprintf("entry %d matches neither its hash nor its predecessor", want)}
	}
	restIntact := next == nil || linksTo(next, e.Seq)
	p, predFound := idx[e.PrevHash]
	if e.PrevHash == (Hash{}) {
		p, predFound = 0, true
	}
	switch {
	case orig > want && !predFound && restIntact:
		return Problem{Seq: want, Kind: KindDeleted, Detail: fmt.Sprintf("%d entries before seq %d were removed and later entries renumbered (entry %d was %d)", orig-want, want, want, orig)}
	case orig < want && predFound && p == orig-1 && restIntact:
		return Problem{Seq: orig, Kind: KindInserted, Detail: fmt.Sprintf("%d entries were inserted at seq %d and later entries renumbered (entry %d was %d)", want-orig, orig, want, orig)}
	}
	return Problem{Seq: want, Kind: KindReordered, Detail: fmt.Sprintf("entry %d holds the entry that was %d", want, orig)}
}

// originalSeq finds the Seq an entry was hashed with, trying the successor
// of the entry it links to and then a window around where it sits.
func originalSeq(e Entry, idx map[Hash]uint64, at uint64) (uint64, bool) {
	try := func(seq uint64) bool {
		x := e
		x.Seq = seq
		return seq != 0 && x.ComputeHash() == e.Hash
	}
	if p, ok := idx[e.PrevHash]; ok && try(p+1) {
		return p + 1, true
	}
	if e.PrevHash == (Hash{}) && try(1) {
		return 1, true
	}
	const window = 256
	for d := uint64(1); d <= window; d++ {
		if try(at + d) {
			return at + d, true
		}
		if d < at && try(at-d) {
			return at - d, true
		}
	}
	return 0, false
}
