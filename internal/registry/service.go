package registry

import (
	"context"
	"time"
)

// SealedPerson is a person as a store keeps it: the card code and ID in clear,
// and everything identifying in Sealed, encrypted under the person's own data
// key, which is kept only in wrapped form (WrappedKey). Stores never see
// demographics in clear; see SealPerson and OpenPerson.
type SealedPerson struct {
	ID         ID
	CardCode   CardCode
	CreatedAt  time.Time
	WrappedKey []byte
	Sealed     []byte
	// SourceRef identifies a person registered from another system's
	// records by a keyed hash of that system's ID for them (see
	// Vaccination.SourceRef); empty otherwise. A store keeps it unique.
	SourceRef string
	// Origin is empty for a person registered here, and names where a
	// shadow came from (OriginCentral) on an offline clinic node.
	Origin string
}

// SealedRecord is a person's whole record as a store returns it.
type SealedRecord struct {
	Person       SealedPerson
	Vaccinations []Vaccination
	Tests        []Test
}

// AuditRecord is one entry for the access log: who (token ID and role) did
// what (action), why (purpose, from a fixed list) and to whom (a pseudonym
// or an object reference, never a card code or anything identifying), and
// when. Stores append it to a hash chain; see internal/audit.
type AuditRecord struct {
	Time    time.Time
	Actor   string
	Role    string
	Action  string
	Purpose string
	Subject string
}

// Write is the bookkeeping that travels with every write. Idem, when set,
// claims an Idempotency-Key; Audit, when set, is appended to the access log
// in the same transaction as the write, so that a write and its trace are
// stored together or not at all.
type Write struct {
	Idem  *Idempotency
	Audit *AuditRecord
	// Reports, when set, are queued in the outbox of the upstream feed in
	// the same transaction (see Report).
	Reports []Report
	// Push, on an offline clinic node, queues the write's events for the
	// central in the node's sync outbox, in the same transaction.
	Push []SyncEvent
	// Feed, at the central, queues the write's events for every node that
	// follows the person, except FeedExcept (the node the write came
	// from), in the same transaction.
	Feed       []SyncEvent
	FeedExcept string
	// Cursor, when set, advances a node's applied_seq in the same
	// transaction, as a compare-and-set (see SyncCursor).
	Cursor *SyncCursor
}

// Report is one record to report to an upstream immunization information
// system: a vaccination recorded (or not given), or one marked entered in
// error (Deleted). The outbox holds only these references; the message is
// built when it is sent, from the record as it then stands, so the outbox
// keeps nothing about the person, and erasing the person drops their
// pending reports.
type Report struct {
	PersonID ID
	RecordID ID
	Deleted  bool
	At       time.Time // when it was queued
}

// OutboxItem is a queued report, in the order it was queued (Seq).
type OutboxItem struct {
	Seq      int64
	Report   Report
	Card     CardCode // the person's card code
	QueuedAt time.Time
	Attempts int
	// LastError is the last delivery failure (a transport error or the
	// IIS's ACK), for the operator; it never holds personal data.
	LastError string
	// Failed is set when the IIS rejected the message (ACK AR or AE): it is
	// not retried and stays visible until an operator retries or drops it.
	Failed bool
}

// OutboxStatus summarizes the outbox for operators. Sent reports leave the
// outbox, so it counts only what is waiting or failed.
type OutboxStatus struct {
	Pending, Failed int64
	// Oldest is when the oldest pending report was queued (zero if none).
	Oldest time.Time
	// LastError is the error of the most recently attempted report that
	// is still in the outbox, if any.
	LastError string
}

// ReportOutcome is the result of one delivery attempt.
type ReportOutcome struct {
	Sent   bool
	Failed bool   // rejected by the IIS: kept, not retried
	Error  string // for a failure or a rejection; never personal data
	At     time.Time
}

// History is a batch of records for one person that a store writes in one
// transaction, all or nothing: a message from another system (an HL7 VXU)
// or a group of import lines. NewPerson, when set, is created first and
// PersonID must be its ID.
type History struct {
	NewPerson    *SealedPerson
	PersonID     ID
	Vaccinations []Vaccination
	Tests        []Test
	// Corrections mark records of the person entered in error, before the
	// new records are stored. Replacement, when set, names the record of
	// this batch that replaces one (whose Replaces names it in turn).
	Corrections []Correction
	// Certificates are metadata of certificates issued for the person's
	// records (a node's push); one whose ID is stored already is skipped.
	Certificates []CertificateMeta
}

// Correction marks a record entered in error.
type Correction struct {
	RecordID, Replacement ID
}

// DoseCount is a number of completed doses of one product, as one dose
// number, given at one site on one day. Erased persons' doses are counted by
// the Monday of their ISO week. It names no person.
type DoseCount struct {
	Site, Jurisdiction, Product string
	DoseNumber                  int
	Date                        Date
	Count                       int64
}

// TestCount is a number of completed tests at one site on one day (or ISO
// week, for erased persons).
type TestCount struct {
	Site, Jurisdiction string
	Date               Date
	Count              int64
}

// Store is everything Haven persists. internal/sqlite and internal/postgres
// implement it, and internal/storetest checks both against one suite.
//
// Every write method takes a Write. When its Idem is set and an earlier
// request with the same Scope and Key was stored, the method writes nothing
// (and appends no audit entry) and returns that earlier Idempotency (with its
// ResourceID), so the caller can return the original result. If the earlier
// request's RequestHash differs, it returns EIDEMPOTENCY. On a fresh write it
// stores the Idempotency and the Audit record in the same transaction as the
// resource and returns nil. A method that returns a nil error has made its
// write durable.
type Store interface {
	// CreatePerson stores a new person. Returns ECONFLICT if the ID or card
	// code is taken.
	CreatePerson(ctx context.Context, p SealedPerson, w Write) (*Idempotency, error)
	// UpdatePerson replaces the sealed demographics of the person with p's
	// ID (p.Sealed, under the person's existing data key; the card code and
	// wrapped key do not change). Returns ENOTFOUND if there is no such
	// person.
	UpdatePerson(ctx context.Context, p SealedPerson, w Write) (*Idempotency, error)
	// FindPerson returns the person with the given card code. Returns
	// ENOTFOUND if there is none (including after erasure).
	FindPerson(ctx context.Context, code CardCode) (*SealedPerson, error)
	// FindPersonBySourceRef returns the person registered with the given
	// SourceRef. Returns ENOTFOUND if there is none.
	FindPersonBySourceRef(ctx context.Context, ref string) (*SealedPerson, error)
	// FindRecord returns the person with the given card code and all their
	// vaccinations and tests, entered-in-error ones included. Returns
	// ENOTFOUND if there is no such person.
	FindRecord(ctx context.Context, code CardCode) (*SealedRecord, error)

	// RecordVaccination stores a new dose for v.PersonID. Returns ENOTFOUND if
	// the person does not exist.
	RecordVaccination(ctx context.Context, v Vaccination, w Write) (*Idempotency, error)
	// RecordHistory writes h in one transaction: the new person if any,
	// then the corrections, then the vaccinations and tests. Returns
	// ENOTFOUND if the person does not exist, ECONFLICT if a record's ID
	// or SourceRef is taken or a correction's record is already marked, and
	// nothing is written on any error.
	RecordHistory(ctx context.Context, h History, w Write) (*Idempotency, error)
	// FindVaccinations returns the doses of the person with the given ID,
	// entered-in-error ones included, in dose-date order then recording
	// order (as FindRecord orders them). A person with none, or no such
	// person, has an empty list.
	FindVaccinations(ctx context.Context, personID ID) ([]Vaccination, error)
	// FindVaccination returns one dose by ID. Returns ENOTFOUND if absent.
	FindVaccination(ctx context.Context, id ID) (*Vaccination, error)
	// RecordTest stores a new test for t.PersonID. Returns ENOTFOUND if the
	// person does not exist.
	RecordTest(ctx context.Context, t Test, w Write) (*Idempotency, error)
	// FindTest returns one test by ID. Returns ENOTFOUND if absent.
	FindTest(ctx context.Context, id ID) (*Test, error)
	// MarkEnteredInError marks the vaccination or test with the given ID as
	// entered in error, and links it to replacement when replacement is not
	// the zero ID (the replacement must already be stored for the same
	// person). Returns ENOTFOUND if the record does not belong to personID,
	// and ECONFLICT if it is already marked.
	MarkEnteredInError(ctx context.Context, personID, recordID, replacement ID, w Write) (*Idempotency, error)

	// CreateSite stores a new site. Returns ECONFLICT if the code is taken.
	CreateSite(ctx context.Context, s Site, w Write) (*Idempotency, error)
	// FindSite returns the site with the given code. Returns ENOTFOUND if absent.
	FindSite(ctx context.Context, code string) (*Site, error)
	// ListSites returns every site ordered by code.
	ListSites(ctx context.Context) ([]Site, error)

	// CreateToken stores a token (only its hash). Returns ECONFLICT if the ID is taken.
	CreateToken(ctx context.Context, t Token, w Write) error
	// ListTokens returns every token (their hashes included) ordered by ID.
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken deletes the token with the given ID. Returns ENOTFOUND if
	// there is none.
	RevokeToken(ctx context.Context, id string, w Write) error
	// FindTokenByHash returns the token whose secret hashes to hash. Returns
	// ENOTFOUND if there is none.
	FindTokenByHash(ctx context.Context, hash []byte) (*Token, error)

	// ErasePerson destroys the person with the given card code: their row
	// (and with it their wrapped data key and the card-code link), their
	// idempotency entries, and their vaccinations and tests, which are
	// kept only as anonymous counts by site, product, dose number and ISO
	// week. Returns ENOTFOUND if there is no such person.
	ErasePerson(ctx context.Context, code CardCode, w Write) error

	// AppendAudit appends one entry to the access log, durably. Reads use
	// it to leave their trace.
	AppendAudit(ctx context.Context, r AuditRecord) error

	// DoseCounts returns completed doses given at a site between from and
	// to (inclusive), with the erased counts, grouped by site, product, dose
	// number and day. It is the only way doses leave the store in bulk.
	DoseCounts(ctx context.Context, from, to Date) ([]DoseCount, error)
	// TestCounts is DoseCounts for tests.
	TestCounts(ctx context.Context, from, to Date) ([]TestCount, error)

	// ExpireIdempotency deletes up to limit idempotency entries created
	// before cutoff, oldest first, and returns how many it deleted. Callers
	// sweep in small batches so that writes are never held up for long.
	ExpireIdempotency(ctx context.Context, cutoff time.Time, limit int) (int64, error)
	// FindIdempotency returns the stored idempotency entry for scope and key.
	// Returns ENOTFOUND if there is none.
	FindIdempotency(ctx context.Context, scope, key string) (*Idempotency, error)

	// PendingReports returns up to limit queued reports that are neither
	// sent nor failed, oldest first. Reports are delivered in this order.
	PendingReports(ctx context.Context, limit int) ([]OutboxItem, error)
	// SettleReport records the outcome of one delivery attempt of the
	// report seq: sent (removed from the outbox), rejected for good (kept
	// as Failed, not offered again), or a failure to retry (Attempts and
	// LastError updated). Returns ENOTFOUND if there is no such report.
	SettleReport(ctx context.Context, seq int64, outcome ReportOutcome) error
	// OutboxStatus summarizes the outbox.
	OutboxStatus(ctx context.Context) (OutboxStatus, error)
	// ListOutbox returns queued and failed reports, oldest first (at most
	// limit).
	ListOutbox(ctx context.Context, limit int) ([]OutboxItem, error)
	// RetryReport clears the failure of a failed report so that it is
	// sent again. Returns ENOTFOUND if there is no such report.
	RetryReport(ctx context.Context, seq int64) error

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store's resources after pending writes are durable.
	Close() error
}
