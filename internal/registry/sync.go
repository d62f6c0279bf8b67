package registry

import (
	"context"
	"time"
)

// RoleNode is the role of an offline clinic node's token at the central
// registry: it may call the sync routes only, for its sites only (see
// docs/adr/0006-offline-clinic-nodes.md).
const RoleNode Role = "node"

// The kinds of sync events: the writes a node pushes to the central, and
// the changes the central feeds back to the nodes that follow a person.
const (
	SyncPerson   = "person"   // a person registered (the central keeps birth and sex only)
	SyncEdit     = "edit"     // a person's birth date or sex changed
	SyncDose     = "dose"     // a vaccination recorded (or not given)
	SyncTest     = "test"     // a test recorded
	SyncCorrect  = "correct"  // a record marked entered in error
	SyncErase    = "erase"    // a person erased
	SyncCert     = "cert"     // a certificate issued (its metadata; push only)
	SyncUnfollow = "unfollow" // the central stops feeding a person to a node (feed only)
)

// OriginCentral is the Origin of a person a node received from the central
// (a shadow): the node did not register them, so it never pushes their
// demographics and may not edit them.
const OriginCentral = "central"

// SyncEvent is a reference to one write, as a node queues it for the
// central (Write.Push) or the central queues it for the nodes following the
// person (Write.Feed). It holds no personal data: the record is read as it
// then stands when the event is sent, so erasing a person leaves nothing in
// the queue but an erase event.
type SyncEvent struct {
	Kind     string // one of the Sync* kinds
	PersonID ID
	// RecordID is the vaccination or test of a dose, test or correct event
	// (for correct: the record marked entered in error); zero otherwise.
	RecordID ID
	// HLC is the node's hybrid logical clock at the write (48 bits of Unix
	// milliseconds, 16 bits of counter); zero in the feed.
	HLC int64
	At  time.Time // when it was queued
}

// CertificateMeta is what a registry keeps of an issued certificate: its
// UVCI, signing key ID and validity, and the record it certifies; never the
// certificate or the names in it.
type CertificateMeta struct {
	ID, PersonID, RecordID ID
	UVCI                   string
	KID                    []byte
	IssuedAt, ExpiresAt    time.Time
}

// SyncCursor advances a node's applied_seq at the central from Seen to Last
// in the transaction of a write, as a compare-and-set: if the node's
// applied_seq is no longer Seen (a concurrent push won), the write fails
// with ECONFLICT on field "applied_seq" and nothing is written.
type SyncCursor struct {
	Node       string
	Seen, Last int64
	At         time.Time
}

// SyncItem is one queued event of a node's outbox, in the order it was
// queued (Seq, never reused).
type SyncItem struct {
	Seq       int64
	Event     SyncEvent
	Attempts  int
	LastError string
	// Failed is set when the central rejected the event: it stays on the
	// node for an operator (haven sync retry), and is not sent again.
	Failed bool
}

// SyncReject is an event the central refused, and why. Message never holds
// personal data.
type SyncReject struct {
	Seq     int64  `json:"seq"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// SyncOutboxStatus summarizes a node's outbox.
type SyncOutboxStatus struct {
	Pending, Failed int64
	Oldest          time.Time // when the oldest pending event was queued (zero if none)
	LastSeq         int64     // the highest seq ever queued
}

// SyncNode is a node as the central knows it.
type SyncNode struct {
	ID         string // 32 hex digits, chosen by the node at its first run
	TokenID    string // the node token it is bound to
	Sites      []string
	Label      string
	AppliedSeq int64 // the last event seq applied (or rejected) from it
	// Pending, ClockSkew and Version are what the node last reported.
	Pending     int64
	ClockSkew   time.Duration
	Version     string
	LastContact time.Time
	CreatedAt   time.Time
	// Revoked is set when the token it is bound to no longer exists.
	Revoked bool
}

// PushPerson is one person's part of a push, written in its own savepoint:
// if it fails with an application error only it is rolled back, and the
// rest of the batch is applied.
type PushPerson struct {
	// Seqs are the node's event seqs this part covers, for the reject.
	Seqs []int64
	// History is the person (NewPerson for a person event), the records and
	// the corrections, written as Store.RecordHistory writes one; records
	// whose ID is stored already are skipped (a resend after the central
	// lost an acknowledgement is applied once).
	History History
	// Update, when set, replaces the sealed part of the person (an edit).
	Update *SealedPerson
	// Home makes the pushing node the person's home follower (a person
	// event); otherwise the node must already follow the person.
	Home bool
	// Reports are queued for the upstream IIS feed, Feed for the person's
	// other followers (PushApply.Node is left out).
	Reports []Report
	Feed    []SyncEvent
	Audit   AuditRecord
}

// PushApply is a node's batch of events as the central writes it, in one
// transaction: Cursor's compare-and-set first, then each person.
type PushApply struct {
	Cursor  SyncCursor
	Persons []PushPerson
	// Rejects are the events refused before the store was reached
	// (validation); they are kept with those of the persons rolled back
	// (see Store.SyncRejects).
	Rejects []SyncReject
}

// PushOutcome says which persons of a PushApply were rolled back, by index,
// with the application error that did it.
type PushOutcome struct {
	Rejected map[int]error
}

// FeedItem is one event queued at the central for a node, in the node's
// own gap-free sequence.
type FeedItem struct {
	Seq   int64
	Event SyncEvent
}

// PullApply is a page of the central's feed as a node writes it, in one
// transaction. Persons are shadows (Origin set): inserted unless present,
// and otherwise their sealed part (birth and sex) replaced. Records are
// inserted under their own IDs unless present. Corrections mark records
// that are not marked yet. State is saved with them (the pull cursor).
type PullApply struct {
	Persons      []SealedPerson
	Vaccinations []Vaccination
	Tests        []Test
	Corrections  []Correction
	State        map[string]string
}

// SyncStore is what offline-node sync adds to a Store. Both stores
// implement it; a node uses the first group of methods and the central the
// second.
type SyncStore interface {
	// FindPersonByID returns the person with the given ID. Returns
	// ENOTFOUND if there is none.
	FindPersonByID(ctx context.Context, id ID) (*SealedPerson, error)
	// SyncState returns the saved sync state (cursors, node ID, HLC floor,
	// last contact and error), by key.
	SyncState(ctx context.Context) (map[string]string, error)
	// SetSyncState saves the given keys durably (others are kept).
	SetSyncState(ctx context.Context, kv map[string]string) error

	// Node side.

	// PendingSync returns up to limit queued events that are not failed,
	// in seq order.
	PendingSync(ctx context.Context, limit int) ([]SyncItem, error)
	// AckSync settles the central's answer in one transaction: events
	// with seq ≤ upto are removed, except the rejected ones, which are kept
	// as failed with their reason; state is saved too.
	AckSync(ctx context.Context, upto int64, rejected []SyncReject, state map[string]string) error
	// SyncOutboxStatus summarizes the outbox.
	SyncOutboxStatus(ctx context.Context) (SyncOutboxStatus, error)
	// ListFailedSync returns the failed events, in seq order (at most limit).
	ListFailedSync(ctx context.Context, limit int) ([]SyncItem, error)
	// RetrySync re-queues the failed events of the person of the failed
	// event seq (all failed events when seq is 0) under new seqs. Returns
	// how many it re-queued, and ENOTFOUND if seq is not a failed event.
	RetrySync(ctx context.Context, seq int64) (int, error)
	// FindRecordsByID returns the vaccinations and tests with the given
	// IDs (those that exist, in no particular order): a node reads a
	// push batch's records at once.
	FindRecordsByID(ctx context.Context, ids []ID) ([]Vaccination, []Test, error)
	// AppendAudits appends entries to the access log in one transaction,
	// in order, durably: the export of a push batch, one per person.
	AppendAudits(ctx context.Context, rs []AuditRecord) error
	// RecordCertificate stores a certificate's metadata. Returns
	// ENOTFOUND if the person does not exist.
	RecordCertificate(ctx context.Context, c CertificateMeta, w Write) error
	// FindCertificate returns a certificate's metadata by ID. Returns
	// ENOTFOUND if absent.
	FindCertificate(ctx context.Context, id ID) (*CertificateMeta, error)
	// RequeueOwn queues again, in one transaction, every record of the
	// node's own persons (Origin empty): their person events, records and
	// corrections, stamped hlc and at, under seqs above floor. A node does
	// it when the central was restored from a backup and lost what it had
	// acknowledged, or when the node was; the central's deduplication by
	// record ID keeps anything from being added twice. Returns how many
	// events it queued.
	RequeueOwn(ctx context.Context, floor, hlc int64, at time.Time) (int, error)
	// ApplyPull writes a page of the central's feed (see PullApply).
	ApplyPull(ctx context.Context, p PullApply) error

	// Central side.

	// BindNode binds node n.ID to token n.TokenID with n's sites and
	// label: an unknown ID is bound; a known one bound to the same token
	// is kept (its Version and LastContact updated); one bound to a token
	// that no longer exists is rebound when the sites are the same, keeping
	// its cursor. Anything else is EFORBIDDEN. Returns the node as stored.
	BindNode(ctx context.Context, n SyncNode) (*SyncNode, error)
	// FindNode returns a node by ID (Revoked set when its token is gone).
	// Returns ENOTFOUND if there is none.
	FindNode(ctx context.Context, id string) (*SyncNode, error)
	// ListNodes returns every node ordered by ID.
	ListNodes(ctx context.Context) ([]SyncNode, error)
	// TouchNode records a contact: what the node reported and when.
	TouchNode(ctx context.Context, id string, pending int64, skew time.Duration, at time.Time) error
	// ApplyPush writes a node's batch (see PushApply). It fails with
	// ECONFLICT on field "applied_seq" if the cursor moved, and with
	// EUNAUTHORIZED if the node's token was revoked, writing nothing. A
	// person whose part fails with an application error is rolled back
	// alone and named in the outcome.
	ApplyPush(ctx context.Context, p PushApply) (*PushOutcome, error)
	// SyncRejects forgets the node's refused events with seq ≤ after (it
	// has them) and returns the others with seq ≤ upto, in seq order: the
	// refusals of its pushes, which ApplyPush keeps in its transaction.
	SyncRejects(ctx context.Context, node string, after, upto int64) ([]SyncReject, error)
	// LapseFollows ends, at most limit at a time, the follows that are not
	// a person's home and were last used (a lookup, or a push of the
	// node's records for the person) before cutoff: each node is fed an
	// unfollow, and deletes its shadow of the person. Returns how many.
	LapseFollows(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// Follow makes node a follower of the person (a lookup), with the
	// audit entry, in one transaction; following again only touches it.
	Follow(ctx context.Context, node string, personID ID, audit AuditRecord, at time.Time) error
	// Followers returns the nodes following the person.
	Followers(ctx context.Context, personID ID) ([]string, error)
	// PullFeed removes the node's feed items with seq ≤ after (they were
	// received) and returns up to limit of the next ones, in seq order.
	PullFeed(ctx context.Context, node string, after int64, limit int) ([]FeedItem, error)
	// Tombstoned reports whether a person with this ID was erased at the
	// central (a late person event must not bring them back).
	Tombstoned(ctx context.Context, id ID) (bool, error)
}
