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
	KindTruncated = "truncated" // the log ends before a signed checkpoint, or before a chain-key entry the installation recorded
	KindRewritten = "rewritten" // the chain is self-consistent but disagrees with a signed checkpoint or with its MACs
	// KindUnkeyed: entries at the end of a keyed log lack a MAC although a
	// server role wrote them, and no signed checkpoint covers them: the
	// chain was recomputed by someone without the chain key.
	KindUnkeyed = "unkeyed"
	// KindUnknownKey: the log switches to a chain key that this
	// installation never had, or back to an older one.
	KindUnknownKey = "unknown-key"
	// KindCheckpointsDeleted: checkpoints kept outside the database reach
	// further than those in its own table, so the table lost some.
	KindCheckpointsDeleted = "checkpoints-deleted"
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

	// External is how many of Options.External matched the log.
	External int `json:"external_checkpoints,omitempty"`
	// Skipped counts stored checkpoints signed by keys the verifier was not
	// given: they prove nothing and were not used.
	Skipped int `json:"skipped_checkpoints,omitempty"`
	// KeyedFrom is the seq of the log's first chain-key entry; 0 when the
	// log is not keyed (every entry then is a plain hash chain).
	KeyedFrom uint64 `json:"keyed_from,omitempty"`
	// MACs counts entries whose MAC was checked under a chain key.
	MACs uint64 `json:"macs_checked"`
	// Unsealed counts operator entries at the end of a keyed log that no
	// MAC and no signed checkpoint covers yet: anyone with the database
	// could have written or rewritten them.
	Unsealed uint64  `json:"unsealed,omitempty"`
	Epochs   []Epoch `json:"epochs,omitempty"`
	// Warnings say what the check could not prove.
	Warnings []string `json:"warnings,omitempty"`
}

// Epoch is one stretch of the log under one chain key.
type Epoch struct {
	Seq        uint64 `json:"seq"` // the chain-key entry that starts it
	ChainKeyID string `json:"chain_key_id"`
	Checked    bool   `json:"checked"` // the verifier held the key and checked the MACs of the epoch
}

// Generation is one chain key that an installation has had, as it recorded
// it outside the database: the key's ID, and the seq of the chain-key entry
// that started its epoch (0 while it has not written).
type Generation struct {
	ChainKeyID string `json:"chain_key_id"`
	Seq        uint64 `json:"seq,omitempty"`
}

// Options are what VerifyLog checks a log against. The zero value checks
// the hash chain alone.
type Options struct {
	// Checkpoints are the signed checkpoints kept with the log, in its own
	// table. One signed by a key not in Keys is skipped and counted in
	// Report.Skipped; one whose signature fails under a key in Keys is an
	// error.
	Checkpoints []Checkpoint
	// External are checkpoints kept where the database host cannot rewrite
	// them (haven serve exports them). Each must verify under Keys; the log
	// must hold every one (else KindTruncated or KindRewritten), and the
	// newest stored checkpoint must reach at least as far as the newest
	// external one (else KindCheckpointsDeleted).
	External []Checkpoint
	// Keys are the trusted checkpoint public keys.
	Keys []ed25519.PublicKey
	// ChainKeys are the chain keys the verifier holds: the MAC of every
	// entry in their epochs is checked, and the log's last epoch must be
	// under one of them or under an earlier generation.
	ChainKeys []*ChainKey
	// Generations lists, oldest first, every chain key the installation has
	// had. When given, every chain-key entry must name one of them, in
	// order, and the log must hold each recorded chain-key entry.
	Generations []Generation
}

var errStop = errors.New("audit: stop scan")

// Verify checks the log against checkpoints signed by keys, without chain
// keys: it is VerifyLog with Options{Checkpoints: checkpoints, Keys: keys}.
func Verify(ctx context.Context, s Store, checkpoints []Checkpoint, keys ...ed25519.PublicKey) (Report, error) {
	return VerifyLog(ctx, s, Options{Checkpoints: checkpoints, Keys: keys})
}

// trustedCheckpoints is the set of checkpoints Verify compares the log with.
type trustedCheckpoints struct {
	bySeq                  map[uint64]Hash
	origin                 string
	max, maxStored, maxExt uint64
	external               map[uint64]bool
}

func (t *trustedCheckpoints) add(c Checkpoint, external bool) error {
	field := fmt.Sprintf("checkpoint[seq=%d]", c.Seq)
	if t.origin == "" {
		t.origin = c.Origin
	} else if c.Origin != t.origin {
		return registry.FieldErrorf(registry.EINVALID, field, "checkpoint is for log %q, not %q", c.Origin, t.origin)
	}
	if h, ok := t.bySeq[c.Seq]; ok && h != c.Hash {
		return registry.FieldErrorf(registry.EINVALID, field, "two signed checkpoints give different hashes for seq %d: the log was forked", c.Seq)
	}
	t.bySeq[c.Seq] = c.Hash
	t.max = max(t.max, c.Seq)
	if external {
		t.maxExt = max(t.maxExt, c.Seq)
		t.external[c.Seq] = true
	} else {
		t.maxStored = max(t.maxStored, c.Seq)
	}
	return nil
}

// VerifyLog reads the whole log in Seq order and checks that every entry's
// hash matches its content, that it links to the entry before it, that Seq
// runs 1, 2, 3… without gaps, that the log agrees with every trusted signed
// checkpoint, and, from the first chain-key entry on, the keyed chain:
//
//   - an entry that carries a MAC in the epoch of a chain key in
//     opt.ChainKeys must carry the right one (else KindRewritten: the chain
//     was recomputed without the key);
//   - entries without a MAC are allowed where a keyed entry or a signed
//     checkpoint follows them; at the end of the log they are allowed only
//     for RoleOperator (else KindUnkeyed) and are counted in
//     Report.Unsealed;
//   - with opt.Generations, epochs follow the recorded generations.
//
// The first failure found in Seq order is reported; a second pass then
// diagnoses a broken chain (change, deletion, insertion, reordering).
// Report.Problem names the first bad entry.
//
// The returned error is nil when the log verifies; an *registry.Error with
// code EINVALID naming "audit[seq=N]" when it does not (with the Report
// filled in); EINVALID naming the checkpoint when a checkpoint's signature
// does not verify, when an external checkpoint is signed by an unknown key,
// or when two checkpoints disagree; or the store's error.
//
// What it cannot see: without external checkpoints, an attacker who holds
// the database can cut entries off the end of the log (after the last
// recorded chain-key entry) and delete the checkpoints that covered them,
// or append entries in the name of an operator command. Without the chain
// key, a recomputed chain with made-up MACs passes. See
// docs/threat-model.md.
func VerifyLog(ctx context.Context, s Store, opt Options) (Report, error) {
	var rep Report
	cps := trustedCheckpoints{bySeq: map[uint64]Hash{}, external: map[uint64]bool{}}
	for _, c := range opt.Checkpoints {
		known, err := c.verify(opt.Keys)
		if !known {
			rep.Skipped++
			continue
		}
		if err != nil {
			return Report{}, err
		}
		if err := cps.add(c, false); err != nil {
			return Report{}, err
		}
	}
	for _, c := range opt.External {
		if _, err := c.verify(opt.Keys); err != nil {
			return Report{}, err
		}
		if err := cps.add(c, true); err != nil {
			return Report{}, err
		}
	}
	held := map[string]*macChecker{}
	for _, k := range opt.ChainKeys {
		held[k.ID()] = k.checker()
	}
	gens := map[string]int{}
	for i, g := range opt.Generations {
		if _, dup := gens[g.ChainKeyID]; !dup {
			gens[g.ChainKeyID] = i
		}
	}

	var (
		prev  Entry
		pos   uint64 // entries read before the current one
		bad   *Entry // the first entry that breaks the chain
		cpBad uint64 // the first checkpointed seq whose hash differs; 0 if none
		// lastCP is the highest checkpointed seq matched before cpBad.
		lastCP uint64
		buf    = make([]byte, 0, 1024)

		mac     *macChecker // the current epoch's key, if held
		gen     = -1        // the current epoch's generation index, if known
		macProb *Problem    // the first MAC or epoch failure
		lastMAC uint64      // the last entry whose MAC verified, before macProb
		// The run of entries without a MAC at the end of the keyed log so
		// far: where it starts, and the last one a non-operator wrote.
		unkeyedFrom, unkeyedOther uint64
		lastSeen                  uint64
	)
	flag := func(seq uint64, kind, detail string, args ...any) {
		if macProb == nil {
			macProb = &Problem{Seq: seq, Kind: kind, Detail: fmt.Sprintf(detail, args...)}
		}
	}
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
		lastSeen = e.Seq
		if h, ok := cps.bySeq[e.Seq]; ok && cpBad == 0 {
			if h != e.Hash {
				// Keep reading: a break in the chain just after this
				// entry tells what happened more precisely.
				cpBad = e.Seq
			} else {
				rep.Checkpoints++
				if cps.external[e.Seq] {
					rep.External++
				}
				lastCP = e.Seq
			}
		}
		if id, ok := EpochKeyID(&e); ok {
			rep.Epochs = append(rep.Epochs, Epoch{Seq: e.Seq, ChainKeyID: id, Checked: held[id] != nil})
			if rep.KeyedFrom == 0 {
				rep.KeyedFrom = e.Seq
			}
			mac = held[id]
			if len(gens) > 0 {
				g, known := gens[id]
				switch {
				case !known:
					flag(e.Seq, KindUnknownKey, "entry %d starts an epoch under chain key %s, which this installation never had: the entries from here on were written by someone else", e.Seq, id)
				case g < gen:
					flag(e.Seq, KindUnknownKey, "entry %d goes back to chain key %s after a newer one: the entries from here on were rewritten", e.Seq, id)
				}
				gen = g
			}
			if e.MAC == nil {
				flag(e.Seq, KindChanged, "chain-key entry %d carries no MAC", e.Seq)
			}
		}
		switch {
		case rep.KeyedFrom == 0:
			if e.MAC != nil {
				flag(e.Seq, KindChanged, "entry %d carries a MAC, but no chain-key entry comes before it: the chain-key entry was removed, or the MAC added", e.Seq)
			}
		case e.MAC == nil:
			if unkeyedFrom == 0 {
				unkeyedFrom = e.Seq
			}
			if e.Role != RoleOperator {
				unkeyedOther = e.Seq
			}
		default:
			if mac != nil {
				if !mac.ok(&e) {
					if from := max(lastMAC, lastCP); from >= e.Seq {
						// A signed checkpoint vouches for this entry's hash:
						// only its MAC was altered.
						flag(e.Seq, KindChanged, "the MAC of entry %d was altered", e.Seq)
					} else {
						flag(from+1, KindRewritten, "the MAC of entry %d does not verify under the chain key: entries after %d were changed, removed or added and the chain recomputed by someone without the key", e.Seq, from)
					}
					rep.Epochs[len(rep.Epochs)-1].Checked = false
				} else if macProb == nil {
					rep.MACs++
					lastMAC = e.Seq
				}
			}
			unkeyedFrom, unkeyedOther = 0, 0
		}
		if cpBad == 0 && macProb == nil {
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

	// The first failure in the chain itself, refined by checkpoints and MACs.
	var prob *Problem
	if bad != nil {
		var pp *Entry
		if pos > 0 {
			pp = &prev
		}
		p, err := diagnose(ctx, s, pos, pp, *bad)
		if err != nil {
			return Report{}, err
		}
		prob = &p
	}
	if cpBad != 0 {
		// Entries up to lastCP match a checkpoint, and those up to lastMAC
		// carry a valid MAC: the rewrite starts after both.
		from := max(lastCP, min(lastMAC, cpBad-1))
		if prob == nil || prob.Seq > cpBad {
			prob = &Problem{Seq: from + 1, Kind: KindRewritten, Detail: fmt.Sprintf(
				"entry %d does not have the hash a signed checkpoint gives it (%s): an entry after seq %d was changed, removed or added and the chain re-hashed",
				cpBad, cps.bySeq[cpBad], from)}
		}
	}
	if macProb != nil && (prob == nil || prob.Seq > macProb.Seq) {
		prob = macProb
	}

	// Failures that show only once the whole log is read. The chain up to
	// lastSeen is intact here.
	if prob == nil {
		var late []*Problem
		if unkeyedOther > lastCP {
			late = append(late, &Problem{Seq: max(unkeyedFrom, lastCP+1), Kind: KindUnkeyed, Detail: fmt.Sprintf(
				"entries %d to %d carry no MAC, though server roles wrote some of them (entry %d), and no signed checkpoint covers them: the chain was recomputed by someone without the chain key",
				max(unkeyedFrom, lastCP+1), lastSeen, unkeyedOther)})
		} else if unkeyedFrom != 0 && lastSeen > lastCP {
			rep.Unsealed = lastSeen - max(unkeyedFrom-1, lastCP)
			rep.Warnings = append(rep.Warnings, fmt.Sprintf(
				"the last %d entries, of operator commands, carry no MAC and no signed checkpoint covers them yet", rep.Unsealed))
		}
		started := map[string]uint64{}
		for _, ep := range rep.Epochs {
			started[ep.ChainKeyID] = ep.Seq
		}
		for _, g := range opt.Generations {
			if g.Seq == 0 || started[g.ChainKeyID] == g.Seq {
				continue
			}
			kind := KindRewritten
			if g.Seq > lastSeen {
				kind = KindTruncated
			}
			late = append(late, &Problem{Seq: min(g.Seq, lastSeen+1), Kind: kind, Detail: fmt.Sprintf(
				"the log does not hold the entry %d that started chain key %s, as this installation recorded: the log was cut or rewritten from there", g.Seq, g.ChainKeyID)})
		}
		if n := len(rep.Epochs); n > 0 && len(held) > 0 && held[rep.Epochs[n-1].ChainKeyID] == nil {
			last := rep.Epochs[n-1]
			if _, older := gens[last.ChainKeyID]; older {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf(
					"the current chain key has not written to the log yet; its last epoch (from entry %d) is under an earlier key, whose MACs nobody can check any more", last.Seq))
			} else if len(gens) == 0 {
				late = append(late, &Problem{Seq: last.Seq, Kind: KindUnknownKey, Detail: fmt.Sprintf(
					"the log's last epoch, from entry %d, is under chain key %s, which the verifier does not hold", last.Seq, last.ChainKeyID)})
			}
		}
		if cps.max > lastSeen {
			late = append(late, &Problem{Seq: lastSeen + 1, Kind: KindTruncated, Detail: fmt.Sprintf(
				"the log ends at seq %d but a signed checkpoint covers seq %d: entries were removed from the end", lastSeen, cps.max)})
		}
		for _, p := range late {
			if prob == nil || p.Seq < prob.Seq {
				prob = p
			}
		}
		if prob == nil && cps.maxExt > cps.maxStored {
			prob = &Problem{Seq: cps.maxStored + 1, Kind: KindCheckpointsDeleted, Detail: fmt.Sprintf(
				"an external checkpoint covers seq %d, but the newest checkpoint in the database covers seq %d: checkpoints were deleted from the database", cps.maxExt, cps.maxStored)}
		}
	}

	if rep.KeyedFrom == 0 && len(held) > 0 && lastSeen > 0 {
		rep.Warnings = append(rep.Warnings, "the log is not keyed yet: it has no chain-key entry, so anyone with the database can recompute it")
	}
	if rep.KeyedFrom != 0 && len(held) == 0 {
		rep.Warnings = append(rep.Warnings, "no chain key was given: MACs were not checked")
	}
	if rep.Skipped > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d stored checkpoints are signed by keys the verifier was not given and were not used", rep.Skipped))
	}
	if prob != nil {
		rep.Problem = prob
		if rep.LastSeq >= prob.Seq {
			// Entries read before the break are not trustworthy past the
			// first bad one.
			rep.Entries, rep.LastSeq, rep.LastHash = prob.Seq-1, prob.Seq-1, Hash{}
		}
		return rep, registry.FieldErrorf(registry.EINVALID, fmt.Sprintf("audit[seq=%d]", prob.Seq), "%s: %s", prob.Kind, prob.Detail)
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
