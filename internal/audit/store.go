package audit

import "context"

// Store keeps audit entries. Implementations must be append-only: there is
// no update or delete. The SQLite and PostgreSQL stores implement it on a
// table with seq as primary key.
type Store interface {
	// Append stores e. It must fail with ECONFLICT if an entry with e.Seq
	// exists or e.Seq is not the last Seq plus one (Seq 1 for an empty log).
	Append(ctx context.Context, e Entry) error
	// Last returns the entry with the highest Seq. Returns ENOTFOUND if the
	// log is empty.
	Last(ctx context.Context) (Entry, error)
	// Scan calls fn for every entry with Seq >= fromSeq, in ascending Seq
	// order, and stops at the first error fn returns, returning it. Stores
	// return entries exactly as stored (Time in UTC with at least
	// microsecond precision), without checking them.
	Scan(ctx context.Context, fromSeq uint64, fn func(Entry) error) error
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
