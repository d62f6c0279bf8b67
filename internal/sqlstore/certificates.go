package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/haven-registry/haven/internal/registry"
)

// RecordCertificate implements registry.SyncStore.
func (s *Store) RecordCertificate(ctx context.Context, c registry.CertificateMeta, w registry.Write) error {
	_, err := s.create(ctx, "record certificate", w, func(tx *sql.Tx) error {
		return s.insertCertificate(ctx, tx, c, false)
	})
	return err
}

// insertCertificate stores c; with skipSame a certificate stored already
// under its ID (a resent push) is left alone.
func (s *Store) insertCertificate(ctx context.Context, tx *sql.Tx, c registry.CertificateMeta, skipSame bool) error {
	q := `INSERT INTO certificates (id, person_id, record_id, uvci, kid, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
	if skipSame {
		q += ` ON CONFLICT (id) DO NOTHING`
	}
	_, err := s.txExec(ctx, tx, q, c.ID[:], c.PersonID[:], c.RecordID[:], c.UVCI, c.KID, micros(c.IssuedAt), micros(c.ExpiresAt))
	if err != nil && s.dialect.IsUniqueViolation(err) {
		return registry.FieldErrorf(registry.ECONFLICT, "uvci", "A certificate with this UVCI is already recorded.")
	}
	return s.personMissing(err)
}

// FindCertificate implements registry.SyncStore.
func (s *Store) FindCertificate(ctx context.Context, id registry.ID) (*registry.CertificateMeta, error) {
	c := registry.CertificateMeta{ID: id}
	var person, record []byte
	var iat, exp int64
	err := s.queryRow(ctx, `SELECT person_id, record_id, uvci, kid, issued_at, expires_at FROM certificates WHERE id = ?`, id[:]).
		Scan(&person, &record, &c.UVCI, &c.KID, &iat, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.Errorf(registry.ENOTFOUND, "No such certificate.")
	}
	if err != nil {
		return nil, s.wrap("find certificate", err)
	}
	copy(c.PersonID[:], person)
	copy(c.RecordID[:], record)
	c.IssuedAt, c.ExpiresAt = fromMicros(iat), fromMicros(exp)
	return &c, nil
}
