// Package audit keeps Haven's access log: an append-only chain of entries,
// each naming who (token ID and role) did what (action), why (purpose) and
// to whom (a pseudonym from vault.Pseudonym, or an object reference), and
// never any personal data. It knows nothing about storage: stores implement
// Store.
//
// # Chain
//
// Entry n holds the SHA-256 hash of entry n-1 and its own hash over
//
//	"haven-audit/v1\x00" ‖ u64 seq ‖ i64 unix µs ‖ lp(actor) ‖ lp(role) ‖
//	lp(action) ‖ lp(purpose) ‖ lp(subject) ‖ prev hash
//
// (big-endian integers, lp = u32 length ‖ bytes), so changing, removing,
// inserting or reordering entries breaks the chain at the first bad entry.
// Times are stored and hashed in UTC at microsecond precision.
//
// A bare chain cannot show that entries were cut off its end, or that
// everything after some point was rewritten and re-hashed: anyone can
// compute SHA-256. Signed checkpoints close that gap: every Every entries
// (and on demand) the Log signs {origin, seq, hash, time} with Ed25519.
// Checkpoints export as JSON Lines for an outside party (a partner
// organisation) to keep; Verify checks the log against the copies it is
// given. Forged entries appended after the last checkpoint cannot be told
// from real ones until the next checkpoint is signed and kept elsewhere.
//
// # API
//
//	type Record{Actor, Role, Action, Purpose, Subject string}  .Validate() error
//	type Entry{Seq, Time, Record, PrevHash, Hash}              .ComputeHash() Hash
//	type Hash [32]byte                                         hex in text and JSON
//	Next(last *Entry, r Record, now time.Time) (Entry, error)  pure: the entry after last (nil: first)
//	type Store interface{ Append(ctx, Entry) error; Last(ctx) (Entry, error); Scan(ctx, fromSeq, fn) error }
//	type CheckpointStore interface{ SaveCheckpoint(ctx, Checkpoint) error; Checkpoints(ctx) ([]Checkpoint, error) }
//	type Mem                                                   in-memory Store and CheckpointStore
//	type Log{Store, Signer, Checkpoints, Every}                serialised append with periodic checkpoints
//	(*Log).Append(ctx, Record, now) (Entry, error)
//	(*Log).Checkpoint(ctx, now) (Checkpoint, error)            sign the head now
//	NewSigner(origin string, crypto.Signer) (*Signer, error)   Ed25519 only
//	(*Signer).Sign(Entry, now) (Checkpoint, error) / PublicKey() ed25519.PublicKey
//	type Checkpoint{Origin, Seq, Hash, Time, KeyID, Signature} .Verify(keys...) error / SignedMessage() []byte
//	MarshalCheckpoints(w, []Checkpoint) error / ParseCheckpoints([]byte) ([]Checkpoint, error)
//	KeyID(pub) string / EncodePublicKey(pub) string / ParsePublicKey(s) (ed25519.PublicKey, error)
//	Verify(ctx, Store, []Checkpoint, keys ...ed25519.PublicKey) (Report, error)
//	type Report{OK, Entries, LastSeq, LastHash, Checkpoints, Problem *Problem}
//	type Problem{Seq, Kind, Detail}; Kind is one of KindChanged, KindDeleted,
//	KindInserted, KindReordered, KindTruncated, KindRewritten
//
// Errors are registry errors: EINVALID naming the field for a bad record,
// ECONFLICT from a store for a duplicate Seq (Log retries), ENOTFOUND for an
// empty log, and EINVALID naming "audit[seq=N]" when Verify finds tampering.
//
// # Privacy
//
// Record fields are limited to [A-Za-z0-9._:/@+=-] and MaxFieldLen bytes,
// which keeps names, phone numbers and free text out by construction. The
// subject of a person is their pseudonym, never their card code: once the
// person is erased nobody can link their entries back to them.
package audit
