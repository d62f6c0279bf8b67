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
}

// SealedRecord is a person's whole record as a store returns it.
type SealedRecord struct {
	Person       SealedPerson
	Vaccinations []Vaccination
	Tests        []Test
}

// Store is everything Haven persists. internal/sqlite and internal/postgres
// implement it, and internal/storetest checks both against one suite.
//
// Every create method takes an optional *Idempotency. When it is non-nil and
// an earlier request with the same Scope and Key was stored, the method writes
// nothing and returns that earlier Idempotency (with its ResourceID), so the
// caller can return the original result. If the earlier request's RequestHash
// differs, it returns EIDEMPOTENCY. On a fresh write it stores the
// Idempotency in the same transaction as the resource and returns nil.
// A method that returns a nil error has made its write durable.
type Store interface {
	// CreatePerson stores a new person. Returns ECONFLICT if the ID or card
	// code is taken.
	CreatePerson(ctx context.Context, p SealedPerson, idem *Idempotency) (*Idempotency, error)
	// FindPerson returns the person with the given card code. Returns
	// ENOTFOUND if there is none (including after erasure).
	FindPerson(ctx context.Context, code CardCode) (*SealedPerson, error)
	// FindRecord returns the person with the given card code and all their
	// vaccinations and tests, entered-in-error ones included. Returns
	// ENOTFOUND if there is no such person.
	FindRecord(ctx context.Context, code CardCode) (*SealedRecord, error)

	// RecordVaccination stores a new dose for v.PersonID. Returns ENOTFOUND if
	// the person does not exist.
	RecordVaccination(ctx context.Context, v Vaccination, idem *Idempotency) (*Idempotency, error)
	// FindVaccination returns one dose by ID. Returns ENOTFOUND if absent.
	FindVaccination(ctx context.Context, id ID) (*Vaccination, error)
	// RecordTest stores a new test for t.PersonID. Returns ENOTFOUND if the
	// person does not exist.
	RecordTest(ctx context.Context, t Test, idem *Idempotency) (*Idempotency, error)
	// FindTest returns one test by ID. Returns ENOTFOUND if absent.
	FindTest(ctx context.Context, id ID) (*Test, error)
	// MarkEnteredInError marks the vaccination or test with the given ID as
	// entered in error, and links it to replacement when replacement is not
	// the zero ID (the replacement must already be stored for the same
	// person). Returns ENOTFOUND if the record does not belong to personID,
	// and ECONFLICT if it is already marked.
	MarkEnteredInError(ctx context.Context, personID, recordID, replacement ID, idem *Idempotency) (*Idempotency, error)

	// CreateSite stores a new site. Returns ECONFLICT if the code is taken.
	CreateSite(ctx context.Context, s Site, idem *Idempotency) (*Idempotency, error)
	// FindSite returns the site with the given code. Returns ENOTFOUND if absent.
	FindSite(ctx context.Context, code string) (*Site, error)
	// ListSites returns every site ordered by code.
	ListSites(ctx context.Context) ([]Site, error)

	// CreateToken stores a token (only its hash). Returns ECONFLICT if the ID is taken.
	CreateToken(ctx context.Context, t Token) error
	// FindTokenByHash returns the token whose secret hashes to hash. Returns
	// ENOTFOUND if there is none.
	FindTokenByHash(ctx context.Context, hash []byte) (*Token, error)

	// FindIdempotency returns the stored idempotency entry for scope and key.
	// Returns ENOTFOUND if there is none.
	FindIdempotency(ctx context.Context, scope, key string) (*Idempotency, error)

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store's resources after pending writes are durable.
	Close() error
}
