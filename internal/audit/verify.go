package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

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
	Chain  uint64 `json:"chain,omitempty"` // the chain the entry belongs to
	Seq    uint64 `json:"seq"`             // the first entry that is missing, altered or out of place
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	OK          bool     `json:"ok"`
	Entries     uint64   `json:"entries"`     // entries checked and found good, in order from seq 1 of each chain
	LastSeq     uint64   `json:"last_seq"`    // the last good entry of chain 0
	LastHash    Hash     `json:"last_hash"`   // its hash (sign or compare it as a checkpoint); zero when a problem lies before it
	Checkpoints int      `json:"checkpoints"` // signed checkpoints matched against the log
	Problem     *Problem `json:"problem,omitempty"`

	// External is how many of Options.External matched the log.
	External int `json:"external_checkpoints,omitempty"`
	// Skipped counts stored checkpoints signed by keys the verifier was not
	// given: they prove nothing and were not used.
	Skipped int `json:"skipped_checkpoints,omitempty"`
	// KeyedFrom is the seq of chain 0's first chain-key entry; 0 when chain
	// 0 is not keyed (every entry then is a plain hash chain).
	KeyedFrom uint64 `json:"keyed_from,omitempty"`
	// MACs counts entries whose MAC was checked under a chain key.
	MACs uint64 `json:"macs_checked"`
	// Unsealed counts operator entries at the end of a keyed chain that no
	// MAC and no signed checkpoint or join covers yet: anyone with the
	// database could have written or rewritten them.
	Unsealed uint64  `json:"unsealed,omitempty"`
	Epochs   []Epoch `json:"epochs,omitempty"`
	// Chains reports every chain but chain 0, when the log has any.
	Chains []ChainReport `json:"chains,omitempty"`
	// Warnings say what the check could not prove.
	Warnings []string `json:"warnings,omitempty"`
}

// ChainReport is what Verify found in one chain other than chain 0.
type ChainReport struct {
	Chain     uint64 `json:"chain"`
	Entries   uint64 `json:"entries"`  // good entries, from seq 1
	LastSeq   uint64 `json:"last_seq"` // the last good entry
	LastHash  Hash   `json:"last_hash"`
	KeyedFrom uint64 `json:"keyed_from,omitempty"`
	MACs      uint64 `json:"macs_checked"`
	// Joined is the highest seq of the chain that a join entry of chain 0
	// names (and that the chain holds with that hash): signed checkpoints
	// of chain 0 cover the chain that far.
	Joined uint64 `json:"joined"`
}

// Epoch is one stretch of a chain under one chain key.
type Epoch struct {
	Chain      uint64 `json:"chain,omitempty"`
	Seq        uint64 `json:"seq"` // the chain-key entry that starts it
	ChainKeyID string `json:"chain_key_id"`
	Checked    bool   `json:"checked"` // the verifier held the key and checked the MACs of the epoch
}

// Generation is one chain key that an installation has had, as it recorded
// it outside the database: the key's ID, and the seq of the chain-key entry
// of chain 0 that started its epoch (0 while it has not written).
type Generation struct {
	ChainKeyID string `json:"chain_key_id"`
	Seq        uint64 `json:"seq,omitempty"`
}

// Options are what VerifyLog checks a log against. The zero value checks
// the hash chains alone.
type Options struct {
	// Checkpoints are the signed checkpoints of chain 0 kept with the log,
	// in its own table. One signed by a key not in Keys is skipped and
	// counted in Report.Skipped; one whose signature fails under a key in
	// Keys is an error.
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
	// entry in their epochs is checked, and each chain's last epoch must
	// be under one of them or under an earlier generation.
	ChainKeys []*ChainKey
	// Generations lists, oldest first, every chain key the installation has
	// had. When given, every chain-key entry must name one of them, in
	// order, and chain 0 must hold each recorded chain-key entry.
	Generations []Generation
}

var errStop = errors.New("audit: stop scan")

// Verify checks the log against checkpoints signed by keys, without chain
// keys: it is VerifyLog with Options{Checkpoints: checkpoints, Keys: keys}.
func Verify(ctx context.Context, s Store, checkpoints []Checkpoint, keys ...ed25519.PublicKey) (Report, error) {
	return VerifyLog(ctx, s, Options{Checkpoints: checkpoints, Keys: keys})
}

// trustedCheckpoints is the set of hashes a chain is compared with: signed
// checkpoints for chain 0, the heads that join entries name for the others.
type trustedCheckpoints struct {
	bySeq                  map[uint64]Hash
	origin                 string
	max, maxStored, maxExt uint64
	external               map[uint64]bool
	// forked is the first seq two joins name with different hashes.
	forked uint64
}

func newTrusted() *trustedCheckpoints {
	return &trustedCheckpoints{bySeq: map[uint64]Hash{}, external: map[uint64]bool{}}
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

// addHead adds a head named by a join.
func (t *trustedCheckpoints) addHead(h Head) {
	if have, ok := t.bySeq[h.Seq]; ok && have != h.Hash {
		if t.forked == 0 || h.Seq < t.forked {
			t.forked = h.Seq
		}
		return
	}
	t.bySeq[h.Seq] = h.Hash
	t.max = max(t.max, h.Seq)
	t.maxStored = t.max
}

// joinRef is a join entry of chain 0, with the heads it names.
type joinRef struct {
	seq   uint64
	heads []Head
}

// chainCheck is the state and outcome of checking one chain.
type chainCheck struct {
	chain uint64
	cps   *trustedCheckpoints

	entries   uint64 // good entries so far
	lastSeq   uint64
	lastHash  Hash
	keyedFrom uint64
	macs      uint64
	epochs    []Epoch
	cpMatched int // checkpoints (or joined heads) matched
	extMatch  int
	lastSeen  uint64 // the last entry read before the chain broke
	lastCP    uint64 // the highest checkpointed seq matched before a mismatch
	// The run of entries without a MAC at the end of the keyed chain: where
	// it starts, and the last one a non-operator wrote.
	unkeyedFrom, unkeyedOther uint64
	unsealed                  uint64
	joins                     []joinRef // chain 0: its join entries, in order
	prob                      *Problem  // the first problem, once known
}

// at names an entry of the chain in messages: "entry 12" in chain 0,
// "entry 12 of chain 77" elsewhere.
func (c *chainCheck) at(seq uint64) string {
	if c.chain == 0 {
		return fmt.Sprintf("entry %d", seq)
	}
	return fmt.Sprintf("entry %d of chain %d", seq, c.chain)
}

// problem makes a Problem of this chain; for chains other than 0 the
// detail names the chain.
func (c *chainCheck) problem(seq uint64, kind, detail string, args ...any) *Problem {
	d := fmt.Sprintf(detail, args...)
	if c.chain != 0 {
		d += fmt.Sprintf(" (chain %d)", c.chain)
	}
	return &Problem{Chain: c.chain, Seq: seq, Kind: kind, Detail: d}
}

// verifier holds what every chain is checked against.
type verifier struct {
	opt  Options
	held map[string]*macChecker
	gens map[string]int
}

// VerifyLog reads every chain of the log in Seq order (chain 0 alone if s
// is not a ChainStore) and checks that every entry's hash matches its
// content, that it links to the entry before it, that Seq runs 1, 2, 3…
// without gaps, that chain 0 agrees with every trusted signed checkpoint and
// every other chain with the heads that chain 0's join entries name, and,
// from each chain's first chain-key entry on, the keyed chain:
//
//   - an entry that carries a MAC in the epoch of a chain key in
//     opt.ChainKeys must carry the right one (else KindRewritten: the chain
//     was recomputed without the key);
//   - entries without a MAC are allowed where a keyed entry, a signed
//     checkpoint or a join follows them; at the end of a chain they are
//     allowed only for RoleOperator (else KindUnkeyed) and are counted in
//     Report.Unsealed;
//   - with opt.Generations, epochs follow the recorded generations;
//   - a chain whose last epoch is under a key the verifier does not hold
//     must be one that stopped before the key changed: its epoch's key
//     came before a held one (in opt.Generations, or in some chain), and
//     a join or checkpoint covers all of it (else KindUnknownKey).
//
// The first failure found in Seq order is reported, chain 0 first, then the
// other chains in ascending order; a second pass then diagnoses a broken
// chain (change, deletion, insertion, reordering). Report.Problem names the
// first bad entry.
//
// The returned error is nil when the log verifies; an *registry.Error with
// code EINVALID naming "audit[seq=N]" (chain 0) or "audit[chain=C,seq=N]"
// when it does not (with the Report filled in); EINVALID naming the
// checkpoint when a checkpoint's signature does not verify, when an
// external checkpoint is signed by an unknown key, or when two checkpoints
// disagree; or the store's error.
//
// What it cannot see: without external checkpoints, an attacker who holds
// the database can cut entries off the end of chain 0 (after the last
// recorded chain-key entry), and with it the joins that covered the other
// chains, delete the checkpoints that covered them, and then cut those
// chains back to the previous join; or append entries in the name of an
// operator command. Without the chain key, a recomputed chain with made-up
// MACs passes. See docs/threat-model.md.
func VerifyLog(ctx context.Context, s Store, opt Options) (Report, error) {
	var rep Report
	cps := newTrusted()
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
	v := &verifier{opt: opt, held: map[string]*macChecker{}, gens: map[string]int{}}
	for _, k := range opt.ChainKeys {
		v.held[k.ID()] = k.checker()
	}
	for i, g := range opt.Generations {
		if _, dup := v.gens[g.ChainKeyID]; !dup {
			v.gens[g.ChainKeyID] = i
		}
	}

	// Chain 0 first: its join entries say where the other chains ended.
	scan := func(chain uint64) func(context.Context, uint64, func(Entry) error) error {
		return func(ctx context.Context, from uint64, fn func(Entry) error) error { return s.Scan(ctx, from, fn) }
	}
	var ids []uint64
	cs, chained := s.(ChainStore)
	if chained {
		all, err := cs.Chains(ctx)
		if err != nil {
			return Report{}, fmt.Errorf("audit: verify: chains: %w", err)
		}
		ids = all
		scan = func(chain uint64) func(context.Context, uint64, func(Entry) error) error {
			return func(ctx context.Context, from uint64, fn func(Entry) error) error {
				return cs.ScanChain(ctx, chain, from, fn)
			}
		}
	}
	spine := &chainCheck{chain: 0, cps: cps}
	if err := v.scan(ctx, spine, scan(0)); err != nil {
		return Report{}, err
	}
	refs := map[uint64]*trustedCheckpoints{}
	for _, j := range spine.joins {
		if spine.prob != nil && j.seq >= spine.prob.Seq {
			break // joins after the first bad entry of chain 0 prove nothing
		}
		for _, h := range j.heads {
			if refs[h.Chain] == nil {
				refs[h.Chain] = newTrusted()
			}
			refs[h.Chain].addHead(h)
		}
	}
	checks := []*chainCheck{spine}
	seen := map[uint64]bool{0: true}
	for _, id := range ids {
		seen[id] = true
	}
	for id := range refs {
		if chained && !seen[id] {
			// Joined once, gone now: the whole chain was deleted.
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if id == 0 {
			continue
		}
		c := &chainCheck{chain: id, cps: refs[id]}
		if c.cps == nil {
			c.cps = newTrusted()
		}
		if err := v.scan(ctx, c, scan(id)); err != nil {
			return Report{}, err
		}
		checks = append(checks, c)
	}

	// What only the whole log shows: which keys came before one the
	// verifier holds, and whether a held key has written at all.
	earlier := map[string]bool{}
	for id := range v.gens {
		earlier[id] = true
	}
	heldWritten := false
	for _, c := range checks {
		var before []string
		for _, ep := range c.epochs {
			if v.held[ep.ChainKeyID] != nil {
				heldWritten = true
				for _, id := range before {
					earlier[id] = true
				}
			}
			before = append(before, ep.ChainKeyID)
		}
	}
	for _, c := range checks {
		if c.prob == nil {
			v.late(c, earlier, heldWritten, &rep.Warnings)
		}
	}
	if spine.prob == nil && cps.maxExt > cps.maxStored {
		spine.prob = &Problem{Seq: cps.maxStored + 1, Kind: KindCheckpointsDeleted, Detail: fmt.Sprintf(
			"an external checkpoint covers seq %d, but the newest checkpoint in the database covers seq %d: checkpoints were deleted from the database", cps.maxExt, cps.maxStored)}
	}

	// The report: chain 0's head, every chain's counts, the first problem.
	keyed, unkeyed := false, false
	for _, c := range checks {
		if c.prob != nil && c.lastSeq >= c.prob.Seq {
			// Entries read before the break are not trustworthy past the
			// first bad one.
			c.entries, c.lastSeq, c.lastHash = c.prob.Seq-1, c.prob.Seq-1, Hash{}
		}
		rep.Entries += c.entries
		rep.MACs += c.macs
		rep.Unsealed += c.unsealed
		rep.Epochs = append(rep.Epochs, c.epochs...)
		if c.keyedFrom != 0 {
			keyed = true
		} else if c.lastSeen > 0 {
			unkeyed = true
		}
		if c.chain == 0 {
			rep.LastSeq, rep.LastHash, rep.KeyedFrom = c.lastSeq, c.lastHash, c.keyedFrom
			rep.Checkpoints, rep.External = c.cpMatched, c.extMatch
		} else {
			rep.Chains = append(rep.Chains, ChainReport{Chain: c.chain, Entries: c.entries, LastSeq: c.lastSeq, LastHash: c.lastHash,
				KeyedFrom: c.keyedFrom, MACs: c.macs, Joined: c.lastCP})
		}
		if c.unsealed > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf(
				"the last %d entries%s, of operator commands, carry no MAC and no signed checkpoint covers them yet", c.unsealed, c.chainText()))
		}
		if c.prob != nil && rep.Problem == nil {
			rep.Problem = c.prob
		}
	}
	if !keyed && len(v.held) > 0 && unkeyed {
		rep.Warnings = append(rep.Warnings, "the log is not keyed yet: it has no chain-key entry, so anyone with the database can recompute it")
	}
	if keyed && len(v.held) == 0 {
		rep.Warnings = append(rep.Warnings, "no chain key was given: MACs were not checked")
	}
	if rep.Skipped > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d stored checkpoints are signed by keys the verifier was not given and were not used", rep.Skipped))
	}
	if p := rep.Problem; p != nil {
		field := fmt.Sprintf("audit[seq=%d]", p.Seq)
		if p.Chain != 0 {
			field = fmt.Sprintf("audit[chain=%d,seq=%d]", p.Chain, p.Seq)
		}
		return rep, registry.FieldErrorf(registry.EINVALID, field, "%s: %s", p.Kind, p.Detail)
	}
	rep.OK = true
	return rep, nil
}

func (c *chainCheck) chainText() string {
	if c.chain == 0 {
		return ""
	}
	return fmt.Sprintf(" of chain %d", c.chain)
}

// scan reads chain c in Seq order and checks its links, hashes, MACs,
// epochs and checkpoints, leaving in c.prob the first failure (diagnosed)
// if the chain itself is bad.
func (v *verifier) scan(ctx context.Context, c *chainCheck, scan func(context.Context, uint64, func(Entry) error) error) error {
	cps := c.cps
	var (
		prev  Entry
		pos   uint64 // entries read before the current one
		bad   *Entry // the first entry that breaks the chain
		cpBad uint64 // the first checkpointed seq whose hash differs; 0 if none

		buf = make([]byte, 0, 1024)

		mac     *macChecker // the current epoch's key, if held
		gen     = -1        // the current epoch's generation index, if known
		macProb *Problem    // the first MAC or epoch failure
		lastMAC uint64      // the last entry whose MAC verified, before macProb
	)
	flag := func(seq uint64, kind, detail string, args ...any) {
		if macProb == nil {
			macProb = c.problem(seq, kind, detail, args...)
		}
	}
	err := scan(ctx, 1, func(e Entry) error {
		want, link := uint64(1), Hash{}
		if pos > 0 {
			want, link = prev.Seq+1, prev.Hash
		}
		buf = appendEncoding(buf[:0], &e)
		if e.Chain != c.chain || e.Seq != want || e.PrevHash != link || sha256.Sum256(buf) != e.Hash {
			b := e // a copy, so that e itself does not escape to the heap
			bad = &b
			return errStop
		}
		c.lastSeen = e.Seq
		if h, ok := cps.bySeq[e.Seq]; ok && cpBad == 0 {
			if h != e.Hash {
				// Keep reading: a break in the chain just after this
				// entry tells what happened more precisely.
				cpBad = e.Seq
			} else {
				c.cpMatched++
				if cps.external[e.Seq] {
					c.extMatch++
				}
				c.lastCP = e.Seq
			}
		}
		if id, ok := EpochKeyID(&e); ok {
			c.epochs = append(c.epochs, Epoch{Chain: c.chain, Seq: e.Seq, ChainKeyID: id, Checked: v.held[id] != nil})
			if c.keyedFrom == 0 {
				c.keyedFrom = e.Seq
			}
			mac = v.held[id]
			if len(v.gens) > 0 {
				g, known := v.gens[id]
				switch {
				case !known:
					flag(e.Seq, KindUnknownKey, "%s starts an epoch under chain key %s, which this installation never had: the entries from here on were written by someone else", c.at(e.Seq), id)
				case g < gen:
					flag(e.Seq, KindUnknownKey, "%s goes back to chain key %s after a newer one: the entries from here on were rewritten", c.at(e.Seq), id)
				}
				gen = g
			}
			if e.MAC == nil {
				flag(e.Seq, KindChanged, "chain-key %s carries no MAC", c.at(e.Seq))
			}
		}
		if heads, isJoin, err := joinHeads(&e); isJoin {
			switch {
			case c.chain != 0:
				flag(e.Seq, KindInserted, "%s is a join entry, which only chain 0 holds", c.at(e.Seq))
			case err != nil:
				flag(e.Seq, KindChanged, "%s", err.Error())
			default:
				c.joins = append(c.joins, joinRef{seq: e.Seq, heads: heads})
			}
		}
		switch {
		case c.keyedFrom == 0:
			if e.MAC != nil {
				flag(e.Seq, KindChanged, "%s carries a MAC, but no chain-key entry comes before it: the chain-key entry was removed, or the MAC added", c.at(e.Seq))
			}
		case e.MAC == nil:
			if c.unkeyedFrom == 0 {
				c.unkeyedFrom = e.Seq
			}
			if e.Role != RoleOperator {
				c.unkeyedOther = e.Seq
			}
		default:
			if mac != nil {
				if !mac.ok(&e) {
					if from := max(lastMAC, c.lastCP); from >= e.Seq {
						// A signed checkpoint vouches for this entry's hash:
						// only its MAC was altered.
						flag(e.Seq, KindChanged, "the MAC of %s was altered", c.at(e.Seq))
					} else {
						flag(from+1, KindRewritten, "the MAC of %s does not verify under the chain key: entries after %d were changed, removed or added and the chain recomputed by someone without the key", c.at(e.Seq), from)
					}
					c.epochs[len(c.epochs)-1].Checked = false
				} else if macProb == nil {
					c.macs++
					lastMAC = e.Seq
				}
			}
			c.unkeyedFrom, c.unkeyedOther = 0, 0
		}
		if cpBad == 0 && macProb == nil {
			c.entries++
			c.lastSeq, c.lastHash = e.Seq, e.Hash
		}
		prev = e
		pos++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("audit: verify: scan: %w", err)
	}

	// The first failure in the chain itself, refined by checkpoints and MACs.
	var prob *Problem
	if bad != nil {
		var pp *Entry
		if pos > 0 {
			pp = &prev
		}
		p, err := diagnose(ctx, scan, pos, pp, *bad)
		if err != nil {
			return err
		}
		if c.chain != 0 {
			p.Chain, p.Detail = c.chain, p.Detail+fmt.Sprintf(" (chain %d)", c.chain)
		}
		prob = &p
	}
	if cpBad != 0 {
		// Entries up to lastCP match a checkpoint, and those up to lastMAC
		// carry a valid MAC: the rewrite starts after both.
		from := max(c.lastCP, min(lastMAC, cpBad-1))
		if prob == nil || prob.Seq > cpBad {
			what := "a signed checkpoint"
			if c.chain != 0 {
				what = "a join entry of chain 0"
			}
			prob = c.problem(from+1, KindRewritten,
				"%s does not have the hash %s gives it (%s): an entry after seq %d was changed, removed or added and the chain re-hashed",
				c.at(cpBad), what, cps.bySeq[cpBad], from)
		}
	}
	if macProb != nil && (prob == nil || prob.Seq > macProb.Seq) {
		prob = macProb
	}
	if prob == nil && cps.forked != 0 {
		prob = c.problem(cps.forked, KindRewritten, "two join entries of chain 0 give different hashes for %s: the chain was rewritten between them", c.at(cps.forked))
	}
	c.prob = prob
	return nil
}

// late adds the failures that show only once every chain is read, for a
// chain whose entries up to lastSeen are intact. earlier are the chain keys
// known to come before one the verifier holds (recorded generations, or
// keys whose epoch precedes a held key's in some chain); heldWritten says
// whether a held key started an epoch anywhere in the log. What the check
// could not prove goes to warnings.
func (v *verifier) late(c *chainCheck, earlier map[string]bool, heldWritten bool, warnings *[]string) {
	var late []*Problem
	what := "signed checkpoint"
	if c.chain != 0 {
		what = "join entry of chain 0"
	}
	if c.unkeyedOther > c.lastCP {
		from := max(c.unkeyedFrom, c.lastCP+1)
		late = append(late, c.problem(from, KindUnkeyed,
			"entries %d to %d carry no MAC, though server roles wrote some of them (entry %d), and no %s covers them: the chain was recomputed by someone without the chain key",
			from, c.lastSeen, c.unkeyedOther, what))
	} else if c.unkeyedFrom != 0 && c.lastSeen > c.lastCP {
		c.unsealed = c.lastSeen - max(c.unkeyedFrom-1, c.lastCP)
	}
	if c.chain == 0 {
		started := map[string]uint64{}
		for _, ep := range c.epochs {
			started[ep.ChainKeyID] = ep.Seq
		}
		for _, g := range v.opt.Generations {
			if g.Seq == 0 || started[g.ChainKeyID] == g.Seq {
				continue
			}
			kind := KindRewritten
			if g.Seq > c.lastSeen {
				kind = KindTruncated
			}
			late = append(late, &Problem{Seq: min(g.Seq, c.lastSeen+1), Kind: kind, Detail: fmt.Sprintf(
				"the log does not hold the entry %d that started chain key %s, as this installation recorded: the log was cut or rewritten from there", g.Seq, g.ChainKeyID)})
		}
	}
	if n := len(c.epochs); n > 0 && len(v.held) > 0 && v.held[c.epochs[n-1].ChainKeyID] == nil {
		last := c.epochs[n-1]
		_, inGens := v.gens[last.ChainKeyID]
		switch {
		case !heldWritten:
			if inGens {
				*warnings = append(*warnings, fmt.Sprintf(
					"the current chain key has not written to the log yet; its last epoch (from %s) is under an earlier key, whose MACs nobody can check any more", c.at(last.Seq)))
			} else if len(v.gens) == 0 {
				late = append(late, c.problem(last.Seq, KindUnknownKey,
					"the log's last epoch, from %s, is under chain key %s, which the verifier does not hold", c.at(last.Seq), last.ChainKeyID))
			}
		case !earlier[last.ChainKeyID]:
			late = append(late, c.problem(last.Seq, KindUnknownKey,
				"the last epoch of the chain, from %s, is under chain key %s, which the verifier does not hold and which never came before one it holds", c.at(last.Seq), last.ChainKeyID))
		case c.lastSeen > c.lastCP:
			// A chain that stopped before the key changed: the next join
			// (under the new key) covers it, unless entries were added
			// since.
			from := max(last.Seq, c.lastCP+1)
			late = append(late, c.problem(from, KindUnknownKey,
				"entries %d to %d are under the earlier chain key %s and no %s covers them: they were added after the key changed, by someone without the current key",
				from, c.lastSeen, last.ChainKeyID, what))
		}
	}
	if c.cps.max > c.lastSeen {
		if c.chain == 0 {
			late = append(late, &Problem{Seq: c.lastSeen + 1, Kind: KindTruncated, Detail: fmt.Sprintf(
				"the log ends at seq %d but a signed checkpoint covers seq %d: entries were removed from the end", c.lastSeen, c.cps.max)})
		} else {
			late = append(late, c.problem(c.lastSeen+1, KindTruncated,
				"the chain ends at seq %d but a join entry of chain 0 names seq %d: entries were removed from the end", c.lastSeen, c.cps.max))
		}
	}
	for _, p := range late {
		if c.prob == nil || p.Seq < c.prob.Seq {
			c.prob = p
		}
	}
}

// diagnose looks at the entry e that broke the chain at scan position pos
// (prev is the good entry before it, nil at the start) and says what
// happened. It indexes every stored hash, so it costs a second pass.
func diagnose(ctx context.Context, scan func(context.Context, uint64, func(Entry) error) error, pos uint64, prev *Entry, e Entry) (Problem, error) {
	idx := map[Hash]uint64{}
	labels := map[uint64]Hash{}
	var next *Entry
	var p uint64
	err := scan(ctx, 1, func(x Entry) error {
		if _, dup := idx[x.Hash]; !dup {
			idx[x.Hash] = x.Seq
		}
		if _, dup := labels[x.Seq]; !dup {
			labels[x.Seq] = x.Hash
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
	return classify(idx, labels, prev, e, next), nil
}

// classify names what happened at the first break, given every stored hash
// (idx, hash to Seq; labels, Seq to hash), the good entry before the break,
// the entry at the break and the one after it.
func classify(idx map[Hash]uint64, labels map[uint64]Hash, prev *Entry, e Entry, next *Entry) Problem {
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
		// A store that keeps no previous hash gives the stored one before
		// as PrevHash, so a moved entry links fine but fails its hash: look
		// for the place it was hashed at.
		if orig, ok := relabelled(e, labels, want); ok {
			return Problem{Seq: want, Kind: KindReordered, Detail: fmt.Sprintf("entry %d holds the entry that was %d", want, orig)}
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

// relabelled finds a Seq near at that e was hashed with, following the
// entry stored under the Seq before it (labels).
func relabelled(e Entry, labels map[uint64]Hash, at uint64) (uint64, bool) {
	const window = 256
	for seq := max(at, window+1) - window; seq <= at+window; seq++ {
		if seq == at || seq == 0 {
			continue
		}
		x := e
		x.Seq, x.PrevHash = seq, labels[seq-1]
		if x.ComputeHash() == e.Hash {
			return seq, true
		}
	}
	return 0, false
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
