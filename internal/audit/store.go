package audit

import "context"

// Store keeps audit entries. Implementations must be append-only: there is
// no update or delete. The SQLite and PostgreSQL stores implement it on a
// table keyed by (chain, seq).
type Store interface {
	// Append stores e at the end of chain e.Chain. It must fail with
	// ECONFLICT if that chain holds an entry with e.Seq, or e.Seq is not
	// its last Seq plus one (Seq 1 for an empty chain).
	Append(ctx context.Context, e Entry) error
	// Last returns the newest entry: of the heads of the log's chains, the
	// one with the latest Time (of a log with one chain, its last entry).
	// Returns ENOTFOUND if the log is empty.
	Last(ctx context.Context) (Entry, error)
	// Scan calls fn for every entry with Seq >= fromSeq, chain by chain in
	// ascending chain order (chain 0 first), in ascending Seq order within
	// a chain, and stops at the first error fn returns, returning it.
	// Stores return entries exactly as stored (Time in UTC with at least
	// microsecond precision), without checking them.
	Scan(ctx context.Context, fromSeq uint64, fn func(Entry) error) error
}

// ChainStore is a Store whose log may have chains other than chain 0 (one
// per writer; see JoinAction). VerifyLog follows every chain of a store
// that implements it, and only chain 0 (what Scan returns) otherwise.
type ChainStore interface {
	Store
	// Chains returns the ID of every chain that holds entries, ascending.
	Chains(ctx context.Context) ([]uint64, error)
	// ScanChain is Scan for one chain.
	ScanChain(ctx context.Context, chain, fromSeq uint64, fn func(Entry) error) error
}

// CheckpointStore keeps signed checkpoints beside the log. Outside parties
// should keep their own copies: the ones in the database can be deleted by
// whoever controls it (though not forged without the signing key).
type CheckpointStore interface {
	// SaveCheckpoint stores c. Saving the same checkpoint (same origin and
	// seq) twice is not an error.
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints returns every stored checkpoint in ascending Seq order.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}
