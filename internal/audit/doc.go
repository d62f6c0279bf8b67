// Package audit keeps Haven's access log: an append-only chain of entries,
// each naming who (token ID and role) did what (action), why (purpose) and
// to whom (a pseudonym from vault.Pseudonym, or an object reference), and
// never any personal data. It knows nothing about storage: stores implement
// Store.
//
// # Chain
//
// Entry n of a chain holds the SHA-256 hash of entry n-1 and its own hash
// over
//
//	"haven-audit/v1\x00" ‖ u64 seq ‖ i64 unix µs ‖ lp(actor) ‖ lp(role) ‖
//	lp(action) ‖ lp(purpose) ‖ lp(subject) ‖ prev hash
//
// (big-endian integers, lp = u32 length ‖ bytes), so changing, removing,
// inserting or reordering entries breaks the chain at the first bad entry.
// Times are stored and hashed in UTC at microsecond precision.
//
// # Chains
//
// A log is one or more chains, each with its entries numbered 1, 2, 3…
// without gaps. Chain 0 is the spine: the only chain of a log with one writer (SQLite, and every
// log written before chains existed), hashed as above. A store with many
// writers (PostgreSQL) gives each writer a chain of its own, so that writers
// never wait for one another; such a chain's entries hash as
//
//	"haven-audit/v2\x00" ‖ u64 chain ‖ u64 seq ‖ … as above
//
// so an entry cannot move between chains. Chain 0 then holds the chain-key
// entries a server starts and the joins (JoinAction): each names the head
// (chain, seq, hash) of every chain that moved since the last one, and its
// subject commits to them. A checkpoint of chain 0 covers, through its last
// join, every chain; VerifyLog follows every chain of a ChainStore and
// checks each against the heads the joins name, as it checks chain 0
// against checkpoints. See docs/adr/0005-audit-chains-per-writer.md.
//
// # Keyed chain
//
// Anyone can compute SHA-256, so someone with the database could delete an
// entry and recompute every hash after it. From its first chain-key entry
// (action EpochAction, subject "chain:" ‖ key ID) on, a chain is keyed: each
// entry also carries MAC = HMAC-SHA-256(chain key, "haven-audit-mac/v1\x00" ‖
// hash), truncated to 128 bits. The chain key lives outside the database, so
// recomputing the chain needs it; VerifyLog, given the key, names the first
// entry whose MAC fails. Entries before the first chain-key entry (logs
// written before keying existed) stay a plain hash chain and still verify;
// the first keyed entry's MAC covers them too, since its hash commits to
// everything before it. Each chain starts its own epoch.
//
// A new chain key (after the key ring is shredded and renewed) starts a new
// epoch with another chain-key entry, keyed under the new key, so that the
// new key vouches for the whole log before it. Entries of operator commands
// that do not hold the key (RoleOperator) may lack a MAC: the next keyed
// entry or signed checkpoint covers them.
//
// # Checkpoints
//
// A chain, keyed or not, cannot show that entries were cut off its end.
// Signed checkpoints close that gap: the server joins the chains and signs
// {origin, seq, hash, time} of chain 0 with Ed25519 every few seconds while
// the log grows. Checkpoints
// export as JSON Lines for an outside party to keep; Verify checks the log
// against the copies it is given (Options.External), and catches a log that
// ends before one of them, or a checkpoint table that lost them.
//
// # API
//
//	type Record{Actor, Role, Action, Purpose, Subject string}  .Validate() error
//	type Entry{Chain, Seq, Time, Record, PrevHash, Hash, MAC, Heads} .ComputeHash() Hash
//	type Hash [32]byte / type MAC [16]byte                     hex in text and JSON
//	Next(last *Entry, r Record, now time.Time) (Entry, error)  pure: the entry after last (nil: first of chain 0), without MAC
//	NextInChain(chain, last, r, now) (Entry, error)            the same for any chain
//	NewChainKey(secret) (*ChainKey, error)                     .ID() / Seal(*Entry) / Signed(*Entry) / Sum(Hash) / Is(secret)
//	EpochRecord(*ChainKey) Record / EpochKeyID(*Entry) (string, bool)
//	type Head{Chain, Seq, Hash}; JoinRecord([]Head) (Record, error) / JoinedHeads(*Entry) / EncodeHeads / DecodeHeads
//	type Store interface{ Append(ctx, Entry) error; Last(ctx) (Entry, error); Scan(ctx, fromSeq, fn) error }
//	type ChainStore interface{ Store; Chains(ctx) ([]uint64, error); ScanChain(ctx, chain, fromSeq, fn) error }
//	type CheckpointStore interface{ SaveCheckpoint(ctx, Checkpoint) error; Checkpoints(ctx) ([]Checkpoint, error) }
//	NewSigner(origin string, crypto.Signer) (*Signer, error)   Ed25519 only
//	(*Signer).Sign(Entry, now) (Checkpoint, error) / PublicKey() ed25519.PublicKey
//	type Checkpoint{Origin, Seq, Hash, Time, KeyID, Signature} .Verify(keys...) error / SignedMessage() []byte
//	MarshalCheckpoints(w, []Checkpoint) error / ParseCheckpoints([]byte) ([]Checkpoint, error)
//	KeyID(pub) string / EncodePublicKey(pub) string / ParsePublicKey(s) (ed25519.PublicKey, error)
//	VerifyLog(ctx, Store, Options) (Report, error)             Options{Checkpoints, External, Keys, ChainKeys, Generations}
//	Verify(ctx, Store, []Checkpoint, keys ...ed25519.PublicKey) (Report, error)  VerifyLog without chain keys
//	type Report{OK, Entries, LastSeq, LastHash, Checkpoints, Problem *Problem, External, Skipped, KeyedFrom, MACs, Unsealed, Epochs, Chains, Warnings}
//	type Problem{Chain, Seq, Kind, Detail}; Kind is one of KindChanged, KindDeleted,
//	KindInserted, KindReordered, KindTruncated, KindRewritten, KindUnkeyed,
//	KindUnknownKey, KindCheckpointsDeleted
//
// Errors are registry errors: EINVALID naming the field for a bad record,
// ECONFLICT from a store for a duplicate Seq, ENOTFOUND for an empty log,
// and EINVALID naming "audit[seq=N]" (chain 0) or "audit[chain=C,seq=N]"
// when Verify finds tampering.
//
// # Privacy
//
// Record fields are limited to [A-Za-z0-9._:/@+=-] and MaxFieldLen bytes,
// which keeps names, phone numbers and free text out by construction. The
// subject of a person is their pseudonym, never their card code: once the
// person is erased nobody can link their entries back to them.
package audit
